"""The generated JavaScript of a cell: forward and backward for one sequence, from the
literal lowering (one product per gate per step), printed by
:mod:`derive.printing.javascript`.  The site's gate explorer runs it in the browser."""

from __future__ import annotations

from typing import Any

from .. import elementwise
from ..algebra import Apply, walk
from ..cell import Cell
from ..derivation import derive
from ..printing import javascript as js
from ..printing.text import equation, text
from ..render import render
from .literal import lower_literal

# How n, the hidden size, follows from the length of a parameter of each shape
# (m, the input size, is the length of x[0]).
_HIDDEN_SIZE = {
    ("hidden", "1"): "{p}.length",
    ("hidden", "input"): "{p}.length / m",
    ("input", "hidden"): "{p}.length / m",
    ("hidden", "hidden"): "Math.round(Math.sqrt({p}.length))",
}


def module_source(
    cell: Cell, command: str = "derive.codegen.javascript.module_source", origin: str = ""
) -> str:
    """The JavaScript of ``cell``: a file that defines ``forward`` and ``backward`` for
    one sequence over ``Float64Array`` and exports them (``module.exports`` under
    Node, ``globalThis.deriveCells[name]`` in a page).

    ``command`` and ``origin`` say in the header what made the file.  A cell that
    uses an elementwise function with no JavaScript spelling raises
    :class:`ValueError`, naming it.
    """
    derivation = derive(cell)
    functions = {
        node.function
        for a in (*derivation.forward, *derivation.backward)
        for node in walk(a.value)
        if isinstance(node, Apply)
    }
    helpers = [js.helper(f) for f in elementwise.FUNCTIONS.values() if f.name in functions]
    size = next(
        (
            _HIDDEN_SIZE[p.rows, p.cols].format(p=js.js_name(p.name))
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
    code = lower_literal(derivation)
    params = [p.name for p in cell.parameters]
    bound = {"T", "n", "m", "x", "state", "params", "cache", "d_outputs", "d_out", "t"}
    bound |= {js.js_name(p) for p in params}
    forward = js.StatementPrinter(bound)
    backward = js.StatementPrinter(bound | {js.js_name(n) for n in code.cache})
    printed: dict[str, Any] = {
        section: [forward(s) for s in getattr(code, section)]
        for section in ("forward_setup", "forward_loop", "forward_finish")
    }
    printed |= {
        section: [backward(s) for s in getattr(code, section)]
        for section in ("backward_setup", "backward_loop", "backward_finish")
    }
    return render(
        "code/javascript.js.j2",
        name=cell.name,
        title=cell.title,
        command=command,
        origin=origin,
        equations=[equation(text(eq.symbol, params), text(eq.rhs, params)) for eq in cell.equations],
        parameters=[
            {"name": p.name, "local": js.js_name(p.name), "shape": [p.rows, p.cols]} for p in cell.parameters
        ],
        states=list(cell.states),
        hidden_size=size,
        code=printed,
        outputs={s: backward(v) for s, v in code.outputs.items()},
        values={s: backward(v) for s, v in code.values.items()},
        cache=[(n, js.js_name(n)) for n in code.cache],
        d_params={p: backward(v) for p, v in code.d_params.items()},
        d_x=backward(code.d_x),
        d_state={s: backward(v) for s, v in code.d_state.items()},
        helpers=helpers,
    )
