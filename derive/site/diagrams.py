"""Cell diagrams drawn from a cell's equations: the data flow of one step, as SVG.

``graph(cell)`` turns the equations into a small graph: the inputs and previous
states, one node per elementwise function (its matrix products folded into it:
a gate is a "σ" node whose incoming edges are what its affine map reads), one
node per elementwise product (⊙), sum (+) and complement (1 − ·), and edges
along which values flow.  Each equation's last node carries the equation's
name.  ``diagram(cell, highlight)`` lays the graph out and writes the SVG; under each
function's box it names the matrices its affine map applies (W for what is carried
over, U for the input).  ``diagram(cell, tall=True)`` draws the same layout turned
a quarter: the step runs from top to bottom, for narrow screens.

The layout is a layered one of our own (the graphs have a few dozen nodes at
most): columns from the longest path, each node as late as its uses allow so
that a gate sits just before the product it drives; a value used further right
runs on as one line that its uses branch off; the first state's path from
``s_prev`` to the new ``s`` runs straight along the top row, as in colah's LSTM
figures; the other rows are chosen column by column to keep lines straight
(an exact small dynamic programme per column, a few sweeps); edges are
orthogonal with rounded corners, each vertical run on a track of its own.
Everything is ordered by the equations' order, never by hashing, so the same
cell gives the same bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from sympy import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, OneMatrix, preorder_traversal

from .. import naming
from ..algebra import Apply, Divide, split_coefficient
from ..cell import Cell, Role
from ..elementwise import FUNCTIONS

# --- the graph ------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One node: an input or previous state, or an operation of an equation.

    ``id`` is the value's name for inputs, previous states and each equation's
    last node, and ``<equation>.<k>`` for the operations inside an equation."""

    id: str
    kind: str  # "input", "function", "product", "quotient", "sum", "complement", "negate", "linear", "scale"
    label: str  # what the node shows: "σ", "tanh", "⊙", "+", "1 −", ...
    equation: str | None = None  # the equation it belongs to; None for inputs
    role: str = ""  # the equation's role ("gate", "candidate", ...) on its last node
    matrices: tuple[str, ...] = ()  # a function's: the parameters its argument multiplies


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (from, to), each once
    states: tuple[str, ...]  # the new states, leaving on the right, in the cell's order

    def node(self, id: str) -> Node:
        return next(n for n in self.nodes if n.id == id)


class _Builder:
    """The nodes of one equation, made from its right-hand side."""

    def __init__(self, cell: Cell, equation: str, known: set[str]):
        self.parameters = {p.name for p in cell.parameters}
        self.equation = equation
        self.known = known
        self.nodes: list[Node] = []
        self.edges: list[tuple[str, str]] = []
        self.memo: dict[MatrixExpr, str] = {}

    def make(self, kind: str, label: str, sources: Iterable[str], matrices: Iterable[str] = ()) -> str:
        id = f"{self.equation}.{len(self.nodes) + 1}"
        self.nodes.append(Node(id, kind, label, self.equation, matrices=tuple(matrices)))
        for s in dict.fromkeys(sources):
            self.edges.append((s, id))
        return id

    def is_parameter(self, e) -> bool:
        return isinstance(e, MatrixSymbol) and e.name in self.parameters

    def constant(self, e) -> bool:
        return (
            not e.is_Matrix
            or isinstance(e, OneMatrix)
            or (isinstance(e, MatMul) and all(self.constant(a) for a in e.args))
        )

    def complement(self, e) -> bool:
        """``1 - v``: a constant less one value."""
        terms = [t for t in e.args if not self.constant(t)]
        return (
            len(terms) == 1
            and len(terms) < len(e.args)
            and split_coefficient(terms[0])[0].is_negative is True
            and not any(self.is_parameter(a) for a in terms[0].args)
        )

    def linear(self, e) -> list[str]:
        """What an affine map of ``e`` reads: parameters and constants folded away."""
        if self.is_parameter(e) or self.constant(e):
            return []
        if isinstance(e, MatrixSymbol):
            return [e.name]
        if isinstance(e, MatAdd) and not self.complement(e):
            return list(dict.fromkeys(s for t in e.args for s in self.linear(t)))
        if isinstance(e, (MatMul, HadamardProduct)):
            rest = [a for a in e.args if a.is_Matrix and not self.is_parameter(a) and not self.constant(a)]
            if len(rest) == 1:
                return self.linear(rest[0])
            if not rest:
                return []
        return [self.node(e)]

    def one(self, e) -> str:
        """A single node for ``e`` read linearly: a sum node when it reads several."""
        sources = self.linear(e)
        if len(sources) == 1:
            return sources[0]
        return self.make("sum", "+", sources)

    def products(self, e) -> list[str]:
        """The parameters that multiply something inside ``e`` (W in W s_prev + c)."""
        return list(
            dict.fromkeys(
                a.name
                for m in preorder_traversal(e)
                if isinstance(m, MatMul)
                for a in m.args
                if self.is_parameter(a)
            )
        )

    def applied(self, e) -> list[str]:
        """The parameters an affine map applies at its top level: W and U in
        W s_prev + U x + b, W alone in W (o ⊙ s_prev) + U x; not the W inside a factor of
        a product (o ⊙ (W s_prev + c)), which is a node of its own."""
        terms = e.args if isinstance(e, MatAdd) else (e,)
        products = [m for m in terms if isinstance(m, MatMul)]
        return list(dict.fromkeys(a.name for m in products for a in m.args if self.is_parameter(a)))

    def factor(self, e) -> str:
        """A factor of an elementwise product: a matrix product inside it is a node of its
        own, labelled with its matrix, so that a gate applied after a product (o ⊙ (W s + c))
        is drawn apart from one applied before it (W (o ⊙ s))."""
        names = self.products(e)
        if names:
            return self.make("linear", " ".join(names), self.linear(e))
        return self.one(e)

    def node(self, e) -> str:
        """The node that computes ``e`` (a name for an input, state or equation)."""
        if isinstance(e, MatrixSymbol) and not self.is_parameter(e):
            return e.name
        if e in self.memo:
            return self.memo[e]
        if isinstance(e, Apply):
            out = self.make("function", FUNCTIONS[e.function].text, self.linear(e.arg), self.applied(e.arg))
        elif isinstance(e, HadamardProduct):
            factors = [a for a in e.args if not self.is_parameter(a) and not self.constant(a)]
            if len(factors) == 1:
                out = self.make("scale", "×", [self.one(factors[0])])
            else:
                out = self.make("product", "⊙", [self.factor(f) for f in factors])
        elif isinstance(e, Divide):
            out = self.make("quotient", "⊘", [self.factor(a) for a in e.args if not self.constant(a)])
        elif isinstance(e, MatAdd):
            terms = [t for t in e.args if not self.constant(t)]
            if self.complement(e):
                out = self.make("complement", "1 −", [self.one(split_coefficient(terms[0])[1])])
            else:
                sources = []
                # A bias alone adds no line: it is folded into the sum, as in an affine map.
                for t in (t for t in terms if self.linear(t)):
                    c, core = split_coefficient(t)
                    sources.append(
                        self.make("negate", "−", [self.one(core)]) if c.is_negative else self.one(t)
                    )
                out = self.make("sum", "+", sources)
        elif isinstance(e, MatMul):
            c, core = split_coefficient(e)
            if c != 1 and core is not None and not any(self.is_parameter(a) for a in core.args):
                out = self.make("scale", "×", [self.one(core)])
            else:
                out = self.make("linear", "·", self.linear(e))
        else:
            out = self.make("linear", "·", self.linear(e))
        self.memo[e] = out
        return out


def graph(cell: Cell) -> Graph:
    """The data flow of one step of ``cell``."""
    nodes = [Node(naming.prev(s), "input", naming.prev(s)) for s in cell.states]
    nodes += [Node(x, "input", x) for x in cell.inputs]
    edges: list[tuple[str, str]] = []
    known = {n.id for n in nodes}
    for eq in cell.equations:
        b = _Builder(cell, eq.name, known)
        top = b.node(eq.rhs)
        if top in known:  # the equation only renames or scales a known value
            top = b.make("linear", "·", [top])
        rename = {top: eq.name}
        for n in b.nodes:
            role = eq.role.value if n.id == top else ""
            nodes.append(Node(rename.get(n.id, n.id), n.kind, n.label, eq.name, role, n.matrices))
        edges += [(rename.get(u, u), rename.get(v, v)) for u, v in b.edges]
        known.add(eq.name)
    return Graph(tuple(nodes), tuple(dict.fromkeys(edges)), tuple(cell.states))


# --- layout ---------------------------------------------------------------------

ROW = 46  # between rows
MARGIN = 10
TOP = 30  # room above the top row for its names
BOX_H = 26  # function boxes
RADIUS = 10  # operation circles
TRACK = 7  # between vertical runs in one gap
GAP = 30  # the least room between two columns
PORT = 6  # between the entry points of a node's inputs, on its side
SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _text_width(text: str, size: float) -> float:
    return sum((0.35 if ch in "ilt1()" else 0.0 if ch == "\u0303" else 0.62) * size for ch in text)


@dataclass
class _Place:
    id: str
    kind: str  # a Node's kind, or "dummy" (a line passing a column), or "exit"
    column: int = 0
    row: int = 0
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0
    value: str = ""  # the node whose value a dummy or exit carries
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)

    @property
    def circle(self) -> bool:
        return self.kind in ("product", "quotient", "sum", "complement", "negate", "scale", "linear")


def _display(name: str) -> tuple[str, str]:
    """(base, subscript) as the diagram writes a value's name: s̃ and t, h and t−1."""
    parts = naming.parse(name)
    base = parts["base"]
    for suffix, mark in (("_tilde", "\u0303"), ("_hat", "\u0302"), ("_bar", "\u0304")):
        if base.endswith(suffix):
            base = base[: -len(suffix)] + mark
    return base, "t−1" if parts["prev"] else "t"


def _layout(g: Graph):
    places: dict[str, _Place] = {}
    for n in g.nodes:
        p = _Place(n.id, n.kind, value=n.id)
        if n.kind == "input":
            base, sub = _display(n.id)
            p.width = _text_width(base, 15) + _text_width(sub, 12) + 6
            p.height = 18
        elif n.kind == "function":
            p.width, p.height = max(30.0, _text_width(n.label, 15) + 14), BOX_H
        else:
            p.width = p.height = 2 * RADIUS
        places[n.id] = p
    succs: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    for u, v in g.edges:
        succs[u].append(v)
    order = [n.id for n in g.nodes]  # inputs first, then each equation's nodes as made: a topological order
    column = {}
    for id in order:
        preds = [u for u, v in g.edges if v == id]
        column[id] = 1 + max((column[u] for u in preds), default=-1)
    last = max(column.values()) + 1  # where the new states leave
    for s in g.states:
        succs[s].append("exit:" + s)
        places["exit:" + s] = _Place("exit:" + s, "exit", column=last, value=s)
        column["exit:" + s] = last
    preds: dict[str, list[str]] = {id: [] for id in column}
    for u in succs:
        for w in succs[u]:
            preds[w].append(u)

    def passing() -> int:
        """How many columns the values' lines pass without a use there."""
        return sum(max(0, max((column[w] for w in succs[u]), default=0) - column[u] - 1) for u in succs)

    # Each node in the column, between its inputs' and its uses', where the fewest lines pass
    # other columns; of those the latest: a gate sits just before what it drives.
    for _ in range(2):
        for id in reversed(order):
            if places[id].kind == "input" or not succs[id]:
                continue
            low = 1 + max(column[u] for u in preds[id])
            best = None
            for c in range(min(column[w] for w in succs[id]) - 1, low - 1, -1):
                column[id] = c
                if best is None or passing() < best[0]:
                    best = (passing(), c)
            column[id] = best[1]
    for id, c in column.items():
        places[id].column = c

    # One line per value across the columns it passes; its uses branch off it.
    segments: list[tuple[str, str, tuple[str, ...]]] = []  # (from, to, the graph edges it carries)
    for u in order:
        far = [w for w in succs[u] if column[w] > column[u] + 1]
        chain = {}
        if far:
            for c in range(column[u] + 1, max(column[w] for w in far)):
                d = f"pass:{u}:{c}"
                places[d] = _Place(d, "dummy", column=c, value=u)
                chain[c] = d
        carried: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for w in succs[u]:
            edge = (u, w)
            hops = [u] + [chain[c] for c in range(column[u] + 1, column[w])] + [w]
            for a, b in itertools.pairwise(hops):
                carried.setdefault((a, b), []).append(edge)
        segments += [(a, b, tuple(e)) for (a, b), e in carried.items()]
    for a, b, _ in segments:
        places[a].succs.append(b)
        places[b].preds.append(a)

    columns: list[list[str]] = [[] for _ in range(last + 1)]
    for id, p in places.items():
        columns[p.column].append(id)

    # The first state's line: the shortest path from its previous value to where it leaves.
    first = g.states[0]
    start, goal = naming.prev(first), "exit:" + first
    # Fewest operations on the way (a line passing a column costs nothing): for the GRU the
    # path through the blend, not through the candidate.
    back: dict[str, str | None] = {start: None}
    cost = {start: 0}
    for c in range(places[start].column, last):
        for a in sorted((id for id in cost if places[id].column == c), key=lambda id: (cost[id], id)):
            for b in places[a].succs:
                step = cost[a] + (0 if places[b].kind in ("dummy", "exit") else 1)
                if b not in cost or step < cost[b]:
                    cost[b], back[b] = step, a
    spine = set()
    at: str | None = goal if goal in back else None
    while at is not None:
        spine.add(at)
        at = back[at]

    rows = 1 + max(sum(1 for id in col if id not in spine) for col in columns)
    # Start: the inputs at the bottom of the first column, everything else in making order.
    for col in columns:
        rest = [id for id in col if id not in spine]
        for k, id in enumerate(rest):
            places[id].row = rows - len(rest) + k if places[id].column == 0 else k + 1
        for id in col:
            if id in spine:
                places[id].row = 0

    def settle(col: list[str], use_preds: bool, use_succs: bool) -> None:
        rest = [id for id in col if id not in spine]
        if not rest:
            return
        wanted = {}
        for id in rest:
            p = places[id]
            near = (p.preds if use_preds else []) + (p.succs if use_succs else [])
            weights = [3.0 if places[n].kind == "dummy" or p.kind == "dummy" else 1.0 for n in near]
            if near:
                wanted[id] = sum(w * places[n].row for w, n in zip(weights, near, strict=True)) / sum(weights)
            else:
                wanted[id] = float(p.row)
        rest.sort(key=lambda id: (wanted[id], places[id].row))
        # Rows 1 .. rows-1, increasing in that order, as close to the wanted rows as can be.
        k, options = len(rest), range(1, rows)
        cost = {(0, r): abs(r - wanted[rest[0]]) for r in options}
        for i in range(1, k):
            for r in options:
                best = min((cost[i - 1, q] for q in options if q < r and (i - 1, q) in cost), default=None)
                if best is not None:
                    cost[i, r] = best + abs(r - wanted[rest[i]])
        r = min((q for q in options if (k - 1, q) in cost), key=lambda q: (cost[k - 1, q], q))
        for i in range(k - 1, -1, -1):
            places[rest[i]].row = r
            if i:
                r = min(
                    (q for q in options if q < r and (i - 1, q) in cost),
                    key=lambda q: (cost[i - 1, q] + abs(r - wanted[rest[i]]), -q),
                )

    for _ in range(4):
        for col in columns[1:]:
            settle(col, True, False)
        for col in reversed(columns[1:-1]):
            settle(col, True, True)
    return places, columns, segments, rows


def belt_frames(cell: Cell) -> list[tuple[str, ...]]:
    """The conveyor belt, as a sequence of frames: the nodes each frame emphasises.

    The first state runs along the top row (its path from the previous state, as laid out).
    Each operation on that path is a frame, with everything off the path that feeds it: the
    LSTM's ⊙ with the forget gate, then its + with the input gate and the candidate.  A last
    frame, when the new state is read into other values, emphasises the nodes that read it and
    what feeds them: the LSTM's tanh and ⊙ with the output gate, which make h."""
    g = graph(cell)
    places = _layout(g)[0]
    kind = {n.id: n.kind for n in g.nodes}
    order = {n.id: k for k, n in enumerate(g.nodes)}
    path = sorted(
        (id for id, p in places.items() if p.row == 0 and kind.get(id) not in (None, "input")),
        key=lambda id: places[id].column,
    )
    on_path = set(path)
    preds: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    for u, v in g.edges:
        preds[v].append(u)
        succs[u].append(v)

    def feeding(ids: list[str]) -> tuple[str, ...]:
        """``ids`` and the nodes off the path, not inputs, that their values come from."""
        found, stack = list(ids), [u for id in ids for u in preds[id]]
        while stack:
            u = stack.pop()
            if u in on_path or kind[u] == "input" or u in found:
                continue
            found.append(u)
            stack += preds[u]
        return tuple(sorted(found, key=order.__getitem__))

    frames = [feeding([id]) for id in path]
    read, stack = [], list(succs[path[-1]]) if path else []
    while stack:
        u = stack.pop()
        if u not in read:
            read.append(u)
            stack += succs[u]
    if read:
        frames.append(feeding(read))
    return frames


# --- drawing --------------------------------------------------------------------

# A mid-tone band: the dark palette inverts the diagrams (invert, then hue-rotate 180°), which
# turned a pale band into a navy one barely off the page.  #7cb4de keeps a contrast of at least
# 2.2:1 against the page and against the lines drawn over it (grey and highlighted pink), in
# the light palette and, inverted, in the dark one.
BELT_STYLE = ".belt{fill:none;stroke:#7cb4de;stroke-width:14;stroke-linecap:round}"
STYLE = (
    "text{font-family:" + SANS + ";fill:#263238}"
    ".e{fill:none;stroke:#546e7a;stroke-width:1.6}"
    ".e.hl{stroke:#d81b60;stroke-width:3}"
    ".n rect,.n circle{stroke:#37474f;stroke-width:1.4;fill:#fff}"
    ".gate rect{fill:#ffe082}.candidate rect{fill:#80cbc4}.fn rect{fill:#c5cae9}"
    ".n.hl rect,.n.hl circle{stroke:#d81b60;stroke-width:3}"
    ".dot{fill:#37474f;stroke:none}.hl .dot{fill:#d81b60}"
    ".op{stroke:#37474f;stroke-width:1.6}.hl .op{stroke:#d81b60}"
    ".f{font-size:15px;text-anchor:middle}"
    ".v{font-size:15px;font-style:italic}.hl .v,.hl.v{fill:#d81b60;font-weight:bold}"
    ".s{font-size:12px;font-style:normal}"
    ".m{font-size:13px;font-style:italic;fill:#455a64}"
)


def _num(v: float) -> str:
    v = round(v, 1)
    return str(int(v)) if v == int(v) else f"{v:.1f}"


def _name(id: str, x: float, y: float, anchor: str, cls: str = "v", extra: str = "") -> str:
    base, sub = _display(id)
    return (
        f'<text class="{cls}" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{extra}>{base}'
        f'<tspan class="s" dy="3">{sub}</tspan></text>'
    )


def _path(points: list[tuple[float, float]]) -> str:
    """An orthogonal polyline with rounded corners."""
    points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    out = [f"M{_num(points[0][0])} {_num(points[0][1])}"]
    for i in range(1, len(points)):
        (x0, y0), (x1, y1) = points[i - 1], points[i]
        if i + 1 < len(points):
            x2, y2 = points[i + 1]
            r = min(5.0, abs(x1 - x0 + y1 - y0) / 2, abs(x2 - x1 + y2 - y1) / 2)
            sx = (x1 > x0) - (x1 < x0)
            sy = (y1 > y0) - (y1 < y0)
            tx = (x2 > x1) - (x2 < x1)
            ty = (y2 > y1) - (y2 < y1)
            out.append(f"L{_num(x1 - sx * r)} {_num(y1 - sy * r)}")
            out.append(f"Q{_num(x1)} {_num(y1)} {_num(x1 + tx * r)} {_num(y1 + ty * r)}")
        else:
            out.append(f"L{_num(x1)} {_num(y1)}")
    return "".join(out)


def _matrices(names: tuple[str, ...], x: float, y: float, anchor: str) -> str:
    """The matrices a function applies, as one small label: W_o U_o."""
    body = []
    for k, name in enumerate(names):
        base, _, sub = name.partition("_")
        lead = " " if k else ""
        if k and "_" in names[k - 1]:  # back up from the previous subscript
            body.append(f'<tspan dy="-3">{lead}{base}</tspan>')
        else:
            body.append(f"{lead}{base}")
        if sub:
            body.append(f'<tspan class="s" dy="3">{sub}</tspan>')
    return f'<text class="m" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}">{"".join(body)}</text>'


def _matrices_width(names: tuple[str, ...]) -> float:
    return sum(
        _text_width(name.partition("_")[0], 13) + _text_width(name.partition("_")[2], 12) + (4 if k else 0)
        for k, name in enumerate(names)
    )


def _name_width(id: str) -> float:
    base, sub = _display(id)
    return _text_width(base, 15) + _text_width(sub, 12)


ROW_GAP = 10  # the least room across between two rows' nodes and labels, in the tall form
GAP_TALL = 40  # between two columns in the tall form: room under a node for its labels
LABEL_DEPTH = 18  # how far the labels under a node reach below it, subscripts included
ROW_LABELLED = 58  # between rows in the wide form when a function names its matrices
SMALL = 300  # a drawing smaller than this either way is shown larger, so that it reads beside the text
ENLARGE = 1.5


def diagram(
    cell: Cell,
    highlight: Iterable[str] = (),
    tall: bool = False,
    nodes: Iterable[str] = (),
    belt: bool = False,
) -> str:
    """The data flow of one step of ``cell`` as SVG text; the equations named in
    ``highlight``, the lines into them and the lines from their values are emphasised.
    ``nodes`` emphasises single nodes of the graph (and the lines into them) in the same
    way; ``belt`` lays a band under the first state's line along the top, its path through
    the step (see :func:`belt_frames`).

    The layout runs along the step (left to right, or top to bottom when ``tall``) and across
    it (the rows); every position below is (along, across) until it is drawn."""
    g = graph(cell)
    lit = set(highlight)
    unknown = lit - {eq.name for eq in cell.equations}
    if unknown:
        raise KeyError(f"{cell.name} has no equation {', '.join(sorted(unknown))}")
    lit_nodes = set(nodes)
    unknown = lit_nodes - {n.id for n in g.nodes}
    if unknown:
        raise KeyError(f"{cell.name}'s diagram has no node {', '.join(sorted(unknown))}")
    places, columns, segments, rows = _layout(g)
    owner = {n.id: n.equation for n in g.nodes}
    by_id = {n.id: n for n in g.nodes}

    def at(along: float, across: float) -> tuple[float, float]:
        return (across, along) if tall else (along, across)

    def extent(p: _Place) -> float:  # a node's size along the step
        return p.height if tall else p.width

    def thickness(p: _Place) -> float:  # and across it
        return p.width if tall else p.height

    def lit_edge(edge: tuple[str, str]) -> bool:
        u, v = edge
        return (
            owner.get(v) in lit
            or (u in lit)
            or v in lit_nodes
            or (v.startswith("exit:") and (u in lit or u in lit_nodes))
        )

    # Vertical runs: each segment between rows on a track of its own in the gap before its end.
    entries: dict[str, list[str]] = {}  # node: the segments' sources, in port order
    for a, b, _ in segments:
        entries.setdefault(b, []).append(a)
    gap_tracks: dict[int, list[tuple]] = {}
    for a, b, _ in segments:
        if places[a].row != places[b].row:
            gap_tracks.setdefault(places[b].column, []).append((a, b))
    gap = GAP_TALL if tall else GAP
    widths = [max((extent(places[id]) for id in col), default=0.0) for col in columns]
    xs, x = [], MARGIN
    for c in range(len(columns)):
        if c:
            runs = {places[a].value for a, _ in gap_tracks.get(c, [])}
            x += widths[c - 1] / 2 + gap + TRACK * max(len(runs) - 1, 0) + widths[c] / 2
        else:
            x += widths[0] / 2
        xs.append(x)

    # Across: fixed rows when wide (names sit above their nodes, matrices under them); when
    # tall, both sit under their nodes, matrices left of the line that leaves and names right
    # of it, so each gap between two rows is as wide as the widest pair of neighbours that
    # face each other across it.
    def reach(id: str) -> tuple[float, float]:
        p, n = places[id], by_id.get(id)
        if p.kind == "dummy" or p.kind == "exit" or n is None:
            return 2.0, 2.0
        before = after = thickness(p) / 2
        if n.matrices:
            before = max(before, 3 + _matrices_width(n.matrices))
        if n.equation is not None and n.id == n.equation:
            after = max(after, 3 + _name_width(n.id))
        return before, after

    labelled = any(n.matrices for n in g.nodes)

    if tall:
        ys = [TOP]
        for r in range(1, rows):
            room = max(
                (
                    reach(a)[1] + reach(b)[0]
                    for col in columns
                    for a in col
                    for b in col
                    if places[a].row == r - 1 and places[b].row == r
                ),
                default=0.0,
            )
            ys.append(ys[-1] + max(ROW - 10, room + ROW_GAP))
    else:
        ys = [TOP + r * (ROW_LABELLED if labelled else ROW) for r in range(rows)]
    for p in places.values():
        p.x, p.y = xs[p.column], ys[p.row]
        if p.kind == "input" and not tall:  # right-aligned in the first column
            p.x = xs[0] + widths[0] / 2 - p.width / 2

    def port(b: str, a: str) -> float:
        """Where the segment from ``a`` enters ``b``, as an offset across: the same row at the middle."""
        p = places[b]
        if p.kind in ("dummy", "exit"):
            return 0.0
        ins = sorted(entries[b], key=lambda s: (places[s].row, s))
        same = [s for s in ins if places[s].row == p.row]
        above = [s for s in ins if places[s].row < p.row]
        below = [s for s in ins if places[s].row > p.row]
        room = (thickness(p) / 2 - 3) if p.kind == "function" else RADIUS - 3
        if a in same:
            return 0.0
        if not same and len(ins) % 2:  # an odd number: the middle one enters at the middle
            ins_mid = ins[len(ins) // 2]
            if a == ins_mid:
                return 0.0
            above = [s for s in above if s != ins_mid]
            below = [s for s in below if s != ins_mid]
        step = min(PORT, room / max(len(above), len(below), 1))
        if a in above:
            return -step * (len(above) - above.index(a))
        return step * (below.index(a) + 1)

    # One vertical run per value and gap, that its lines into that column branch off.  Runs
    # downwards first, the lowest source leftmost; then upwards, the highest source leftmost:
    # the runs then cross the fewest lines into their targets.
    track_x: dict[tuple[str, str], float] = {}
    for c, segs in gap_tracks.items():
        runs: dict[str, list[tuple[str, str]]] = {}
        for a, b in segs:
            runs.setdefault(places[a].value if places[a].kind == "dummy" else a, []).append((a, b))

        def key(item):
            source, group = item
            row = places[group[0][0]].row
            down = all(places[b].row > row for _, b in group)
            return (0, -row, source) if down else (1, row, source)

        # Tall, the runs start below the labels under the nodes (about 18 deep) and cross none.
        left = xs[c - 1] + widths[c - 1] / 2 + (LABEL_DEPTH + 6 if tall else gap / 2)
        for k, (_, group) in enumerate(sorted(runs.items(), key=key)):
            for s in group:
                track_x[s] = left + k * TRACK

    def right(p: _Place) -> float:
        if p.kind == "dummy":
            return p.x
        if p.kind == "input":
            return p.x + (8 if tall else p.width / 2 + 2)
        return p.x + extent(p) / 2

    def left(p: _Place) -> float:
        if p.kind == "dummy" or p.kind == "exit":
            return p.x
        return p.x - extent(p) / 2

    lines: list[str] = []
    bands: list[str] = []
    drawn: list[str] = []
    labels: list[str] = []
    for a, b, carried in segments:
        pa, pb = places[a], places[b]
        y0, y1 = pa.y, pb.y + port(b, a)
        if (a, b) in track_x:
            tx = track_x[a, b]
            pts = [(right(pa), y0), (tx, y0), (tx, y1), (left(pb), y1)]
        else:
            pts = [(right(pa), y0), (left(pb), y1)]
        if belt and pa.row == 0 and pb.row == 0:  # the top row is the first state's path
            # A round cap reaches half the band's width past each end: clear of the input's name.
            ends = [(right(pa) + 7 if pa.kind == "input" else pa.x, y0), (pb.x, y1)]
            bands.append(f'<path class="belt" d="{_path([at(u, v) for u, v in ends])}"/>')
        hl = any(lit_edge(e) for e in carried)
        cls = "e hl" if hl else "e"
        marker = "" if pb.kind == "dummy" else f' marker-end="url(#{"ah" if hl else "a"})"'
        edges = " ".join(f"{u}>{'exit' if v.startswith('exit:') else v}" for u, v in carried)
        lines.append(
            f'<path class="{cls}" data-line="{a}>{b}" data-edges="{edges}"'
            f' d="{_path([at(u, v) for u, v in pts])}"{marker}/>'
        )
    # Emphasised lines last, over the plain ones that share their runs.
    lines.sort(key=lambda line: 'class="e hl"' in line)

    for n in g.nodes:
        p = places[n.id]
        cx, cy = at(p.x, p.y)
        hl = n.equation in lit or n.id in lit_nodes
        if n.kind == "input":
            if tall:
                labels.append(_name(n.id, cx, cy + 5, "middle", extra=f' data-node="{n.id}"'))
            else:
                labels.append(_name(n.id, cx + p.width / 2 - 2, cy + 5, "end", extra=f' data-node="{n.id}"'))
            continue
        classes = ["n"]
        if n.kind == "function":
            classes.append(n.role if n.role in (Role.GATE.value, Role.CANDIDATE.value) else "fn")
        if hl:
            classes.append("hl")
        parts = []
        if n.kind == "function":
            parts.append(
                f'<rect x="{_num(cx - p.width / 2)}" y="{_num(cy - p.height / 2)}" width="{_num(p.width)}"'
                f' height="{_num(p.height)}" rx="6"/>'
            )
            parts.append(f'<text class="f" x="{_num(cx)}" y="{_num(cy + 5)}">{n.label}</text>')
        else:
            parts.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{RADIUS}"/>')
            parts.append(_glyph(n.kind, cx, cy, n.label))
        if n.equation is not None and n.id == n.equation:
            if tall:
                parts.append(_name(n.id, cx + 3, cy + p.height / 2 + 14, "start"))
            else:
                parts.append(_name(n.id, cx + p.width / 2 + 3, cy - p.height / 2 - 3, "start"))
        if n.matrices:
            if tall:
                parts.append(_matrices(n.matrices, cx - 3, cy + p.height / 2 + 14, "end"))
            else:
                parts.append(_matrices(n.matrices, cx, cy + p.height / 2 + 13, "middle"))
        head = f'<g class="{" ".join(classes)}" data-node="{n.id}" data-equation="{n.equation}">'
        drawn.append(head + "".join(parts) + "</g>")
    for s in g.states:
        p = places["exit:" + s]
        cls = "v hl" if s in lit or s in lit_nodes else "v"
        cx, cy = at(p.x, p.y)
        if tall:
            labels.append(_name(s, cx, cy + 17, "middle", cls, f' data-out="{s}"'))
        else:
            labels.append(_name(s, cx + 4, cy + 5, "start", cls, f' data-out="{s}"'))

    if tall:
        width = ys[-1] + max(reach(id)[1] for id in places if places[id].row == rows - 1) + MARGIN
        height = xs[-1] + 24 + MARGIN
    else:
        width = xs[-1] + max((_text_width(_display(s)[0], 15) for s in g.states), default=0) + 24 + MARGIN
        height = ys[-1] + (40 if labelled else 24)
    # A small drawing is shown larger; its viewBox, and so every position in it, is the same.
    scale = ENLARGE if max(width, height) < SMALL else 1
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Generated by `python -m derive docs` (derive/site/diagrams.py) from the cell's equations. "
        "Do not edit. -->\n"
        f'<svg xmlns="http://www.w3.org/2000/svg"'
        f' width="{_num(width * scale)}" height="{_num(height * scale)}"'
        f' viewBox="0 0 {_num(width)} {_num(height)}" role="img">\n'
        f"<title>{describe(cell)}</title>\n"
        f"<style>{STYLE}{BELT_STYLE if belt else ''}</style>\n"
        "<defs>"
        '<marker id="a" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6"'
        ' orient="auto"><path d="M0 0L8 4L0 8z" fill="#546e7a"/></marker>'
        '<marker id="ah" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="5" markerHeight="5"'
        ' orient="auto"><path d="M0 0L8 4L0 8z" fill="#d81b60"/></marker>'
        "</defs>\n" + "\n".join(bands + lines + drawn + labels) + "\n</svg>\n"
    )


def _glyph(kind: str, x: float, y: float, label: str) -> str:
    """The sign inside an operation's circle, drawn as paths where a font might lack it."""
    if kind == "product":
        return f'<circle class="dot" cx="{_num(x)}" cy="{_num(y)}" r="2.6"/>'
    bar = f"M{_num(x - 5.5)} {_num(y)}H{_num(x + 5.5)}"
    if kind == "sum":
        return f'<path class="op" d="{bar}M{_num(x)} {_num(y - 5.5)}V{_num(y + 5.5)}"/>'
    if kind == "negate":
        return f'<path class="op" d="{bar}"/>'
    text = label.replace(" ", "")
    return f'<text class="f" x="{_num(x)}" y="{_num(y + 4.5)}" style="font-size:12px">{text}</text>'


# --- words ----------------------------------------------------------------------


def _spoken(id: str) -> str:
    base, sub = _display(id)
    base = base.replace("\u0303", " tilde").replace("\u0302", " hat").replace("\u0304", " bar")
    return f"previous {base}" if sub == "t−1" else base


def formula(g: Graph, id: str, top: bool = True) -> str:
    """A node's value in words and signs, from the graph: σ(previous h, x)."""
    n = g.node(id)
    if not top and (n.kind == "input" or n.id == n.equation):
        return _spoken(id)
    ins = [formula(g, u, top=False) for u, v in g.edges if v == id]
    if n.kind == "function":
        return f"{n.label}({', '.join(ins)})"
    if n.kind == "product":
        return "(" + " ⊙ ".join(ins) + ")" if not top else " ⊙ ".join(ins)
    if n.kind == "sum":
        return "(" + " + ".join(ins) + ")" if not top else " + ".join(ins)
    if n.kind == "quotient":
        return "(" + " ⊘ ".join(ins) + ")" if not top else " ⊘ ".join(ins)
    if n.kind == "complement":
        return f"(1 − {ins[0]})"
    if n.kind == "negate":
        return f"(−{ins[0]})"
    return f"{n.label}({', '.join(ins)})"


def describe(cell: Cell, highlight: Iterable[str] = ()) -> str:
    """The diagram in one sentence, for its alt text."""
    g = graph(cell)
    parts = "; ".join(f"{_spoken(eq.name)} = {formula(g, eq.name)}" for eq in cell.equations)
    states = " and ".join(_spoken(s) for s in cell.states)
    leave = "leaves" if len(cell.states) == 1 else "leave"
    text = (
        f"Data flow of one step of the {cell.title}, drawn from its equations: {parts}. "
        f"The new {states} {leave} on the right; {_spoken(cell.states[0])} runs along the top. "
        "(In the tall form for narrow screens the step runs downwards: the new values leave at the "
        "bottom and the first runs down the left side.)"
    )
    lit = [_spoken(eq.name) for eq in cell.equations if eq.name in set(highlight)]
    if lit:
        text += f" Emphasised: {' and '.join(lit)}, with the lines into and out of it."
    return text


def describe_frame(cell: Cell, nodes: Iterable[str]) -> str:
    """One frame of the conveyor belt in words, for its alt text."""
    g = graph(cell)
    shown = set(nodes)
    parts = "; ".join(
        f"{_spoken(n.id)} = {formula(g, n.id)}" if n.id == n.equation else formula(g, n.id)
        for n in g.nodes
        if n.id in shown
    )
    return (
        describe(cell)
        + f" A band marks the path of {_spoken(cell.states[0])} along the top. Emphasised: {parts}."
    )
