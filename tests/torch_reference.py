"""An oracle for the torch backend that shares nothing with it: the cell's SymPy
equations walked with torch operations, step by step, so that torch's own
autograd differentiates them (a graph of every step, as a hand-written custom
cell would be).  Values are (B, rows) tensors; a vector parameter is 1-D."""

from __future__ import annotations

import torch
from sympy import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)

from derive.algebra import Apply, Divide

# Each elementwise function as torch computes it here, by its definition.
FUNCTIONS = {
    "sigma": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "step": lambda z: (z > 0).to(z.dtype),
    "exp": torch.exp,
    "log": torch.log,
    "softplus": lambda z: torch.log1p(torch.exp(z)),
}


def evaluate(expr, env):
    """The value of ``expr`` with its symbols' values in ``env`` (by name)."""
    if isinstance(expr, MatrixSymbol):
        return env[expr.name]
    if isinstance(expr, MatAdd):
        return sum((evaluate(a, env) for a in expr.args[1:]), evaluate(expr.args[0], env))
    if isinstance(expr, HadamardProduct):
        out = evaluate(expr.args[0], env)
        for a in expr.args[1:]:
            out = out * evaluate(a, env)
        return out
    if isinstance(expr, HadamardPower):
        return evaluate(expr.base, env) ** int(expr.exp)
    if isinstance(expr, Divide):
        return evaluate(expr.dividend, env) / evaluate(expr.divisor, env)
    if isinstance(expr, Apply):
        return FUNCTIONS[expr.function](evaluate(expr.arg, env))
    if isinstance(expr, OneMatrix):
        return 1.0
    if isinstance(expr, ZeroMatrix):
        return 0.0
    if isinstance(expr, MatMul) and isinstance(expr.args[0], OneMatrix) and expr.args[1].shape == (1, 1):
        return evaluate(expr.args[1], env)  # a scalar parameter spread over a column: broadcast
    if isinstance(expr, MatMul):
        scalar = 1.0
        matrices = []
        for a in expr.args:
            if getattr(a, "is_Matrix", False):
                matrices.append(a)
            else:
                scalar *= float(a)
        # (A B v) as rows: v @ B.T @ A.T
        value = evaluate(matrices[-1], env)
        for m in reversed(matrices[:-1]):
            value = value @ (evaluate(m.arg, env) if isinstance(m, Transpose) else evaluate(m, env).T)
        return scalar * value
    raise NotImplementedError(f"no torch for {type(expr).__name__}: {expr}")


def literal(cell, params, x, state):
    """outputs {state: (T, B, n)} of ``cell`` over ``x`` from ``state``, by the equations."""
    prev = {s.name: state[s.name[: -len("_prev")]] for s in cell.prev_symbols}
    out = {s: [] for s in cell.states}
    for x_t in x:
        env = {**params, **prev, cell.inputs[0]: x_t}
        for eq in cell.equations:
            value = evaluate(eq.rhs, env)
            if not isinstance(value, torch.Tensor) or value.shape != prev[next(iter(prev))].shape:
                value = torch.broadcast_to(
                    torch.as_tensor(value, dtype=x.dtype), prev[next(iter(prev))].shape
                )
            env[eq.name] = value
        for s in cell.states:
            out[s].append(env[s])
        prev = {f"{s}_prev": env[s] for s in cell.states}
    return {s: torch.stack(v) for s, v in out.items()}


def run_layer(module, problem, dtype=torch.float64):
    """(outputs, d_params, d_x, d_state) as NumPy arrays, from the torch ``module``'s Layer
    on a problem of :func:`derive.verification.numeric.random_problem`."""
    params, x, state, d_outputs = problem
    layer = module.Layer(x.shape[2], next(iter(state.values())).shape[1], dtype=dtype)
    layer.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    st = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in state.items()}
    outputs, _ = layer(xt, st)
    torch.autograd.backward(
        [outputs[s] for s in d_outputs], [torch.tensor(d_outputs[s], dtype=dtype) for s in d_outputs]
    )
    return _numpy(outputs, {p: getattr(layer, p).grad for p in module.PARAMETERS}, xt.grad, st)


def run_literal(cell, problem):
    """The same as :func:`run_layer`, by torch autograd of :func:`literal` (float64)."""
    params, x, state, d_outputs = problem
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, requires_grad=True)
    st = {k: torch.tensor(v, requires_grad=True) for k, v in state.items()}
    outputs = literal(cell, pt, xt, st)
    wanted = [pt[k] for k in params] + [xt] + [st[k] for k in st]
    grads = torch.autograd.grad(
        [outputs[s] for s in d_outputs],
        wanted,
        [torch.tensor(d_outputs[s]) for s in d_outputs],
        allow_unused=True,
    )
    grads = [torch.zeros_like(w) if g is None else g for w, g in zip(wanted, grads, strict=True)]
    d_params = dict(zip(params, grads[: len(params)], strict=True))
    d_x = grads[len(params)]
    for k, g in zip(st, grads[len(params) + 1 :], strict=True):
        st[k].grad = g
    return _numpy(outputs, d_params, d_x, st)


def _numpy(outputs, d_params, d_x, state):
    def array(t):
        return t.detach().double().numpy()

    return (
        {k: array(v) for k, v in outputs.items()},
        {k: array(v) for k, v in d_params.items()},
        array(d_x),
        {k: array(v.grad) for k, v in state.items()},
    )


def gradcheck(module, problem, **kwargs):
    """torch.autograd.gradcheck of the module's Function in float64 on ``problem``."""
    params, x, state, _ = problem

    def leaf(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    inputs = [
        leaf(x),
        *(leaf(state[s]) for s in module.STATES),
        *(leaf(params[p]) for p in module.PARAMETERS),
    ]
    return torch.autograd.gradcheck(
        lambda *a: module._Sequence.apply(*a)[: len(module.STATES)], inputs, **kwargs
    )
