"""Matrix-expression constructors that keep the order a person wrote.

SymPy's own constructors either sort their arguments (``evaluate=True``) or
leave nested sums and products unflattened.  The parser, the derivation and
the printers all build expressions through these few functions, so every
expression the project shows reads in the order of the equations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sympy import (
    Expr,
    HadamardPower,
    HadamardProduct,
    Identity,
    Integer,
    MatAdd,
    MatMul,
    MatrixExpr,
    OneMatrix,
    Rational,
    Transpose,
    ZeroMatrix,
)
from sympy.core.symbol import Str
from sympy.matrices.expressions.diagonal import DiagMatrix


class Apply(MatrixExpr):
    """An elementwise function applied to a matrix: ``Apply('sigma', X)``.

    SymPy's ``ElementwiseApplyFunction`` wraps the function in a ``Lambda``
    over a fresh ``Dummy``, which makes equal expressions compare unequal and
    printed output depend on a counter; naming the function keeps both exact.
    """

    def __new__(cls, function: str | Str, arg: MatrixExpr) -> Apply:
        return MatrixExpr.__new__(cls, Str(str(function)), arg)

    @property
    def function(self) -> str:
        return self.args[0].name

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self) -> tuple[Expr, Expr]:
        return self.arg.shape


class Divide(MatrixExpr):
    """The elementwise quotient of two matrices of one shape: ``Divide(A, B)`` is A ⊘ B.

    SymPy has no node for it (``HadamardPower(B, -1)`` would print and differentiate
    as a power); a node of its own keeps the division as written, with its own rule.
    """

    def __new__(cls, dividend: MatrixExpr, divisor: MatrixExpr) -> Divide:
        return MatrixExpr.__new__(cls, dividend, divisor)

    @property
    def dividend(self) -> MatrixExpr:
        return self.args[0]

    @property
    def divisor(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self) -> tuple[Expr, Expr]:
        return self.dividend.shape


def walk(expr: MatrixExpr) -> Iterator[MatrixExpr]:
    """Every matrix sub-expression of ``expr``, ``expr`` first."""
    yield expr
    for arg in expr.args:
        if isinstance(arg, MatrixExpr):
            yield from walk(arg)


def is_zero(expr: MatrixExpr | None) -> bool:
    return isinstance(expr, ZeroMatrix)


def ones(shape: tuple[Expr, Expr]) -> OneMatrix:
    return OneMatrix(*shape)


def spread(scalar: MatrixExpr, rows: Expr) -> MatrixExpr:
    """A 1×1 matrix (a scalar parameter ζ) over a column of ``rows``: the product
    ``𝟙 ζ`` of a column of ones and ζ, so that the chain rule of the product hands
    ζ the sum of its column's adjoint, ``𝟙ᵀ g``."""
    product = matmul(ones((rows, Integer(1))), scalar)
    assert product is not None
    return product


def is_spread(expr: MatrixExpr) -> bool:
    """Whether ``expr`` is a 1×1 matrix spread over a column (:func:`spread`)."""
    return (
        isinstance(expr, MatMul)
        and len(expr.args) == 2
        and isinstance(expr.args[0], OneMatrix)
        and expr.args[0].shape[1] == 1
        and expr.args[1].shape == (1, 1)
    )


def is_total(expr: MatrixExpr) -> bool:
    """Whether ``expr`` is the sum of a column's entries, ``𝟙ᵀ g`` (a 1×1 matrix)."""
    return (
        isinstance(expr, MatMul)
        and len(expr.args) == 2
        and isinstance(expr.args[0], OneMatrix)
        and expr.args[0].shape[0] == 1
        and expr.args[1].shape[1] == 1
    )


def split_coefficient(expr: MatrixExpr) -> tuple[Expr, MatrixExpr | None]:
    """``c * X`` as ``(c, X)``; a matrix without a scalar factor as ``(1, X)``."""
    if isinstance(expr, MatMul):
        scalars = [a for a in expr.args if not a.is_Matrix]
        matrices = [a for a in expr.args if a.is_Matrix]
        if scalars:
            coefficient = Integer(1)
            for s in scalars:
                coefficient *= s
            return coefficient, (matmul(*matrices) if matrices else None)
    return Integer(1), expr


def add(*terms: MatrixExpr | None) -> MatrixExpr | None:
    """The sum of matrix terms, flattened, without zeros; ``None`` if empty."""
    flat: list[MatrixExpr] = []
    for term in terms:
        if term is None or is_zero(term):
            continue
        flat.extend(term.args if isinstance(term, MatAdd) else (term,))
    if not flat:
        return None
    # A person writes b - a rather than -a + b.
    flat.sort(key=lambda t: split_coefficient(t)[0].is_negative is True)
    return flat[0] if len(flat) == 1 else MatAdd(*flat)


def scale(coefficient: int | Expr, expr: MatrixExpr | None) -> MatrixExpr | None:
    """``coefficient * expr`` with numeric coefficients merged."""
    coefficient = Rational(coefficient) if isinstance(coefficient, int) else coefficient
    if expr is None or coefficient == 0:
        return None
    inner, core = split_coefficient(expr)
    coefficient *= inner
    if coefficient == 1:
        return core
    if isinstance(core, MatAdd) and coefficient == -1:
        return MatAdd(*(scale(-1, t) for t in core.args))
    return MatMul(coefficient, core)


def matmul(*factors: MatrixExpr | Expr | None) -> MatrixExpr | None:
    """The matrix product of the factors (scalars allowed), flattened; ``None`` if
    a factor is ``None`` or zero."""
    coefficient = Integer(1)
    flat: list[MatrixExpr] = []
    for factor in factors:
        if factor is None:
            return None
        if not factor.is_Matrix:
            coefficient *= factor
            continue
        c, core = split_coefficient(factor)
        coefficient *= c
        flat.extend(core.args if isinstance(core, MatMul) else (core,))
    if any(is_zero(f) for f in flat):
        return None
    merged: list[MatrixExpr] = []
    for f in flat:
        if isinstance(f, Identity) and (merged or len(flat) > 1):
            continue
        if merged and isinstance(f, DiagMatrix) and isinstance(merged[-1], DiagMatrix):
            # diag(a) diag(b) = diag(a ⊙ b)
            merged[-1] = DiagMatrix(hadamard(merged[-1].args[0], f.args[0]))
            continue
        merged.append(f)
    core = merged[0] if len(merged) == 1 else MatMul(*merged)
    return scale(coefficient, core)


def distribute(*factors: MatrixExpr | Expr | None) -> MatrixExpr | None:
    """The product of the factors with a final sum multiplied out term by term:
    ``A (B + C)`` is ``A B + A C``, so that a Jacobian reads as a flat sum."""
    *left, last = factors
    if last is None:
        return None
    if isinstance(last, MatAdd):
        return add(*(distribute(*left, term) for term in last.args))
    c, core = split_coefficient(last)
    if c != 1 and isinstance(core, MatAdd):
        return add(*(distribute(*left, scale(c, term)) for term in core.args))
    return matmul(*left, last)


def hadamard(*factors: MatrixExpr | None) -> MatrixExpr | None:
    """The elementwise product of the factors, flattened, without ones; ``None`` if
    a factor is ``None``."""
    present = [f for f in factors if f is not None]
    if len(present) < len(factors):
        return None
    coefficient = Integer(1)
    flat: list[MatrixExpr] = []
    for factor in present:
        c, core = split_coefficient(factor)
        coefficient *= c
        for f in core.args if isinstance(core, HadamardProduct) else (core,):
            if not isinstance(f, OneMatrix):
                flat.append(f)
    if not flat:
        return scale(coefficient, ones(present[0].shape))
    core = flat[0] if len(flat) == 1 else HadamardProduct(*flat)
    return scale(coefficient, core)


def divide(dividend: MatrixExpr | None, divisor: MatrixExpr) -> MatrixExpr | None:
    """``dividend ⊘ divisor`` elementwise, the dividend's number taken out in front
    (``(-g) ⊘ b`` is ``-(g ⊘ b)``) unless the dividend is a number (``2 ⊘ b``);
    ``None`` (zero) if the dividend is; a divisor of ones divides nothing."""
    if dividend is None:
        return None
    if isinstance(divisor, OneMatrix):
        return dividend
    c, core = split_coefficient(dividend)
    if isinstance(core, OneMatrix):  # a number over b: 2 ⊘ b, kept as written
        return Divide(dividend, divisor)
    return scale(c, Divide(core, divisor))


def power(base: MatrixExpr, exponent: int) -> MatrixExpr:
    """``base`` raised elementwise to an integer power."""
    if exponent == 0:
        return ones(base.shape)
    if exponent == 1:
        return base
    return HadamardPower(base, Integer(exponent))


def diag(vector: MatrixExpr) -> DiagMatrix:
    """The diagonal matrix whose diagonal is the column ``vector``."""
    return DiagMatrix(vector)


def transpose(expr: MatrixExpr) -> MatrixExpr:
    """``exprᵀ``, kept whole: SymPy's ``.T`` would push it inside products."""
    if isinstance(expr, Transpose):
        return expr.arg
    if isinstance(expr, OneMatrix):  # 𝟙ᵀ is the row of ones
        return ones((expr.shape[1], expr.shape[0]))
    return Transpose(expr)


def _factors(term: MatrixExpr) -> tuple[Expr, list[MatrixExpr]]:
    """``(coefficient, [factors])`` of a term read as an elementwise product."""
    c, core = split_coefficient(term)
    return c, list(core.args) if isinstance(core, HadamardProduct) else [core]


def _without(factors: Iterable[MatrixExpr], drop: Iterable[MatrixExpr]) -> list[MatrixExpr]:
    rest = list(factors)
    for d in drop:
        rest.remove(d)
    return rest


def collect(terms: Iterable[MatrixExpr]) -> list[MatrixExpr]:
    """Simplify a list of summands the way a person would, returning a new list.

    ``diag(a) X + diag(b) X`` becomes ``diag(a + b) X``, and summands that share
    elementwise factors have them taken out: ``g ⊙ a - g ⊙ b`` is ``g ⊙ (a - b)``.
    """
    flat = [t for term in terms for t in (term.args if isinstance(term, MatAdd) else (term,))]
    # the factors after diag(v) (or a unique key for a summand of another form)
    # -> each summand with its scaled v
    by_tail: dict[tuple[object, ...], list[tuple[MatrixExpr, MatrixExpr | None]]] = {}
    for term in flat:
        c, core = split_coefficient(term)
        if isinstance(core, MatMul) and isinstance(core.args[0], DiagMatrix):
            key = core.args[1:]
            by_tail.setdefault(key, []).append((term, scale(c, core.args[0].args[0])))
        else:
            by_tail[("whole", len(by_tail))] = [(term, None)]
    out: list[MatrixExpr] = []
    for key, group in by_tail.items():
        if len(group) == 1:
            out.append(group[0][0])
        else:
            vector = add(*_take_out_common([v for _, v in group]))
            if vector is None:  # diag(a) X - diag(a) X
                continue
            c, vector = split_coefficient(vector)
            out.append(scale(c, matmul(DiagMatrix(vector), *key)))
    return _take_out_common(out)


@dataclass
class _Group:
    """Summands that share elementwise factors."""

    first: list[MatrixExpr]  # the first summand's factors
    common: list[MatrixExpr]  # the factors every member has
    members: list[tuple[Expr, list[MatrixExpr]]]  # each member's coefficient and remaining factors


def _take_out_common(terms: Iterable[MatrixExpr]) -> list[MatrixExpr]:
    groups: list[_Group] = []
    for term in terms:
        c, factors = _factors(term)
        for group in groups:
            shared: list[MatrixExpr] = []  # the common factors, counted as a multiset
            left = list(factors)
            for f in group.common:
                if f in left:
                    left.remove(f)
                    shared.append(f)
            if shared and (len(group.members) == 1 or len(shared) == len(group.common)):
                dropped = _without(group.common, shared)
                group.common = shared
                group.members = [(c0, rest + dropped) for c0, rest in group.members]
                group.members.append((c, _without(factors, shared)))
                break
        else:
            groups.append(_Group(first=factors, common=factors, members=[(c, [])]))
    out: list[MatrixExpr] = []
    for group in groups:
        common, members = group.common, group.members
        if len(members) == 1:
            c, rest = members[0]
            out.append(scale(c, hadamard(*common, *rest)))
            continue
        if not any(rest for _, rest in members):  # g ⊙ a + g ⊙ a is 2 g ⊙ a, not g ⊙ a ⊙ (1 + 1)
            total = sum(c for c, _ in members)
            if total != 0:
                out.append(scale(total, hadamard(*common)))
            continue
        summed = add(*(scale(c, hadamard(*rest) if rest else ones(common[0].shape)) for c, rest in members))
        # The sum goes where the first summand had its own factors: g ⊙ (a - b), (a - b) ⊙ g.
        leading = group.first[0] in common
        out.append(hadamard(common[0], summed, *common[1:]) if leading else hadamard(summed, *common))
    return out
