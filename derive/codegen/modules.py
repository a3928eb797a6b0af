"""The generated NumPy module of a cell: its source, and the module loaded and checked."""

from __future__ import annotations

import importlib
import linecache
import types
from collections.abc import Iterable

from .. import codegen, elementwise, naming
from ..algebra import Apply, walk
from ..cell import Cell
from ..derivation import Derivation, derive
from ..printing import numpy as numpy_printer
from ..printing.text import equation, text
from ..render import render

# Names the module template uses inside forward() and backward(), which the
# names the plan makes must avoid (a cell may use none of them either).
TEMPLATE_NAMES = naming.GENERATED | {"x"}

# The entries (steps × batch × hidden) of each array computed ahead of a chunk of
# backward steps: small enough to stay in a core's cache, large enough that a chunk
# is few NumPy calls.
CHUNK_ENTRIES = 16384

# The quick check of a module generated for a cell outside the catalogue:
# (steps, batch, n_input, n_hidden) and the tolerances of derive verify.
QUICK_PROBLEM = (3, 2, 2, 3)
REFERENCE_TOLERANCE = 1e-12
FINITE_DIFFERENCE_TOLERANCE = 1e-6
FINITE_DIFFERENCE_POINTS = 3


class GenerationError(RuntimeError):
    """A generated module that failed its own numeric checks.  It is never handed
    to a user: this is a bug in derive, and the message says what disagreed."""


def module_source(cell: Cell, literal: bool = False, check: bool | None = None) -> str:
    """The source of the NumPy module of ``cell`` (fused, or the literal baseline).

    A module for a cell outside the catalogue is checked before it is returned
    (``check=None``): run on a small random problem, its outputs and gradients
    must agree with the derivation evaluated at 30 digits and with finite
    differences, or :class:`GenerationError` is raised.  This takes a fraction of
    a second; ``check=False`` skips it, ``check=True`` forces it.
    """
    derivation = derive(cell)
    catalogued = _in_catalogue(cell)
    code = codegen.lower_literal(derivation) if literal else codegen.lower(derivation, TEMPLATE_NAMES)
    names = [p.name for p in cell.parameters]
    source = render(
        "code/numpy.py.j2",
        name=cell.name,
        title=cell.title,
        command="python -m derive code" if catalogued else "derive.module_source",
        origin=f" of derive/catalogue/{cell.name}.toml" if catalogued else "",
        variant="literal: one product per gate per step"
        if literal
        else "fused: stacked products, hoisted inputs",
        equations=[equation(text(eq.symbol, names), text(eq.rhs, names)) for eq in cell.equations],
        parameters=[
            {"name": p.name, "shape": tuple(1 if d == "1" else d for d in (p.rows, p.cols))}
            for p in cell.parameters
        ],
        states=cell.states,
        code=numpy_printer.statements(code),
        chunk_entries=CHUNK_ENTRIES,
        helpers=elementwise.helpers(
            {node.function for eq in cell.equations for node in walk(eq.rhs) if isinstance(node, Apply)}
        ),
    )
    if check or (check is None and not catalogued):
        _quick_check(load(source, cell.name), derivation, literal)
    return source


def module_index(cells: Iterable[Cell]) -> str:
    """The ``__init__`` of a package of generated modules, one per cell."""
    return render("code/generated_init.py.j2", cells=list(cells))


def generate(cell: Cell, literal: bool = False) -> types.ModuleType:
    """The generated module of ``cell``, loaded (checked as :func:`module_source` says).

    It follows the contract of ``derive.generated.lstm``: ``PARAMETERS``,
    ``STATES``, ``init_params``, ``forward`` and ``backward``.

    >>> from derive import CATALOGUE, generate
    >>> rnn = generate(CATALOGUE["rnn"])
    >>> outputs, cache = rnn.forward(rnn.init_params(2, 3, rng=0), [[[1.0, 0.0]]])
    >>> outputs["s"].shape
    (1, 1, 3)
    """
    return load(module_source(cell, literal), cell.name + ("_literal" if literal else ""))


def generated(name: str) -> types.ModuleType:
    """The committed module of the catalogue cell ``name``, ``derive.generated.<name>``."""
    return importlib.import_module(f"..generated.{name}", __package__)


def load(source: str, name: str) -> types.ModuleType:
    """Import generated source as a module object, without writing a file.  The
    source is registered with :mod:`linecache`, so tracebacks show its lines."""
    filename = f"<generated {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _in_catalogue(cell: Cell) -> bool:
    from ..catalogue import CATALOGUE

    return CATALOGUE.get(cell.name) == cell


def _quick_check(module: types.ModuleType, derivation: Derivation, literal: bool) -> None:
    from ..verification import numeric

    steps, batch, n_input, n_hidden = QUICK_PROBLEM
    problem = numeric.random_problem(module, n_input, n_hidden, steps, batch, seed=0)
    kind = "literal" if literal else "fused"
    where = f"the {kind} module generated for cell {derivation.cell.name!r}"
    error = numeric.against_reference(module, derivation, *problem)
    if not error <= REFERENCE_TOLERANCE:
        raise GenerationError(
            f"{where} differs from its derivation by {error:.1e} (relative); this is a bug in "
            "derive, please report it with the cell; the module was not returned"
        )
    # A finite difference across a kink (relu at 0) disagrees with the derivative on
    # either side of it, with no bug anywhere; a wrong gradient disagrees at every point.
    # So the module fails only if it disagrees at each of FINITE_DIFFERENCE_POINTS problems.
    wrong: dict[str, float] = {}
    for seed in range(FINITE_DIFFERENCE_POINTS):
        if seed:
            problem = numeric.random_problem(module, n_input, n_hidden, steps, batch, seed=seed)
        errors = numeric.finite_differences(module, *problem)
        failed = {k: v for k, v in errors.items() if not v <= FINITE_DIFFERENCE_TOLERANCE}
        if not failed:
            break
        wrong = wrong or failed  # the first problem's, for the message
    else:
        listed = ", ".join(f"{k} ({v:.1e})" for k, v in wrong.items())
        raise GenerationError(
            f"{where} disagrees with finite differences in {listed}; this is a bug in derive, "
            "please report it with the cell; the module was not returned"
        )
