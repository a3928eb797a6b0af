"""The generated NumPy module of a cell, as text."""

from __future__ import annotations

from . import codegen
from .cell import Cell
from .derivation import derive
from .printing.text import equation, text
from .render import render


# Names the module template uses inside forward() and backward().
TEMPLATE_NAMES = frozenset({
    "np", "n", "T", "B", "t", "x", "dtype", "params", "state", "cache", "outputs", "values", "d_out",
    "d_params", "d_state", "act", "z", "dz", "dz_t", "dz_rows", "d_biases",
})


def module_source(cell: Cell, literal: bool = False) -> str:
    """The source of ``derive/generated/<cell>.py`` (or of the literal baseline)."""
    derivation = derive(cell)
    code = codegen.lower_literal(derivation) if literal else codegen.lower(derivation, TEMPLATE_NAMES)
    names = [p.name for p in cell.parameters]
    return render(
        "numpy_module.py.j2",
        name=cell.name,
        title=cell.title,
        variant="literal: one product per gate per step" if literal else "fused: stacked products, hoisted inputs",
        equations=[equation(text(eq.symbol, names), text(eq.rhs, names)) for eq in cell.equations],
        parameters=[{"name": p.name, "shape": tuple(1 if d == "1" else d for d in (p.rows, p.cols))}
                    for p in cell.parameters],
        states=cell.states,
        code=code,
    )


def load(source: str, name: str):
    """Import generated source as a module object, without writing a file."""
    import types

    module = types.ModuleType(name)
    exec(compile(source, f"<generated {name}>", "exec"), module.__dict__)
    return module
