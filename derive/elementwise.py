"""The elementwise functions a cell may use: one entry per function, and their derivatives.

What the mathematics knows about a function is in its :class:`Elementwise`
entry in :data:`FUNCTIONS`: the spellings a cell's text may use, the SymPy
definition, the derivative written through the output, the text and LaTeX
spellings, and the words the site uses.  The parser, the derivation, the proof
and the numeric checks, the text and LaTeX printers and the site read the
entry, so adding a function to the mathematics is one entry: one call of
:func:`register`, as the table at the end of this file makes each of its
entries.  How a backend computes it is the backend's: each code backend keeps
a table of its spellings beside its printer (:mod:`derive.backends.numpy.functions`,
the stable NumPy helpers; :mod:`derive.backends.javascript.functions`), as
SymPy's printers keep theirs.

Each function is defined once, as a SymPy expression in ``z``.  Its
derivative is not typed in: it is ``sympy.diff`` of the definition, rewritten
as a polynomial in the function's own output ``y``, because the backward pass
has the output saved and not the argument (σ' = σ(1-σ), tanh' = 1-tanh²).
A function whose derivative is no such polynomial gives it through its output
itself, in terms of ``y`` and of other functions of the table applied to ``y``
(relu' = step(y), the unit step of the output).
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property

from sympy import (
    Add,
    Dummy,
    Expr,
    Heaviside,
    Lambda,
    MatrixExpr,
    MatrixSymbol,
    Max,
    Mul,
    Number,
    Poly,
    Pow,
    Symbol,
    Wild,
    count_ops,
    exp,
    expand,
    factor,
    fraction,
    log,
    resultant,
    roots,
    tanh,
    together,
)
from sympy.polys.polyerrors import PolynomialError

from . import algebra

z = Symbol("z")
y = Symbol("y")
_W = Wild("w")


@dataclass(frozen=True)
class Elementwise:
    """A scalar function applied elementwise, and everything the project says about it.

    ``name``        the name the derivation knows it by (``Apply(name, X)``), one of
                    its spellings; the generated code names values after it (``tanh_s``)
    ``definition``  the function as a SymPy expression in :data:`z`
    ``aliases``     further spellings a cell's text may use (``σ``)
    ``text``        how the text printer writes it; the name by default
    ``latex``       how LaTeX writes it; ``\\operatorname{name}`` by default
    ``words``       how the site's prose names it; the LaTeX, inline, by default
    ``through_output``  the derivative as a function of the output (``Lambda(y, ...)``),
                    a polynomial in ``y`` and in functions of the table applied to ``y``
                    (written as their definitions: relu's is ``Heaviside(y, 0)``, the
                    definition of step); by default derived from the definition by
                    ``sympy.diff`` (:func:`derivative_through_output`)
    ``through_exp``  ``(a, b, c)`` when the function is ``a + b / (1 + exp(c z))``
                    (σ: (0, 1, -1), tanh: (1, -2, 2)): the fused code scales the
                    pre-activation by ``c`` inside the weights and computes a run of
                    such functions with one exp, one addition and one reciprocal
    """

    name: str
    definition: Expr
    aliases: tuple[str, ...] = ()
    text: str = ""
    latex: str = ""
    words: str = ""
    through_output: Lambda | None = None
    through_exp: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        defaults = {
            "text": self.text or self.name,
            "latex": self.latex or rf"\operatorname{{{self.name}}}",
            "aliases": tuple(self.aliases),
        }
        defaults["words"] = self.words or rf"\({defaults['latex']}\)"
        for key, value in defaults.items():
            object.__setattr__(self, key, value)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name a cell's text may call it by."""
        return (self.name, *self.aliases)

    @cached_property
    def derivative(self) -> Lambda:
        """The derivative as a function of the output ``y``: ``Lambda(y, f'(z))``."""
        return self.through_output or derivative_through_output(self.definition)


# The functions by name, in the order the generated modules define their helpers.
# Change it with register() and unregister(), which keep SPELLINGS in step.
FUNCTIONS: dict[str, Elementwise] = {}

# Names a cell's text may use for each function, including the Greek letter.
SPELLINGS: dict[str, str] = {}


def register(entry: Elementwise) -> Elementwise:
    """Add ``entry`` to :data:`FUNCTIONS`, so that cells may use it; returns it.

    Checked first, with :class:`ValueError` naming what is wrong: its name and
    spellings are identifiers as Python reads them, none already taken; and its
    derivative can be written through its output.  A backend computes it once it
    has a spelling of its own (the NumPy backend needs a helper:
    :func:`derive.backends.numpy.functions.define`).

    >>> from sympy import tanh
    >>> double = register(Elementwise("double_tanh", 2 * tanh(z)))
    >>> double.derivative
    Lambda(y, 2 - y**2/2)
    >>> unregister("double_tanh") is double
    True
    """
    if not isinstance(entry, Elementwise):
        raise ValueError(f"register takes an Elementwise entry, not {type(entry).__name__}")
    where = f"elementwise function {entry.name!r}"
    for spelling in entry.spellings:
        if not (
            isinstance(spelling, str)
            and spelling.isidentifier()
            and unicodedata.normalize("NFKC", spelling) == spelling
            and not keyword.iskeyword(spelling)
        ):
            raise ValueError(f"{where}: the spelling {spelling!r} is not a Python identifier as written")
        if spelling in SPELLINGS:
            raise ValueError(f"{where}: {spelling!r} already spells {SPELLINGS[spelling]!r}")
    if len(set(entry.spellings)) != len(entry.spellings):
        raise ValueError(f"{where}: a spelling is given twice")
    if entry.name.startswith("_"):
        raise ValueError(f"{where}: the name may not start with _")
    if entry.through_exp is not None:
        a, b, c = entry.through_exp
        if (a + b / (1 + exp(c * z)) - entry.definition).rewrite(exp).simplify() != 0:
            raise ValueError(f"{where}: it is not {a} + {b} / (1 + exp({c} z)), as through_exp says")
    try:
        lift(entry.derivative(y), MatrixSymbol("y", 2, 1))
    except (ValueError, PolynomialError) as e:
        raise ValueError(f"{where}: its derivative cannot be written through its output: {e}") from None
    FUNCTIONS[entry.name] = entry
    for spelling in entry.spellings:
        SPELLINGS[spelling] = entry.name
    return entry


def unregister(name: str) -> Elementwise:
    """Remove the function ``name`` from :data:`FUNCTIONS` (as a test does with one
    it registered); returns its entry."""
    entry = FUNCTIONS.pop(name)
    for spelling in entry.spellings:
        del SPELLINGS[spelling]
    return entry


def closure(used: Iterable[str]) -> set[str]:
    """The functions named in ``used`` and those their derivatives apply, and theirs
    (relu's backward pass computes step): what code that uses ``used`` computes."""
    needed: set[str] = set()
    todo = list(used)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(applied(name))
    return needed


def applied(name: str) -> set[str]:
    """The functions that the derivative of ``name``, written through its output, applies."""
    slope = derivative(name, MatrixSymbol("y", 2, 1))
    if slope is None:  # zero
        return set()
    return {e.function for e in algebra.walk(slope) if isinstance(e, algebra.Apply)}


@cache
def derivative_through_output(definition: Expr) -> Lambda:
    """``y -> f'(z)`` for ``y = f(z)``, where ``f`` is rational in ``exp(z)``.

    With ``w = exp(z)``, ``f = N(w)/D(w)`` and ``f' = w df/dw``.  Eliminating
    ``w`` between ``y D - N = 0`` and the derivative (a resultant) leaves a
    polynomial whose single root is the derivative in terms of ``y``.
    """
    w, d = Dummy("w"), Dummy("d")
    in_w = together(definition.rewrite(exp).subs(exp(z), w))
    if in_w.has(z) or not in_w.is_rational_function(w):
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


def lift(scalar: Expr, output: MatrixExpr) -> MatrixExpr | None:
    """Turn a polynomial in ``y`` into the matching elementwise matrix expression.

    ``lift(y*(1 - y), O)`` is ``O ⊙ (1 - O)``; products become ⊙, powers
    elementwise powers, and a constant ``c`` the matrix of ``c``'s (``None``
    for 0, the algebra's zero).  A function of the table applied to ``y``,
    written as its definition, becomes that function applied to the output:
    ``lift(Heaviside(y, 0), O)`` is ``Apply("step", O)``.
    """
    if scalar == y:
        return output
    if isinstance(scalar, Number):
        return algebra.scale(scalar, algebra.ones(output.shape))
    if not scalar.is_polynomial(y):
        for f in FUNCTIONS.values():
            if scalar == f.definition.subs(z, y):
                return algebra.Apply(f.name, output)
        for f in FUNCTIONS.values():
            # A function of the table applied to a polynomial in y: exp(-y) for log's.
            argument = scalar.match(f.definition.subs(z, _W))
            argument = argument.get(_W) if argument else None
            if argument is not None and argument.is_polynomial(y) and argument.has(y):
                if f.definition.subs(z, argument) == scalar:
                    return algebra.Apply(f.name, lift(argument, output))
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


def derivative(
    name: str, output: MatrixExpr, derivatives: dict[str, Lambda] | None = None
) -> MatrixExpr | None:
    """f'(argument) as a matrix expression in the saved ``output`` of ``f``.

    ``derivatives`` overrides the rule for some functions (the tests inject a
    wrong one to show that the proof catches it).
    """
    rule = (derivatives or {}).get(name) or FUNCTIONS[name].derivative
    return lift(rule(y), output)


# The table: one entry per function, each registered as it is defined.

SIGMOID = register(
    Elementwise(
        "sigma",
        1 / (1 + exp(-z)),
        aliases=("σ",),
        text="σ",
        latex=r"\sigma",
        words="sigmoid",
        through_exp=(0, 1, -1),
    )
)

TANH = register(
    Elementwise(
        "tanh",
        tanh(z),
        latex=r"\tanh",
        through_exp=(1, -2, 2),
    )
)

# The unit step, 1 where z > 0 and 0 elsewhere, at 0 too (SymPy's Heaviside(0) is 1/2
# unless told): the derivative of relu, which is 0 at 0 as the frameworks make it.  It
# is flat wherever it has a derivative, so its own is 0.
STEP = register(
    Elementwise(
        "step",
        Heaviside(z, 0),
        latex=r"\operatorname{step}",
        words="unit step",
        through_output=Lambda(y, 0),
    )
)

# The rectifier max(0, z).  Its derivative is 1 where z > 0 and 0 where z < 0,
# which is no polynomial in the output y but is the step of it: y > 0 exactly where
# z > 0.  At the kink z = 0 it is taken as 0.
RELU = register(
    Elementwise(
        "relu",
        Max(0, z),
        words="ReLU",
        through_output=Lambda(y, STEP.definition.subs(z, y)),
    )
)

# The exponential, whose derivative is itself: through the output, exp' = y, which
# the backward pass has saved.  It overflows to inf above 709.78 in float64 and
# 88.72 in float32; the cells that use it (sLSTM's input gate) say where that is.
EXP = register(Elementwise("exp", exp(z), latex=r"\exp", words="exponential"))

# The natural logarithm.  Its derivative 1/z is exp(-y) through the output y = log(z):
# the backward pass keeps outputs, not arguments.  The rounding of y costs exp(-y) a
# relative error of about |y| units in the last place: at most 745 of them (1.7e-13)
# in float64, where |log z| < 745.  Defined for z > 0; at 0 it is -inf and below it
# NaN, as NumPy's log gives.
LOG = register(
    Elementwise("log", log(z), latex=r"\log", words="logarithm", through_output=Lambda(y, exp(-y)))
)

# softplus(z) = log(1 + exp(z)), a smooth relu.  Its derivative σ(z) is 1 - exp(-y)
# through the output y > 0; for y below about 1e-8 (z below -18) that difference loses
# relative precision, but its error stays within a few units in the last place of 1,
# as the error of σ(z) computed as 1 - σ(-z) does.
SOFTPLUS = register(
    Elementwise(
        "softplus",
        log(1 + exp(z)),
        latex=r"\operatorname{softplus}",
        words="softplus",
        through_output=Lambda(y, 1 - exp(-y)),
    )
)

__all__ = [
    "EXP",
    "FUNCTIONS",
    "LOG",
    "RELU",
    "SIGMOID",
    "SOFTPLUS",
    "SPELLINGS",
    "STEP",
    "TANH",
    "Elementwise",
    "applied",
    "closure",
    "derivative",
    "lift",
    "register",
    "unregister",
]
