"""The JavaScript backend: forward and backward for one sequence over ``Float64Array``,
from the literal lowering (one product per gate per step).  The site's gate
explorer runs it in the browser.

Its printer (:mod:`.printer`) spells the statement IR and the matrix
expressions as calls of small helpers; :mod:`.functions` spells the
elementwise functions; its template is ``templates/code/javascript.js.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ...algebra import Apply, Divide, walk
from ...cell import Cell
from ...codegen import Code, ir
from ...derivation import Derivation
from ...naming import own
from ..backend import Backend
from . import functions
from .printer import StatementPrinter, js_name

# How _n, the hidden size, follows from the length of a parameter of each shape
# (_m, the input size, is the length of x[0]).
_HIDDEN_SIZE = {
    ("hidden", "1"): "{p}.length",
    ("hidden", "input"): "{p}.length / _m",
    ("input", "hidden"): "{p}.length / _m",
    ("hidden", "hidden"): "Math.round(Math.sqrt({p}.length))",
}

# The names the template binds in both functions before the statements.
_BOUND = frozenset({"x", "state", "params", "cache", "d_outputs", *map(own, ("T", "n", "m", "d_out", "t"))})


def context(cell: Cell, derivation: Derivation, code: Code, literal: bool) -> Mapping[str, object]:
    """The template's variables: each function's statements printed as lines (the
    backward loop apart, with each step's carried adjoints kept for the explorer),
    the parameters, how the hidden size is read, and the helpers.

    A cell that uses an elementwise function with no JavaScript spelling raises
    :class:`ValueError`, naming it.
    """
    nodes = [node for a in (*derivation.forward, *derivation.backward) for node in walk(a.value)]
    used = {node.function for node in nodes if isinstance(node, Apply)}
    helpers = [functions.helper(f) for f in _table_order(used)]
    size = next(
        (
            _HIDDEN_SIZE[p.rows, p.cols].format(p=js_name(p.name))
            for p in cell.parameters
            if (p.rows, p.cols) in _HIDDEN_SIZE
        ),
        None,
    )
    if size is None:
        raise ValueError(
            f"cell {cell.name!r}: no parameter has the hidden size as a dimension, "
            "so the JavaScript cannot tell the size of the state"
        )
    bound = _BOUND | {js_name(p.name) for p in cell.parameters}
    forward = StatementPrinter(bound)
    backward = StatementPrinter(bound | {js_name(n) for n in code.cache})
    k = next(k for k, s in enumerate(code.backward) if isinstance(s, ir.Loop))
    loop = code.backward[k]
    assert isinstance(loop, ir.Loop)
    # What each step hands back to the step before it, kept for every step in the
    # template's own carried, which the frame binds before the loop.
    carried = ir.Given(own("carried"))
    keep = tuple(ir.Assign(ir.at(ir.at(carried, ir.Key(s)), loop.index), v) for s, v in code.d_state.items())
    printed = {
        "forward": forward.lines(code.forward),
        "backward_setup": backward.lines(code.backward[:k]),
        "backward_loop": backward.lines([replace(loop, body=loop.body + keep)]),
        "backward_finish": backward.lines(code.backward[k + 1 :]),
    }
    return {
        "parameters": [
            {"name": p.name, "local": js_name(p.name), "shape": [p.rows, p.cols]} for p in cell.parameters
        ],
        "states": list(cell.states),
        "hidden_size": size,
        "code": printed,
        "outputs": {s: backward(v) for s, v in code.outputs.items()},
        "values": {s: backward(v) for s, v in code.values.items()},
        "cache": [(n, js_name(n)) for n in code.cache],
        "d_params": {p: backward(v) for p, v in code.d_params.items()},
        "d_x": backward(code.d_x),
        "d_state": {s: backward(v) for s, v in code.d_state.items()},
        "helpers": helpers,
        # _div, defined only where the cell divides, so that other cells' files stay as they were
        "divides": any(isinstance(node, Divide) for node in nodes),
    }


def _table_order(used: set[str]) -> list[str]:
    """``used`` in the order of the table of elementwise functions."""
    from ...elementwise import FUNCTIONS

    return [name for name in FUNCTIONS if name in used]


BACKEND = Backend(
    name="javascript",
    language="JavaScript",
    suffix=".js",
    template="code/javascript.js.j2",
    printer=StatementPrinter,
    context=context,
    command="python -m derive docs",
    fused=False,
    importable=False,
)

__all__ = ["BACKEND", "context"]
