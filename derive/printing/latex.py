"""LaTeX in the project's notation: bold vectors, ⊙, σ, tanh, δ for adjoints.

``latex(expr, parameters)`` prints an expression; ``parameters`` are the names
written without a time index.  Vectors (one column) are bold, matrices italic.
The adjoint of a state's previous value, what a backward step hands to the step
before it, is the carried adjoint ``\\bar{\\delta}``: ``d_s_prev`` is
``\\bar{\\delta}\\mathbf{s}_{t-1}``, never the whole of ∂L/∂s_{t-1}.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sympy import (
    Basic,
    HadamardPower,
    Identity,
    MatAdd,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.printing.latex import LatexPrinter, greek_letters_set

from .. import naming
from ..algebra import Apply, scale, split_coefficient
from ..elementwise import FUNCTIONS
from .matrix import ATOM, MatrixPrinterMixin, previous

ADJOINT = r"\delta "  # δv = ∂L/∂v
CARRIED = r"\bar{\delta}"  # δ̄v_{t-1}: the part of ∂L/∂v_{t-1} that a backward step hands back


# A name ending in one of these is its base with the accent: s_tilde is s̃, f_hat is f̂.
ACCENTS = {"_tilde": r"\tilde", "_hat": r"\hat", "_bar": r"\bar"}


def _accent(name: str) -> tuple[str, str] | None:
    """``(base, accent)`` for a name with an accent's suffix, else ``None``."""
    found = [(name.removesuffix(k), a) for k, a in ACCENTS.items() if name.endswith(k) and name != k]
    return found[0] if found else None


def bold_vector(name: str) -> str:
    """``s_tilde`` → ``\\tilde{\\mathbf{s}}``, ``f_hat`` → ``\\hat{\\mathbf{f}}``, ``o`` → ``\\mathbf{o}``."""
    accented = _accent(name)
    if accented:
        return accented[1] + r"{\mathbf{" + accented[0] + "}}"
    return r"\mathbf{" + name + "}"


def _label(name: str) -> str:
    """A subscript label: ``s_tilde`` → ``\\tilde{s}``."""
    accented = _accent(name)
    return accented[1] + "{" + accented[0] + "}" if accented else name


class ProjectLatexPrinter(MatrixPrinterMixin, LatexPrinter):
    """Settings: ``parameters``, the names written without a time index."""

    _default_settings: ClassVar[dict[str, Any]] = {
        **LatexPrinter._default_settings,
        "parameters": frozenset(),
        "step": "t",
    }
    hadamard_token = r" \odot "
    divide_token = r" \oslash "
    matmul_token = " "

    def paren(self, text: str) -> str:
        # Plain parentheses: nothing here is taller than a line, and \left( after
        # an operator such as \tanh adds a space.
        return "(" + text + ")"

    def parameter(self, name: str, vector: bool) -> str:
        head, _, label = name.partition("_")
        if vector:
            body = r"\mathbf{" + head + "}"
        else:  # a matrix or a scalar: italic, a Greek letter by its name (zeta is ζ)
            body = "\\" + head if head in greek_letters_set else head
        return body + (f"_{{{_label(label)}}}" if label else "")

    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
        parameters = self._settings["parameters"]
        vector = expr.shape[1] == 1 and expr.shape != (1, 1)
        if expr.name in parameters:
            return self.parameter(expr.name, vector)
        parts = naming.parse(expr.name)
        base = parts["base"]
        if base in parameters:
            return ADJOINT + self.parameter(base, vector)
        step = self._settings["step"]
        time = previous(step) if parts["prev"] else step
        named = naming.subexpression(base)
        if named:  # z_v, z2_v: named sub-expressions of equation v, z^{(2)} for the second
            index, equation = named
            text = (
                r"\mathbf{z}" + (f"^{{({index})}}" if index > 1 else "") + f"_{{{_label(equation)},{time}}}"
            )
        else:
            text = bold_vector(base) + f"_{{{time}}}"
        if parts["incoming"]:
            text += r"^{\mathrm{in}}"
        if not parts["adjoint"]:
            return text
        return (CARRIED if parts["prev"] else ADJOINT) + text

    def _print_Apply(self, expr: Apply) -> str:
        return FUNCTIONS[expr.function].latex + self.paren(self._print(expr.arg))

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        base = expr.base
        if isinstance(base, Apply):
            return f"{FUNCTIONS[base.function].latex}^{{{int(expr.exp)}}}" + self.paren(self._print(base.arg))
        return "{" + self.wrap(base, ATOM) + f"}}^{{{int(expr.exp)}}}"

    def _print_Transpose(self, expr: Transpose) -> str:
        return "{" + self.wrap(expr.arg, ATOM) + r"}^{\top}"

    def _print_DiagMatrix(self, expr: DiagMatrix) -> str:
        return r"\operatorname{diag}" + self.paren(self._print(expr.args[0]))

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        if expr.shape[0] == 1 and expr.shape[1] != 1:  # a row: 1ᵀ g sums g
            return r"\mathbf{1}^{\top}"
        return r"\mathbf{1}"

    def _print_ZeroMatrix(self, expr: ZeroMatrix) -> str:
        return r"\mathbf{0}"

    def _print_Identity(self, expr: Identity) -> str:
        return "I"


def latex(expr: Basic, parameters: Iterable[str] = (), step: str = "t") -> str:
    """``expr`` in LaTeX; ``step`` is the time index of the current step (``"0"`` for
    the initial state)."""
    return ProjectLatexPrinter({"parameters": frozenset(parameters), "step": step}).doprint(expr)


def derivative(of: str, wrt: str) -> str:
    """``\\frac{\\partial of}{\\partial wrt}`` for two printed expressions."""
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"


def equation(lhs: str, rhs: str, aligned: bool = False) -> str:
    """``lhs = rhs``, with the ``&`` of an ``aligned`` block when asked."""
    return f"{lhs} {'&=' if aligned else '='} {rhs}"


def summed(term: str, last: str = "T") -> str:
    """``term`` summed over the steps t = 1, ..., ``last``, written with its limits on every page."""
    return rf"\sum_{{t=1}}^{{{last}}} " + term


def aligned_lines(lhs: str, expr: MatrixExpr, parameters: Iterable[str] = (), per_line: int = 1) -> list[str]:
    """``lhs = expr`` as lines of an ``aligned`` block, one term of the top-level
    sum per line, for equations too wide for a page."""
    printer = ProjectLatexPrinter({"parameters": frozenset(parameters)})
    terms = list(expr.args) if isinstance(expr, MatAdd) else [expr]
    lines = []
    for k, term in enumerate(terms):
        c, _ = split_coefficient(term)
        sign = "-" if c.is_negative else "+"
        body = printer.doprint(scale(-1, term) if c.is_negative else term)
        if k == 0:
            lines.append(equation(lhs, ("-" if sign == "-" else "") + body, aligned=True))
        else:
            lines.append(rf"&\quad {sign} {body}")
    return lines
