"""``python -m derive``: print, prove, generate and build."""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import build, naming
from .catalogue import CATALOGUE
from .derivation import derive
from .printing.text import columns, derivative, equation, text
from .verification import proof as proofs
from .verification.report import CLAIMS, Report, check


def _cmd_equations(args) -> int:
    if args.latex:
        return _equations_latex(args)
    cell = CATALOGUE[args.cell]
    d = derive(cell)
    params = [p.name for p in cell.parameters]

    def show(e):
        return text(e, params)

    def section(title, rows):
        print(f"\n{title}")
        width = max(columns(left) for left, _ in rows)
        for left, right in rows:
            print(f"  {left}{' ' * (width - columns(left))} = {right}")

    print(f"{cell.title}: state {', '.join(cell.states)}; parameters {', '.join(params)}")
    print("\nForward, one step")
    for eq in cell.equations:
        print(f"  {equation(show(eq.symbol), show(eq.rhs))}\n      {eq.role.value}: {eq.meaning}")
    section("Named sub-expressions", [(show(a.target), show(a.value)) for a in d.intermediates])
    section(
        "Backward, one step (δv = ∂L/∂v)",
        [(show(a.target), show(a.value)) for a in d.backward if a not in d.gradients],
    )
    rows = [
        (
            show(c.incoming),
            derivative("ℓ_t", show(c.state)) + f" + ({show(c.carried)} from step t+1; 0 after step T)",
        )
        for c in d.carries
    ]
    rows += [
        (derivative("L", naming.parse(g.target.name)["base"]), "Σ_t " + show(g.value)) for g in d.gradients
    ]
    rows += [
        (derivative("L", text(c.state, params, step="0")), f"{show(c.carried)} at t = 1") for c in d.carries
    ]
    section("Through time, t = T, ..., 1", rows)
    section(
        "State-to-state Jacobians",
        [(derivative(show(j.of), show(j.wrt)), show(j.value)) for j in d.jacobians],
    )
    return 0


def _equations_latex(args) -> int:
    """The same sections as LaTeX ``aligned`` blocks, ready to paste."""
    from .render import render
    from .site.pages import cell_context

    print(render("equations.tex.j2", c=cell_context(CATALOGUE[args.cell])), end="")
    return 0


def _prove(task):
    name, claim = task
    return check(CATALOGUE[name], claim)


def _cmd_verify(args) -> int:
    start = time.perf_counter()
    tasks = [(cell, claim) for cell in args.cells or CATALOGUE for claim in CLAIMS]
    if args.jobs == 1:
        outcomes = [_prove(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(pool.map(_prove, tasks))
    report = Report(tuple(r for o in outcomes for r in o))
    print(report)
    results, failed = report.rows, report.failures
    if args.record:
        import json
        from pathlib import Path

        record = {
            "generated_by": "python -m derive verify --record records/verify.json",
            "rows": [
                {
                    "cell": r.cell,
                    "claim": r.claim,
                    "entries": r.entries,
                    "max_relative_difference": float(f"{r.max_relative_difference:.2e}"),
                    "tolerance": r.tolerance,
                }
                for r in results
            ],
        }
        build.write({Path(args.record): json.dumps(record, indent=2, sort_keys=True) + "\n"})
    print(
        f"\n{len(results) - len(failed)} of {len(results)} checks hold "
        f"in {time.perf_counter() - start:.1f} s "
        f"(proofs by sympy.diff at {proofs.DIGITS} digits; the generated code in float64)"
    )
    return 1 if failed else 0


def _report_sync(files: dict, check: bool, what: str, command: str) -> int:
    """Write the files (or, with check, only compare them) and say what happened."""

    def shown(path: Path) -> Path:
        return path.relative_to(build.ROOT) if path.is_relative_to(build.ROOT) else path

    if check:
        old = build.stale(files)
        for path in old:
            print(f"stale: {shown(path)}", file=sys.stderr)
        if old:
            print(f"{len(old)} {what} out of date; run `{command}` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} {what} up to date")
        return 0
    changed = build.write(files)
    for path in changed:
        print(f"wrote {shown(path)}")
    print(f"{len(files)} {what}, {len(changed)} changed")
    return 0


def _cmd_code(args) -> int:
    if args.cell:
        from .codegen.modules import module_source

        source = module_source(CATALOGUE[args.cell])
        if args.out in (None, "-"):
            print(source, end="")
            return 0
        command = f"python -m derive code {args.cell} --out {args.out}"
        return _report_sync({Path(args.out): source}, args.check, "module", command)
    if args.out:
        raise SystemExit("--out writes one module: name its cell, e.g. `code lstm --out lstm.py`")
    return _report_sync(build.generated_code(), args.check, "generated modules", "python -m derive code")


def _cmd_docs(args) -> int:
    _require("matplotlib", extra="docs")
    return _report_sync(build.pages(), args.check, "generated pages and figures", "python -m derive docs")


def _cmd_build(args) -> int:
    _require("mkdocs", "material", "pymdownx", "matplotlib", extra="docs")
    start = time.perf_counter()
    build.checkout()
    for step in (_cmd_code, _cmd_docs):
        status = step(argparse.Namespace(check=False, cell=None, out=None))
        if status:
            return status
    build.write(build.katex_assets())
    build.site()
    print(f"built site/ in {time.perf_counter() - start:.1f} s; serve it with `mkdocs serve`")
    return 0


def _cmd_bench(args) -> int:
    from threadpoolctl import threadpool_limits

    from . import bench

    if args.kernels:
        with threadpool_limits(limits=args.threads):
            print(bench.kernels_table(bench.kernels()))
        return 0
    with threadpool_limits(limits=args.threads):
        record = bench.run(
            cells=args.cells or ("lstm", "gru", "rnn"),
            rounds=args.rounds,
            sizes=bench.SIZES if not args.quick else bench.SIZES[-1:],
            torch_ratio=not args.no_torch,
        )
    print(bench.table(record))
    if args.record:
        from pathlib import Path

        build.write({Path(args.record): bench.dumps(record)})
        print(f"wrote {args.record}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _require(*modules: str, extra: str) -> None:
    """Stop with the install command when an optional dependency is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not installed: run `pip install -e '.[{extra}]'`")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m derive",
        description="RNN, LSTM and GRU as SymPy equations: derive their BPTT gradients, "
        "prove them, and print them.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    eq = sub.add_parser(
        "equations",
        help="print a cell's forward, adjoint and Jacobian equations",
        description="Print a cell's forward equations, the adjoint equations of one "
        "backward step, the BPTT recurrences and the state-to-state Jacobians.",
    )
    eq.add_argument("cell", choices=sorted(CATALOGUE), help="the cell")
    eq.add_argument("--latex", action="store_true", help="print LaTeX (aligned blocks) instead of text")
    eq.set_defaults(run=_cmd_equations)

    ver = sub.add_parser(
        "verify",
        help="prove every derivation and check the generated code; print a table",
        description="Prove the derived gradients against sympy.diff of explicit, "
        "unrolled cells at random points, and check the generated NumPy modules against "
        "the derivation (30 digits) and against finite differences; exit 1 if any fails.",
    )
    ver.add_argument(
        "cells",
        nargs="*",
        choices=[[], *sorted(CATALOGUE)],
        metavar="CELL",
        help=f"cells to prove (default: all of {', '.join(CATALOGUE)})",
    )
    ver.add_argument("--jobs", type=_positive, default=2, help="processes to use (default: 2)")
    ver.add_argument(
        "--record",
        metavar="PATH",
        help="also write the table as JSON to PATH (records/verify.json is what the site shows)",
    )
    ver.set_defaults(run=_cmd_verify)

    code = sub.add_parser(
        "code",
        help="regenerate the NumPy modules in derive/generated/, or write one cell's module",
        description="Regenerate derive/generated/<cell>.py for every cell of the "
        "catalogue; or, given a CELL, print its module or write it to --out PATH. "
        "With --check, write nothing and exit 1 naming the stale files.",
    )
    code.add_argument("cell", nargs="?", choices=sorted(CATALOGUE), metavar="CELL", help="one cell only")
    code.add_argument("--out", metavar="PATH", help="with CELL: write its module to PATH (- prints it)")
    code.add_argument(
        "--check", action="store_true", help="only check that the committed modules are current"
    )
    code.set_defaults(run=_cmd_code)

    docs = sub.add_parser(
        "docs",
        help="regenerate the pages and figures of the site under docs/",
        description="Render derive/site/templates/pages/ into docs/ with the equations, gradients and "
        "code of the derivation, and draw the figures by running the generated modules; "
        "with --check, write nothing and exit 1 naming the stale files.",
    )
    docs.add_argument("--check", action="store_true", help="only check that the committed pages are current")
    docs.set_defaults(run=_cmd_docs)

    build = sub.add_parser(
        "build",
        help="regenerate code and pages, then build the static site in site/",
        description="Run `code` and `docs`, copy KaTeX from node_modules (run `npm ci` "
        "first) and run `mkdocs build --strict` into site/.",
    )
    build.set_defaults(run=_cmd_build)

    b = sub.add_parser(
        "bench",
        help="time the generated code against the literal form and PyTorch",
        description="Median forward+backward time of each generated module, its GFLOP/s "
        "and share of this machine's GEMM rate, the speed-up over one product per gate per "
        "step, and the ratio to torch.nn.LSTM/GRU/RNN when PyTorch is installed.",
    )
    b.add_argument(
        "cells",
        nargs="*",
        choices=[[], *sorted(CATALOGUE)],
        metavar="CELL",
        help="cells to time (default: lstm gru rnn)",
    )
    b.add_argument("--threads", type=_positive, default=1, help="BLAS threads (default: 1)")
    b.add_argument(
        "--rounds", type=_positive, default=7, help="interleaved rounds per measurement (default: 7)"
    )
    b.add_argument("--quick", action="store_true", help="only the smallest size")
    b.add_argument(
        "--kernels",
        action="store_true",
        help="instead, time the pieces of one LSTM step alone: the stacked product in both "
        "layouts and exp, beside PyTorch's",
    )
    b.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    b.add_argument("--record", metavar="PATH", help="also write the figures as JSON to PATH")
    b.set_defaults(run=_cmd_bench)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (build.NotACheckout, OSError, RuntimeError) as problem:
        # What the command could not do, in one line: no checkout, a file it cannot
        # read or write, a tool that failed (whose own messages came first).
        print(f"python -m derive {args.command}: {_one_line(problem)}", file=sys.stderr)
        return 1


def _one_line(problem: BaseException) -> str:
    if isinstance(problem, OSError) and problem.filename is not None:
        return f"{problem.strerror or problem}: {problem.filename}"
    return " ".join(str(problem).split())
