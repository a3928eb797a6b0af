"""The exercises page: questions on the LSTM, the GRU and BPTT, with worked solutions.

Most solutions are not only written but computed while the page is made: the answer
a reader would work out by hand is written here as NumPy, and compared with the
derivation (evaluated at 30 digits by :mod:`derive.verification.reference_bptt`) or
with the generated modules (``derive/generated/<cell>.py``), which are printed from
it.  The numbers the solutions print are these measurements.  If a check misses
by more than its tolerance, :func:`context` raises :class:`ExerciseCheckFailed`
and ``python -m derive docs`` stops with one line and writes no page.
"""

from __future__ import annotations

import ast
import math
import textwrap

import numpy as np
from sympy import Integer, symbols

from .. import naming
from ..catalogue import CATALOGUE
from ..cell import N_HIDDEN, N_INPUT
from ..codegen.modules import generated
from ..derivation import derive
from . import worked

DIGITS = worked.DIGITS

# Exercise 1: the peephole LSTM's input gate, on a small problem.
PEEPHOLE = {"inputs": 2, "hidden": 3, "steps": 3, "seed": 11}
PEEPHOLE_TOLERANCE = 1e-12

# Exercise 2: a GRU whose input (update) gate is shut by its bias.
GRU_SHUT = {"inputs": 4, "hidden": 5, "steps": 25, "batch": 3, "seed": 2, "bias": -30.0}
GRU_TOLERANCE = 1e-10

# Exercise 3: the coupled-gate LSTM's state-to-state Jacobian.
COUPLED = {"inputs": 3, "hidden": 4, "seed": 5}
COUPLED_TOLERANCE = 1e-14

# Exercise 4: parameter counts at the sizes the other pages use.
SIZES = {"inputs": 128, "hidden": 256}

# Exercise 5: the vanilla RNN, its recurrent matrix rescaled to this spectral norm.
RNN_BOUND = {"inputs": 4, "hidden": 8, "norm": 0.9, "steps": (1, 5, 10, 20, 40), "seed": 3}
RNN_TOLERANCE = 1e-12  # the measured Jacobian against the product of the derived one-step Jacobians
RNN_SLACK = 1e-12  # relative: a measured norm may exceed its bound by this much (rounding)

# Exercise 6: the LSTM's forget-gate bias; the state path alone, over these many steps.
FORGET = {"inputs": 3, "hidden": 4, "biases": (0.0, 1.0, 3.0), "steps": (20, 50), "seed": 7}
FORGET_TOLERANCE = 1e-12  # relative


# Exercise 7: the LSTM's backward step, coded, on the worked example's last step.
STEP = worked.HAND["step"]
STEP_TOLERANCE = 1e-8  # central differences (step 1e-6) against the expected numbers
STEP_SHOWN = ("d_s_prev", "d_h_prev", "d_x", "d_b_f", "d_W_f")  # the numbers the exercise asks for


class ExerciseCheckFailed(RuntimeError):
    """A computed solution of the exercises page misses its check."""


def _check(exercise: int, what: str, difference: float, tolerance: float, fix: str) -> float:
    if not difference <= tolerance:
        raise ExerciseCheckFailed(
            f"exercise {exercise} of the exercises page: {what} misses by {difference:.3g}, "
            f"more than {tolerance:g}; no page was written: {fix}"
        )
    return difference


REGENERATE = "regenerate the modules with `python -m derive code` and run `python -m derive verify`"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _largest(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")


def _line(cell_ctx: dict, target: str) -> str:
    """The LaTeX line of the backward step that defines ``target`` (a name like d_s_prev)."""
    d = derive(CATALOGUE[cell_ctx["name"]])
    gradients = {g.target.name for g in d.gradients}
    targets = [a.target.name for a in d.backward if a.target.name not in gradients]
    return cell_ctx["backward"][targets.index(target)]


# --- 1. the peephole LSTM's input gate ------------------------------------------


def peephole_problem():
    """(params, x, state, d_outputs) of exercise 1: batch 1, L = Σ_t g_tᵀ h_t."""
    p = PEEPHOLE
    mod = generated("lstm_peephole")
    rng = np.random.default_rng(p["seed"])
    params = mod.init_params(p["inputs"], p["hidden"], rng=rng)
    x = rng.normal(size=(p["steps"], 1, p["inputs"]))
    state = {s: 0.5 * rng.normal(size=(1, p["hidden"])) for s in mod.STATES}
    d_outputs = {s: np.zeros((p["steps"], 1, p["hidden"])) for s in mod.STATES}
    d_outputs["h"] = rng.normal(size=(p["steps"], 1, p["hidden"]))
    return params, x, state, d_outputs


def peephole_by_hand(params, values: dict, s_prev, h_prev) -> dict:
    """The answer of exercise 1 at one step, from the step's forward values and δs_t."""
    d_s, i, f = values["d_s"], values["i"], values["f"]
    d_i = d_s * values["s_tilde"]
    d_z_i = d_i * i * (1 - i)
    d_z_f = d_s * s_prev * f * (1 - f)
    return {
        "d_i": d_i,
        "d_z_i": d_z_i,
        "d_b_i": d_z_i,
        "d_p_i": d_z_i * s_prev,
        "d_W_i": np.outer(d_z_i, h_prev),
        "d_s_prev": d_s * f + d_z_f * params["p_f"] + d_z_i * params["p_i"],
    }


def peephole(cells: dict) -> dict:
    name = "lstm_peephole"
    params, x, state, d_outputs = peephole_problem()
    want = worked.from_derivation(name, params, x, state, d_outputs)
    steps = want["steps"]
    worst_derivation, worst_module = 0.0, 0.0
    totals: dict[str, np.ndarray] = {}
    for t, values in enumerate(steps):
        s_prev = state["s"][0] if t == 0 else steps[t - 1]["s"]
        h_prev = state["h"][0] if t == 0 else steps[t - 1]["h"]
        hand = peephole_by_hand(params, values, s_prev, h_prev)
        for k, v in hand.items():
            worst_derivation = max(worst_derivation, _largest(v, values[k]))
        for k in ("b_i", "p_i", "W_i"):
            totals[k] = totals.get(k, 0) + hand[f"d_{k}"]
    _check(
        1,
        "the hand-derived adjoints of the input gate against the derivation",
        worst_derivation,
        PEEPHOLE_TOLERANCE,
        "the derivation of the peephole cell or the exercise's answer is wrong",
    )
    _, cache = generated(name).forward(params, x, state)
    d_params, _, _ = generated(name).backward(cache, d_outputs)
    for k, v in totals.items():
        worst_module = max(worst_module, _largest(v, d_params[k]))
    _check(
        1,
        "the hand-derived gradients of W_i, b_i and p_i against derive/generated/lstm_peephole.py",
        worst_module,
        PEEPHOLE_TOLERANCE,
        REGENERATE,
    )
    c = cells[name]
    return {
        "equation": c["equation"]["i"]["latex"],
        "adjoints": c["equation"]["i"]["adjoints"],
        "gradients": c["equation"]["i"]["gradients"],
        "s_prev": _line(c, naming.adjoint(naming.prev("s"))),
        "steps": PEEPHOLE["steps"],
        "hidden": PEEPHOLE["hidden"],
        "derivation": worst_derivation,
        "module": worst_module,
        "tolerance": PEEPHOLE_TOLERANCE,
    }


# --- 2. a GRU whose input gate is shut --------------------------------------------


def gru_problem(bias: float | None = None):
    """(params, x, s0, g) of exercise 2, with b_i set to ``bias`` (the exercise's by default)."""
    p = GRU_SHUT
    rng = np.random.default_rng(p["seed"])
    params = generated("gru").init_params(p["inputs"], p["hidden"], rng=rng)
    params["b_i"] = np.full_like(params["b_i"], p["bias"] if bias is None else bias)
    x = rng.normal(size=(p["steps"], p["batch"], p["inputs"]))
    s0 = rng.normal(size=(p["batch"], p["hidden"]))
    g = rng.normal(size=(p["batch"], p["hidden"]))
    return params, x, s0, g


def gru_backward(params, x, s0, g, steps: int):
    """∂L/∂s_0 and the largest i over the first ``steps`` steps, for L = Σ gᵀ s_steps."""
    mod = generated("gru")
    _, cache = mod.forward(params, x[:steps], {"s": s0})
    d = {"s": np.zeros((steps, *g.shape))}
    d["s"][-1] = g
    _, _, d_state = mod.backward(cache, d)
    return d_state["s"], float(np.max(cache["values"]["i"]))


def gru_shut() -> dict:
    params, x, s0, g = gru_problem()
    steps = GRU_SHUT["steps"]
    one, _ = gru_backward(params, x, s0, g, 1)
    many, largest_i = gru_backward(params, x, s0, g, steps)
    one_step = _check(
        2,
        "∂L/∂s_(t-1) against ∂L/∂s_t over one step of the GRU with i ≈ 0",
        _largest(one, g),
        GRU_TOLERANCE,
        REGENERATE,
    )
    all_steps = _check(
        2,
        f"∂L/∂s_0 against ∂L/∂s_{steps} of the GRU with i ≈ 0",
        _largest(many, g),
        GRU_TOLERANCE,
        REGENERATE,
    )
    open_params, *_ = gru_problem(bias=0.0)
    opened, _ = gru_backward(open_params, x, s0, g, steps)
    return {
        "bias": GRU_SHUT["bias"],
        "gate": sigmoid(GRU_SHUT["bias"]),
        "largest_i": largest_i,
        "steps": steps,
        "hidden": GRU_SHUT["hidden"],
        "batch": GRU_SHUT["batch"],
        "one_step": one_step,
        "all_steps": all_steps,
        "tolerance": GRU_TOLERANCE,
        "open_difference": _largest(opened, g),
        "open_ratio": float(np.linalg.norm(opened) / np.linalg.norm(g)),
    }


# --- 3. the coupled-gate LSTM's Jacobian --------------------------------------------


def coupled_jacobian() -> tuple[np.ndarray, np.ndarray]:
    """(∂s_1/∂s_0 measured on the generated module with h_0 held, the gate i_1)."""
    p = COUPLED
    mod = generated("lstm_coupled")
    rng = np.random.default_rng(p["seed"])
    params = mod.init_params(p["inputs"], p["hidden"], rng=rng)
    n = p["hidden"]
    x = np.repeat(rng.normal(size=(1, 1, p["inputs"])), n, axis=1)
    state = {s: np.repeat(rng.normal(size=(1, n)), n, axis=0) for s in mod.STATES}
    _, cache = mod.forward(params, x, state)
    # One sequence per unit: row j of the batch backpropagates e_j from s_1.
    d = {"s": np.eye(n)[None], "h": np.zeros((1, n, n))}
    _, _, d_state = mod.backward(cache, d)
    return d_state["s"], cache["values"]["i"][0, 0]


def coupled(cells: dict) -> dict:
    measured, i = coupled_jacobian()
    worst = _check(
        3,
        "∂s_t/∂s_(t-1) of the coupled-gate LSTM against diag(1 - i_t)",
        _largest(measured, np.diag(1 - i)),
        COUPLED_TOLERANCE,
        REGENERATE,
    )
    return {
        "equation": cells["lstm_coupled"]["equation"]["s"]["latex"],
        "jacobian": cells["lstm_coupled"]["jacobian"]["s", "s_prev"],
        "gru_jacobian": cells["gru"]["jacobian"]["s", "s_prev"],
        "lstm_jacobian": cells["lstm"]["jacobian"]["s", "s_prev"],
        "hidden": COUPLED["hidden"],
        "difference": worst,
        "tolerance": COUPLED_TOLERANCE,
    }


# --- 4. parameter counts -------------------------------------------------------------

NX, NH = symbols("n_x n_h", positive=True, integer=True)


def parameter_count(name: str, n_input: int, n_hidden: int) -> int:
    """The number of parameters of a catalogue cell, from its parameters' shapes."""
    size = sum((p.symbol.shape[0] * p.symbol.shape[1] for p in CATALOGUE[name].parameters), Integer(0))
    return int(size.subs({N_INPUT: n_input, N_HIDDEN: n_hidden}))


def matching_hidden(name: str, target: int, n_input: int) -> int:
    """The smallest hidden size at which cell ``name`` has at least ``target`` parameters."""
    n = 1
    while parameter_count(name, n_input, n) < target:
        n += 1
    return n


def counts(cells: dict) -> dict:
    nx, nh = SIZES["inputs"], SIZES["hidden"]
    out = {}
    for name in ("rnn", "lstm", "gru"):
        derived = parameter_count(name, nx, nh)
        made = sum(v.size for v in generated(name).init_params(nx, nh, rng=0).values())
        _check(
            4,
            f"the {name} parameter count of the derivation against derive/generated/{name}.py",
            abs(derived - made),
            0,
            REGENERATE,
        )
        _check(
            4,
            f"the {name} parameter count against the count the cell pages show",
            abs(derived - cells[name]["counts"]["parameters_value"]),
            0,
            "the counts of pages.py changed",
        )
        out[name] = {"formula": cells[name]["counts"]["parameters"], "value": derived}
    matching = matching_hidden("gru", out["lstm"]["value"], nx)
    return {
        "inputs": nx,
        "hidden": nh,
        "cells": out,
        "ratio": out["lstm"]["value"] / out["gru"]["value"],
        # The positive root of 3 m (m + n_x + 1) = the LSTM's count.
        "root": (-(nx + 1) + math.sqrt((nx + 1) ** 2 + 4 * out["lstm"]["value"] / 3)) / 2,
        "matching": matching,
        "matching_value": parameter_count("gru", nx, matching),
        "below_value": parameter_count("gru", nx, matching - 1),
    }


# --- 5. the vanilla RNN's gradient after k steps -----------------------------------


def rnn_problem():
    """(params, x, s0) of exercise 5: W rescaled to spectral norm RNN_BOUND["norm"]."""
    p = RNN_BOUND
    rng = np.random.default_rng(p["seed"])
    params = generated("rnn").init_params(p["inputs"], p["hidden"], rng=rng)
    params["W"] = params["W"] * (p["norm"] / np.linalg.norm(params["W"], 2))
    x = rng.normal(size=(max(p["steps"]), 1, p["inputs"]))
    s0 = rng.normal(size=(1, p["hidden"]))
    return params, x, s0


def rnn_jacobian(params, x, s0, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(∂s_k/∂s_0 from the generated module, the states s_1..s_k) for the first k steps."""
    mod = generated("rnn")
    n = s0.shape[1]
    outputs, cache = mod.forward(params, np.repeat(x[:k], n, axis=1), {"s": np.repeat(s0, n, axis=0)})
    d = {"s": np.zeros((k, n, n))}
    d["s"][-1] = np.eye(n)
    _, _, d_state = mod.backward(cache, d)
    return d_state["s"], outputs["s"][:, 0]


def rnn_bound() -> dict:
    params, x, s0 = rnn_problem()
    norm = float(np.linalg.norm(params["W"], 2))
    rows, exact = [], 0.0
    for k in RNN_BOUND["steps"]:
        jacobian, states = rnn_jacobian(params, x, s0, k)
        measured = float(np.linalg.norm(jacobian, 2))
        slopes = float(np.prod(np.max(1 - states**2, axis=1)))
        bound = norm**k * slopes
        product = np.eye(len(states[0]))
        for s in states:
            product = (1 - s**2)[:, None] * params["W"] @ product
        exact = max(exact, _largest(jacobian, product))
        _check(
            5,
            f"∂s_t/∂s_(t-{k}) of rnn.py against the product of the derived diag(1 - s²) W",
            exact,
            RNN_TOLERANCE,
            REGENERATE,
        )
        over = max(0.0, measured / bound - 1)
        _check(
            5,
            f"‖∂s_t/∂s_(t-{k})‖ of the RNN against its bound ‖W‖^k Π max(1 - s²)",
            over,
            RNN_SLACK,
            REGENERATE,
        )
        rows.append({"k": k, "measured": measured, "bound": bound, "plain": norm**k, "slopes": slopes})
    return {
        "norm": norm,
        "rows": rows,
        "hidden": RNN_BOUND["hidden"],
        "slack": RNN_SLACK,
        "exact": exact,
        "tolerance": RNN_TOLERANCE,
    }


# --- 6. the forget-gate bias -----------------------------------------------------------

RECURRENT = ("W_o", "W_i", "W_f", "W")


def forget_problem(bias: float, steps: int):
    """(params, x, state, g) of exercise 6: the LSTM with U_f and every matrix of h_prev zero,
    so that f_t = σ(b_f) and the state reaches the loss through the state path alone."""
    p = FORGET
    mod = generated("lstm")
    rng = np.random.default_rng(p["seed"])
    params = mod.init_params(p["inputs"], p["hidden"], rng=rng)
    for k in (*RECURRENT, "U_f"):
        params[k] = np.zeros_like(params[k])
    params["b_f"] = np.full_like(params["b_f"], bias)
    x = rng.normal(size=(steps, 1, p["inputs"]))
    state = {s: rng.normal(size=(1, p["hidden"])) for s in mod.STATES}
    g = rng.normal(size=(1, p["hidden"]))
    return params, x, state, g


def forget_gradient(bias: float, steps: int) -> tuple[float, np.ndarray]:
    """(‖∂L/∂s_0‖ / ‖∂L/∂s_T‖, the gates f_t) for L = gᵀ s_T after ``steps`` steps."""
    mod = generated("lstm")
    params, x, state, g = forget_problem(bias, steps)
    _, cache = mod.forward(params, x, state)
    d = {"s": np.zeros((steps, *g.shape)), "h": np.zeros((steps, *g.shape))}
    d["s"][-1] = g
    _, _, d_state = mod.backward(cache, d)
    return float(np.linalg.norm(d_state["s"]) / np.linalg.norm(g)), cache["values"]["f"]


def forget_bias(cells: dict) -> dict:
    rows = []
    for bias in FORGET["biases"]:
        gate = float(sigmoid(bias))
        row = {"bias": bias, "gate": gate, "tenfold": math.log(10) / -math.log(gate), "after": {}}
        for steps in FORGET["steps"]:
            measured, _ = forget_gradient(bias, steps)
            predicted = gate**steps
            _check(
                6,
                f"the LSTM's gradient after {steps} steps with b_f = {bias:g} against σ(b_f)^{steps}",
                abs(measured / predicted - 1),
                FORGET_TOLERANCE,
                REGENERATE,
            )
            row["after"][steps] = {"measured": measured, "predicted": predicted}
        rows.append(row)
    return {
        "rows": rows,
        "steps": FORGET["steps"],
        "jacobian": cells["lstm"]["jacobian"]["s", "s_prev"],
        "gate": cells["lstm"]["equation"]["f"]["latex"],
        "tolerance": FORGET_TOLERANCE,
    }


# --- 7. the LSTM's backward step, in NumPy ---------------------------------------------


def step_source() -> str:
    """The body of the loop over t in ``backward`` of the LSTM's literal module: one backward
    step, one statement per derived equation, each under its equation (row vectors (B, n))."""
    from ..backends import module_source

    source = module_source(CATALOGUE["lstm"], literal=True)
    tree = ast.parse(source)
    backward = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "backward")
    loop = next(n for n in ast.walk(backward) if isinstance(n, ast.For))
    lines = source.splitlines()
    first = loop.body[0].lineno - 1
    while lines[first - 1].strip().startswith("#"):  # the first statement's comment
        first -= 1
    assert loop.end_lineno is not None
    return textwrap.dedent("\n".join(lines[first : loop.end_lineno]))


def step_problem() -> dict:
    """The worked example's step STEP as the exercise gives it: the weights, the step's input,
    the output and state it starts from, its forward values, and what arrives at it, each
    vector a row of shape (1, 2)."""
    params, x, state, d_outputs = worked.problem("lstm")
    outputs, cache = generated("lstm").forward(params, x, state)
    t = STEP - 1
    return {
        "params": params,
        "x_t": x[t],
        "h_prev": outputs["h"][t - 1],
        "s_prev": outputs["s"][t - 1],
        "values": {k: cache["values"][k][t] for k in ("o", "i", "f", "s_tilde", "s")},
        "d_h_in": d_outputs["h"][t],
        "d_s_in": d_outputs["s"][t],
    }


def step_by_differences(problem: dict, eps: float = 1e-6) -> dict:
    """The asked-for numbers as central differences of the step's loss d_h_inᵀ h_t + d_s_inᵀ s_t,
    run one step by the generated module from (h_prev, s_prev)."""
    mod = generated("lstm")

    def loss(params, x_t, h_prev, s_prev) -> float:
        outputs, _ = mod.forward(params, x_t[None], {"h": h_prev, "s": s_prev})
        return float(
            (problem["d_h_in"] * outputs["h"][0]).sum() + (problem["d_s_in"] * outputs["s"][0]).sum()
        )

    args = {k: problem[k] for k in ("x_t", "h_prev", "s_prev")}

    def central(moved) -> np.ndarray:
        value = moved(None)
        out = np.zeros(value.shape)
        for k in np.ndindex(value.shape):
            bumped = []
            for sign in (1, -1):
                v = value.copy()
                v[k] += sign * eps
                bumped.append(moved(v))
            out[k] = (bumped[0] - bumped[1]) / (2 * eps)
        return out

    def through(name):
        def moved(v):
            if v is None:
                return (problem["params"] if name in problem["params"] else args)[name]
            if name in problem["params"]:
                return loss(dict(problem["params"], **{name: v}), **args)
            return loss(problem["params"], **dict(args, **{name: v}))

        return moved

    return {
        "d_s_prev": central(through("s_prev")),
        "d_h_prev": central(through("h_prev")),
        "d_x": central(through("x_t")),
        "d_b_f": central(through("b_f")),
        "d_W_f": central(through("W_f")),
    }


def backward_step(cells: dict) -> dict:
    """Exercise 7: the expected numbers (the worked example's, from the generated module)
    checked against central differences; the solution is the literal module's derived step."""
    example = worked.cell_example("lstm", cells["lstm"])
    at = example["values"][STEP - 1]
    expected = {k: np.asarray(at[k], dtype=np.float64).reshape(np.shape(at[k])) for k in STEP_SHOWN}
    problem = step_problem()
    differences = step_by_differences(problem)
    worst = _check(
        7,
        f"the worked example's adjoints at step {STEP} against central differences of the LSTM's step",
        max(_largest(np.reshape(expected[k], np.shape(v)), v) for k, v in differences.items()),
        STEP_TOLERANCE,
        REGENERATE,
    )
    parameters = [p.name for p in CATALOGUE["lstm"].parameters]
    return {
        "step": STEP,
        "previous": STEP - 1,
        "problem": {
            "params": {k: repr(problem["params"][k].tolist()) for k in parameters},
            "vectors": {
                k: repr(np.asarray(problem[k]).tolist())
                for k in ("x_t", "h_prev", "s_prev", "d_h_in", "d_s_in")
            },
            "values": {k: repr(v.tolist()) for k, v in problem["values"].items()},
        },
        "expected": {k: worked.matrix(v, lambda u: worked.number(u, 6)) for k, v in expected.items()},
        "raw": expected,
        "source": step_source(),
        "matrices": [
            k for k in parameters if CATALOGUE["lstm"].parameters[parameters.index(k)].symbol.shape[1] != 1
        ],
        "gradients": [naming.adjoint(k) for k in parameters],
        "differences": worst,
        "tolerance": STEP_TOLERANCE,
    }


# --- the page ----------------------------------------------------------------------------


def context(cells: dict[str, dict]) -> dict:
    """The exercises page's context, from the cell contexts of ``pages.context``."""
    return {
        "peephole": peephole(cells),
        "gru": gru_shut(),
        "coupled": coupled(cells),
        "counts": counts(cells),
        "rnn": rnn_bound(),
        "forget": forget_bias(cells),
        "step": backward_step(cells),
        "digits": DIGITS,
        # Formatting, for the template: a small number in LaTeX, and the power of ten above it.
        "scientific": worked.scientific,
        "bound": worked.bound,
    }
