"""Plain-text printing for the terminal: ``δo_t = δh_t ⊙ tanh(s_t)``.

The names are those of the LaTeX printer (:mod:`derive.printing.latex`): ``δ̄s_{t-1}``
is the carried adjoint, what a backward step hands back to the step before it, and
``z⁽²⁾_s̃,t`` the second named sub-expression of the equation of s̃.
``cell_text(cell)`` is what ``python -m derive equations CELL`` prints.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any, ClassVar

from sympy import Basic, HadamardPower, Identity, MatrixSymbol, Transpose
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.printing.str import StrPrinter

from .. import naming
from ..algebra import Apply
from ..cell import Cell
from ..derivation import derive
from ..elementwise import FUNCTIONS
from .matrix import ATOM, MatrixPrinterMixin, previous

_SUPERSCRIPT = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
ADJOINT = "δ"
CARRIED = "δ\u0304"  # δ̄: δ with a combining macron, as the LaTeX printer's \bar{\delta}
# A name ending in one of these is its base with the combining accent: s_tilde is s̃.
_ACCENTS = {"_tilde": "\u0303", "_hat": "\u0302", "_bar": "\u0304"}


def _glyph(name: str) -> str:
    for suffix, mark in _ACCENTS.items():
        if name.endswith(suffix) and name != suffix:
            return name.removesuffix(suffix) + mark
    return name


class TextPrinter(MatrixPrinterMixin, StrPrinter):
    """Settings: ``parameters``, the names written without a time index."""

    _default_settings: ClassVar[dict[str, Any]] = {
        **StrPrinter._default_settings,
        "parameters": frozenset(),
        "step": "t",
    }

    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
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
            base = "z" + order + "_" + _glyph(equation) + ","
        else:
            base = _glyph(base) + "_"
        step = self._settings["step"]
        time = previous(step) if parts["prev"] else step
        text = base + ("{" + time + "}" if len(time) > 1 else time)
        if parts["incoming"]:
            text += "^in"
        if not parts["adjoint"]:
            return text
        return (CARRIED if parts["prev"] else ADJOINT) + text

    def _print_Apply(self, expr: Apply) -> str:
        return f"{FUNCTIONS[expr.function].text}({self._print(expr.arg)})"

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        return self.wrap(expr.base, ATOM) + str(expr.exp).translate(_SUPERSCRIPT)

    def _print_Transpose(self, expr: Transpose) -> str:
        return self.wrap(expr.arg, ATOM) + "ᵀ"

    def _print_DiagMatrix(self, expr: DiagMatrix) -> str:
        return f"diag({self._print(expr.args[0])})"

    def _print_Identity(self, expr: Identity) -> str:
        return "I"


def text(expr: Basic, parameters: Iterable[str] = (), step: str = "t") -> str:
    """``expr`` as plain text; ``parameters`` are written without a time index, and
    ``step`` is the time index of the current step."""
    return TextPrinter({"parameters": frozenset(parameters), "step": step}).doprint(expr)


def derivative(of: str, wrt: str) -> str:
    return f"∂{of}/∂{wrt}"


def equation(lhs: str, rhs: str) -> str:
    return f"{lhs} = {rhs}"


def columns(s: str) -> int:
    """Columns ``s`` takes on a terminal: combining marks (the tilde of s̃) take none."""
    return sum(not unicodedata.combining(ch) for ch in s)


def cell_text(cell: Cell) -> str:
    """What ``python -m derive equations CELL`` prints: the forward step with each
    equation's role, the named sub-expressions, one backward step, the recurrences
    through time and the state-to-state Jacobians, in sections of aligned rows."""
    d = derive(cell)
    params = [p.name for p in cell.parameters]

    def show(e: Basic) -> str:
        return text(e, params)

    lines = [f"{cell.title}: state {', '.join(cell.states)}; parameters {', '.join(params)}"]
    lines += ["", "Forward, one step"]
    for eq in cell.equations:
        lines += [f"  {equation(show(eq.symbol), show(eq.rhs))}", f"      {eq.role.value}: {eq.meaning}"]

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        if not rows:  # a linear cell names no sub-expression
            return
        width = max(columns(left) for left, _ in rows)
        lines.extend(["", title])
        lines.extend(f"  {left}{' ' * (width - columns(left))} = {right}" for left, right in rows)

    section("Named sub-expressions", [(show(a.target), show(a.value)) for a in d.intermediates])
    section(
        "Backward, one step (δv = ∂L/∂v; δ̄v_{t-1} = what the step hands back to v_{t-1})",
        [(show(a.target), show(a.value)) for a in d.backward if a not in d.gradients],
    )
    # δ̄v_t, what step t+1 hands back to v_t, is the carried adjoint δ̄v_{t-1} of step t+1.
    rows = [
        (
            show(c.incoming),
            derivative("ℓ_t", show(c.state))
            + f" + {text(c.carried, params, step='t+1')} (from step t+1; 0 at t = T)",
        )
        for c in d.carries
    ]
    rows += [
        (derivative("L", naming.parse(g.target.name)["base"]), "Σ_t " + show(g.value)) for g in d.gradients
    ]
    rows += [
        (
            derivative("L", text(c.state, params, step="0")),
            f"{text(c.carried, params, step='1')} (from step 1)",
        )
        for c in d.carries
    ]
    section("Through time, t = T, ..., 1", rows)
    section(
        "State-to-state Jacobians",
        [(derivative(show(j.of), show(j.wrt)), show(j.value)) for j in d.jacobians],
    )
    return "\n".join(lines) + "\n"
