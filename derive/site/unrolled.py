"""A cell unrolled over a few steps, with the paths backpropagation through time takes, as SVG.

Each step is a box that reads the previous states and the input and writes the new states;
every state runs from step to step on a line of its own and every step's states feed that
step's loss.  Backward, three kinds of path are drawn, each from the derivation:

* along a state's line, the part of the carried gradient that reaches the previous state
  elementwise, unit by unit (terms of the state-to-state Jacobians with no weight matrix,
  such as the LSTM's diag(f)): the *state path*;
* along the same line, the part that passes through a weight matrix (terms with a
  hidden-by-hidden parameter, such as the RNN's diag(1 - s^2) W), which mixes the units;
* from every step into the shared parameters: one term per step, summed.

``unrolled(cell, tall=False)`` lays time out from left to right; ``tall=True`` from top to
bottom, for narrow screens.  Both come from one layout in (along time, across) coordinates.
``weights=True`` names, at every step, the matrices that multiply each previous state and
the input (read from the cell's equations), where those lines enter the step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import MatAdd, MatMul, MatrixSymbol, preorder_traversal

from .. import naming
from ..cell import Cell
from ..derivation import derive
from . import outlines
from .diagrams import SANS, _display, _num, _spoken
from .words import _, language

STEPS = 3
BOX_ALONG, GAP = 80, 90  # a step's box and the space between boxes, along time
EDGE = 40  # room for the first and last states' names
ROW = 34  # between two state lines, across
INK = "#263238"  # the colour of the words
ELEMENTWISE, MATRIX, PARAMETERS, FORWARD, LOSS = "#00897b", "#d81b60", "#3949ab", "#546e7a", "#ef6c00"

STYLE = (
    "text{font-family:" + SANS + f";fill:{INK};font-size:15px}}"
    ".v{font-style:italic}.s{font-size:12px;font-style:normal}.note{font-size:13px}"
    ".box{fill:#eceff1;stroke:#37474f;stroke-width:1.4}.bar{fill:#e8eaf6;stroke:#3949ab;stroke-width:1.4}"
    f".fwd{{fill:none;stroke:{FORWARD};stroke-width:1.6}}"
    f".lo{{fill:none;stroke:{LOSS};stroke-width:3}}"
    f".el{{fill:none;stroke:{ELEMENTWISE};stroke-width:3}}"
    f".mx{{fill:none;stroke:{MATRIX};stroke-width:3;stroke-dasharray:7 4}}"
    f".pa{{fill:none;stroke:{PARAMETERS};stroke-width:2.2;stroke-dasharray:2 3}}"
)


@dataclass(frozen=True)
class Paths:
    """For each state, whether its carried gradient reaches the previous step elementwise,
    through a weight matrix, or both (read from the derived Jacobians)."""

    elementwise: dict[str, bool]
    matrix: dict[str, bool]


def paths(cell: Cell) -> Paths:
    weights = {p.name for p in cell.parameters if p.rows == p.cols == "hidden"}
    elementwise = {s: False for s in cell.states}
    matrix = {s: False for s in cell.states}
    for j in derive(cell).jacobians:
        state = naming.parse(j.wrt.name)["base"]
        for term in j.value.args if isinstance(j.value, MatAdd) else (j.value,):
            names = {s.name for s in term.free_symbols if isinstance(s, MatrixSymbol)}
            if term.is_ZeroMatrix:
                continue
            if names & weights:
                matrix[state] = True
            else:
                elementwise[state] = True
    return Paths(elementwise, matrix)


def weights(cell: Cell) -> dict[str, list[str]]:
    """{operand: the parameters that multiply it, in the order of the equations}, for each
    previous state and input the cell's matrix products read (the RNN: {s_prev: [W], x: [U]})."""
    names = {p.name for p in cell.parameters}
    out: dict[str, list[str]] = {}
    for eq in cell.equations:
        for node in preorder_traversal(eq.rhs):
            if isinstance(node, MatMul) and len(node.args) == 2:
                matrix, operand = node.args
                if (
                    isinstance(matrix, MatrixSymbol)
                    and matrix.name in names
                    and isinstance(operand, MatrixSymbol)
                ):
                    found = out.setdefault(operand.name, [])
                    if matrix.name not in found:
                        found.append(matrix.name)
    return out


def _rect(cls: str, x: float, y: float, w: float, h: float, rounded: float) -> str:
    return (
        f'<rect class="{cls}" x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}"'
        f' rx="{_num(rounded)}"/>'
    )


def _name(base: str, sub: str, x: float, y: float, anchor: str) -> str:
    return (
        f'<text class="v" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}">{base}'
        f'<tspan class="s" dy="3">{sub}</tspan></text>'
    )


def unrolled(cell: Cell, tall: bool = False, weights_shown: bool = False) -> str:
    """The SVG text of ``cell`` unrolled over three steps, with the gradient's paths (and,
    with ``weights_shown``, the matrices each step applies to its previous states and input)."""
    found = paths(cell)
    applied = weights(cell) if weights_shown else {}
    states = list(cell.states)
    n = len(states)

    # Across time: the loss, the box with one line per state, the input, the parameters.
    if tall:  # state names beside their lines, the bar's words turned along it
        loss, top, gap_rows, inner, bar_depth = 22.0, 56.0, 56, 34, 28
    else:
        loss, top, gap_rows, inner, bar_depth = 18.0, 52.0, ROW, 26, 30
    rows = [top + inner + gap_rows * i for i in range(n)]
    bottom = rows[-1] + inner
    inputs = bottom + 40
    bar = inputs + 30
    across = bar + bar_depth + 8

    starts = [EDGE + GAP + (BOX_ALONG + GAP) * k for k in range(STEPS)]
    along = starts[-1] + BOX_ALONG + GAP + EDGE

    def at(u: float, v: float) -> tuple[float, float]:
        return (v, u) if tall else (u, v)

    def line(cls: str, *points: tuple[float, float], arrow: str = "") -> str:
        xy = [at(u, v) for u, v in points]
        d = "M" + "L".join(f"{_num(x)} {_num(y)}" for x, y in xy)
        end = f' marker-end="url(#{arrow})"' if arrow else ""
        return f'<path class="{cls}" d="{d}"{end}/>'

    def text(u: float, v: float, body: str, anchor: str = "middle", cls: str = "") -> str:
        x, y = at(u, v)
        c = f' class="{cls}"' if cls else ""
        return f'<text{c} x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}">{body}</text>'

    def said(u: float, v: float, message: str, size: float) -> str:
        """Words centred at (u, v), as the outlines of the words' font (a language but English)."""
        x, y = at(u, v)
        return outlines.line(outlines.runs(message), x, y, size, "middle", f' fill="{INK}"')

    def name(u: float, v: float, state: str, step: str, anchor: str = "middle") -> str:
        base = _display(state)[0]
        x, y = at(u, v)
        return _name(base, step, x, y, anchor)

    out: list[str] = []
    # Forward: the state lines, the inputs, the parameters into every step, each step into its loss.
    for i, s in enumerate(states):
        v = rows[i]
        for k in range(STEPS + 1):
            u0 = starts[k - 1] + BOX_ALONG if k else EDGE
            u1 = starts[k] if k < STEPS else along - EDGE
            out.append(line("fwd", (u0, v), (u1 - 2, v), arrow="f"))
            mid = (u0 + u1) / 2
            if tall:
                out.append(name(mid + 5, v - 7, s, str(k), "end"))
            else:
                out.append(name(mid, v - 8, s, str(k)))
    for k, u in enumerate(starts):
        c = u + BOX_ALONG / 2
        out.append(line("fwd", (c - 14, inputs - 12), (c - 14, bottom + 2), arrow="f"))
        # Where the input and each previous state enter the step, the matrices that read them.
        for x_name in cell.inputs:
            for j, m in enumerate(applied.get(x_name, ())):
                base, sub = m.partition("_")[::2]
                if tall:
                    out.append(_name(base, sub, (bottom + inputs - 12) / 2 + 16 * j, c - 20, "middle"))
                else:
                    out.append(_name(base, sub, c - 20, (bottom + inputs - 12) / 2 + 5 + 16 * j, "end"))
        for i, s in enumerate(states):
            for j, m in enumerate(applied.get(naming.prev(s), ())):
                base, sub = m.partition("_")[::2]
                if tall:
                    out.append(_name(base, sub, rows[i] + 22 + 18 * j, u - 12, "start"))
                else:
                    out.append(_name(base, sub, u - 8 - 24 * j, rows[i] - 8, "end"))
        out.append(name(c - 14, inputs + 2, "x", str(k + 1), "end" if tall else "middle"))
        out.append(line("fwd", (c + 14, bar), (c + 14, bottom + 2), arrow="f"))
        out.append(line("fwd", (c, top), (c, loss + 8), arrow="f"))
        x, y = at(c, loss)
        out.append(
            f'<text class="v" x="{_num(x)}" y="{_num(y + 5)}" text-anchor="middle">ℓ'
            f'<tspan class="s" dy="3">{k + 1}</tspan></text>'
        )

    # Backward: down from each loss, back along the state lines, into the parameters.
    for u in starts:
        c = u + BOX_ALONG / 2
        out.append(line("lo", (c + 9, loss + 10), (c + 9, top - 2), arrow="l"))
        out.append(line("pa", (c + 24, bottom), (c + 24, bar - 2), arrow="p"))
    for i, s in enumerate(states):
        v = rows[i]
        for k in range(STEPS):
            u0 = (starts[k - 1] + BOX_ALONG) if k else EDGE
            u1 = starts[k]
            if found.elementwise[s]:
                out.append(line("el", (u1 - 4, v + 7), (u0 + 8, v + 7), arrow="e"))
            if found.matrix[s]:
                out.append(line("mx", (u1 - 4, v + 14), (u0 + 8, v + 14), arrow="m"))

    # The boxes and the shared parameters, drawn over the lines that end at them.
    for k, u in enumerate(starts):
        x, y = at(u, top)
        w, h = at(BOX_ALONG, bottom - top)
        out.append(_rect("box", x, y, w, h, 8))
        step = _("step {k}").format(k=k + 1)
        place = (
            (u + BOX_ALONG / 2 + 5, (top + bottom) / 2)
            if tall
            else (u + BOX_ALONG / 2, (top + bottom) / 2 + 5)
        )
        out.append(text(*place, step) if language() == "en" else said(*place, step, 15))
    x, y = at(starts[0] - 8, bar)
    w, h = at(starts[-1] + BOX_ALONG + 16 - starts[0], bar_depth)
    out.append(_rect("bar", x, y, w, h, 6))
    words = _("the parameters, shared by every step")
    middle = (starts[0] + starts[-1] + BOX_ALONG) / 2
    if language() != "en":
        x, y = at(middle, bar + bar_depth / 2)
        if tall:  # a column of upright characters, not a line on its side
            out.append(outlines.column(outlines.runs(words), x, y, 13, f' fill="{INK}"'))
        else:
            out.append(outlines.line(outlines.runs(words), x, y + 5, 13, "middle", f' fill="{INK}"'))
    elif tall:
        x, y = at(middle, bar + bar_depth / 2)
        out.append(
            f'<text class="note" x="{_num(x + 5)}" y="{_num(y)}" text-anchor="middle"'
            f' transform="rotate(90 {_num(x)} {_num(y)})">{words}</text>'
        )
    else:
        out.append(text(middle, bar + bar_depth / 2 + 5, words, "middle", "note"))

    # The key, under the drawing: one entry per kind of line the drawing has.
    key = [("fwd", "f", _("forward: the values")), ("lo", "l", _("backward: each step's loss"))]
    if any(found.elementwise.values()):
        key.append(("el", "e", _("back elementwise, unit by unit")))
    if any(found.matrix.values()):
        key.append(("mx", "m", _("back through a weight matrix")))
    key.append(("pa", "p", _("into the parameters, summed")))
    width, height = at(along, across)
    columns = 1 if tall else 2
    x0 = 4 if tall else starts[0] - 8  # tall: the longest entry needs all but 4 px of the width
    for j, (cls, arrow, words) in enumerate(key):
        x = x0 + (j % columns) * 300
        y = height + 18 + (j // columns) * 24
        sample = f"M{_num(x)} {_num(y)}H{_num(x + 34)}"
        out.append(f'<path class="{cls}" d="{sample}" marker-end="url(#{arrow})"/>')
        if language() != "en":
            out.append(outlines.line(outlines.runs(words), x + 44, y + 5, 13, "start", f' fill="{INK}"'))
        else:
            out.append(f'<text class="note" x="{_num(x + 44)}" y="{_num(y + 5)}">{words}</text>')
    height += 18 + 24 * ((len(key) + columns - 1) // columns)
    marker = (
        '<marker id="{id}" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="{size}" markerHeight="{size}"'
        ' orient="auto"><path d="M0 0L8 4L0 8z" fill="{colour}"/></marker>'
    )
    defs = "".join(
        marker.format(id=id, size=size, colour=colour)
        for id, size, colour in (
            ("f", 6, FORWARD),
            ("l", 4, LOSS),
            ("e", 4, ELEMENTWISE),
            ("m", 4, MATRIX),
            ("p", 5, PARAMETERS),
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Generated by `python -m derive docs` (derive/site/unrolled.py) from the cell's derivation. "
        "Do not edit. -->\n"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}"'
        f' viewBox="0 0 {_num(width)} {_num(height)}" role="img">\n'
        f"<title>{title(cell)}</title>\n"
        f"<style>{STYLE}</style>\n"
        f"<defs>{defs}</defs>\n" + "\n".join(out) + "\n</svg>\n"
    )


def title(cell: Cell) -> str:
    """The drawing's title: its description in English, a short one in another language."""
    if language() == "en":
        return describe(cell)
    return _("The {cell} unrolled over {steps} steps, with the paths its gradient takes back").format(
        cell=_(cell.title), steps=STEPS
    )


def describe(cell: Cell) -> str:
    """The unrolled diagram in words, for its alt text."""
    found = paths(cell)
    names = " and ".join(_spoken(s) for s in cell.states)
    how = []
    for s in cell.states:
        ways = (("elementwise", found.elementwise[s]), ("through a weight matrix", found.matrix[s]))
        kinds = [way for way, on in ways if on]
        how.append(f"{_spoken(s)}'s gradient reaches the step before {' and '.join(kinds) or 'not at all'}")
    return (
        f"The {cell.title} unrolled over {STEPS} steps: each step reads the previous {names} and "
        f"its input, writes the new ones, and feeds its loss. Backward, {'; '.join(how)}; and "
        "every step adds its term to the gradient of the shared parameters."
    )
