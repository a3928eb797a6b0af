"""The elementwise functions a cell may use, and their derivatives.

Each function is defined once, as a SymPy expression in ``z``.  Its
derivative is not typed in: it is ``sympy.diff`` of the definition, rewritten
as a polynomial in the function's own output ``y``, because the backward pass
has the output saved and not the argument (σ' = σ(1-σ), tanh' = 1-tanh²).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sympy import (
    Add,
    Dummy,
    Expr,
    Lambda,
    Mul,
    Number,
    Poly,
    Pow,
    Symbol,
    count_ops,
    exp,
    expand,
    factor,
    fraction,
    resultant,
    roots,
    tanh,
    together,
)

from . import algebra

z = Symbol("z")
y = Symbol("y")


@dataclass(frozen=True)
class Elementwise:
    """A scalar function applied elementwise: its name and its definition in ``z``."""

    name: str
    definition: Expr
    aliases: tuple[str, ...] = ()

    def derivative(self) -> Lambda:
        """The derivative as a function of the output ``y``."""
        return derivative_through_output(self.definition)


FUNCTIONS: dict[str, Elementwise] = {
    f.name: f
    for f in (
        Elementwise("sigma", 1 / (1 + exp(-z)), aliases=("σ",)),
        Elementwise("tanh", tanh(z)),
    )
}

# Names a cell's text may use for each function, including the Greek letter.
SPELLINGS: dict[str, str] = {
    spelling: f.name for f in FUNCTIONS.values() for spelling in (f.name, *f.aliases)
}


@cache
def derivative_through_output(definition: Expr) -> Lambda:
    """``y -> f'(z)`` for ``y = f(z)``, where ``f`` is rational in ``exp(z)``.

    With ``w = exp(z)``, ``f = N(w)/D(w)`` and ``f' = w df/dw``.  Eliminating
    ``w`` between ``y D - N = 0`` and the derivative (a resultant) leaves a
    polynomial whose single root is the derivative in terms of ``y``.
    """
    w, d = Dummy("w"), Dummy("d")
    in_w = together(definition.rewrite(exp).subs(exp(z), w))
    if in_w.has(z):
        raise ValueError(f"{definition} is not a rational function of exp(z)")
    numerator, denominator = fraction(in_w)
    slope_numerator, slope_denominator = fraction(together(w * in_w.diff(w)))
    eliminated = resultant(y * denominator - numerator, d * slope_denominator - slope_numerator, w)
    candidates = list(roots(Poly(eliminated, d)))
    if len(candidates) != 1:
        raise ValueError(f"the derivative of {definition} is not a function of its output")
    return Lambda(y, textbook(candidates[0]))


def textbook(polynomial: Expr) -> Expr:
    """The form a textbook writes: factored with ``(1 - y)`` rather than
    ``-(y - 1)``, unless expanding is shorter (``1 - y**2``)."""
    expanded = expand(polynomial)
    coefficient, factors = factor(polynomial).as_coeff_mul()
    flipped = []
    for f in factors:
        if isinstance(f, Add) and coefficient < 0 and f.coeff(y) > 0:
            coefficient, f = -coefficient, -f
        flipped.append(f)
    factored = Mul(coefficient, *flipped, evaluate=False) if coefficient != 1 else Mul(*flipped)
    return factored if count_ops(factored) <= count_ops(expanded) else expanded


def lift(scalar: Expr, output):
    """Turn a polynomial in ``y`` into the matching elementwise matrix expression.

    ``lift(y*(1 - y), O)`` is ``O ⊙ (1 - O)``; products become ⊙, powers
    elementwise powers, and a constant ``c`` the matrix of ``c``'s.
    """
    if scalar == y:
        return output
    if isinstance(scalar, Number):
        return algebra.scale(scalar, algebra.ones(output.shape))
    if isinstance(scalar, Add):
        # Constants first, as a person writes 1 - y².
        terms = sorted(scalar.args, key=lambda t: not isinstance(t, Number))
        return algebra.add(*(lift(t, output) for t in terms))
    if isinstance(scalar, Mul):
        coefficient, factors = scalar.as_coeff_mul()
        return algebra.scale(coefficient, algebra.hadamard(*(lift(f, output) for f in factors)))
    if isinstance(scalar, Pow) and scalar.exp.is_Integer and scalar.exp > 0:
        return algebra.power(lift(scalar.base, output), int(scalar.exp))
    raise ValueError(f"cannot write {scalar} elementwise")


def derivative(name: str, output, derivatives: dict[str, Lambda] | None = None):
    """f'(argument) as a matrix expression in the saved ``output`` of ``f``.

    ``derivatives`` overrides the rule for some functions (the tests inject a
    wrong one to show that the proof catches it).
    """
    rule = (derivatives or {}).get(name) or FUNCTIONS[name].derivative()
    return lift(rule(y), output)


__all__ = ["FUNCTIONS", "SPELLINGS", "Elementwise", "derivative", "lift"]
