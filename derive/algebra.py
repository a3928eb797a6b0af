"""Matrix-expression constructors that keep the order a person wrote.

SymPy's own constructors either sort their arguments (``evaluate=True``) or
leave nested sums and products unflattened.  The parser, the derivation and
the printers all build expressions through these few functions, so every
expression the project shows reads in the order of the equations.
"""

from __future__ import annotations

from sympy import (
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

    def __new__(cls, function: str | Str, arg: MatrixExpr):
        return MatrixExpr.__new__(cls, Str(str(function)), arg)

    @property
    def function(self) -> str:
        return self.args[0].name

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self):
        return self.arg.shape


def walk(expr):
    """Every matrix sub-expression of ``expr``, ``expr`` first."""
    yield expr
    for arg in expr.args:
        if isinstance(arg, MatrixExpr):
            yield from walk(arg)


def is_zero(expr) -> bool:
    return isinstance(expr, ZeroMatrix)


def ones(shape) -> OneMatrix:
    return OneMatrix(*shape)


def split_coefficient(expr):
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


def add(*terms):
    """The sum of matrix terms, flattened, without zeros; ``None`` if empty."""
    flat = []
    for term in terms:
        if term is None or is_zero(term):
            continue
        flat.extend(term.args if isinstance(term, MatAdd) else (term,))
    if not flat:
        return None
    # A person writes b - a rather than -a + b.
    flat.sort(key=lambda t: split_coefficient(t)[0].is_negative is True)
    return flat[0] if len(flat) == 1 else MatAdd(*flat)


def scale(coefficient, expr):
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


def matmul(*factors):
    """The matrix product of the factors (scalars allowed), flattened."""
    coefficient = Integer(1)
    flat = []
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
    merged = []
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


def distribute(*factors):
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


def hadamard(*factors):
    """The elementwise product of the factors, flattened, without ones."""
    coefficient = Integer(1)
    flat = []
    for factor in factors:
        if factor is None:
            return None
        c, core = split_coefficient(factor)
        coefficient *= c
        for f in core.args if isinstance(core, HadamardProduct) else (core,):
            if not isinstance(f, OneMatrix):
                flat.append(f)
    if not flat:
        return scale(coefficient, ones(factors[0].shape))
    core = flat[0] if len(flat) == 1 else HadamardProduct(*flat)
    return scale(coefficient, core)


def power(base, exponent: int):
    """``base`` raised elementwise to an integer power."""
    if exponent == 0:
        return ones(base.shape)
    if exponent == 1:
        return base
    return HadamardPower(base, Integer(exponent))


def diag(vector):
    """The diagonal matrix whose diagonal is the column ``vector``."""
    return DiagMatrix(vector)


def transpose(expr):
    """``exprᵀ``, kept whole: SymPy's ``.T`` would push it inside products."""
    if isinstance(expr, Transpose):
        return expr.arg
    return Transpose(expr)


def _factors(term):
    """``(coefficient, [factors])`` of a term read as an elementwise product."""
    c, core = split_coefficient(term)
    return c, list(core.args) if isinstance(core, HadamardProduct) else [core]


def _without(factors, drop):
    rest = list(factors)
    for d in drop:
        rest.remove(d)
    return rest


def collect(terms):
    """Simplify a list of summands the way a person would, returning a new list.

    ``diag(a) X + diag(b) X`` becomes ``diag(a + b) X``, and summands that share
    elementwise factors have them taken out: ``g ⊙ a - g ⊙ b`` is ``g ⊙ (a - b)``.
    """
    flat = [t for term in terms for t in (term.args if isinstance(term, MatAdd) else (term,))]
    by_tail: dict = {}
    for term in flat:
        c, core = split_coefficient(term)
        if isinstance(core, MatMul) and isinstance(core.args[0], DiagMatrix):
            key = core.args[1:]
            by_tail.setdefault(key, []).append((term, scale(c, core.args[0].args[0])))
        else:
            by_tail[("whole", len(by_tail))] = [(term, None)]
    out = []
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


def _take_out_common(terms):
    # Each group: the first summand's factors, the shared factors, and each
    # member's coefficient and remaining factors.
    groups: list[dict] = []
    for term in terms:
        c, factors = _factors(term)
        for group in groups:
            shared, left = [], list(factors)  # the common factors, counted as a multiset
            for f in group["common"]:
                if f in left:
                    left.remove(f)
                    shared.append(f)
            if shared and (len(group["members"]) == 1 or len(shared) == len(group["common"])):
                dropped = _without(group["common"], shared)
                group["common"] = shared
                group["members"] = [(c0, rest + dropped) for c0, rest in group["members"]]
                group["members"].append((c, _without(factors, shared)))
                break
        else:
            groups.append({"first": factors, "common": factors, "members": [(c, [])]})
    out = []
    for group in groups:
        common, members = group["common"], group["members"]
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
        leading = group["first"][0] in common
        out.append(hadamard(common[0], summed, *common[1:]) if leading else hadamard(summed, *common))
    return out
