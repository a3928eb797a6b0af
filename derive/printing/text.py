"""Plain-text printing for the terminal: ``δo_t = δh_t ⊙ tanh(s_t)``."""

from __future__ import annotations

import unicodedata
from typing import ClassVar

from sympy.printing.str import StrPrinter

from .. import naming
from ..elementwise import FUNCTIONS
from .matrix import ATOM, MatrixPrinterMixin

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
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
            return "δ" + parts["base"]
        base = parts["base"]
        named = naming.subexpression(base)
        if named:  # z_v, z2_v: a named sub-expression of equation v
            index, equation = named
            base = ("z" if index == 1 else f"z{index}") + "_" + _GLYPHS.get(equation, equation) + ","
        else:
            base = _GLYPHS.get(base, base) + "_"
        step = self._settings["step"]
        text = base + ("{" + step + "-1}" if parts["prev"] else step)
        if parts["incoming"]:
            text += "^in"
        return ("δ" if parts["adjoint"] else "") + text

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
