"""What the pages show, computed from the derivation: LaTeX, counts, records.

Templates in ``templates/pages/`` lay these out; nothing here writes prose
or files.  ``pages()`` returns every generated page as {path: text}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sympy import Integer, MatMul, MatrixSymbol, Transpose, factor
from sympy import latex as sympy_latex

from .. import naming
from ..algebra import Apply, walk
from ..build import GENERATED
from ..catalogue import CATALOGUE
from ..cell import N_HIDDEN, N_INPUT, Cell
from ..derivation import Assignment, Carry, Derivation, derive
from ..elementwise import FUNCTIONS
from ..printing import latex as L
from ..printing.latex import ProjectLatexPrinter, aligned_lines, latex
from ..printing.matrix import PRODUCT
from ..render import render

PAGES = (
    "index",
    "rnn",
    "lstm",
    "gru",
    "worked",
    "exercises",
    "bptt",
    "gradients",
    "training",
    "explorer",
    "variants",
    "compare",
    "code",
    "notation",
    "references",
)

# The catalogue cell each variant changes, for the variants page's comparison.
BASES = {
    "lstm_without_forget_gate": "lstm",
    "lstm_peephole": "lstm",
    "lstm_coupled": "lstm",
    "gru_torch": "gru",
    "mgu": "gru",
    "indrnn": "rnn",
}


def cell_context(cell: Cell) -> dict:
    """Everything a page says about one cell, in LaTeX."""
    d = derive(cell)
    params = [p.name for p in cell.parameters]

    def show(e, step="t"):
        return latex(e, params, step)

    gradients = {g.target.name for g in d.gradients}
    named = {a.target.name: a for a in d.intermediates}

    def line(a, aligned=True):
        return L.equation(show(a.target), show(a.value), aligned)

    def gradient(a):
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


def carry(c: Carry, parameters=()) -> str:
    """δv_t^in = ∂ℓ_t/∂v_t + δ̄v_t: what enters step t for state v, where δ̄v_t is the
    carried adjoint δ̄v_{t-1} of step t+1 (printed at t+1, it is v_t's)."""
    return L.equation(
        latex(c.incoming, parameters),
        L.derivative(r"\ell_t", latex(c.state, parameters)) + " + " + latex(c.carried, parameters, "t+1"),
        aligned=True,
    )


def initial(c: Carry, parameters=()) -> str:
    """∂L/∂v_0 = δ̄v_0: the gradient of the initial state is what step 1 hands back."""
    return L.equation(
        L.derivative("L", latex(c.state, parameters, "0")), latex(c.carried, parameters, "1"), aligned=True
    )


def generic_carry() -> Carry:
    """The carry of a state called v, for the equations that hold for every state."""
    v = MatrixSymbol("v", N_HIDDEN, 1)
    return Carry(
        v,
        MatrixSymbol(naming.incoming(v.name), *v.shape),
        MatrixSymbol(naming.adjoint(naming.prev(v.name)), *v.shape),
    )


def adjoint_chain(cell: Cell, state: str, last: int) -> dict:
    """The adjoint of ``state`` at step 1 for a loss at step ``last`` only, as the product of
    the transposed derived Jacobians ∂v_t/∂v_{t-1}, t = last, ..., 2, in the column layout
    (δv_1 = (∂v_2/∂v_1)ᵀ ⋯ (∂v_last/∂v_{last-1})ᵀ δv_last); and the gradient of each
    parameter as its derived term summed over the steps 1, ..., last."""
    d = derive(cell)
    params = [p.name for p in cell.parameters]
    jacobian = next(j for j in d.jacobians if (j.of.name, j.wrt.name) == (state, naming.prev(state)))
    v = jacobian.of

    def at(step: int) -> str:
        return latex(v, params, str(step))

    steps = range(2, last + 1)
    symbolic = " ".join(r"\left(" + L.derivative(at(t), at(t - 1)) + r"\right)^{\top}" for t in steps)
    # One transposed Jacobian a line, so that the product reads on a narrow screen.
    derived = [
        ProjectLatexPrinter({"parameters": frozenset(params), "step": str(t)}).wrap(
            Transpose(jacobian.value).doit(), PRODUCT
        )
        for t in steps
    ]
    adjoint = MatrixSymbol(naming.adjoint(v.name), *v.shape)
    end = latex(adjoint, params, str(last))
    derived[-1] += f"\\,{end}"
    return {
        "last": last,
        "lines": [
            L.equation(latex(adjoint, params, "1"), f"{symbolic}\\,{end}", aligned=True),
            f"&= {derived[0]}",
            *(f"&\\quad {factor}" for factor in derived[1:]),
        ],
        # {parameter: ∂L_last/∂P = Σ_{t=1}^{last} (the derived term of step t)}
        "gradient": {
            p.name: L.equation(
                L.derivative(f"L_{{{last}}}", latex(p.symbol, params)),
                L.summed(latex(d.adjoint(p.symbol), params), str(last)),
                aligned=True,
            )
            for p in cell.parameters
        },
    }


def _shape(cell, assignment):
    base = naming.parse(assignment.target.name)["base"]
    p = next(p for p in cell.parameters if p.name == base)
    return p.symbol.shape


def _counts(cell: Cell, d: Derivation) -> dict:
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
    return {
        "parameters": sympy_latex(factor(size), symbol_names=names),
        "parameters_value": int(size.subs({nx: 128, nh: 256})),
        "flops": sympy_latex(factor(2 * macs), symbol_names=names),
        "flops_value": int(2 * macs.subs({nx: 128, nh: 256})),
        "training_flops_value": int(6 * macs.subs({nx: 128, nh: 256})),
        "blocks": blocks,
    }


def comparison(variant: dict, base: dict) -> list[dict]:
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


def variants(cells: dict[str, dict]) -> list[dict]:
    """What the variants page says about each variant: its description (the comment
    at the top of its file), the equations it changes, and its counts beside its base's."""
    from ..catalogue import FOLDER, VARIANTS
    from ..cellfile import header

    out = []
    for name in VARIANTS:
        base = cells[BASES[name]]
        out.append(
            {
                "cell": cells[name],
                "base": base,
                "about": header(FOLDER / f"{name}.toml"),
                "changes": comparison(cells[name], base),
            }
        )
    return out


def check_table(checks: dict | None) -> dict | None:
    """The verify record as one row per cell and one column per claim: the largest
    relative difference of each, and whether it is within the claim's tolerance."""
    if checks is None:
        return None
    claims = list(dict.fromkeys(r["claim"] for r in checks["rows"]))
    cells: dict[str, dict] = {}
    for r in checks["rows"]:
        cells.setdefault(r["cell"], {})[r["claim"]] = r
    tolerances = {r["claim"]: r["tolerance"] for r in checks["rows"]}
    return {
        "claims": [{"name": c, "tolerance": tolerances[c]} for c in claims],
        "rows": [
            {
                "cell": cell,
                "results": [
                    {
                        "difference": by_claim[c]["max_relative_difference"],
                        "holds": by_claim[c]["max_relative_difference"] <= by_claim[c]["tolerance"],
                    }
                    if c in by_claim
                    else None
                    for c in claims
                ],
            }
            for cell, by_claim in cells.items()
        ],
    }


def _record(root: Path, name: str):
    """records/NAME.json of the checkout (what `verify --record` and `bench --record` wrote)."""
    path = root / "records" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _timings(benchmark, cells=("lstm", "gru"), size=(64, 32, 128, 256)):
    """[{dtype, cell: milliseconds}] at one size, from the benchmark record."""
    if benchmark is None:
        return []
    rows = {
        (r["cell"], r["dtype"]): r
        for r in benchmark["rows"]
        if (r["T"], r["B"], r["inputs"], r["hidden"]) == size
    }
    dtypes = dict.fromkeys(r["dtype"] for r in benchmark["rows"])
    return [
        {"dtype": dtype, **{cell: rows[cell, dtype]["seconds"] * 1e3 for cell in cells}} for dtype in dtypes
    ]


def _exp_ratio(benchmark):
    """(least, most) of float64's exp floor over float32's, row by row, from the benchmark
    record; None when the record has no such pair."""
    if benchmark is None:
        return None
    exp = {
        (r["cell"], r["T"], r["B"], r["inputs"], r["hidden"], r["dtype"]): r.get("exp_seconds")
        for r in benchmark["rows"]
    }
    ratios = [
        seconds / exp[(*key[:-1], "float32")]
        for key, seconds in exp.items()
        if key[-1] == "float64" and seconds and exp.get((*key[:-1], "float32"))
    ]
    return (min(ratios), max(ratios)) if ratios else None


def literal_listing(cell: Cell) -> str:
    """forward() and backward() of the cell's literal module (one product per gate per step),
    without their docstrings: the short, readable version of what the code page lists."""
    import ast

    from ..backends import module_source

    source = module_source(cell, literal=True)
    lines = source.splitlines()
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in ("forward", "backward"):
            doc = node.body[0]
            assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
            assert doc.end_lineno is not None and node.end_lineno is not None
            out.append(
                "\n".join(lines[node.lineno - 1 : doc.lineno - 1] + lines[doc.end_lineno : node.end_lineno])
            )
    return "\n\n\n".join(out)


def context(root: Path) -> dict:
    cells = {name: cell_context(cell) for name, cell in CATALOGUE.items()}
    benchmark = _record(root, "benchmark")
    return {
        "cells": cells,
        "variant": cells["lstm_without_forget_gate"],
        "variants": variants(cells),
        "benchmark": benchmark,
        "timings": _timings(benchmark),
        "exp_ratio": _exp_ratio(benchmark),
        "checks": _record(root, "verify"),
        "check_table": check_table(_record(root, "verify")),
        "modules": {name: (GENERATED / f"{name}.py").read_text() for name in CATALOGUE},
        "literal": literal_listing(CATALOGUE["rnn"]),
        # The BPTT page's recurrence for any state v, and the RNN page's loss at step 4.
        "recurrence": {"carry": carry(generic_carry()), "initial": initial(generic_carry())},
        "chain": adjoint_chain(CATALOGUE["rnn"], "s", 4),
    }


def diagram_specs() -> list[tuple[str, Cell, tuple[str, ...]]]:
    """(key, cell, highlighted equations) of each cell diagram: every catalogue cell's, and
    the LSTM's and GRU's once per gate and candidate, that one emphasised."""
    specs = [(f"diagram_{name}", cell, ()) for name, cell in CATALOGUE.items()]
    for name in ("lstm", "gru"):
        cell = CATALOGUE[name]
        specs += [
            (f"diagram_{name}_{eq.name}", cell, (eq.name,))
            for eq in cell.equations
            if eq.role.value in ("gate", "candidate")
        ]
    return specs


def pages(root: Path) -> dict[Path, str]:
    """Every generated file of the site under root/docs/: the pages and their figures."""
    from . import compare, conventions, exercises, explorer, training, worked
    from .diagrams import describe, diagram
    from .figures import figures, gradient_rates, keep_rates
    from .unrolled import describe as describe_unrolled
    from .unrolled import paths, unrolled

    checked = conventions.context()  # cheap, so first: a failed check stops the build early
    drawn = figures()
    ctx = context(root)
    ctx["conventions"] = checked
    ctx["rates"] = [
        {
            "scale": k,
            "factor": v,
            "trend": "shrinks" if v < 1 else "grows",
            "tenfold": abs(np.log(10) / np.log(v)),
        }
        for k, v in gradient_rates().items()
    ]
    ctx["kept"] = [
        {
            "cell": CATALOGUE[name].title,
            "factor": rate,
            "gate": gate,
            "value": value,
            "bias": latex(MatrixSymbol(bias, N_HIDDEN, 1), [p.name for p in CATALOGUE[name].parameters]),
        }
        for name, (bias, value, rate, gate) in keep_rates().items()
    ]
    ctx["compare"] = compare.context(ctx["cells"])
    drawn["truncation"] = (compare.figure(ctx["compare"]), ctx["compare"]["truncation"]["modules"])
    # {key: {"module", "panels": [(file, title)]}}: one panel is figures/<key>.svg, several
    # are figures/<key>-1.svg, figures/<key>-2.svg, ...
    ctx["figures"] = {}
    out = {}
    for key, (panels, module) in drawn.items():
        files = [f"{key}.svg"] if len(panels) == 1 else [f"{key}-{n}.svg" for n in range(1, len(panels) + 1)]
        named = list(zip(files, panels, strict=True))
        ctx["figures"][key] = {"module": module, "panels": [(f, title) for f, (title, _) in named]}
        out.update({root / "docs" / "figures" / f: svg for f, (_, svg) in named})
    ctx["worked"] = worked.context(ctx["cells"])
    ctx["exercises"] = exercises.context(ctx["cells"])
    ctx["explorer"] = explorer.context()
    ctx["training"], trained = training.context(root)
    out.update({root / "docs" / "figures" / f"{key}.svg": svg for key, svg in trained.items()})
    ctx["diagrams"] = {}  # {key: alt text}; each diagram is figures/<key>.svg
    for key, cell, highlight in diagram_specs():
        out[root / "docs" / "figures" / f"{key}.svg"] = diagram(cell, highlight)
        ctx["diagrams"][key] = describe(cell, highlight)
    ctx["unrolled"] = {}  # {cell: what the unrolled diagrams figures/unrolled_<cell>[_tall].svg show}
    for name in ("rnn", "lstm", "gru"):
        cell = CATALOGUE[name]
        for tall in (False, True):
            key = f"unrolled_{name}_tall" if tall else f"unrolled_{name}"
            out[root / "docs" / "figures" / f"{key}.svg"] = unrolled(cell, tall)
        found = paths(cell)
        ctx["unrolled"][name] = {
            "alt": describe_unrolled(cell),
            "states": [
                {"tex": L.bold_vector(s), "elementwise": found.elementwise[s], "matrix": found.matrix[s]}
                for s in cell.states
            ],
        }
    out.update(explorer.files(root))
    for page in PAGES:
        out[root / "docs" / f"{page}.md"] = render(f"pages/{page}.md.j2", page=page, **ctx)
    return out
