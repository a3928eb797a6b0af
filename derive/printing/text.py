"""Plain-text printing for the terminal: ``δo_t = δh_t ⊙ tanh(s_t)``.

The names are those of the LaTeX printer (:mod:`derive.printing.latex`): ``δ̄s_{t-1}``
is the carried adjoint, what a backward step hands back to the step before it, and
``z⁽²⁾_s̃,t`` the second named sub-expression of the equation of s̃.
"""

from __future__ import annotations

import unicodedata
from typing import ClassVar

from sympy.printing.str import StrPrinter

from .. import naming
from ..elementwise import FUNCTIONS
from .matrix import ATOM, MatrixPrinterMixin, previous

_SUPERSCRIPT = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
ADJOINT = "δ"
CARRIED = "δ\u0304"  # δ̄: δ with a combining macron, as the LaTeX printer's \bar{\delta}
_GLYPHS = {"s_tilde": "s̃"}


class TextPrinter(MatrixPrinterMixin, StrPrinter):
    """Settings: ``parameters``, the names written without a time index."""

    _default_settings: ClassVar[dict] = {
        **StrPrinter._default_settings,
        "parameters": frozenset(),
        "step": "t",
    }

    def _print_MatrixSymbol(self, expr):
        parameters = self._settings["parameters"]
        if expr.name in parameters:
            return expr.name
        parts = naming.parse(expr.name)
        if parts["base"] in parameters:
            return ADJOINT + parts["base"]
        base = parts["base"]
        named = naming.subexpression(base)
        if named:  # z_v, z2_v: a named sub-expression of equation v, z⁽²⁾ for the second
            index, equation = named
            order = f"({index})".translate(_SUPERSCRIPT) if index > 1 else ""
            base = "z" + order + "_" + _GLYPHS.get(equation, equation) + ","
        else:
            base = _GLYPHS.get(base, base) + "_"
        step = self._settings["step"]
        time = previous(step) if parts["prev"] else step
        text = base + ("{" + time + "}" if len(time) > 1 else time)
        if parts["incoming"]:
            text += "^in"
        if not parts["adjoint"]:
            return text
        return (CARRIED if parts["prev"] else ADJOINT) + text

    def _print_Apply(self, expr):
        return f"{FUNCTIONS[expr.function].text}({self._print(expr.arg)})"

    def _print_HadamardPower(self, expr):
        return self.wrap(expr.base, ATOM) + str(expr.exp).translate(_SUPERSCRIPT)

    def _print_Transpose(self, expr):
        return self.wrap(expr.arg, ATOM) + "ᵀ"

    def _print_DiagMatrix(self, expr):
        return f"diag({self._print(expr.args[0])})"

    def _print_Identity(self, expr):
        return "I"


def text(expr, parameters=(), step="t") -> str:
    return TextPrinter({"parameters": frozenset(parameters), "step": step}).doprint(expr)


def derivative(of: str, wrt: str) -> str:
    return f"∂{of}/∂{wrt}"


def equation(lhs: str, rhs: str) -> str:
    return f"{lhs} = {rhs}"


def columns(s: str) -> int:
    """Columns ``s`` takes on a terminal: combining marks (the tilde of s̃) take none."""
    return sum(not unicodedata.combining(ch) for ch in s)
