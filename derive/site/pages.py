"""What the pages show, computed from the derivation: LaTeX, counts, records.

Templates in ``templates/pages/`` lay these out; nothing here writes prose
or files.  ``pages()`` returns every generated page as {path: text}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sympy import MatrixSymbol, Transpose

from .. import naming
from ..catalogue import CATALOGUE
from ..cell import N_HIDDEN, Cell
from ..codegen.modules import REFERENCE_TOLERANCE, generated
from ..derivation import Carry, derive
from ..printing import latex as L
from ..printing.context import COUNTED, carry, cell_context, comparison, initial
from ..printing.latex import ProjectLatexPrinter, latex
from ..printing.matrix import PRODUCT
from ..render import environment, render
from ..verification.numeric import REFERENCE_DIGITS
from ..verification.proof import DIGITS

PAGES = (  # in the order of mkdocs.yml's nav
    "index",
    "notation",
    "rnn",
    "lstm",
    "gru",
    "bptt",
    "gradients",
    "worked",
    "exercises",
    "training",
    "explorer",
    "variants",
    "recurrences",
    "compare",
    "code",
    "references",
    "glossary",
)

# The catalogue cell each variant changes, for the variants page's comparison.
BASES = {
    "lstm_without_forget_gate": "lstm",
    "lstm_peephole": "lstm",
    "lstm_coupled": "lstm",
    "gru_torch": "gru",
    "mgu": "gru",
    "indrnn": "rnn",
    "mingru": "gru",
    "minlstm": "lstm",
    "slstm": "lstm",
    "lru": "rnn",
}


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


def variants(cells: dict[str, dict]) -> list[dict]:
    """What the variants page says about each variant: its description (the comment
    at the top of its file), the equations it changes, and its counts beside its base's."""
    from markdown.extensions.toc import slugify

    from ..catalogue import FOLDER, VARIANTS
    from ..cellfile import header

    out = []
    for name in VARIANTS:
        base = cells[BASES[name]]
        out.append(
            {
                "cell": cells[name],
                "base": base,
                # the anchor of its section, from its English title in every edition
                "anchor": slugify(cells[name]["title"], "-"),
                "about": header(FOLDER / f"{name}.toml"),
                "changes": comparison(cells[name], base),
            }
        )
    return out


# The claims of derive.verification as the verify record names them (proof.py, numeric.py):
# what each checks and its sizes, so that a page can say it in its own language.
CLAIM_KINDS = {
    "step": re.compile(r"one step \((?P<inputs>\d+) in, (?P<hidden>\d+) hidden\)"),
    "bptt": re.compile(r"BPTT over (?P<steps>\d+) steps \((?P<inputs>\d+) in, (?P<hidden>\d+) hidden\)"),
    "jacobians": re.compile(r"Jacobians ∂v_t/∂u_\(t-1\) \((?P<inputs>\d+) in, (?P<hidden>\d+) hidden\)"),
    "digits": re.compile(r"generated NumPy = derivation at (?P<digits>\d+) digits"),
    "differences": re.compile(r"generated NumPy = finite differences"),
}


def claim_kind(name: str) -> dict:
    """A claim's kind and the numbers in its name ({"kind": None} for a name no pattern knows;
    the page then shows the name as recorded)."""
    for kind, pattern in CLAIM_KINDS.items():
        found = pattern.fullmatch(name)
        if found:
            return {"kind": kind, **found.groupdict()}
    return {"kind": None}


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
        "claims": [{"name": c, "tolerance": tolerances[c], **claim_kind(c)} for c in claims],
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


# The size (T, B, inputs, hidden) at which the GRU page compares the LSTM's and GRU's times.
TIMED = (64, 32, COUNTED["n_x"], COUNTED["n_h"])


def _timings(benchmark, cells=("lstm", "gru"), size=TIMED):
    """[{dtype, T, B, cell: milliseconds}] at one size, from the benchmark record."""
    if benchmark is None:
        return []
    rows = {
        (r["cell"], r["dtype"]): r
        for r in benchmark["rows"]
        if (r["T"], r["B"], r["inputs"], r["hidden"]) == size
    }
    dtypes = dict.fromkeys(r["dtype"] for r in benchmark["rows"])
    return [
        {
            "dtype": dtype,
            "T": size[0],
            "B": size[1],
            **{cell: rows[cell, dtype]["seconds"] * 1e3 for cell in cells},
        }
        for dtype in dtypes
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
        "modules": {name: Path(generated(name).__file__).read_text() for name in CATALOGUE},
        # The LSTM's torch module, read as text: the pages are built without importing torch.
        "torch_module": (Path(generated("lstm").__file__).parent / "torch" / "lstm.py").read_text(),
        "torch_benchmark": _record(root, "benchmark_torch"),
        "literal": literal_listing(CATALOGUE["rnn"]),
        # The precisions of `derive verify`: SymPy's proofs, the derivation a module is compared
        # with, and how close a module (NumPy or torch, float64) must come to it.
        "precision": {
            "proof": DIGITS,
            "reference": REFERENCE_DIGITS,
            "tolerance": f"{REFERENCE_TOLERANCE:g}",
        },
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


def panel_files(key: str, count: int) -> list[str]:
    """The files of a figure's panels: one is <key>.svg, several <key>-1.svg, <key>-2.svg, ..."""
    return [f"{key}.svg"] if count == 1 else [f"{key}-{n}.svg" for n in range(1, count + 1)]


UNROLLED = (  # (file, cell, tall, weights shown) of each unrolled diagram
    *(
        (f"unrolled_{name}{'_tall' if tall else ''}", name, tall, False)
        for name in ("rnn", "lstm", "gru")
        for tall in (False, True)
    ),
    # the RNN page's unrolled RNN names the matrices each step applies (W, U)
    *((f"unrolled_rnn_weights{'_tall' if tall else ''}", "rnn", tall, True) for tall in (False, True)),
)


def drawings(
    ctx: dict, trained: Callable[[], dict[str, str]], recurred: Callable[[], dict[str, str]]
) -> tuple[dict, dict[str, str]]:
    """The figures and diagrams that draw words, in the language being drawn
    (derive.site.words): ({key: (panels, module that drew them)} of the figures of panels,
    {file under docs/figures: svg} of them all).  ``trained`` and ``recurred`` draw the
    training and recurrences pages' figures (training.context, recurrences.context)."""
    from . import compare, recurrences
    from .figures import figures
    from .unrolled import unrolled

    drawn = figures()
    drawn["truncation"] = (compare.figure(ctx["compare"]), ctx["compare"]["truncation"]["modules"])
    shown = (*recurrences.BESIDE, *recurrences.NEW)
    drawn["recurrences"] = (recurrences.gradient_figure(), ", ".join(f"derive.generated.{n}" for n in shown))
    files = {}
    for key, (panels, _) in drawn.items():
        files.update({f: svg for f, (_, svg) in zip(panel_files(key, len(panels)), panels, strict=True)})
    files.update({f"{key}.svg": svg for key, svg in (trained() | recurred()).items()})
    for key, name, tall, weights_shown in UNROLLED:
        files[f"{key}.svg"] = unrolled(CATALOGUE[name], tall, weights_shown=weights_shown)
    return drawn, files


def pages(root: Path) -> dict[Path, str]:
    """Every generated file of the site under root/docs/: the pages and their figures."""
    from . import (
        compare,
        conventions,
        exercises,
        explorer,
        gates,
        glossary,
        i18n,
        recurrences,
        scaffold,
        training,
        words,
        worked,
    )
    from . import figures as F
    from .diagrams import belt_frames, describe, describe_frame, diagram
    from .figures import PATHS, gradient_rates, keep_rates, path_numbers, rectified, variant_ratios
    from .unrolled import describe as describe_unrolled
    from .unrolled import paths

    checked = conventions.context()  # cheap, so first: a failed check stops the build early
    if i18n.LANGUAGES:  # and the font the other languages' figures are drawn in
        words.font_file(root)
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
            "name": name,
            "factor": rate,
            "gate": gate,
            "value": value,
            "tenfold": float(np.log(10) / -np.log(gate)),  # steps for the gate alone to shrink tenfold
            "bias": latex(MatrixSymbol(bias, N_HIDDEN, 1), [p.name for p in CATALOGUE[name].parameters]),
        }
        for name, (bias, value, rate, gate) in keep_rates().items()
    ]
    ctx["paths"] = {name: path_numbers(name) for name in PATHS}
    # How the gradient figures are run: their sequence's steps, the scales of the recurrent
    # matrices, the value the keep gate is held near, the step whose input the gate figures nudge.
    ctx["flow"] = {
        "steps": F.STEPS,
        "scales": [f"{k:g}" for k in F.RECURRENT_SCALES],
        "keep": f"{F.KEEP_NEAR:g}",
        "pulse": F.PULSE,
        "nudge": f"{F.NUDGE:g}",
    }
    ctx["rectified"] = rectified()
    ctx["variant_ratios"] = variant_ratios()
    ctx["compare"] = compare.context(ctx["cells"])
    ctx["gates"] = gates.context()
    ctx["worked"] = worked.context(ctx["cells"])
    ctx.update(scaffold.context())  # the RNN and BPTT pages' one-unit example, read-out and squashes
    ctx["exercises"] = exercises.context(ctx["cells"])
    ctx["explorer"] = explorer.context()
    ctx["training"], trained = training.context(root)
    ctx["recurrences"], recurred = recurrences.context(root)
    drawn, files = drawings(ctx, trained, recurred)
    out = {root / "docs" / "figures" / f: svg for f, svg in files.items()}
    # {key: {"module", "panels": [(file, title)]}}: one panel is figures/<key>.svg, several
    # are figures/<key>-1.svg, figures/<key>-2.svg, ...
    ctx["figures"] = {
        key: {
            "module": module,
            "panels": list(zip(panel_files(key, len(panels)), [t for t, _ in panels], strict=True)),
        }
        for key, (panels, module) in drawn.items()
    }
    ctx["diagrams"] = {}  # {key: alt text}; each diagram is figures/<key>.svg
    for key, cell, highlight in diagram_specs():  # each wide, and tall for narrow screens
        out[root / "docs" / "figures" / f"{key}.svg"] = diagram(cell, highlight)
        out[root / "docs" / "figures" / f"{key}_tall.svg"] = diagram(cell, highlight, tall=True)
        ctx["diagrams"][key] = describe(cell, highlight)
    # The LSTM's conveyor belt: its state's path through the step, one frame per stage.
    ctx["belt"] = []
    for k, shown in enumerate(belt_frames(CATALOGUE["lstm"]), start=1):
        key = f"diagram_lstm_belt{k}"
        out[root / "docs" / "figures" / f"{key}.svg"] = diagram(CATALOGUE["lstm"], nodes=shown, belt=True)
        out[root / "docs" / "figures" / f"{key}_tall.svg"] = diagram(
            CATALOGUE["lstm"], nodes=shown, belt=True, tall=True
        )
        ctx["belt"].append({"key": key})
        ctx["diagrams"][key] = describe_frame(CATALOGUE["lstm"], shown)
    ctx["unrolled"] = {}  # {cell: what the unrolled diagrams figures/unrolled_<cell>[_tall].svg show}
    for name in ("rnn", "lstm", "gru"):
        cell = CATALOGUE[name]
        found = paths(cell)
        ctx["unrolled"][name] = {
            "alt": describe_unrolled(cell),
            "states": [
                {"tex": L.bold_vector(s), "elementwise": found.elementwise[s], "matrix": found.matrix[s]}
                for s in cell.states
            ],
        }
    ctx["unrolled"]["rnn_weights"] = ctx["unrolled"]["rnn"]
    out.update(explorer.files(root))
    # Each other edition's figures: every figure with words drawn again in its language, as
    # figures/<name>.<lang>.svg beside the English one, which mkdocs-static-i18n's suffix
    # structure serves to that edition's pages under the English name; a figure whose words
    # are symbols only comes out the same and stays one file.
    for language in i18n.LANGUAGES:
        with words.drawing(language, root):
            _, again = drawings(ctx, trained, recurred)
        for name, svg in again.items():
            english = root / "docs" / "figures" / name
            if svg != out[english]:
                out[english.with_suffix(f".{language}.svg")] = svg
    rendered = {page: render(f"pages/{page}.md.j2", page=page, **ctx) for page in PAGES}
    found = glossary.terms(rendered["glossary"])
    for page, text in rendered.items():
        out[root / "docs" / f"{page}.md"] = text if page == "glossary" else glossary.link(text, found)
    # Each other edition: the same templates and numbers, the prose from its catalogue; its
    # pages link the terms of its own glossary once that is translated.
    for language in i18n.LANGUAGES:
        env = environment(i18n.translations(language))
        env.globals["language"] = language  # seen by the macros a page imports, too
        own = {
            p: env.get_template(f"pages/{p}.md.j2").render(page=p, language=language, **ctx)
            for p in i18n.pages(language)
        }
        found = glossary.terms(own["glossary"]) if "glossary" in own else []
        for page, text in own.items():
            linked = text if page == "glossary" or not found else glossary.link(text, found)
            out[root / "docs" / f"{page}.{language}.md"] = linked
    return out
