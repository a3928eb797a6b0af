"""``python -m derive bench``: how fast the generated code runs, and against what.

For each cell and size, in float32 and float64, the median time of one
forward plus backward pass of the generated module; the matrix-product work
it does (2·m·k·n flops for each product of the floor, below: for the LSTM,
3 passes × 2·T·B·(inputs + hidden)·4·hidden) as GFLOP/s and as a fraction of
this machine's GEMM rate measured in
the same run; the speed-up over the literal lowering (one product per gate
per step); the time as a multiple of the floor, the time of exactly the
matrix products the algorithm must do, each timed alone at its real shape and
dtype (:func:`floor_products` lists them from the cell's plan); and, when
PyTorch is installed, the ratio of times to ``torch.nn.LSTM/GRU/RNN``.

Where the time above the floor goes is measured too: the exp floor, one
``np.exp`` over every entry of every function value that needs an exponential
(σ and tanh: :func:`floor_exps` lists them), timed alone over all T·B rows at
once, since no evaluation of those functions in NumPy does less; and the
kernel's share of the generated pass's time (page faults, mostly: the first
write into each page of a fresh array).  The
ratios are measured interleaved, one round after another, as the median of
per-round ratios, and every time is this thread's CPU time
(``time.thread_time``, with one BLAS thread): on a shared machine wall-clock
time swings by 2× or more with what else runs, CPU time much less.
"""

from __future__ import annotations

import functools
import json
import platform
import statistics
import time

import numpy as np

# (T, B, inputs, hidden); the last is the smallest, the one --quick times.
SIZES = ((64, 32, 128, 256), (128, 16, 64, 128), (100, 64, 256, 512), (32, 1, 16, 32))
DTYPES = ("float64", "float32")
TORCH = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _seconds(fn, repeat: int) -> list[float]:
    """This thread's CPU seconds of each of ``repeat`` calls of ``fn``, after one call not timed."""
    fn()
    out = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        out.append(time.thread_time() - start)
    return out


def _cpu_seconds(fn, number: int) -> float:
    """This thread's CPU seconds per call of ``fn``, over ``number`` calls in a row."""
    start = time.thread_time()
    for _ in range(number):
        fn()
    return (time.thread_time() - start) / number


def floor_products(
    cell, T: int, B: int, n_input: int, n_hidden: int, input_gradient: bool = True
) -> list[tuple]:
    """The matrix products one forward plus backward pass must do, from the plan of
    ``cell`` (a :class:`~derive.Cell` or the name of a catalogue cell): a list of
    ``(shape_a, shape_b, repeats, what)``, the product of a ``shape_a`` by a
    ``shape_b`` matrix done ``repeats`` times.

    For each stacked product of the plan (a span of k members), with an operand of
    m rows (n_input for the input, n_hidden for a state or a kept value): forward,
    (T·B × m)·(m × k·n_hidden) once when it is hoisted (the input), else
    (B × m)·(m × k·n_hidden) at each of the T steps; backward, for a span in the
    loop, the carried adjoint's product through the stacked weights,
    (B × k·n_hidden)·(k·n_hidden × m) at each step; after the loop the stacked
    weights' gradient, (k·n_hidden × T·B)·(T·B × m), and for a hoisted span the
    input's gradient, (T·B × k·n_hidden)·(k·n_hidden × m), unless ``input_gradient``
    is false (the input is data, its gradient not asked for).  A product W v inside a
    term the plan does not stack (W s_{t-1} in o ⊙ (W s_{t-1} + c)) counts the same
    as a span of one member: forward and backward at each step (all T·B rows at once
    when v is the input alone), and its weight's gradient once; so does one in an
    equation that applies no function last (minGRU's candidate U x_t + b).
    """
    forward, backward = floor_by_pass(cell, T, B, n_input, n_hidden, input_gradient)
    return [*forward, *backward]


def floor_by_pass(
    cell, T: int, B: int, n_input: int, n_hidden: int, input_gradient: bool = True
) -> tuple[list[tuple], list[tuple]]:
    """The products of :func:`floor_products`, those of the forward pass and those of the backward pass."""
    from sympy import MatMul

    from .algebra import walk
    from .catalogue import resolve
    from .cell import N_HIDDEN, N_INPUT
    from .codegen.plan import plan
    from .derivation import derive
    from .printing.text import text

    if isinstance(cell, str):
        cell = resolve(cell)
    names = [p.name for p in cell.parameters]
    sizes = {N_INPUT: n_input, N_HIDDEN: n_hidden}

    def size(dim) -> int:
        return int(dim.subs(sizes))

    rows = T * B
    forward, hoisted, loop, weights, inputs = [], [], [], [], []

    def count(m: int, k: int, at_once: bool, what: str, through: str, gradient: str, weight: str) -> None:
        """A product of a (k × m) weight by an operand of m rows: forward, backward, weight gradient."""
        if at_once:
            hoisted.append(((rows, m), (m, k), 1, f"forward: {what}, all T·B rows at once"))
            inputs.append(((rows, k), (k, m), 1, f"{gradient}, all T·B rows"))
        else:
            forward.append(((B, m), (m, k), T, f"forward step: {what}"))
            loop.append(((B, k), (k, m), T, f"backward step: {through}"))
        weights.append(((k, rows), (rows, m), 1, f"gradient of {weight}, all T·B rows"))

    the_plan = plan(derive(cell), set())
    # The products the plan does not stack: in the terms a pre-activation leaves over, and
    # anywhere in an equation that is no pre-activation (minGRU's U x_t, the LRU's W_y s_t).
    in_block = {pre.equation for pre in the_plan.pres}
    unstacked = [
        *(term for pre in the_plan.pres for term in pre.rest),
        *(eq.rhs for eq in cell.equations if eq.symbol not in in_block),
    ]
    for term in unstacked:
        for node in walk(term):
            product = isinstance(node, MatMul) and len(node.args) == 2
            if not (product and node.args[0] in cell.parameter_symbols):
                continue
            weight, operand = node.args
            what, name = f"{text(weight, names)} {text(operand, names)}", text(weight, names)
            at_once = operand.free_symbols <= set(cell.input_symbols)
            count(
                size(operand.shape[0]),
                size(weight.shape[0]),
                at_once,
                what,
                through=f"through {name}",
                gradient=f"gradient of {what}'s operand",
                weight=name,
            )
    for span in the_plan.spans:
        m = size(span.operand.shape[0])
        k = sum(size(w.shape[0]) for w, _ in span.members)
        operand = text(span.operand, names)
        operand = operand if " " not in operand else f"({operand})"
        stacked = "[" + " ".join(text(w, names) for w, _ in span.members) + "]"
        count(
            m,
            k,
            span.hoisted,
            f"{operand} {stacked}ᵀ",
            through=f"δz {stacked} → δ({operand})",
            gradient=f"gradient of {operand}: δz {stacked}",
            weight=f"{stacked}: δzᵀ {operand}",
        )
    return [*hoisted, *forward], [*loop, *weights, *(inputs if input_gradient else [])]


def floor_exps(cell, T: int, B: int, n_input: int, n_hidden: int) -> list[tuple[int, str]]:
    """The exponentials one forward pass must evaluate, from the equations of ``cell``
    (a :class:`~derive.Cell` or a catalogue name): ``(entries, what)`` for each distinct
    function value whose table entry goes through exp (σ, tanh), over all T·B rows.
    The backward pass needs none: the derivatives read the saved values."""
    from .algebra import Apply, walk
    from .catalogue import resolve
    from .cell import N_HIDDEN, N_INPUT
    from .elementwise import FUNCTIONS
    from .printing.text import text

    if isinstance(cell, str):
        cell = resolve(cell)
    names = [p.name for p in cell.parameters]
    seen: dict = {}
    for eq in cell.equations:
        for node in walk(eq.rhs):
            if isinstance(node, Apply) and FUNCTIONS[node.function].through_exp is not None:
                rows = int(node.shape[0].subs({N_INPUT: n_input, N_HIDDEN: n_hidden}))
                seen.setdefault(node, (T * B * rows * int(node.shape[1]), text(node, names)))
    return list(seen.values())


def _exp_floor(exps, dtype):
    """One call: ``np.exp`` over as many entries as ``exps`` (see :func:`floor_exps`) counts."""
    entries = sum(n for n, _ in exps)
    if not entries:
        return None
    a = np.random.default_rng(0).normal(size=entries).astype(dtype)
    out = np.empty_like(a)
    return lambda: np.exp(a, out=out)


def _calls_for(fn) -> int:
    """How many calls of ``fn`` in a row last about 10 ms (0 for no ``fn``)."""
    return 0 if fn is None else max(1, int(0.01 / max(_cpu_seconds(fn, 1), 1e-7)))


def _kernel_seconds():
    """This thread's CPU seconds spent in the kernel so far (Linux), else None."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_THREAD).ru_stime
    except (ImportError, AttributeError, OSError):
        return None


def _floor(products, dtype, rng):
    """One call per product of ``products`` (see :func:`floor_products`): its
    ``repeats`` matrix products in a row, on random arrays of ``dtype`` (one array
    per shape, shared) into an output made once."""
    arrays: dict[tuple, np.ndarray] = {}

    def array(shape):
        if shape not in arrays:
            arrays[shape] = rng.normal(size=shape).astype(dtype)
        return arrays[shape]

    calls = []
    for shape_a, shape_b, repeats, _ in products:
        a, b = array(shape_a), array(shape_b)
        out = np.empty((shape_a[0], shape_b[1]), dtype)

        def call(a=a, b=b, out=out, repeats=repeats):
            for _ in range(repeats):
                np.matmul(a, b, out=out)

        calls.append(call)
    return calls


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


def _modules(argument: str):
    """The cell named by ``argument`` (a catalogue name or a cell file) and its fused module."""
    from .backends import fused_module
    from .catalogue import resolve

    return resolve(argument), fused_module(argument)


def run(cells=("lstm", "gru", "rnn"), sizes=SIZES, dtypes=DTYPES, rounds: int = 7, torch_ratio=True):
    """Measure; return the record (a dict) that ``bench`` prints and saves.  ``cells``
    are catalogue names or cell files; PyTorch is timed for the catalogue's lstm, gru
    and rnn only."""
    from .backends import generate

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rates = {dtype: gemm_rate(np.dtype(dtype)) for dtype in dtypes}
    rows = []
    for argument in cells:
        cell, fused = _modules(argument)
        name = cell.name
        literal = generate(cell, literal=True)
        for T, B, n_input, n_hidden in sizes:
            for dtype in dtypes:
                rng = np.random.default_rng(0)
                params = fused.init_params(n_input, n_hidden, rng=rng, dtype=np.dtype(dtype))
                x = rng.normal(size=(T, B, n_input)).astype(dtype)
                d_out = {fused.STATES[-1]: rng.normal(size=(T, B, n_hidden)).astype(dtype)}
                ours = _pass(fused, params, x, d_out)
                theirs = _pass(literal, params, x, d_out)
                reference = (
                    _torch_pass(torch, argument, T, B, n_input, n_hidden, dtype)
                    if torch is not None and torch_ratio and argument in TORCH
                    else None
                )
                products = floor_products(cell, T, B, n_input, n_hidden)
                floor = _floor(products, dtype, rng)
                exps = _exp_floor(floor_exps(cell, T, B, n_input, n_hidden), dtype)
                repeat = max(1, int(0.05 / max(min(_seconds(ours, 1)), 1e-6)))
                # Each product of the floor is timed over enough calls to last about 10 ms.
                numbers = [_calls_for(call) for call in floor]
                exp_number = _calls_for(exps)
                times, floors, exp_times, kernel_shares = [], [], [], []
                literal_ratios, torch_ratios, floor_ratios, exp_ratios = [], [], [], []
                for _ in range(rounds):
                    k0, c0 = _kernel_seconds(), time.thread_time()
                    t_ours = statistics.median(_seconds(ours, repeat))
                    k1, c1 = _kernel_seconds(), time.thread_time()
                    if k0 is not None and k1 is not None:
                        kernel_shares.append((k1 - k0) / max(c1 - c0, 1e-9))
                    times.append(t_ours)
                    literal_ratios.append(statistics.median(_seconds(theirs, repeat)) / t_ours)
                    if reference is not None:
                        torch_ratios.append(t_ours / statistics.median(_seconds(reference, repeat)))
                    t_floor = sum(_cpu_seconds(call, k) for call, k in zip(floor, numbers, strict=True))
                    floors.append(t_floor)
                    floor_ratios.append(t_ours / t_floor)
                    t_exp = _cpu_seconds(exps, exp_number) if exps else 0.0
                    exp_times.append(t_exp)
                    exp_ratios.append(t_ours / (t_floor + t_exp))
                del floor, exps
                seconds = statistics.median(times)
                flops = sum(2 * a[0] * a[1] * b[1] * repeats for a, b, repeats, _ in products)
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
                        # the same rounds, the other way up: the fused time as a share of the literal's
                        "fused_over_literal": statistics.median(1 / r for r in literal_ratios),
                        "floor_seconds": statistics.median(floors),
                        "multiple_of_floor": statistics.median(floor_ratios),
                        "exp_seconds": statistics.median(exp_times),
                        "multiple_of_floor_and_exp": statistics.median(exp_ratios),
                        "kernel_share": statistics.median(kernel_shares) if kernel_shares else None,
                        "ratio_to_torch": statistics.median(torch_ratios) if torch_ratios else None,
                    }
                )
    return {
        "generated_by": "python -m derive bench --record records/benchmark.json",
        "machine": {
            "processor": processor(),
            "architecture": platform.machine(),
            "blas": blas(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "gemm_gflops": rates,
        },
        "rows": rows,
    }


def by_pass(cells=("lstm", "gru", "rnn"), sizes=SIZES, dtypes=DTYPES, rounds: int = 7) -> list[dict]:
    """Forward and backward timed apart, interleaved, each against its own products
    of the floor (:func:`floor_by_pass`); the forward also against the exp floor.
    Where the time above the floor is, pass by pass."""
    rows = []
    for argument in cells:
        cell, module = _modules(argument)
        name = cell.name
        for T, B, n_input, n_hidden in sizes:
            for dtype in dtypes:
                rng = np.random.default_rng(0)
                params = module.init_params(n_input, n_hidden, rng=rng, dtype=np.dtype(dtype))
                x = rng.normal(size=(T, B, n_input)).astype(dtype)
                d_out = {module.STATES[-1]: rng.normal(size=(T, B, n_hidden)).astype(dtype)}
                _, cache = module.forward(params, x)
                passes = {
                    "forward": functools.partial(module.forward, params, x),
                    "backward": functools.partial(module.backward, cache, d_out),
                }
                floors = dict(zip(passes, floor_by_pass(cell, T, B, n_input, n_hidden), strict=True))
                calls = {k: _floor(products, dtype, rng) for k, products in floors.items()}
                exps = _exp_floor(floor_exps(cell, T, B, n_input, n_hidden), dtype)
                exp_number = _calls_for(exps)
                repeat = max(1, int(0.05 / max(_cpu_seconds(passes["forward"], 1), 1e-6)))
                numbers = {k: [_calls_for(c) for c in cs] for k, cs in calls.items()}
                seen: dict[str, list[float]] = {f"{k}_{m}": [] for k in passes for m in ("seconds", "floor")}
                seen["exp"] = []
                for _ in range(rounds):
                    for k, fn in passes.items():
                        t = statistics.median(_seconds(fn, repeat))
                        f = sum(_cpu_seconds(c, m) for c, m in zip(calls[k], numbers[k], strict=True))
                        seen[f"{k}_seconds"].append(t)
                        seen[f"{k}_floor"].append(f)
                    seen["exp"].append(_cpu_seconds(exps, exp_number) if exps else 0.0)
                row = {"cell": name, "T": T, "B": B, "inputs": n_input, "hidden": n_hidden, "dtype": dtype}
                for k in passes:
                    ratios = [a / b for a, b in zip(seen[f"{k}_seconds"], seen[f"{k}_floor"], strict=True)]
                    row[f"{k}_seconds"] = statistics.median(seen[f"{k}_seconds"])
                    row[f"{k}_floor_seconds"] = statistics.median(seen[f"{k}_floor"])
                    row[f"{k}_multiple_of_floor"] = statistics.median(ratios)
                row["exp_seconds"] = statistics.median(seen["exp"])
                rows.append(row)
    return rows


def _aligned(lines, left: int = 1) -> list[str]:
    """Rows of text cells in columns: the first ``left`` columns to the left, the rest to the right."""
    widths = [max(len(row[k]) for row in lines) for k in range(len(lines[0]))]
    return [
        "  ".join(
            c.ljust(w) if k < left else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    ]


# The columns that say which measurement a row is, first in every table.
_WHICH = ("cell", "T", "B", "in", "hidden", "dtype")


def _which(r) -> tuple[str, ...]:
    return (r["cell"], *(str(r[k]) for k in ("T", "B", "inputs", "hidden")), r["dtype"])


def by_pass_table(rows) -> str:
    header = (
        *_WHICH,
        "fwd ms",
        "floor",
        "exp",
        "× floor",
        "bwd ms",
        "floor",
        "× floor",
    )
    lines = [header] + [
        (
            *_which(r),
            *(f"{r[k] * 1e3:.2f}" for k in ("forward_seconds", "forward_floor_seconds", "exp_seconds")),
            f"{r['forward_multiple_of_floor']:.2f}",
            *(f"{r[k] * 1e3:.2f}" for k in ("backward_seconds", "backward_floor_seconds")),
            f"{r['backward_multiple_of_floor']:.2f}",
        )
        for r in rows
    ]
    out = _aligned(lines)
    out.append(
        "\nforward and backward timed apart (this thread's CPU time, medians of interleaved rounds), "
        "each against the products of the floor its pass does;\nexp: one np.exp over every σ and tanh "
        "value of the forward pass, timed alone (all times in ms)"
    )
    return "\n".join(out)


def processor() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one (Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """NumPy's BLAS: its name and version from NumPy's build configuration, and the
    kernels it runs on this processor (OpenBLAS picks them at run time), from threadpoolctl."""
    config = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    text = " ".join(str(config[k]) for k in ("name", "version") if config.get(k)) or "unknown BLAS"
    try:
        from threadpoolctl import threadpool_info

        kernels = {i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"}
    except ImportError:
        kernels = set()
    kernels.discard(None)
    return text + (f", {'/'.join(sorted(kernels))} kernels" if kernels else "")


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
    return "\n".join(_aligned(lines, left=2))


def table(record) -> str:
    """The record as a plain-text table."""
    header = (
        *_WHICH,
        "ms",
        "GFLOP/s",
        "of GEMM",
        "fused/literal",
        "floor ms",
        "× floor",
        "exp ms",
        "× f+exp",
        "kernel",
        "/ torch",
    )
    lines = [header]
    for r in record["rows"]:
        lines.append(
            (
                *_which(r),
                f"{r['seconds'] * 1e3:.2f}",
                f"{r['gflops']:.1f}",
                f"{r['gemm_fraction']:.2f}",
                f"{r['fused_over_literal']:.2f}"
                if "fused_over_literal" in r
                else f"{1 / r['speedup_over_literal']:.2f}",
                "-" if r.get("floor_seconds") is None else f"{r['floor_seconds'] * 1e3:.2f}",
                "-" if r.get("multiple_of_floor") is None else f"{r['multiple_of_floor']:.2f}",
                "-" if r.get("exp_seconds") is None else f"{r['exp_seconds'] * 1e3:.2f}",
                "-"
                if r.get("multiple_of_floor_and_exp") is None
                else f"{r['multiple_of_floor_and_exp']:.2f}",
                "-" if r.get("kernel_share") is None else f"{r['kernel_share']:.0%}",
                "-" if r["ratio_to_torch"] is None else f"{r['ratio_to_torch']:.2f}",
            )
        )
    out = _aligned(lines)
    m = record["machine"]
    rates = ", ".join(f"{d} {g:.1f}" for d, g in m["gemm_gflops"].items())
    out.append(
        "\nall times are this thread's CPU time, medians of interleaved rounds; floor: the matrix "
        "products the algorithm must do, each timed alone; × floor: the generated time over it;\n"
        "fused/literal: the generated time over the literal lowering's (one product per gate per step);\n"
        "exp: one np.exp over every σ and tanh entry, timed alone; × f+exp: the time over floor + exp; "
        "kernel: the share of the generated time spent in the kernel (page faults of fresh arrays)"
    )
    out.append(
        f"GEMM rate of this machine (GFLOP/s): {rates}; "
        f"numpy {m['numpy']}, torch {m['torch'] or 'not installed'}"
    )
    if m.get("blas"):
        out.append(f"processor: {m['processor']}; BLAS: {m['blas']}")
    return "\n".join(out)


def dumps(record) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"
