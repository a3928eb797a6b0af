"""What a page says about one cell, in LaTeX: the context that ``templates/cell/``
(``python -m derive page`` and ``equations --latex``) and the site's pages lay out.

``cell_context(cell)`` computes it from the derivation; ``comparison`` sets two
cells' contexts side by side.  Nothing here writes prose or files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sympy import Basic, Integer, MatMul, MatrixSymbol, factor
from sympy import latex as sympy_latex

from .. import naming
from ..algebra import Apply, walk
from ..cell import N_HIDDEN, N_INPUT, Cell
from ..derivation import Assignment, Carry, Derivation, derive
from ..elementwise import FUNCTIONS
from . import latex as L
from .latex import aligned_lines, latex

# A cell's context, and what comparison returns: JSON-like data for the templates.
Context = dict[str, Any]


def cell_context(cell: Cell) -> Context:
    """Everything a page says about one cell, in LaTeX."""
    d = derive(cell)
    params = [p.name for p in cell.parameters]

    def show(e: Basic, step: str = "t") -> str:
        return latex(e, params, step)

    gradients = {g.target.name for g in d.gradients}
    named = {a.target.name: a for a in d.intermediates}

    def line(a: Assignment, aligned: bool = True) -> str:
        return L.equation(show(a.target), show(a.value), aligned)

    def gradient(a: Assignment) -> str:
        """∂L/∂P = Σ_{t=1}^T (this step's term): the sum written one way on every page."""
        base = naming.parse(a.target.name)["base"]
        parameter = next(p.symbol for p in cell.parameters if p.name == base)
        return L.equation(L.derivative("L", show(parameter)), L.summed(show(a.value)), aligned=True)

    equations = []
    for eq in cell.equations:
        mine = {naming.adjoint(eq.name)} | {
            naming.adjoint(naming.preactivation(eq.name, index)) for index in range(1, 10)
        }
        own = [a for a in d.backward if a.target.name in mine]
        read = {s.name for a in own for s in a.value.free_symbols}
        uses = {s.name for s in eq.rhs.free_symbols}
        equations.append(
            {
                "name": eq.name,
                "role": eq.role.value,
                "meaning": eq.meaning,
                "text": eq.text,
                "latex": line(Assignment(eq.symbol, eq.rhs), aligned=False),
                "aligned": line(Assignment(eq.symbol, eq.rhs)),
                "symbol": show(eq.symbol),
                # How the prose names the outer function of the equation.
                "function": FUNCTIONS[eq.rhs.function].words if isinstance(eq.rhs, Apply) else "",
                "adjoints": [line(a) for a in own],
                # Named sub-expressions of other equations whose adjoints this one reads.
                "where": [
                    line(named[name[len(naming.ADJOINT) :]], aligned=False)
                    for name in sorted(read)
                    if name.startswith(naming.ADJOINT)
                    and name[len(naming.ADJOINT) :] in named
                    and name not in mine
                ],
                "gradients": [
                    gradient(a) for a in d.gradients if naming.parse(a.target.name)["base"] in uses
                ],
            }
        )
    jacobians = [
        {
            "of": j.of.name,
            "wrt": j.wrt.name,
            "lines": aligned_lines(L.derivative(show(j.of), show(j.wrt)), j.value, params),
        }
        for j in d.jacobians
    ]
    return {
        "name": cell.name,
        "title": cell.title,
        "states": cell.states,
        "parameters": params,
        "equations": equations,
        "equation": {e["name"]: e for e in equations},
        "forward": [e["aligned"] for e in equations],
        "intermediates": [line(a) for a in d.intermediates],
        "backward": [line(a) for a in d.backward if a.target.name not in gradients],
        "gradients": [gradient(a) for a in d.gradients],
        "carries": [carry(c, params) for c in d.carries],
        "initial": [initial(c, params) for c in d.carries],
        "jacobians": jacobians,
        "jacobian": {(j["of"], j["wrt"]): j["lines"] for j in jacobians},
        "counts": _counts(cell, d),
    }


def carry(c: Carry, parameters: Iterable[str] = ()) -> str:
    """δv_t^in = ∂ℓ_t/∂v_t + δ̄v_t: what enters step t for state v, where δ̄v_t is the
    carried adjoint δ̄v_{t-1} of step t+1 (printed at t+1, it is v_t's)."""
    return L.equation(
        latex(c.incoming, parameters),
        L.derivative(r"\ell_t", latex(c.state, parameters)) + " + " + latex(c.carried, parameters, "t+1"),
        aligned=True,
    )


def initial(c: Carry, parameters: Iterable[str] = ()) -> str:
    """∂L/∂v_0 = δ̄v_0: the gradient of the initial state is what step 1 hands back."""
    return L.equation(
        L.derivative("L", latex(c.state, parameters, "0")), latex(c.carried, parameters, "1"), aligned=True
    )


# The sizes at which the counts are also given as numbers (the benchmark's inputs and hidden units).
COUNTED = {"n_x": 128, "n_h": 256}


def _counts(cell: Cell, d: Derivation) -> Context:
    """Parameters, and the floating-point operations of the matrix products in one
    step: 2 per multiply-add forward, three times that forward and backward."""
    size = sum((p.symbol.shape[0] * p.symbol.shape[1] for p in cell.parameters), Integer(0))
    macs = Integer(0)
    for eq in cell.equations:
        for node in walk(eq.rhs):
            if isinstance(node, MatMul):
                for f in node.args:
                    if isinstance(f, MatrixSymbol) and f.shape[1] != 1:
                        macs += f.shape[0] * f.shape[1]
    blocks = sum(isinstance(eq.rhs, Apply) for eq in cell.equations)
    nx, nh = N_INPUT, N_HIDDEN
    names = {nx: "n_x", nh: "n_h"}
    at = {nx: COUNTED["n_x"], nh: COUNTED["n_h"]}
    return {
        "parameters": sympy_latex(factor(size), symbol_names=names),
        "parameters_value": int(size.subs(at)),
        "flops": sympy_latex(factor(2 * macs), symbol_names=names),
        "flops_value": int(2 * macs.subs(at)),
        "training_flops_value": int(6 * macs.subs(at)),
        "at": COUNTED,
        "blocks": blocks,
    }


def comparison(variant: Context, base: Context) -> list[Context]:
    """The equations that differ between two cells' contexts, side by side, in the
    variant's order and then the base's equations that the variant drops."""
    names = [e["name"] for e in variant["equations"]]
    names += [e["name"] for e in base["equations"] if e["name"] not in names]
    rows = []
    for name in names:
        mine, theirs = variant["equation"].get(name), base["equation"].get(name)
        if mine and theirs and mine["text"] == theirs["text"]:
            continue
        rows.append(
            {
                "symbol": (mine or theirs)["symbol"],
                "variant": mine["latex"] if mine else "",
                "base": theirs["latex"] if theirs else "",
            }
        )
    return rows
