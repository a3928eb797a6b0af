"""The statements a lowering emits, as data: a small IR that a printer spells.

The emitters decide what is computed and in which arrays; they build these
nodes and never text.  :mod:`derive.printing.numpy` prints them as NumPy (a
second printer could print the same statements in another language).  A
node's fields are other nodes, names (``str``), or, in :class:`Math`, a SymPy
matrix expression with the nodes that hold its symbols' values.

Sizes: ``n`` is the hidden size, a :class:`Width` ``k`` is ``k * n`` columns
(the blocks of stacked pre-activations), ``T`` the steps and ``B`` the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from sympy import MatrixExpr

Node = Union[str, "Expr"]  # a str is a name


class Expr:
    """A value in the generated code."""


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
    it: ``("t", ":")`` is step t of a (T, B, k) array, ``(":", ":")`` all of it,
    ``(":",)`` a (B, k) array.  The whole width is the array (or its step) itself."""

    array: Node
    lead: tuple[str, ...]
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
    """A (T, B, k) array as (T*B, k) rows."""

    array: Node


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
    """A number as a 0-d array of the computation's dtype: an operand NumPy takes as
    it is, where a Python number is converted again at every call."""

    value: int


@dataclass(frozen=True)
class Incoming(Expr):
    """The adjoint reaching a state at step t: ``d_out[t] + carried``, or ``carried``
    alone where ``d_out`` is None (no gradient given for that output)."""

    d_out: str
    carried: str


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


@dataclass(frozen=True)
class MultiplyInto(Statement):
    a: Node
    b: Node
    out: Node


@dataclass(frozen=True)
class NumPyInto(Statement):
    """``np.<function>(arg, out=out)``, a NumPy function of one array."""

    function: str
    arg: Node
    out: Node


@dataclass(frozen=True)
class ApplyInto(Statement):
    """An elementwise function of the cell, written into ``out``."""

    function: str
    arg: Node
    out: Node


def at(array: Node, index: Node) -> At:
    return At(array, index)


def add(*terms: Node) -> Node:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def shape(*sizes: Node) -> Shape:
    return Shape(tuple(sizes))


def shape_of(name: str) -> Shape:
    return Shape(of=name)


BATCH = shape("B", "n")  # a state: (B, n)
SEQUENCE = shape("T", "B", "n")  # a state at every step: (T, B, n)
