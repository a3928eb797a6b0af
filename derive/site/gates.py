"""The backward pattern every gate of a cell shares, written once, and what differs per gate.

Each gate g = σ(W_g r + U_g x_t + b_g) passes back the same three things: the adjoint of
its argument, δz_g = δg ⊙ g ⊙ (1 - g), and the terms δz_g rᵀ, δz_g x_tᵀ, δz_g of its
parameters' gradients.  The generic lines here are the derivation's own lines of one gate
with the gate's names replaced by g; :func:`pattern` checks that every gate of the cell
gives the same lines after that renaming, so the page's "for each gate" is a fact of the
derivation, not a claim.  What differs per gate is what reaches it, δg, the derivation's
line for each.
"""

from __future__ import annotations

from sympy import Basic, MatrixSymbol

from .. import naming
from ..catalogue import CATALOGUE
from ..derivation import derive
from ..elementwise import FUNCTIONS
from ..printing import latex as L
from ..printing.latex import latex

GENERIC = "g"  # the name that stands for any one gate


class GatePatternBroken(RuntimeError):
    """Two gates of a cell pass their adjoints back in different ways."""


def _renamed(expr: Basic, mapping: dict[str, str]) -> Basic:
    """``expr`` with each symbol named in ``mapping`` renamed, same shape."""
    return expr.xreplace(
        {s: MatrixSymbol(mapping[s.name], *s.shape) for s in expr.free_symbols if s.name in mapping}
    )


def pattern(name: str) -> dict:
    """The generic backward lines of the cell's gates and one row per gate and candidate.

    {"gates": [LaTeX of each σ gate], "function": the gates' function in LaTeX,
     "adjoint": δz_g line, "gradients": [∂L/∂W_g, ∂L/∂U_g, ∂L/∂b_g lines],
     "rows": [{"symbol", "reaches": δg line, "argument": δz line, "multiplies": what W
     multiplies, "parameters": [LaTeX]}]}
    """
    cell = CATALOGUE[name]
    d = derive(cell)
    names = [p.name for p in cell.parameters]
    backward = {a.target.name: a for a in d.backward}
    symbols = {p.name: p.symbol for p in cell.parameters}
    generic_names = [f"{head}_{GENERIC}" for head in ("W", "U", "b")]

    def show(e: Basic, parameters=names) -> str:
        return latex(e, parameters)

    rows, generic = [], None
    for eq in cell.equations:
        if eq.role.value not in ("gate", "candidate"):
            continue
        z = naming.preactivation(eq.name)
        d_z = backward[naming.adjoint(z)]
        own = [a for a in d.gradients if naming.adjoint(z) in {s.name for s in a.value.free_symbols}]
        params = [naming.parse(a.target.name)["base"] for a in own]
        recurrent = next(a for a in own if naming.parse(a.target.name)["base"].startswith("W"))
        # ∂L/∂W_g's term is δz_g rᵀ: r is what W_g multiplies.
        (transposed,) = [f for f in recurrent.value.args if f != d_z.target]
        reaching = backward[naming.adjoint(eq.name)]
        rows.append(
            {
                "name": eq.name,
                "role": eq.role.value,
                "symbol": show(eq.symbol),
                "letter": L.bold_vector(eq.name),
                "function": FUNCTIONS[eq.rhs.function].latex,
                "reaches": L.equation(show(reaching.target), show(reaching.value)),
                "argument": L.equation(show(d_z.target), show(d_z.value)),
                "multiplies": show(transposed.arg),
                "parameters": [show(p.symbol) for p in cell.parameters if p.name in params],
            }
        )
        if eq.role.value != "gate":
            continue
        mapping = {eq.name: GENERIC, naming.adjoint(eq.name): naming.adjoint(GENERIC)}
        mapping[d_z.target.name] = naming.adjoint(naming.preactivation(GENERIC))
        mapping.update({p: f"{p.partition('_')[0]}_{GENERIC}" for p in params})
        lines = {
            "adjoint": L.equation(
                show(_renamed(d_z.target, mapping)), show(_renamed(d_z.value, mapping)), aligned=True
            ),
            "gradients": [
                L.equation(
                    L.derivative("L", show(_renamed(symbols[p], mapping), generic_names)),
                    L.summed(show(_renamed(a.value, mapping), generic_names)),
                    aligned=True,
                )
                for p, a in zip(params, own, strict=True)
            ],
        }
        if generic is None:
            generic = lines
        elif lines != generic:
            raise GatePatternBroken(
                f"the {name} gate {eq.name} passes its adjoint back unlike the cell's first gate; "
                "the page's 'for each gate' would be false: write its gates out one by one"
            )
    assert generic is not None, f"{name} has no gate"
    gates = [r for r in rows if r["role"] == "gate"]
    return {
        "gates": [r["letter"] for r in gates],
        "candidates": [r for r in rows if r["role"] == "candidate"],
        "function": gates[0]["function"],
        **generic,
        "rows": rows,
    }


def context(names=("lstm", "gru")) -> dict:
    """{cell: pattern(cell)} for the cell pages."""
    return {name: pattern(name) for name in names}
