"""What the text and LaTeX printers share: the structure of matrix expressions.

Subclasses choose the tokens (``⊙`` or ``\\odot``) and how a name is written;
this mixin decides where parentheses go and keeps terms in stored order
(SymPy's own printers re-sort sums, which scrambles the equations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sympy import Basic, Expr, HadamardProduct, MatAdd, MatMul, MatrixExpr, OneMatrix, ZeroMatrix

from ..algebra import Divide, is_spread, split_coefficient

ADD, PRODUCT, ATOM = 10, 20, 100


def previous(step: str) -> str:
    """The index of the step before ``step``: ``t`` → ``t-1``, ``t+1`` → ``t``, ``4`` → ``3``.

    >>> [previous(s) for s in ("t", "t+1", "4", "T")]
    ['t-1', 't', '3', 'T-1']
    """
    if step.isdigit():
        return str(int(step) - 1)
    return step.removesuffix("+1") if step.endswith("+1") else f"{step}-1"


def _level(expr: Basic) -> int:
    if isinstance(expr, MatMul) and is_spread(expr):  # printed as the scalar it spreads
        return _level(expr.args[1])
    if isinstance(expr, MatAdd):
        return ADD
    c, core = split_coefficient(expr)
    if isinstance(core, OneMatrix):  # printed as the number c
        return ADD if c.is_negative else ATOM
    if c != 1:
        return ADD if c.is_negative else PRODUCT
    if isinstance(expr, (MatMul, HadamardProduct, Divide)):
        return PRODUCT
    return ATOM


class MatrixPrinterMixin:
    """Structure of sums, products, powers, transposes and elementwise functions."""

    hadamard_token = " ⊙ "
    divide_token = " ⊘ "
    matmul_token = " "
    minus_token = " - "
    plus_token = " + "

    if TYPE_CHECKING:  # a SymPy printer's, which a class using this mixin derives from

        def _print(self, expr: Any, **kwargs: Any) -> str: ...

    def paren(self, text: str) -> str:
        return f"({text})"

    def wrap(self, expr: Basic, level: int) -> str:
        text = self._print(expr)
        return self.paren(text) if _level(expr) < level else text

    def _print_MatAdd(self, expr: MatAdd) -> str:
        out = []
        for k, term in enumerate(expr.args):
            c, core = split_coefficient(term)
            if c.is_negative:
                body = self._print_scaled(-c, core)
                out.append(("-" if k == 0 else self.minus_token) + body)
            else:
                out.append(("" if k == 0 else self.plus_token) + self._print(term))
        return "".join(out)

    def _print_scaled(self, c: Expr, core: MatrixExpr) -> str:
        if isinstance(core, OneMatrix):  # the matrix of c's: c
            return self._print(c)
        if c == 1:
            return self.wrap(core, PRODUCT)
        return self._print(c) + self.matmul_token + self.wrap(core, PRODUCT)

    def _print_MatMul(self, expr: MatMul) -> str:
        if is_spread(expr):  # a scalar over a column: the scalar, as the equation has it
            return self._print(expr.args[1])
        c, core = split_coefficient(expr)
        if c != 1:
            if c == -1:
                return "-" + self.wrap(core, PRODUCT)
            return self._print_scaled(c, core)
        return self.matmul_token.join(self.wrap(f, PRODUCT + 1) for f in expr.args)

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        # A scalar parameter spread over the column multiplies it as a number does: ζ (1 - z).
        scalars = [self.wrap(f, PRODUCT + 1) for f in expr.args if is_spread(f)]
        rest = self.hadamard_token.join(self.wrap(f, PRODUCT + 1) for f in expr.args if not is_spread(f))
        return self.matmul_token.join([*scalars, rest] if rest else scalars)

    def _print_Divide(self, expr: Divide) -> str:
        # Both sides in parentheses unless atoms: a ⊙ b ⊘ c would leave the reader to guess.
        return (
            self.wrap(expr.dividend, PRODUCT + 1) + self.divide_token + self.wrap(expr.divisor, PRODUCT + 1)
        )

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        return "1ᵀ" if expr.shape[0] == 1 and expr.shape[1] != 1 else "1"  # a row: 1ᵀ g sums g

    def _print_ZeroMatrix(self, expr: ZeroMatrix) -> str:
        return "0"
