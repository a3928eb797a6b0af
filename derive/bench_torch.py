"""``python -m derive bench --backend torch``: a cell's torch Layer (its backward the
derived BPTT, one autograd.Function) against the other ways to run it in PyTorch.

For each cell, in float32 and float64, at (T, B, inputs, hidden): the median
thread CPU time of one forward plus backward pass of

* the generated Layer;
* an autograd loop of the same equations (each equation a torch expression,
  step by step, as a hand-written custom cell is; a graph node per operation);
* ``torch.nn.LSTM/GRU/RNN`` where it computes the same function (``gru_torch``
  is ``nn.GRU``'s form; the seed's ``gru`` is not);
* the GEMM floor: exactly the matrix products of the plan, each timed alone at
  its shape (:func:`derive.bench.floor_products`), with torch; without the
  input's gradient, which no contestant computes (x is data here).

One thread; the contestants run interleaved, one round after another, and each
ratio is the median of per-round ratios.  Memory, two ways: the peak of torch's
CPU allocations during one forward and backward pass, above what was allocated
before it (the running sum of the allocation and release events of torch's
profiler, in time order), and the bytes each keeps for its backward pass (every
distinct storage saved, through torch's saved-tensor hooks).

:data:`TARGETS` are issue 19's: each row of the record says which it meets.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
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

from .algebra import Apply, Divide
from .bench import floor_products
from .catalogue import CATALOGUE
from .training.torch_layer import layer_module

SIZE = (64, 32, 128, 256)
NATIVE = {"lstm": "LSTM", "gru_torch": "GRU", "rnn": "RNN"}

# The most the Layer's time may be, as a multiple of each contestant's, by cell and
# dtype ("*" any cell); and its peak memory, as a multiple of the autograd loop's.
TARGETS = {
    "autograd loop": {"*": {"float32": 0.75, "float64": 0.75}},
    "nn.LSTM": {"lstm": {"float32": 1.25, "float64": 0.9}},
    "nn.GRU": {"gru_torch": {"float32": 1.15, "float64": 0.9}},
}
PEAK_TARGET = ("autograd loop", 1.0)
_FUNCTIONS = {
    "sigma": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "exp": torch.exp,
    "log": torch.log,
    "softplus": torch.nn.functional.softplus,
}


def _value(expr, env):
    """``expr`` in torch, rows layout, from the values in ``env``."""
    if isinstance(expr, MatrixSymbol):
        return env[expr.name]
    if isinstance(expr, MatAdd):
        return sum((_value(a, env) for a in expr.args[1:]), _value(expr.args[0], env))
    if isinstance(expr, HadamardProduct):
        out = _value(expr.args[0], env)
        for a in expr.args[1:]:
            out = out * _value(a, env)
        return out
    if isinstance(expr, HadamardPower):
        return _value(expr.base, env) ** int(expr.exp)
    if isinstance(expr, Divide):
        return _value(expr.dividend, env) / _value(expr.divisor, env)
    if isinstance(expr, Apply):
        return _FUNCTIONS[expr.function](_value(expr.arg, env))
    if isinstance(expr, OneMatrix):
        return 1.0
    if isinstance(expr, ZeroMatrix):
        return 0.0
    if isinstance(expr, MatMul):
        scalar, matrices = 1.0, []
        for a in expr.args:
            if getattr(a, "is_Matrix", False):
                matrices.append(a)
            else:
                scalar *= float(a)
        out = _value(matrices[-1], env)
        for m in reversed(matrices[:-1]):
            out = out @ (_value(m.arg, env) if isinstance(m, Transpose) else env[m.name + ".T"])
        return out if scalar == 1.0 else scalar * out
    raise NotImplementedError(f"no torch for {expr}")


def autograd_loop(cell, layer, x):
    """The cell's equations step by step in torch, differentiated by autograd."""
    params = dict(layer.named_parameters())
    env0 = {**params, **{k + ".T": v.T for k, v in params.items() if v.dim() == 2}}
    B = x.shape[1]
    prev = {f"{s}_prev": x.new_zeros(B, layer.n_hidden) for s in cell.states}
    out = []
    for x_t in x:
        env = {**env0, **prev, cell.inputs[0]: x_t}
        for eq in cell.equations:
            env[eq.name] = _value(eq.rhs, env)
        prev = {f"{s}_prev": env[s] for s in cell.states}
        out.append(env[cell.states[-1]])
    return torch.stack(out)


def _saved_bytes(run) -> int:
    """The bytes of every distinct storage ``run`` saves for backward."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(seen.values())


def _peak_bytes(run) -> int:
    """The peak of torch's CPU allocations while ``run`` runs, above where they started:
    the running sum of the profiler's allocation (+) and release (-) events in time order."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")
    )
    total = peak = 0
    for _, nbytes in events:
        total += nbytes
        peak = max(peak, total)
    return peak


def targets(row) -> list[dict]:
    """The targets of :data:`TARGETS` that apply to ``row`` of the record, each with
    the limit, the measured figure and whether it is met."""
    out = []
    for other, by_cell in TARGETS.items():
        limits = by_cell.get(row["cell"], by_cell.get("*", {}))
        if other in row["ratio"] and row["dtype"] in limits:
            limit, got = limits[row["dtype"]], row["ratio"][other]
            out.append({"against": other, "what": "time", "limit": limit, "got": got, "met": got <= limit})
    other, limit = PEAK_TARGET
    if other in row.get("peak_MB", {}):
        got = row["peak_MB"]["derive"] / row["peak_MB"][other]
        out.append({"against": other, "what": "peak memory", "limit": limit, "got": got, "met": got <= limit})
    return out


def _floor(cell, size, dtype):
    tensors: dict[tuple, torch.Tensor] = {}
    calls = []
    for shape_a, shape_b, repeats, _ in floor_products(cell, *size, input_gradient=False):
        for shape in (shape_a, shape_b):
            tensors.setdefault(shape, torch.randn(shape, dtype=dtype))
        a, b = tensors[shape_a], tensors[shape_b]
        out = torch.empty(shape_a[0], shape_b[1], dtype=dtype)

        def call(a=a, b=b, out=out, repeats=repeats):
            for _ in range(repeats):
                torch.matmul(a, b, out=out)

        calls.append(call)
    return lambda: [c() for c in calls]


def contestants(name: str, size=SIZE, dtype=torch.float32) -> dict:
    """name -> (forward and backward pass to time, the same pass whose saved bytes count)."""
    T, B, n_input, n_hidden = size
    cell = CATALOGUE[name]
    module = layer_module(name)
    torch.manual_seed(0)
    layer = module.Layer(n_input, n_hidden, dtype=dtype)
    x = torch.randn(T, B, n_input, dtype=dtype)
    g = torch.randn(T, B, n_hidden, dtype=dtype)
    last = module.STATES[-1]
    out: dict = {}

    def ours(backward=True):
        layer.zero_grad(set_to_none=True)
        y = layer(x)[0][last]
        if backward:
            y.backward(g)

    def loop(backward=True):
        layer.zero_grad(set_to_none=True)
        y = autograd_loop(cell, layer, x)
        if backward:
            y.backward(g)

    out["derive"] = ours
    out["autograd loop"] = loop
    if name in NATIVE:
        native = getattr(torch.nn, NATIVE[name])(n_input, n_hidden, dtype=dtype)

        def library(backward=True):
            native.zero_grad(set_to_none=True)
            y = native(x)[0]
            if backward:
                y.backward(g)

        out[f"nn.{NATIVE[name]}"] = library
    floor = _floor(cell, size, dtype)
    out["GEMM floor"] = lambda backward=True: floor()
    return out


def run(cells=("lstm", "gru", "gru_torch", "rnn"), size=SIZE, dtypes=("float32", "float64"), rounds: int = 7):
    """The record: for each cell and dtype, the median time of each contestant (ms), the
    ratios of the Layer's time to each other's, and the bytes each saves for backward."""
    torch.set_num_threads(1)
    rows = []
    for name in cells:
        for dtype in dtypes:
            runs = contestants(name, size, getattr(torch, dtype))
            times: dict[str, list[float]] = {k: [] for k in runs}
            for fn in runs.values():
                fn()  # once untimed
            for _ in range(rounds):
                for k, fn in runs.items():
                    start = time.thread_time()
                    fn()
                    times[k].append(time.thread_time() - start)
            ratios = {
                k: statistics.median(a / b for a, b in zip(times["derive"], v, strict=True))
                for k, v in times.items()
                if k != "derive"
            }
            measured = [k for k in runs if k != "GEMM floor"]
            memory = {k: _saved_bytes(lambda fn=runs[k]: fn(False)) for k in measured}
            peak = {k: _peak_bytes(runs[k]) for k in measured}
            row = {
                "cell": name,
                "dtype": dtype,
                "ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
                "ratio": ratios,
                "peak_MB": {k: v / 2**20 for k, v in peak.items()},
                "saved_MB": {k: v / 2**20 for k, v in memory.items()},
            }
            rows.append({**row, "targets": targets(row)})
    return {
        "size": list(size),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "memory": "peak of torch's CPU allocations over one forward and backward pass (profiler events)",
        "rows": rows,
        "targets": {
            "met": sum(t["met"] for r in rows for t in r["targets"]),
            "total": sum(len(r["targets"]) for r in rows),
        },
    }


def table(record) -> str:
    T, B, n_input, n_hidden = record["size"]
    lines = [
        f"(T, B, inputs, hidden) = ({T}, {B}, {n_input}, {n_hidden}); one thread, thread CPU time, "
        f"median of interleaved rounds; torch {record['torch']}",
        f"{'cell':<10} {'dtype':<8} {'derive ms':>9}  "
        "ratio of derive's time to each (ms; peak MB / saved for backward MB)",
    ]

    def memory(r, k):
        return f"; {r['peak_MB'][k]:.1f} / {r['saved_MB'][k]:.1f} MB" if k in r["peak_MB"] else ""

    for r in record["rows"]:
        others = "  ".join(f"{k} {r['ratio'][k]:.2f}× ({r['ms'][k]:.1f}{memory(r, k)})" for k in r["ratio"])
        lines.append(
            f"{r['cell']:<10} {r['dtype']:<8} {r['ms']['derive']:>9.1f}  "
            f"({memory(r, 'derive')[2:]})  {others}"
        )
        for t in r["targets"]:
            lines.append(
                f"{'':<20} target: {t['what']} ≤ {t['limit']:.2f}× {t['against']}: "
                f"{t['got']:.2f}×, {'met' if t['met'] else 'missed'}"
            )
    return "\n".join(lines)


__all__ = ["PEAK_TARGET", "SIZE", "TARGETS", "autograd_loop", "contestants", "run", "table", "targets"]
