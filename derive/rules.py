"""The chain rule at the matrix level: one entry per kind of node.

Each entry gives, for a node ``y`` with children ``a``, the two products
of its Jacobian: how an adjoint ``g = ∂L/∂y`` flows back to each child
(vector-Jacobian, for reverse mode), and how a child's Jacobian ``J = ∂a/∂u``
flows forward to ``∂y/∂u`` (Jacobian-vector, for the state-to-state
Jacobians).  Elementwise functions take their derivative from
:mod:`derive.elementwise`, written through the node's saved output.

The quotient ``y = a ⊘ b`` hands ``g ⊘ b`` to ``a`` and ``-g ⊙ (y ⊘ b)`` to ``b``,
written through its output ``y`` rather than as ``-g ⊙ a ⊘ b²``: ``y`` is saved
when the quotient is an equation (minLSTM's normalised gates), which saves a
product; ``y ⊘ b`` reads no adjoint, so the generated code computes it ahead of
the backward steps with the other forward factors; and it is finite wherever the
forward pass is, while ``b²`` overflows for |b| above 1e154 in float64 (1e19 in
float32) and underflows to 0 for |b| below 1e-162, where ``a ⊘ b²`` is inf or NaN
though the gradient is finite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr, Transpose

from . import algebra as A
from .algebra import Apply, Divide

# f'(a) for a node y = f(a), written through y; None is zero.
Slope = Callable[[Apply], MatrixExpr | None]


@dataclass(frozen=True)
class Saved:
    """What a rule may read of the forward pass: ``slope(y)``, f'(a) for y = f(a)
    written through y (None where it is zero); ``output(y)``, the symbol that holds a
    node's value when an equation saves it, else the node itself."""

    slope: Slope
    output: Callable[[MatrixExpr], MatrixExpr]


# Each child of a node with its adjoint; None is zero.
Adjoints = list[tuple[MatrixExpr, MatrixExpr | None]]
# ∂a/∂u for a child a of a node; None is zero.
Tangent = Callable[[MatrixExpr], MatrixExpr | None]


@dataclass(frozen=True)
class Rule:
    # (node, g, saved) -> [(child, adjoint of child)]
    vjp: Callable[[MatrixExpr, MatrixExpr, Saved], Adjoints]
    # (node, J, saved) -> Jacobian of node, from J(child) (None = zero)
    jvp: Callable[[MatrixExpr, Tangent, Saved], MatrixExpr | None]


def _others(args: Sequence[MatrixExpr], j: int) -> list[MatrixExpr]:
    return [a for k, a in enumerate(args) if k != j]


def _matmul_vjp(node: MatrixExpr, g: MatrixExpr, saved: Saved) -> Adjoints:
    c, core = A.split_coefficient(node)
    factors = core.args if isinstance(core, MatMul) else (core,)
    return [
        (
            f,
            A.scale(
                c,
                A.matmul(
                    *(A.transpose(p) for p in reversed(factors[:j])),
                    g,
                    *(A.transpose(p) for p in reversed(factors[j + 1 :])),
                ),
            ),
        )
        for j, f in enumerate(factors)
    ]


def _matmul_jvp(node: MatrixExpr, J: Tangent, saved: Saved) -> MatrixExpr | None:
    c, core = A.split_coefficient(node)
    factors = core.args if isinstance(core, MatMul) else (core,)
    *constant, varying = factors
    if any(J(f) is not None for f in constant):
        raise NotImplementedError(f"the Jacobian of {node}: only the last factor of a product may vary")
    return A.scale(c, A.distribute(*constant, J(varying)))


def _hadamard_jvp(node: MatrixExpr, J: Tangent, saved: Saved) -> MatrixExpr | None:
    terms = (A.distribute(A.diag(A.hadamard(*_others(node.args, j))), J(a)) for j, a in enumerate(node.args))
    return A.add(*A.collect([t for t in terms if t is not None]))


def _divide_vjp(node: Divide, g: MatrixExpr, saved: Saved) -> Adjoints:
    a, b = node.args
    return [(a, A.divide(g, b)), (b, A.scale(-1, A.hadamard(g, A.divide(saved.output(node), b))))]


def _divide_jvp(node: Divide, J: Tangent, saved: Saved) -> MatrixExpr | None:
    a, b = node.args
    terms = [
        A.distribute(A.diag(A.divide(A.ones(node.shape), b)), J(a)),
        A.scale(-1, A.distribute(A.diag(A.divide(saved.output(node), b)), J(b))),
    ]
    return A.add(*A.collect([t for t in terms if t is not None]))


RULES: dict[type, Rule] = {
    # y = a + b + ...
    MatAdd: Rule(
        vjp=lambda y, g, saved: [(a, g) for a in y.args],
        jvp=lambda y, J, saved: A.add(*A.collect([t for a in y.args if (t := J(a)) is not None])),
    ),
    # y = c · a b ...   (c a number)
    MatMul: Rule(vjp=_matmul_vjp, jvp=_matmul_jvp),
    # y = a ⊙ b ⊙ ...
    HadamardProduct: Rule(
        vjp=lambda y, g, saved: [(a, A.hadamard(g, *_others(y.args, j))) for j, a in enumerate(y.args)],
        jvp=_hadamard_jvp,
    ),
    # y = a^k elementwise
    HadamardPower: Rule(
        vjp=lambda y, g, saved: [(y.base, A.scale(y.exp, A.hadamard(g, A.power(y.base, int(y.exp) - 1))))],
        jvp=lambda y, J, saved: A.distribute(
            A.diag(A.scale(y.exp, A.power(y.base, int(y.exp) - 1))), J(y.base)
        ),
    ),
    # y = a ⊘ b elementwise, written through y (see above)
    Divide: Rule(vjp=_divide_vjp, jvp=_divide_jvp),
    # y = f(a) elementwise; slope(y) is f'(a) written through y, None where it is 0 (step)
    Apply: Rule(
        vjp=lambda y, g, saved: [(y.arg, A.hadamard(g, saved.slope(y)))],
        jvp=lambda y, J, saved: None if (s := saved.slope(y)) is None else A.distribute(A.diag(s), J(y.arg)),
    ),
    # y = aᵀ
    Transpose: Rule(
        vjp=lambda y, g, saved: [(y.arg, A.transpose(g))],
        jvp=lambda y, J, saved: _no_jvp(y),
    ),
}


def _no_jvp(node: MatrixExpr) -> NoReturn:
    raise NotImplementedError(f"the Jacobian of {node} with respect to a column is not a matrix")
