"""A generated Python module loaded without a file, and checked before it is handed out."""

from __future__ import annotations

import importlib
import linecache
import types

from ..cell import Cell
from ..derivation import Derivation

# The quick check of a module generated for a cell outside the catalogue:
# (steps, batch, n_input, n_hidden) and the tolerances of derive verify.
QUICK_PROBLEM = (3, 2, 2, 3)
REFERENCE_TOLERANCE = 1e-12
FINITE_DIFFERENCE_TOLERANCE = 1e-6
FINITE_DIFFERENCE_POINTS = 3


class GenerationError(RuntimeError):
    """A generated module that failed its own numeric checks.  It is never handed
    to a user: this is a bug in derive, and the message says what disagreed."""


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


def in_catalogue(cell: Cell) -> bool:
    """Whether ``cell`` is the catalogue's cell of its name, as it stands."""
    from ..catalogue import CATALOGUE

    return CATALOGUE.get(cell.name) == cell


def quick_check(module: types.ModuleType, derivation: Derivation, literal: bool) -> None:
    """Run ``module`` (the contract of ``derive.generated.lstm``) on small random
    problems against ``derivation`` at 30 digits and finite differences; a
    :class:`GenerationError` that says what disagreed."""
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


__all__ = ["GenerationError", "in_catalogue", "load", "quick_check"]
