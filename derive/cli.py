"""``python -m derive``: print, prove, generate and build."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from . import build

# The rest of derive (SymPy with it) is imported inside main(), so that an
# interrupt while it loads is the same clean exit as one while a command runs.


def _cmd_equations(args) -> int:
    if args.latex:
        return _equations_latex(args)
    from .catalogue import resolve
    from .printing.text import cell_text

    print(cell_text(resolve(args.cell)), end="")
    return 0


def _equations_latex(args) -> int:
    """The same sections as LaTeX ``aligned`` blocks, ready to paste."""
    from .catalogue import resolve
    from .printing.context import cell_context
    from .render import render

    print(render("cell/equations.tex.j2", c=cell_context(resolve(args.cell))), end="")
    return 0


def _prove(task):
    from .catalogue import resolve
    from .verification.report import check

    name, claim = task
    return check(resolve(name), claim)


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cmd_verify(args) -> int:
    import multiprocessing

    from .catalogue import CATALOGUE
    from .verification import proof as proofs
    from .verification.report import CLAIMS, Report

    start = time.perf_counter()
    cells = list(dict.fromkeys(args.cells)) or list(CATALOGUE)
    build.import_generated([name for name in cells if name in CATALOGUE])
    tasks = [(cell, claim) for cell in cells for claim in CLAIMS]
    if args.jobs == 1:
        outcomes = [_prove(t) for t in tasks]
    else:
        # Leaving the block (at the end, on an error or on Ctrl-C) terminates the workers.
        with multiprocessing.Pool(args.jobs, initializer=_ignore_interrupts) as pool:
            outcomes = pool.map(_prove, tasks, chunksize=1)
    report = Report(tuple(r for o in outcomes for r in o))
    print(report)
    results, failed = report.rows, report.failures
    if args.record:
        build.write({args.record: report.dumps()})
    print(
        f"\n{len(results) - len(failed)} of {len(results)} checks hold "
        f"in {time.perf_counter() - start:.1f} s "
        f"(proofs by sympy.diff at {proofs.DIGITS} digits; the generated code in float64)"
    )
    return 1 if failed else 0


def _report_sync(files: dict, check: bool, what: str, command: str) -> int:
    """Write the files (or, with check, only compare them) and say what happened."""
    shown = build.shown
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
        from .backends import module_source
        from .catalogue import resolve

        if args.check and args.out in (None, "-"):
            args.usage_error(
                "--check compares a file with what it should be: with a CELL, name the file with "
                "--out PATH (`python -m derive code --check` checks derive/generated/)"
            )
        source = module_source(resolve(args.cell), backend=args.backend or "numpy")
        if args.out in (None, "-"):
            print(source, end="")
            return 0
        command = f"python -m derive code {args.cell} --out {args.out}"
        if args.backend:
            command += f" --backend {args.backend}"
        return _report_sync({Path(args.out): source}, args.check, "module", command)
    if args.out:
        args.usage_error(
            "--out writes one cell's module: name the cell, e.g. `python -m derive code lstm --out lstm.py`"
        )
    if args.backend not in (None, "numpy"):
        args.usage_error(
            f"--backend {args.backend} writes one cell's module: name the cell, e.g. "
            f"`python -m derive code lstm --backend {args.backend}` "
            "(derive/generated/ holds the NumPy and torch modules)"
        )
    if not args.check:
        build.writable(build.GENERATED)
    return _report_sync(build.generated_code(), args.check, "generated modules", "python -m derive code")


def _cmd_new(args) -> int:
    from .cell import CellError
    from .cellfile import SUFFIX, loads, starter

    target = Path(args.name + SUFFIX)
    text = starter(args.name)
    try:
        loads(text, args.name, str(target))  # the name must be one a cell can have
    except CellError as error:
        args.usage_error(f"{args.name!r} cannot name a cell: {' '.join(str(error).split())}")
    if target.exists():
        raise _Unusable(f"{target} exists; choose another name or move it away")
    build.write({target: text})
    print(
        f"wrote {target}: try `python -m derive equations {target}`, `verify {target}`, "
        f"`code {target} --out {args.name}.py`"
    )
    return 0


def _cmd_page(args) -> int:
    from .catalogue import CATALOGUE, FOLDER, resolve
    from .cellfile import header
    from .printing.context import cell_context
    from .render import render

    cell = resolve(args.cell)
    path = FOLDER / f"{args.cell}.toml" if args.cell in CATALOGUE else Path(args.cell)
    about = header(path) if path.is_file() else ""
    text = render("cell/page.md.j2", c=cell_context(cell), about=about, source=args.cell)
    if args.out in (None, "-"):
        print(text, end="")
        return 0
    build.write({Path(args.out): text})
    print(f"wrote {args.out}")
    return 0


def _cmd_docs(args) -> int:
    from .catalogue import CATALOGUE

    _require("matplotlib", "babel", extra="docs")
    if not args.check:
        build.writable(build.checkout() / "docs")
    # The figures run every generated module.
    build.import_generated(CATALOGUE)
    status = _report_sync(build.pages(), args.check, "generated pages and figures", "python -m derive docs")
    # A catalogue behind its templates leaves their new English untranslated.
    behind = build.stale_catalogues()
    for line in behind:
        print(f"stale catalogue: {line}", file=sys.stderr)
    if behind:
        print("run `python -m derive translations`, translate what it marks, and commit", file=sys.stderr)
    return status or int(bool(behind))


def _cmd_translations(args) -> int:
    _require("babel", extra="docs")
    if args.check:  # by their messages: a catalogue's header and comments are the translators'
        behind = build.stale_catalogues()
        for line in behind:
            print(f"stale catalogue: {line}", file=sys.stderr)
        if behind:
            print("run `python -m derive translations` and commit the result", file=sys.stderr)
            return 1
        print("catalogues up to date")
        return 0
    build.writable(build.checkout() / "templates" / "locale")
    return _report_sync(build.catalogues(), False, "catalogues", "python -m derive translations")


def _cmd_build(args) -> int:
    _require(
        "mkdocs", "material", "pymdownx", "mkdocs_static_i18n", "babel", "jieba", "matplotlib", extra="docs"
    )
    start = time.perf_counter()
    build.checkout()
    for step in (_cmd_code, _cmd_docs):
        status = step(argparse.Namespace(check=False, cell=None, out=None, backend=None))
        if status:
            return status
    build.write(build.katex_assets())
    build.site()
    print(f"built site/ in {time.perf_counter() - start:.1f} s; serve it with `mkdocs serve`")
    return 0


def _bench_size(text: str) -> tuple[int, int, int, int]:
    """``T,B,I,H``: four positive integers."""
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected T,B,I,H as four positive integers, got {text!r}")
    T, B, n_input, n_hidden = (int(p) for p in parts)
    return T, B, n_input, n_hidden


def _cmd_bench(args) -> int:
    from threadpoolctl import threadpool_limits

    from . import bench
    from .catalogue import CATALOGUE

    if args.kernels:
        ignored = [
            option
            for option, given in [
                ("CELL", args.cells),
                ("--record", args.record),
                ("--quick", args.quick),
                ("--size", args.size),
                ("--rounds", args.rounds),
                ("--no-torch", args.no_torch),
                ("--by-pass", args.by_pass),
            ]
            if given
        ]
        if ignored:
            args.usage_error(
                f"--kernels times the pieces of one LSTM step alone, on --threads only; "
                f"drop {', '.join(ignored)}"
            )
        with threadpool_limits(limits=args.threads):
            print(bench.kernels_table(bench.kernels()))
        return 0
    if args.backend == "torch":
        import json

        from . import bench_torch

        chosen = list(dict.fromkeys(args.cells)) or ["lstm", "gru", "gru_torch", "rnn"]
        size = bench.SIZES[-1] if args.quick else bench_torch.SIZE
        result = bench_torch.run(cells=chosen, size=size, rounds=args.rounds or 7)
        print(bench_torch.table(result))
        if args.record:
            build.write({args.record: json.dumps(result, indent=1) + "\n"})
            print(f"wrote {args.record}")
        return 0
    cells = list(dict.fromkeys(args.cells)) or ["lstm", "gru", "rnn"]
    build.import_generated([c for c in cells if c in CATALOGUE])
    sizes = args.size or (bench.SIZES if not args.quick else bench.SIZES[-1:])
    if args.by_pass:
        if args.record:
            args.usage_error("--by-pass prints its table only; drop --record")
        with threadpool_limits(limits=args.threads):
            print(bench.by_pass_table(bench.by_pass(cells=cells, sizes=sizes, rounds=args.rounds or 7)))
        return 0
    with threadpool_limits(limits=args.threads):
        record = bench.run(
            cells=cells,
            rounds=args.rounds or 7,
            sizes=sizes,
            torch_ratio=not args.no_torch,
        )
    print(bench.table(record))
    if args.record:
        build.write({args.record: bench.dumps(record)})
        print(f"wrote {args.record}")
    return 0


class _Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal (logs stay clean)."""

    def __init__(self, total: int, width: int = 30):
        self.total, self.width, self.done = total, width, 0
        self.shown = sys.stderr.isatty()

    def advance(self, steps: int, note: str = "") -> None:
        self.done += steps
        if self.shown:
            filled = self.width * self.done // self.total
            bar = "#" * filled + "." * (self.width - filled)
            print(f"\r[{bar}] {self.done}/{self.total} steps {note}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def _train_one(task):
    """In a worker: one run of the experiment, with BLAS on one thread."""
    from threadpoolctl import threadpool_limits

    from .training import experiments

    kind, cell, lag, seed, steps = task
    with threadpool_limits(limits=1):
        if kind == "adding":
            return experiments.adding_run(cell, lag, seed, steps), None
        return experiments.review_run(cell, steps, seed)


def _cmd_train(args) -> int:
    import multiprocessing

    from .catalogue import CATALOGUE
    from .training import experiments

    if args.backend == "torch" and (args.record or args.check):
        args.usage_error(
            "--backend torch trains and prints; the records are the NumPy modules': drop --record/--check"
        )
    if args.record and (args.cell or args.lag):
        args.usage_error("--record writes the whole experiment, every cell and lag: drop --cell and --lag")
    if args.task == "review" and args.lag:
        args.usage_error("--lag sets the adding problem's length; the review task has none")
    settings = experiments.EXPERIMENTS[args.task]
    recorded = None
    if args.check:
        given = [
            o
            for o, v in (
                ("--cell", args.cell),
                ("--lag", args.lag),
                ("--seed", args.seed),
                ("--steps", args.steps),
                ("--record", args.record),
            )
            if v is not None and v is not False
        ]
        if given:
            args.usage_error(
                f"--check repeats the record's own runs with its settings: drop {', '.join(given)}"
            )
        recorded = experiments.read_record(build.checkout() / "records", args.task)
        settings = recorded["settings"]
    settings, tasks = experiments.plan(args.task, settings, args.cell, args.lag, args.seed, args.steps)
    cells, steps = settings["cells"], settings["steps"]
    if args.backend == "torch":
        return _train_torch(args, settings, tasks)
    if args.record:
        records = build.checkout() / "records"
        build.writable(records)
    from .backends import fused_module

    # A cell file is read and generated now, so that a bad one stops before any training.
    build.import_generated([c for c in cells if c in CATALOGUE])
    for c in cells:
        fused_module(c)
    start = time.perf_counter()
    bar = _Progress(steps * len(tasks))
    try:
        if len(tasks) == 1 or args.jobs == 1:
            results = []
            for kind, cell, lag, seed, n in tasks:
                note = f"{cell}" + (f" lag {lag} seed {seed}" if kind == "adding" else "")

                def step(k, loss, note=note):
                    bar.advance(1, f"{note} loss {loss:.4f}")

                if kind == "adding":
                    results.append((experiments.adding_run(cell, lag, seed, n, on_step=step), None))
                else:
                    results.append(experiments.review_run(cell, n, seed, on_step=step))
        else:
            results = []
            with multiprocessing.Pool(args.jobs, initializer=_ignore_interrupts) as pool:
                for result in pool.imap(_train_one, tasks, chunksize=1):
                    results.append(result)
                    bar.advance(steps, result[0]["cell"])
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    runs = [r for r, _ in results]
    cpu = sum(r["seconds"] for r in runs)
    if args.task in experiments.ADDING:
        print(experiments.race_table(runs))
    else:
        print(experiments.review_table(runs))
    if recorded is not None:
        differences, largest = experiments.compare(recorded["runs"], runs)
        differences += experiments.changed_settings(args.task, recorded["settings"])
        for line in differences:
            print(f"differs: {line}", file=sys.stderr)
        if differences:
            print(
                f"{len(differences)} numbers differ from records/{args.task}.json; if the change is meant, "
                f"run `python -m derive train {args.task} --record` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(
            f"every number of records/{args.task}.json reproduced (largest relative difference {largest:.1e})"
        )
    runs_trained = f"{len(tasks)} run{'s' * (len(tasks) > 1)}"
    print(f"trained {runs_trained} in {seconds:.0f} s ({cpu:.0f} s of CPU time)", file=sys.stderr)
    if args.record:
        files = experiments.record_files(
            records,
            args.task,
            settings,
            results,
            seed=args.seed,
            steps=args.steps,
            seconds=seconds,
            jobs=min(args.jobs, len(tasks)),
        )
        for path in build.write(files):
            print(f"wrote {build.shown(path)}")
    return 0


def _train_torch(args, settings, tasks) -> int:
    """The runs of ``tasks`` with the cells' torch Layers and torch.optim.Adam, one after another."""
    from .training import torch_layer

    start = time.perf_counter()
    bar = _Progress(settings["steps"] * len(tasks))
    rows = []
    try:
        for kind, cell, lag, seed, n in tasks:

            def step(k, loss, note=cell):
                bar.advance(1, f"{note} loss {loss:.4f}")

            rows.append(torch_layer.run(kind, cell, lag, seed, n, settings, on_step=step))
    finally:
        bar.close()
    for row in rows:
        print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    print(f"trained {len(rows)} runs with torch in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return value


def _lag(text: str) -> int:
    value = _positive(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"the adding problem marks two steps: the lag must be 2 or more, got {text}"
        )
    return value


class _Unusable(Exception):
    """A command line that reads well but names a file the command cannot use: a cell file
    it cannot read or that is wrong, a path it cannot write.  The work fails (exit 1); it is
    not a mistake in the command line (exit 2).  Raised by an argument type, it passes
    through argparse, which turns a ValueError into a usage mistake."""


def _cell(name: str) -> str:
    """An argument type: a catalogue name or a cell file, which must read as a cell."""
    from .catalogue import CATALOGUE, resolve
    from .cell import CellError
    from .cellfile import SUFFIX

    try:
        resolve(name)
    except CellError as error:
        message = " ".join(str(error).split())
        if name not in CATALOGUE and (name.endswith(SUFFIX) or "/" in name or Path(name).is_file()):
            raise _Unusable(message) from None
        raise argparse.ArgumentTypeError(message) from None
    return name


def _backend(name: str) -> str:
    """An argument type: the name of a code backend."""
    from .backends import UnknownBackend, find

    try:
        find(name)
    except UnknownBackend as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name


def _file_to_write(example: str, stdout: bool = False):
    """An argument type: a path that can be written as a file (checked before any work
    is done), or ``-`` for standard output when ``stdout``."""

    def path(text: str) -> Path | str:
        if stdout and text == "-":
            return text
        target = Path(text)
        if target.is_dir():
            raise _Unusable(f"{text} is a folder; name the file to write, e.g. {example}")
        problem = build.obstacle(target)
        if problem:
            raise _Unusable(f"cannot write {text}: {problem}")
        return target

    return path


def _require(*modules: str, extra: str) -> None:
    """Stop with the install command when an optional dependency is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not installed: run `pip install -e '.[{extra}]'`")


class _Parser(argparse.ArgumentParser):
    """A usage mistake in one line on stderr, and where to read the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    from .catalogue import CATALOGUE

    cells = ", ".join(CATALOGUE)
    # Where the cell-file errors send a user (their "see --help"): how to write one.
    a_file = "a cell file (TOML; `python -m derive new NAME` writes one, with comments, to start from)"
    p = _Parser(
        prog="python -m derive",
        description="RNN, LSTM and GRU as SymPy equations: derive their BPTT gradients, "
        "prove them, and print them.",
        epilog="`python -m derive COMMAND --help` shows a command's arguments.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    eq = sub.add_parser(
        "equations",
        help="print a cell's forward, adjoint and Jacobian equations",
        description="Print a cell's forward equations, the adjoint equations of one "
        "backward step, the BPTT recurrences and the state-to-state Jacobians.",
    )
    eq.add_argument("cell", type=_cell, metavar="CELL", help=f"the cell: one of {cells}, or " + a_file)
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
        type=_cell,
        metavar="CELL",
        help="cells to prove, by name or " + a_file + f" (default: all of {cells})",
    )
    ver.add_argument("--jobs", type=_positive, default=2, help="processes to use (default: 2)")
    ver.add_argument(
        "--record",
        metavar="PATH",
        type=_file_to_write("records/verify.json"),
        help="also write the table as JSON to PATH (records/verify.json is what the site shows)",
    )
    ver.set_defaults(run=_cmd_verify)

    code = sub.add_parser(
        "code",
        help="regenerate the NumPy and torch modules in derive/generated/, or write one cell's module",
        description="Regenerate derive/generated/<cell>.py (NumPy) and derive/generated/torch/<cell>.py "
        "for every cell of the catalogue; or, given a CELL, print its module or write it to --out PATH. "
        "With --check, write nothing and exit 1 naming the stale files.",
    )
    code.add_argument(
        "cell", nargs="?", type=_cell, metavar="CELL", help=f"one cell only: one of {cells}, or " + a_file
    )
    code.add_argument(
        "--out",
        metavar="PATH",
        type=_file_to_write("lstm.py", stdout=True),
        help="with CELL: write its module to PATH (- prints it)",
    )
    code.add_argument(
        "--check",
        action="store_true",
        help="only check that the files are current: derive/generated/, or with CELL the --out PATH",
    )
    code.add_argument(
        "--backend",
        metavar="NAME",
        type=_backend,
        help="with CELL: the language of its module: numpy (the default), javascript or torch",
    )
    code.set_defaults(run=_cmd_code, usage_error=code.error)

    new = sub.add_parser(
        "new",
        help="write a starter cell file NAME.toml to edit",
        description="Write NAME.toml in the current folder: a working cell (a minimal gated "
        "unit) with comments on the format, to change into your own. Every command that "
        "takes a CELL takes the file.",
    )
    new.add_argument("name", metavar="NAME", help="the cell's name, an identifier such as my_cell")
    new.set_defaults(run=_cmd_new, usage_error=new.error)

    page = sub.add_parser(
        "page",
        help="write a Markdown page for one cell: its equations, gradients and Jacobians",
        description="Render one cell (a catalogue name or a cell file) as a Markdown page with "
        "LaTeX math: the forward step, the backward step, the recurrences through time, the "
        "parameters' gradients and the state-to-state Jacobians.",
    )
    page.add_argument("cell", type=_cell, metavar="CELL", help=f"one of {cells}, or " + a_file)
    page.add_argument(
        "--out", metavar="PATH", type=_file_to_write("my_cell.md", stdout=True), help="write it to PATH"
    )
    page.set_defaults(run=_cmd_page)

    docs = sub.add_parser(
        "docs",
        help="regenerate the pages and figures of the site under docs/",
        description="Render templates/pages/ into docs/ with the equations, gradients and "
        "code of the derivation, and draw the figures by running the generated modules; "
        "with --check, write nothing and exit 1 naming the stale files.",
    )
    docs.add_argument("--check", action="store_true", help="only check that the committed pages are current")
    docs.set_defaults(run=_cmd_docs)

    tr = sub.add_parser(
        "translations",
        help="update the catalogues of templates/locale/ to the pages' messages",
        description="Extract the messages the page templates mark (babel.cfg) and update each "
        "language's catalogue, templates/locale/LANG/LC_MESSAGES/messages.po, as `pybabel "
        "extract` and `pybabel update` do: a new message comes in empty, a changed one keeps its "
        "old translation marked fuzzy (shown in English until a translator clears the mark), "
        "a vanished one is dropped.",
    )
    tr.add_argument("--check", action="store_true", help="only check that the catalogues are current")
    tr.set_defaults(run=_cmd_translations)

    build = sub.add_parser(
        "build",
        help="regenerate code and pages, then build the static site in site/",
        description="Run `code` and `docs`, copy KaTeX from node_modules (run `npm ci` "
        "first) and run `mkdocs build --strict` into site/.  The site is built in a "
        "temporary folder and swapped in: if mkdocs fails, site/ is left as it was.",
    )
    build.set_defaults(run=_cmd_build)

    t = sub.add_parser(
        "train",
        help="train cells with their generated gradients: the adding problem or the review corpus",
        description="Train with the generated modules' backward (NumPy only, Adam, gradient clipping), "
        "the same numbers for the same seed.  adding: the long-lag race, every cell at every lag (or "
        "the one --cell and --lag); adding-2024: the same race for minGRU and minLSTM; review: the LSTM "
        "and GRU on the corpus of film reviews.  --record "
        "writes the records the site reads (records/TASK.json, and the review's "
        "weights).",
    )
    t.add_argument(
        "task",
        choices=("adding", "adding-2024", "review"),
        metavar="TASK",
        help="adding, adding-2024 (the same race for minGRU and minLSTM) or review",
    )
    t.add_argument("--cell", type=_cell, metavar="CELL", help=f"one cell only: one of {cells}, or " + a_file)
    t.add_argument("--lag", type=_lag, help="adding only: one sequence length (at least 2)")
    t.add_argument("--seed", type=_natural, help="one seed (default: the experiment's)")
    t.add_argument("--steps", type=_positive, help="training steps per run (default: the experiment's)")
    t.add_argument("--jobs", type=_positive, default=2, help="processes to use (default: 2)")
    t.add_argument(
        "--backend",
        choices=("numpy", "torch"),
        help="numpy (the default: the generated modules, the records) or torch (the cells' torch "
        "Layers and torch.optim.Adam)",
    )
    t.add_argument("--record", action="store_true", help="write the experiment's records under records/")
    t.add_argument(
        "--check",
        action="store_true",
        help="train again with the record's own runs and compare every number with it; exit 1 if any differs",
    )
    t.set_defaults(run=_cmd_train, usage_error=t.error)

    b = sub.add_parser(
        "bench",
        help="time the generated code against its matrix products alone, the literal form and PyTorch",
        description="Median forward+backward time of each generated module, its GFLOP/s "
        "and share of this machine's GEMM rate, the speed-up over one product per gate per "
        "step, the time as a multiple of the floor (the matrix products it must do, each "
        "timed alone) and of the floor plus one exp per σ and tanh value, and the ratio to "
        "torch.nn.LSTM/GRU/RNN when PyTorch is installed.",
    )
    b.add_argument(
        "cells",
        nargs="*",
        type=_cell,
        metavar="CELL",
        help=f"cells to time, by name (one of {cells}) or " + a_file + "; default: lstm gru rnn",
    )
    b.add_argument("--threads", type=_positive, default=1, help="BLAS threads (default: 1)")
    b.add_argument("--rounds", type=_positive, help="interleaved rounds per measurement (default: 7)")
    b.add_argument("--quick", action="store_true", help="only the smallest size")
    b.add_argument(
        "--size",
        action="append",
        type=_bench_size,
        metavar="T,B,I,H",
        help="time this size (steps, batch, inputs, hidden) instead of the default ones; may be repeated",
    )
    b.add_argument(
        "--kernels",
        action="store_true",
        help="instead, time the pieces of one LSTM step alone: the stacked product in both "
        "layouts and exp, beside PyTorch's (takes --threads only)",
    )
    b.add_argument(
        "--by-pass",
        action="store_true",
        help="instead, time forward and backward apart, each against its own products of the floor "
        "(the forward also against the exp floor): where the time above the floor is",
    )
    b.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    b.add_argument(
        "--backend",
        choices=("numpy", "torch"),
        help="numpy (the default: the generated NumPy modules) or torch (the cells' torch Layers "
        "against an autograd loop, nn.LSTM/GRU/RNN and the GEMM floor)",
    )
    b.add_argument(
        "--record",
        metavar="PATH",
        type=_file_to_write("records/benchmark.json"),
        help="also write the figures as JSON to PATH (records/benchmark.json is what the site shows)",
    )
    b.set_defaults(run=_cmd_bench, usage_error=b.error)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The command, for a failure found while the arguments are read (a cell file it cannot use).
    command = "python -m derive" + (f" {argv[0]}" if argv and not argv[0].startswith("-") else "")
    try:
        args = parser().parse_args(argv)
        command = f"python -m derive {args.command}"
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): nothing to say, and nothing
        # is to be flushed into the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as problem:
        # What the command could not do, in one line: no checkout, a file it cannot
        # read or write, a broken install or generated module, a tool that failed
        # (whose own messages came first).  Anything else is a bug: its traceback.
        message = _explain(problem)
        if message is None:
            raise
        print(f"{command}: {message}", file=sys.stderr)
        return 1


def _explain(problem: Exception) -> str | None:
    """One line saying what went wrong and what to do, or None for an unexpected error."""
    # A template error comes from jinja2, a GenerationError from derive.codegen.modules:
    # both are loaded when one is raised, and nothing is imported here.
    jinja2 = sys.modules.get("jinja2")
    modules = sys.modules.get(f"{__package__}.codegen.modules")
    if jinja2 and isinstance(problem, jinja2.TemplateNotFound):
        from .render import TEMPLATES

        return (
            f"template {problem.name} is missing (looked in {build.shown(TEMPLATES)}): this install of "
            "derive is broken; reinstall it (in a checkout, `git checkout -- templates` restores the file)"
        )
    if jinja2 and isinstance(problem, jinja2.TemplateSyntaxError):
        where = build.shown(Path(problem.filename)) if problem.filename else problem.name
        return (
            f"template {where}, line {problem.lineno}: {problem.message}; this is a bug in derive's templates"
        )
    if modules and isinstance(problem, modules.GenerationError):
        line = _one_line(problem)
        return line if "bug in derive" in line else f"{line}; this is a bug in derive, please report it"
    if isinstance(problem, OSError | RuntimeError | _Unusable):
        return _one_line(problem)
    return None


def _one_line(problem: BaseException) -> str:
    if isinstance(problem, OSError) and problem.filename is not None:
        return f"{problem.strerror or problem}: {problem.filename}"
    return " ".join(str(problem).split())
