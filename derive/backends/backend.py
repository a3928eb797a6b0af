"""The contract every code backend meets: :class:`Backend`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from ..algebra import Apply, walk
from ..cell import Cell
from ..codegen import Code, Options
from ..codegen.plan import DEFAULT as DEFAULT_OPTIONS
from ..derivation import Derivation
from .printer import StatementPrinter

# A backend's template variables for one cell, from the cell, its derivation, the
# statements (pruned) and whether they are the literal lowering's.
Context = Callable[[Cell, Derivation, Code, bool], Mapping[str, object]]
# A check of a loaded module against its derivation (and whether it is the literal
# lowering's), which raises GenerationError where they disagree.
Check = Callable[[ModuleType, Derivation, bool], None]


@dataclass(frozen=True)
class Backend:
    """One code backend: a folder under ``derive/backends/`` that prints the statement
    IR of :mod:`derive.codegen.ir` in its language, inside the frame of its template.
    The frame's own names start with _ (:func:`derive.naming.own`) and its interface
    is :data:`derive.naming.INTERFACE`, so a cell may use any other name; a printer
    whose language keeps more names (JavaScript's keywords) renames a cell's that clash.

    ``name``       what ``--backend`` and ``module_source(..., backend=)`` call it
    ``language``   what its files are written in, for messages
    ``suffix``     its files' suffix (``.py``)
    ``template``   its Jinja template, under the top-level ``templates/`` (``code/numpy.py.j2``)
    ``printer``    its printer of the statement IR (a subclass of
                   :class:`.printer.StatementPrinter`; its elementwise functions'
                   spellings are a table beside it, in the backend's ``functions``)
    ``context``    the template's variables for one cell (:data:`Context`), besides the
                   header's ``name``, ``title``, ``command``, ``origin`` and ``equations``
                   that :func:`derive.backends.module_source` gives every template
    ``command``    the command that writes the catalogue's files of this backend, named
                   in their header
    ``fused``      whether it prints the fused lowering; if not, it prints the literal
                   one whatever is asked
    ``importable`` whether its source is a Python module that :func:`derive.backends.generate`
                   can load (and :func:`~derive.backends.module_source` check numerically)
    ``options``    its choices of the fused lowering's plan (:class:`~derive.codegen.Options`)
    ``check``      how a loaded module of a cell outside the catalogue is checked
                   (:data:`Check`); ``None``: as a module of the NumPy modules' contract,
                   by :func:`derive.codegen.modules.quick_check`
    """

    name: str
    language: str
    suffix: str
    template: str
    printer: type[StatementPrinter]
    context: Context
    command: str
    fused: bool = True
    importable: bool = False
    options: Options = DEFAULT_OPTIONS
    check: Check | None = None


__all__ = ["Backend", "Check", "Context"]


def applied(cell: Cell) -> set[str]:
    """The elementwise functions ``cell``'s equations apply (their helpers' starting set)."""
    return {node.function for eq in cell.equations for node in walk(eq.rhs) if isinstance(node, Apply)}


def module_frame(cell: Cell, literal: bool) -> dict[str, object]:
    """What every Python module template states about its cell besides the code: the
    lowering it prints, the parameters with their shapes, and the states."""
    return {
        "variant": "literal: one product per gate per step"
        if literal
        else "fused: stacked products, hoisted inputs",
        "parameters": [
            {"name": p.name, "shape": tuple(1 if d == "1" else d for d in (p.rows, p.cols))}
            for p in cell.parameters
        ],
        "states": cell.states,
    }
