"""Backpropagation through time for a cell, derived symbolically at the matrix level.

``derive(cell)`` runs reverse mode over the cell's equations with the rules of
:mod:`derive.rules` and returns a :class:`Derivation`: the adjoint equations of
one step, the recurrences that chain the steps, the parameter gradients as
sums over t, and the state-to-state Jacobians.  Everything here is pure: a
cell in, expressions out.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial

from sympy import Identity, Lambda, MatrixExpr, MatrixSymbol, OneMatrix, ZeroMatrix

from . import algebra as A
from . import elementwise, naming
from .cell import Cell
from .rules import RULES, Saved


@dataclass(frozen=True)
class Assignment:
    """``target = value``: one line of a derivation."""

    target: MatrixSymbol
    value: MatrixExpr


@dataclass(frozen=True)
class Carry:
    """How the adjoint of state ``v`` crosses from step t+1 back to step t.

    ``incoming`` (δv_t^in) = ∂ℓ_t/∂v_t + ``carried`` computed at step t+1
    (the adjoint of v_{t-1} there, which is v_t here); zero after the last step.
    """

    state: MatrixSymbol
    incoming: MatrixSymbol
    carried: MatrixSymbol


@dataclass(frozen=True)
class Jacobian:
    """∂``of``_t / ∂``wrt``_{t-1} for two states, holding the other states fixed."""

    of: MatrixSymbol
    wrt: MatrixSymbol
    value: MatrixExpr


@dataclass(frozen=True)
class Derivation:
    """The derivation of one cell.

    ``backward`` is one step of the backward pass in evaluation order; it
    reads the step's forward values and the ``incoming`` adjoints of the
    states, and ends with the adjoints of the input (``d_x``), of the previous
    states (``d_v_prev``, carried to step t-1) and of the parameters (this
    step's term of the gradient, which is the sum of these terms over t).
    """

    cell: Cell
    intermediates: tuple[Assignment, ...]
    backward: tuple[Assignment, ...]
    carries: tuple[Carry, ...]
    jacobians: tuple[Jacobian, ...]

    @property
    def forward(self) -> tuple[Assignment, ...]:
        return tuple(Assignment(eq.symbol, eq.rhs) for eq in self.cell.equations)

    def adjoint(self, symbol: MatrixSymbol) -> MatrixExpr:
        """The right-hand side that defines the adjoint of ``symbol``."""
        name = naming.adjoint(symbol.name)
        return next(a.value for a in self.backward if a.target.name == name)

    @property
    def gradients(self) -> tuple[Assignment, ...]:
        """This step's term of ∂L/∂P for every parameter P (summed over t)."""
        names = {naming.adjoint(p.name) for p in self.cell.parameters}
        return tuple(a for a in self.backward if a.target.name in names)


def derive(cell: Cell, derivatives: dict[str, Lambda] | None = None) -> Derivation:
    """Derive BPTT for ``cell``.

    ``derivatives`` replaces the derivative of some elementwise functions
    (as ``Lambda(y, ...)`` in the output y); only the tests use it, to show that
    the proof catches a wrong rule.
    """
    saved = {eq.rhs: eq.symbol for eq in cell.equations}

    def slope(node: A.Apply) -> MatrixExpr | None:  # None where the derivative is 0 (a step)
        return elementwise.derivative(node.function, saved.get(node, node), derivatives)

    forward = Saved(slope, lambda node: saved.get(node, node))
    intermediates, backward = _reverse(cell, forward)
    carries = tuple(
        Carry(
            state,
            MatrixSymbol(naming.incoming(state.name), *state.shape),
            MatrixSymbol(naming.adjoint(prev.name), *prev.shape),
        )
        for state, prev in zip(cell.state_symbols, cell.prev_symbols, strict=True)
    )
    return Derivation(cell, intermediates, backward, carries, _jacobians(cell, forward))


def _reverse(cell: Cell, saved: Saved) -> tuple[tuple[Assignment, ...], tuple[Assignment, ...]]:
    """The named sub-expressions (in the order of the equations) and the backward pass."""
    states = set(cell.state_symbols)
    order = {eq.symbol: k for k, eq in enumerate(cell.equations)}
    # symbol -> [(index of the equation that uses it, adjoint term)]
    contributions: defaultdict[MatrixSymbol, list[tuple[int, MatrixExpr]]] = defaultdict(list)
    # ((index of the equation, index of the sub-expression in it), its assignment)
    intermediates: list[tuple[tuple[int, int], Assignment]] = []
    backward: list[Assignment] = []

    def adjoint_symbol(symbol: MatrixSymbol) -> MatrixSymbol:
        return MatrixSymbol(naming.adjoint(symbol.name), *symbol.shape)

    def emit(symbol: MatrixSymbol) -> MatrixExpr:
        terms = [t for _, t in sorted(contributions.pop(symbol, []), key=lambda c: c[0])]
        terms = A.collect(terms)
        if symbol in states:
            terms.insert(0, MatrixSymbol(naming.incoming(symbol.name), *symbol.shape))
        value = A.add(*terms) or ZeroMatrix(*symbol.shape)
        backward.append(Assignment(adjoint_symbol(symbol), value))
        return value

    def propagate(node: MatrixExpr, g: MatrixExpr, k: int, indices: Iterator[int]) -> None:
        for child, g_child in RULES[type(node)].vjp(node, g, saved):
            if g_child is None or isinstance(child, (OneMatrix, ZeroMatrix, Identity)):
                continue
            if isinstance(child, MatrixSymbol):
                contributions[child].append((k, g_child))
                continue
            if _worth_naming(node, child, g_child):
                index = next(indices)
                name = naming.preactivation(cell.equations[k].name, index)
                intermediates.append(((k, index), Assignment(MatrixSymbol(name, *child.shape), child)))
                d = MatrixSymbol(naming.adjoint(name), *child.shape)
                backward.append(Assignment(d, g_child))
                g_child = d
            propagate(child, g_child, k, indices)

    for eq in reversed(cell.equations):
        if A.is_zero(emit(eq.symbol)):
            continue  # a value nothing reads: nothing flows back through it
        k = order[eq.symbol]
        if isinstance(eq.rhs, MatrixSymbol):
            # v = u: the adjoint of v is a term of the adjoint of u, as it stands.
            contributions[eq.rhs].append((k, adjoint_symbol(eq.symbol)))
        else:
            propagate(eq.rhs, adjoint_symbol(eq.symbol), k, itertools.count(1))
    for leaf in (*cell.input_symbols, *cell.prev_symbols, *cell.parameter_symbols):
        emit(leaf)
    intermediates.sort(key=lambda item: item[0])
    return tuple(a for _, a in intermediates), tuple(backward)


def _worth_naming(parent: MatrixExpr, child: MatrixExpr, g_child: MatrixExpr) -> bool:
    """Name a sub-expression's adjoint when it is a pre-activation (the argument
    of an elementwise function), or when it would be written out more than once."""
    if isinstance(g_child, MatrixSymbol):
        return False
    if isinstance(parent, A.Apply):
        return True
    varying = [
        a for a in child.args if isinstance(a, MatrixExpr) and not isinstance(a, (OneMatrix, ZeroMatrix))
    ]
    return len(varying) >= 2


def _jacobians(cell: Cell, saved: Saved) -> tuple[Jacobian, ...]:
    out: list[Jacobian] = []
    for prev in cell.prev_symbols:
        known: dict[MatrixSymbol, MatrixExpr | None] = {prev: Identity(prev.shape[0])}
        for eq in cell.equations:
            known[eq.symbol] = _tangent(eq.rhs, known, saved)
        for state in cell.state_symbols:
            value = known[state] or ZeroMatrix(state.shape[0], prev.shape[0])
            out.append(Jacobian(state, prev, value))
    return tuple(out)


def _tangent(
    node: MatrixExpr, known: Mapping[MatrixSymbol, MatrixExpr | None], saved: Saved
) -> MatrixExpr | None:
    """∂node/∂u given the Jacobians ``known`` of the symbols; ``None`` is zero."""
    if isinstance(node, MatrixSymbol):
        return known.get(node)
    if isinstance(node, (OneMatrix, ZeroMatrix, Identity)):
        return None
    return RULES[type(node)].jvp(node, partial(_tangent, known=known, saved=saved), saved)
