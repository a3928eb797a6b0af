"""The chain rule at the matrix level: one entry per kind of node.

Each entry gives, for a node ``y`` with children ``a``, the two products
of its Jacobian: how an adjoint ``g = ∂L/∂y`` flows back to each child
(vector-Jacobian, for reverse mode), and how a child's Jacobian ``J = ∂a/∂u``
flows forward to ``∂y/∂u`` (Jacobian-vector, for the state-to-state
Jacobians).  Elementwise functions take their derivative from
:mod:`derive.elementwise`, written through the node's saved output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr, Transpose

from . import algebra as A
from .algebra import Apply

# f'(a) for a node y = f(a), written through y; None is zero.
Slope = Callable[[Apply], MatrixExpr | None]
# Each child of a node with its adjoint; None is zero.
Adjoints = list[tuple[MatrixExpr, MatrixExpr | None]]
# ∂a/∂u for a child a of a node; None is zero.
Tangent = Callable[[MatrixExpr], MatrixExpr | None]


@dataclass(frozen=True)
class Rule:
    # (node, g, slope) -> [(child, adjoint of child)]
    vjp: Callable[[MatrixExpr, MatrixExpr, Slope], Adjoints]
    # (node, J, slope) -> Jacobian of node, from J(child) (None = zero)
    jvp: Callable[[MatrixExpr, Tangent, Slope], MatrixExpr | None]


def _others(args: Sequence[MatrixExpr], j: int) -> list[MatrixExpr]:
    return [a for k, a in enumerate(args) if k != j]


def _matmul_vjp(node: MatrixExpr, g: MatrixExpr, slope: Slope) -> Adjoints:
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


def _matmul_jvp(node: MatrixExpr, J: Tangent, slope: Slope) -> MatrixExpr | None:
    c, core = A.split_coefficient(node)
    factors = core.args if isinstance(core, MatMul) else (core,)
    *constant, varying = factors
    if any(J(f) is not None for f in constant):
        raise NotImplementedError(f"the Jacobian of {node}: only the last factor of a product may vary")
    return A.scale(c, A.distribute(*constant, J(varying)))


def _hadamard_jvp(node: MatrixExpr, J: Tangent, slope: Slope) -> MatrixExpr | None:
    terms = (A.distribute(A.diag(A.hadamard(*_others(node.args, j))), J(a)) for j, a in enumerate(node.args))
    return A.add(*A.collect([t for t in terms if t is not None]))


RULES: dict[type, Rule] = {
    # y = a + b + ...
    MatAdd: Rule(
        vjp=lambda y, g, slope: [(a, g) for a in y.args],
        jvp=lambda y, J, slope: A.add(*A.collect([t for a in y.args if (t := J(a)) is not None])),
    ),
    # y = c · a b ...   (c a number)
    MatMul: Rule(vjp=_matmul_vjp, jvp=_matmul_jvp),
    # y = a ⊙ b ⊙ ...
    HadamardProduct: Rule(
        vjp=lambda y, g, slope: [(a, A.hadamard(g, *_others(y.args, j))) for j, a in enumerate(y.args)],
        jvp=_hadamard_jvp,
    ),
    # y = a^k elementwise
    HadamardPower: Rule(
        vjp=lambda y, g, slope: [(y.base, A.scale(y.exp, A.hadamard(g, A.power(y.base, int(y.exp) - 1))))],
        jvp=lambda y, J, slope: A.distribute(
            A.diag(A.scale(y.exp, A.power(y.base, int(y.exp) - 1))), J(y.base)
        ),
    ),
    # y = f(a) elementwise; slope(y) is f'(a) written through y, None where it is 0 (step)
    Apply: Rule(
        vjp=lambda y, g, slope: [(y.arg, A.hadamard(g, slope(y)))],
        jvp=lambda y, J, slope: None if (s := slope(y)) is None else A.distribute(A.diag(s), J(y.arg)),
    ),
    # y = aᵀ
    Transpose: Rule(
        vjp=lambda y, g, slope: [(y.arg, A.transpose(g))],
        jvp=lambda y, J, slope: _no_jvp(y),
    ),
}


def _no_jvp(node: MatrixExpr) -> NoReturn:
    raise NotImplementedError(f"the Jacobian of {node} with respect to a column is not a matrix")
