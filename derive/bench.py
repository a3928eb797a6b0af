"""``python -m derive bench``: how fast the generated code runs, and against what.

For each cell and size, in float32 and float64, the median time of one
forward plus backward pass of the generated module; the matrix-product work
it does (3 passes × 2·T·B·(inputs + hidden)·k·hidden flops for k stacked
blocks) as GFLOP/s and as a fraction of this machine's GEMM rate measured in
the same run; the speed-up over the literal lowering (one product per gate
per step); and, when PyTorch is installed, the ratio of times to
``torch.nn.LSTM/GRU/RNN``, measured interleaved (median of per-round ratios).
"""

from __future__ import annotations

import importlib
import json
import platform
import statistics
import time

import numpy as np

SIZES = ((64, 32, 128, 256), (128, 16, 64, 128), (32, 1, 16, 32))
DTYPES = ("float64", "float32")
TORCH = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _seconds(fn, repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def gemm_rate(dtype, n: int = 768, repeat: int = 5) -> float:
    """This machine's matrix-product rate in GFLOP/s (square GEMM, current threads)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)).astype(dtype), rng.normal(size=(n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    best = min(_seconds(lambda: np.matmul(a, b, out=out), repeat))
    return 2 * n**3 / best / 1e9


def _pass(module, params, x, d_outputs):
    def run():
        _, cache = module.forward(params, x)
        module.backward(cache, d_outputs)

    return run


def _torch_pass(torch, name, T, B, n_input, n_hidden, dtype):
    layer = getattr(torch.nn, TORCH[name])(n_input, n_hidden).to(getattr(torch, dtype))
    x = torch.randn(T, B, n_input, dtype=getattr(torch, dtype), requires_grad=True)
    g = torch.randn(T, B, n_hidden, dtype=getattr(torch, dtype))

    def run():
        out, _ = layer(x)
        out.backward(g)

    return run


def run(cells=("lstm", "gru", "rnn"), sizes=SIZES, dtypes=DTYPES, rounds: int = 7, torch_ratio=True):
    """Measure; return the record (a dict) that ``bench`` prints and saves."""
    from .algebra import Apply
    from .catalogue import CATALOGUE
    from .codegen.modules import load, module_source

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rates = {dtype: gemm_rate(np.dtype(dtype)) for dtype in dtypes}
    rows = []
    for name in cells:
        fused = importlib.import_module(f"derive.generated.{name}")
        literal = load(module_source(CATALOGUE[name], literal=True), f"{name}_literal")
        blocks = sum(1 for eq in CATALOGUE[name].equations if isinstance(eq.rhs, Apply))
        for T, B, n_input, n_hidden in sizes:
            for dtype in dtypes:
                rng = np.random.default_rng(0)
                params = fused.init_params(n_input, n_hidden, rng=rng, dtype=np.dtype(dtype))
                x = rng.normal(size=(T, B, n_input)).astype(dtype)
                d_out = {fused.STATES[-1]: rng.normal(size=(T, B, n_hidden)).astype(dtype)}
                ours = _pass(fused, params, x, d_out)
                theirs = _pass(literal, params, x, d_out)
                reference = (
                    _torch_pass(torch, name, T, B, n_input, n_hidden, dtype)
                    if torch is not None and torch_ratio
                    else None
                )
                repeat = max(1, int(0.05 / max(min(_seconds(ours, 1)), 1e-6)))
                times, literal_ratios, torch_ratios = [], [], []
                for _ in range(rounds):
                    t_ours = statistics.median(_seconds(ours, repeat))
                    times.append(t_ours)
                    literal_ratios.append(statistics.median(_seconds(theirs, repeat)) / t_ours)
                    if reference is not None:
                        torch_ratios.append(t_ours / statistics.median(_seconds(reference, repeat)))
                seconds = statistics.median(times)
                flops = 3 * 2 * T * B * (n_input + n_hidden) * blocks * n_hidden
                rows.append(
                    {
                        "cell": name,
                        "T": T,
                        "B": B,
                        "inputs": n_input,
                        "hidden": n_hidden,
                        "dtype": dtype,
                        "seconds": seconds,
                        "gflops": flops / seconds / 1e9,
                        "gemm_fraction": flops / seconds / 1e9 / rates[dtype],
                        "speedup_over_literal": statistics.median(literal_ratios),
                        "ratio_to_torch": statistics.median(torch_ratios) if torch_ratios else None,
                    }
                )
    return {
        "generated_by": "python -m derive bench --record records/benchmark.json",
        "machine": {
            "processor": platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "gemm_gflops": rates,
        },
        "rows": rows,
    }


def _matmul(a, b):
    """A call of ``a @ b`` to time, on NumPy arrays or torch tensors."""
    return lambda: a @ b


def _exp(library, a):
    """A call of ``library.exp(a)`` to time (NumPy or torch)."""
    return lambda: library.exp(a)


def kernels(batch: int = 32, hidden: int = 256, blocks: int = 4, repeat: int = 200) -> list[tuple]:
    """The pieces one LSTM step is made of, timed alone (µs, median of 7 rounds):
    the step's stacked product in the two layouts, and exp over the gate block;
    NumPy beside PyTorch when it is installed."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)

    def micro(fn):
        return statistics.median(statistics.median(_seconds(fn, repeat)) for _ in range(7)) * 1e6

    rows = []
    for dtype in DTYPES:
        h = rng.normal(size=(batch, hidden)).astype(dtype)
        w = rng.normal(size=(hidden, blocks * hidden)).astype(dtype)
        w_t, h_t = np.ascontiguousarray(w.T), np.ascontiguousarray(h.T)
        z = rng.normal(size=(batch, (blocks - 1) * hidden)).astype(dtype)
        rows.append(
            (
                f"step product h @ W, ({batch}×{hidden}) @ ({hidden}×{blocks * hidden})",
                dtype,
                micro(_matmul(h, w)),
                None if torch is None else micro(_matmul(torch.from_numpy(h), torch.from_numpy(w))),
            )
        )
        rows.append(("the same, feature-major W @ hᵀ", dtype, micro(_matmul(w_t, h_t)), None))
        rows.append(
            (
                f"exp over the sigmoid gates, {batch}×{(blocks - 1) * hidden}",
                dtype,
                micro(_exp(np, z)),
                None if torch is None else micro(_exp(torch, torch.from_numpy(z))),
            )
        )
    return rows


def kernels_table(rows) -> str:
    header = ("piece", "dtype", "NumPy µs", "PyTorch µs")
    lines = [header] + [
        (what, dtype, f"{ours:.0f}", "-" if theirs is None else f"{theirs:.0f}")
        for what, dtype, ours, theirs in rows
    ]
    widths = [max(len(row[k]) for row in lines) for k in range(len(header))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if k > 1 else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    )


def table(record) -> str:
    """The record as a plain-text table."""
    header = ("cell", "T", "B", "in", "hidden", "dtype", "ms", "GFLOP/s", "of GEMM", "× literal", "/ torch")
    lines = [header]
    for r in record["rows"]:
        lines.append(
            (
                r["cell"],
                str(r["T"]),
                str(r["B"]),
                str(r["inputs"]),
                str(r["hidden"]),
                r["dtype"],
                f"{r['seconds'] * 1e3:.2f}",
                f"{r['gflops']:.1f}",
                f"{r['gemm_fraction']:.2f}",
                f"{r['speedup_over_literal']:.1f}",
                "-" if r["ratio_to_torch"] is None else f"{r['ratio_to_torch']:.2f}",
            )
        )
    widths = [max(len(row[k]) for row in lines) for k in range(len(header))]
    out = [
        "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in lines
    ]
    m = record["machine"]
    rates = ", ".join(f"{d} {g:.1f}" for d, g in m["gemm_gflops"].items())
    out.append(
        f"\nGEMM rate of this machine (GFLOP/s): {rates}; "
        f"numpy {m['numpy']}, torch {m['torch'] or 'not installed'}"
    )
    return "\n".join(out)


def dumps(record) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"
