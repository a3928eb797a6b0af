"""The statements a lowering emits, as data: a small closed IR that each backend prints.

The emitters decide what is computed and in which arrays; they build these
nodes and never text.  Each backend (:mod:`derive.backends`) has a printer
with one method per node; nothing here belongs to any of them.  A node's
fields are other nodes, names (``str``: an array or a loop's index, bound by
an :class:`Assign` or a :class:`Loop`, or by the function's frame), integers,
or, in :class:`Math`, a SymPy matrix expression with the nodes that hold its
symbols' values.

The function's frame (what the backend's template binds before the
statements) gives the :class:`Given` values: the sizes :data:`T` (steps),
:data:`B` (batch) and :data:`N` (hidden), and the element type :data:`DTYPE`.
A :class:`Width` ``k`` is ``k`` blocks of ``N`` columns (the stacked
pre-activations).  A loop is a node that holds its body (:class:`Loop`, as
JAX's ``lax.scan`` holds its step), and an index is an expression of nodes
(:class:`Minus`, :class:`Slice`, ...), never text.

:func:`reads` says which names (and :class:`Given` values) a node reads, and
:func:`binds` which name a statement binds: what the passes over statements
(:mod:`.unused`) and the printers need to know of a node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Union

from sympy import MatrixSymbol

from ..naming import own

if TYPE_CHECKING:
    from sympy import MatrixExpr

Node = Union[str, int, "Expr"]  # a str is a name, an int a number


class Expr:
    """A value in the generated code."""


@dataclass(frozen=True)
class Given(Expr):
    """A value the function's frame binds before its statements, by its name there:
    a size (``_T``, ``_B``, ``_n``) or the element type (``_dtype``), which the lowerings
    read, or a value of a backend's own frame, which its printer prints as named.  The
    frame's names are its own (:func:`derive.naming.own`), so no cell's name is one."""

    name: str


T = Given(own("T"))  # the steps
B = Given(own("B"))  # the sequences of the batch
N = Given(own("n"))  # the hidden size
DTYPE = Given(own("dtype"))  # the element type of the computation


@dataclass(frozen=True)
class Plus(Expr):
    """``a + b``, an index or a size."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Minus(Expr):
    """``a - b``, an index or a size."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Times(Expr):
    """``a * b``, a size."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Quotient(Expr):
    """``a // b``: the integer quotient, rounded down."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Itemsize(Expr):
    """The bytes of one element of the computation's type (:data:`DTYPE`): 8 in float64."""


@dataclass(frozen=True)
class Least(Expr):
    """``min(a, b)``."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Greatest(Expr):
    """``max(a, b)``."""

    a: Node
    b: Node


@dataclass(frozen=True)
class Slice(Expr):
    """The indices ``start`` up to ``stop`` (excluded) of an axis; ``None`` is the
    axis' own end, and a negative ``stop`` counts from the end (``-1``: all but the
    last)."""

    start: Node | None = None
    stop: Node | None = None


ALL = Slice()  # the whole axis


@dataclass(frozen=True)
class Width(Expr):
    """``k * n``: the columns of ``k`` blocks."""

    k: int


@dataclass(frozen=True)
class Math(Expr):
    """A matrix expression of the derivation; ``names`` says which node holds each symbol."""

    expr: MatrixExpr
    names: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class At(Expr):
    """``array[index]``: one step of a (T, ...) array, or one entry of a dict."""

    array: Node
    index: Node


@dataclass(frozen=True)
class Key(Expr):
    """A string key of a dict."""

    name: str


@dataclass(frozen=True)
class Block(Expr):
    """Columns ``start*n:stop*n`` of the last axis; ``lead`` indexes the axes before
    it: ``("t", ALL)`` is step t of a (T, B, k) array, ``(ALL, ALL)`` all of it,
    ``(ALL,)`` a (B, k) array.  The whole width is the array (or its step) itself."""

    array: Node
    lead: tuple[Node, ...]
    start: int
    stop: int
    width: int


@dataclass(frozen=True)
class RowRange(Expr):
    """Rows ``start*n:stop*n`` of a 2-D or 1-D array."""

    array: Node
    start: int
    stop: int


@dataclass(frozen=True)
class Everything(Expr):
    """The whole of the array a name is bound to, as an assignment target."""

    view: Node


@dataclass(frozen=True)
class MatMul(Expr):
    a: Node
    b: Node


@dataclass(frozen=True)
class Add(Expr):
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Transpose(Expr):
    a: Node


@dataclass(frozen=True)
class Rows(Expr):
    """A (T, B, k) array as (T*B, k) rows; ``steps``, when given, is its first size
    in place of T (a chunk of steps)."""

    array: Node
    steps: Node | None = None


@dataclass(frozen=True)
class Steps(Expr):
    """(T*B, k) rows back to a (T, B, k) array; ``cols`` None keeps the columns."""

    rows: Node
    cols: Node | None


@dataclass(frozen=True)
class BatchSum(Expr):
    """The sum over the batch (the first axis)."""

    a: Node


@dataclass(frozen=True)
class StackColumns(Expr):
    """The matrices, each transposed and times its scale (1 when ``scales`` is empty),
    side by side: ``operand @ stack`` is every product."""

    names: tuple[str, ...]
    scales: tuple[int, ...] = ()


@dataclass(frozen=True)
class Scaled(Expr):
    """``factor * a``."""

    a: Node
    factor: int


@dataclass(frozen=True)
class StackRows(Expr):
    """The matrices one above the other, a contiguous array: ``δz @ stack`` is the sum of
    every ``δz_k @ W_k``, a product BLAS runs faster than through the transposed columns."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Concat(Expr):
    """Vectors end to end, each times its scale (1 when ``scales`` is empty)."""

    names: tuple[str, ...]
    scales: tuple[int, ...] = ()


@dataclass(frozen=True)
class Shape(Expr):
    """A shape: the sizes, or ``of`` another array's shape."""

    sizes: tuple[Node, ...] = ()
    of: str | None = None


@dataclass(frozen=True)
class Empty(Expr):
    shape: Shape


@dataclass(frozen=True)
class Zeros(Expr):
    shape: Shape


@dataclass(frozen=True)
class Constant(Expr):
    """A number as a 0-d array of the computation's element type: an operand a library
    takes as it is, where a Python number is converted again at every call (NumPy's)."""

    value: int


@dataclass(frozen=True)
class Incoming(Expr):
    """The adjoint reaching a state at step ``step``: ``d_out[step] + carried``, or
    ``carried`` alone where ``d_out`` is None (no gradient given for that output);
    written into ``into`` when given (the array that keeps it for later work), in one
    call and with no copy."""

    d_out: str
    carried: str
    step: Node
    into: Node | None = None


@dataclass(frozen=True)
class PreviousAll(Expr):
    """The state before each step: the initial state, then every output but the last."""

    initial: Node
    outputs: Node


class Statement:
    """One line of a generated function."""


@dataclass(frozen=True)
class Comment(Statement):
    text: str


@dataclass(frozen=True)
class Assign(Statement):
    """``target op value``, with ``op`` one of ``=``, ``+=``, ``*=``."""

    target: Node
    value: Node
    op: str = "="


@dataclass(frozen=True)
class MatMulInto(Statement):
    a: Node
    b: Node
    out: Node


# The elementwise operations that :class:`OpInto` names, by their operands; each printer
# spells them.
OPERATIONS = {"exp": 1, "reciprocal": 1, "multiply": 2, "divide": 2}


@dataclass(frozen=True)
class OpInto(Statement):
    """An elementwise operation of :data:`OPERATIONS` (``exp``, ``reciprocal``: ``1 / a``,
    ``multiply``: ``a ⊙ b``, ``divide``: ``a ⊘ b``) on ``args``, written into ``out``."""

    op: str
    args: tuple[Node, ...]
    out: Node

    def __post_init__(self) -> None:
        assert len(self.args) == OPERATIONS[self.op], (self.op, self.args)


@dataclass(frozen=True)
class ApplyInto(Statement):
    """An elementwise function of the cell, written into ``out``."""

    function: str
    arg: Node
    out: Node


@dataclass(frozen=True)
class Loop(Statement):
    """``body`` run once for each value of ``index`` in ``start, start + step, ...``
    below ``stop``, from the last when ``reverse``.  ``index`` is bound in the body.
    ``overflows``: exp may overflow to inf in the body, where the formulas give the
    exact limits (σ's 0, tanh's ±1); a backend whose library reports that silences
    it around the loop."""

    index: str
    stop: Node
    body: tuple[Statement, ...]
    start: Node = 0
    step: Node = 1
    reverse: bool = False
    overflows: bool = False


@dataclass(frozen=True)
class Quiet(Statement):
    """``body`` run where exp may overflow to inf and the formulas give the exact limits
    (σ's 0, tanh's ±1), as in a :class:`Loop` with ``overflows``: a backend whose library
    reports that silences it around the body, once."""

    body: tuple[Statement, ...]


def at(array: Node, index: Node) -> At:
    return At(array, index)


def add(*terms: Node) -> Node:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def shape(*sizes: Node) -> Shape:
    return Shape(tuple(sizes))


def shape_of(name: str) -> Shape:
    return Shape(of=name)


BATCH = shape(B, N)  # a state: (B, n)
SEQUENCE = shape(T, B, N)  # a state at every step: (T, B, n)


# What each node reads and binds ------------------------------------------

Read = str | Given  # a name, or a value of the frame


def reads(node: Node | Statement | None) -> set[Read]:
    """The names and frame values ``node`` reads.  A statement reads what its value
    reads, and its target unless it binds it (``s = ...`` binds s; ``s += ...`` and
    ``s[t] = ...`` read s); a loop, what its bounds and its body read, but its index.

    >>> sorted(reads(Assign("d_s", Incoming("d_out_s", "d_s_prev", "t"))), key=str)
    ['d_out_s', 'd_s_prev', 't']
    """
    if node is None or isinstance(node, (int, Key, Comment)):
        return set()
    if isinstance(node, str):
        return {node}
    if isinstance(node, Given):
        return {node}
    if isinstance(node, Loop):
        inside = set().union(*(reads(s) for s in node.body)) - {node.index}
        return _all(node.start, node.stop, node.step) | inside
    if isinstance(node, Quiet):
        return set().union(*(reads(s) for s in node.body))
    if isinstance(node, Assign):
        target = set() if binds(node) else reads(node.target)
        return target | reads(node.value)
    if isinstance(node, Math):
        names = dict(node.names)
        symbols = {s.name for s in node.expr.atoms(MatrixSymbol)}
        return set().union(*(reads(names[s]) if s in names else {s} for s in symbols))
    extra: set[Read] = set()
    if isinstance(node, Width):
        return {N} if node.k else set()
    if isinstance(node, Block) and not (node.start == 0 and node.stop == node.width):
        extra = {N}
    elif isinstance(node, RowRange):
        extra = {N}
    elif isinstance(node, (Rows, Steps)):
        extra = {T, B}
    elif isinstance(node, (Empty, Zeros, Constant, Itemsize)):
        extra = {DTYPE}
    elif isinstance(node, (StackColumns, StackRows, Concat)):
        extra = set(node.names)
    elif isinstance(node, Shape) and node.of is not None:
        extra = {node.of}
    return extra | _all(*_fields(node))


def binds(statement: Statement) -> str | None:
    """The name ``statement`` binds (a plain ``name = value``), else ``None``."""
    if isinstance(statement, Assign) and statement.op == "=" and isinstance(statement.target, str):
        return statement.target
    return None


# Fields that hold text of the IR's own, not a name: an assignment's operator, an
# operation's or a function's name.
_WORDS = frozenset({"op", "function"})


def _fields(node: object) -> Iterable[Node]:
    """The nodes among ``node``'s fields, tuples of nodes opened."""
    for field, value in vars(node).items():
        if field in _WORDS:
            continue
        if isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, (str, int, Expr)))
        elif isinstance(value, (str, int, Expr)) and not isinstance(value, bool):
            yield value


def _all(*nodes: Node | None) -> set[Read]:
    return set(chain.from_iterable(reads(n) for n in nodes))
