"""``python -m derive``: print, prove, generate and build."""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from . import files as files_mod
from . import naming
from . import proof as proofs
from .cells import CATALOGUE
from .derivation import derive
from .printing.text import columns, derivative, equation, text
from .verification import CLAIMS, Report, check


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
    from .site import cell_context

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
        files_mod.write({Path(args.record): json.dumps(record, indent=2, sort_keys=True) + "\n"})
    print(
        f"\n{len(results) - len(failed)} of {len(results)} checks hold "
        f"in {time.perf_counter() - start:.1f} s "
        f"(proofs by sympy.diff at {proofs.DIGITS} digits; the generated code in float64)"
    )
    return 1 if failed else 0


def _generated_code() -> dict:
    from .modules import module_source
    from .render import ROOT

    files = {
        ROOT / "derive" / "generated" / f"{name}.py": module_source(cell) for name, cell in CATALOGUE.items()
    }
    files[ROOT / "derive" / "generated" / "__init__.py"] = module_source_index()
    return files


def module_source_index() -> str:
    from .render import render

    return render("generated_init.py.j2", cells=list(CATALOGUE.values()))


def _sync(files: dict, check: bool, what: str, command: str) -> int:
    from .render import ROOT

    if check:
        old = files_mod.stale(files)
        for path in old:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if old:
            print(f"{len(old)} {what} out of date; run `{command}` and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} {what} up to date")
        return 0
    changed = files_mod.write(files)
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"{len(files)} {what}, {len(changed)} changed")
    return 0


def _cmd_code(args) -> int:
    return _sync(_generated_code(), args.check, "generated modules", "python -m derive code")


def _cmd_docs(args) -> int:
    _require("matplotlib", extra="docs")
    from .site import pages

    return _sync(pages(), args.check, "generated pages and figures", "python -m derive docs")


def _katex_assets() -> dict:
    """KaTeX, installed by `npm ci`, copied under docs/ so that the site serves it itself."""

    from .render import ROOT

    source = ROOT / "node_modules" / "katex" / "dist"
    if not (source / "katex.min.js").exists():
        raise SystemExit("KaTeX is not installed: run `npm ci` in the repository first")
    wanted = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]
    wanted += [str(p.relative_to(source)) for p in sorted((source / "fonts").glob("*.woff2"))]
    return {ROOT / "docs" / "assets" / "katex" / name: (source / name).read_bytes() for name in wanted}


def _cmd_build(args) -> int:
    import subprocess

    from .render import ROOT

    _require("mkdocs", "material", "pymdownx", "matplotlib", extra="docs")
    start = time.perf_counter()
    for step in (_cmd_code, _cmd_docs):
        status = step(argparse.Namespace(check=False))
        if status:
            return status
    files_mod.write(_katex_assets())
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"], cwd=ROOT, env=env
    )
    if built.returncode:
        print("mkdocs build --strict failed", file=sys.stderr)
        return built.returncode
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

        files_mod.write({Path(args.record): bench.dumps(record)})
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
        help="regenerate the NumPy modules in derive/generated/",
        description="Regenerate derive/generated/<cell>.py for every cell of the "
        "catalogue; with --check, write nothing and exit 1 naming the stale files.",
    )
    code.add_argument(
        "--check", action="store_true", help="only check that the committed modules are current"
    )
    code.set_defaults(run=_cmd_code)

    docs = sub.add_parser(
        "docs",
        help="regenerate the pages and figures of the site under docs/",
        description="Render templates/pages/ into docs/ with the equations, gradients and "
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
    return args.run(args)
