"""What the pages show, computed from the derivation: LaTeX, counts, records.

Templates in ``templates/pages/`` lay these out; nothing here writes prose
or files.  ``pages()`` returns every generated page as {path: text}.
"""

from __future__ import annotations

import json

import numpy as np
from pathlib import Path

from sympy import Integer, MatMul, MatrixSymbol, factor, latex as sympy_latex

from . import naming
from .algebra import Apply, walk
from .cell import N_HIDDEN, N_INPUT, Cell
from .cells import CATALOGUE
from .derivation import Derivation, derive
from .printing.latex import aligned_lines, latex
from .render import ROOT, render

RECORDS = ROOT / "records"
PAGES = ("index", "rnn", "lstm", "gru", "bptt", "gradients", "code", "notation")


def _symbols_latex(derivation: Derivation):
    params = [p.name for p in derivation.cell.parameters]
    return lambda e: latex(e, params)


def cell_context(cell: Cell) -> dict:
    """Everything a page says about one cell, in LaTeX."""
    d = derive(cell)
    show = _symbols_latex(d)
    params = [p.name for p in cell.parameters]
    gradients = {g.target.name for g in d.gradients}

    def line(a):
        return f"{show(a.target)} &= {show(a.value)}"

    equations = []
    for eq in cell.equations:
        mine = {naming.adjoint(eq.name)} | {naming.adjoint(naming.preactivation(eq.name, k)) for k in range(1, 10)}
        own = [a for a in d.backward if a.target.name in mine]
        uses = {p for p in params if MatrixSymbol(p, 1, 1).name in {s.name for s in eq.rhs.free_symbols}}
        grads = [a for a in d.gradients if naming.parse(a.target.name)["base"] in uses]
        equations.append({
            "name": eq.name, "role": eq.role.value, "meaning": eq.meaning, "text": eq.text,
            "latex": f"{show(eq.symbol)} = {show(eq.rhs)}",
            "symbol": show(eq.symbol),
            "adjoints": [line(a) for a in own],
            "gradients": [f"\\frac{{\\partial L}}{{\\partial {show(MatrixSymbol(naming.parse(a.target.name)['base'], *_shape(cell, a)))}}} &= \\sum_t {show(a.value)}"
                          for a in grads],
        })
    counts = _counts(cell, d)
    return {
        "name": cell.name, "title": cell.title, "states": cell.states,
        "parameters": params,
        "equations": equations,
        "equation": {e["name"]: e for e in equations},
        "intermediates": [line(a) for a in d.intermediates],
        "named": {a.target.name: f"{show(a.target)} = {show(a.value)}" for a in d.intermediates},
        "backward": [line(a) for a in d.backward if a.target.name not in gradients],
        "gradients": [f"\\frac{{\\partial L}}{{\\partial {show(MatrixSymbol(naming.parse(a.target.name)['base'], *_shape(cell, a)))}}} &= \\sum_{{t=1}}^{{T}} {show(a.value)}"
                      for a in d.gradients],
        "carries": [f"{show(c.incoming)} &= \\frac{{\\partial \\ell_t}}{{\\partial {show(c.state)}}} + \\left.{show(c.carried)}\\right|_{{\\text{{step }} t+1}}"
                    for c in d.carries],
        "initial": [f"\\frac{{\\partial L}}{{\\partial {show(c.state).replace('_{t}', '_{0}')}}} &= \\left.{show(c.carried)}\\right|_{{t=1}}"
                    for c in d.carries],
        "jacobians": [{"of": j.of.name, "wrt": j.wrt.name,
                       "latex": f"\\frac{{\\partial {show(j.of)}}}{{\\partial {show(j.wrt)}}} = {show(j.value)}",
                       "lines": aligned_lines(f"\\frac{{\\partial {show(j.of)}}}{{\\partial {show(j.wrt)}}}",
                                              j.value, params)}
                      for j in d.jacobians],
        "jacobian": {(j.of.name, j.wrt.name): aligned_lines(
                         f"\\frac{{\\partial {show(j.of)}}}{{\\partial {show(j.wrt)}}}", j.value, params)
                     for j in d.jacobians},
        "counts": counts,
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



def _record(name: str):
    path = RECORDS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def context() -> dict:
    from .cells import LSTM_WITHOUT_FORGET_GATE

    cells = {name: cell_context(cell) for name, cell in CATALOGUE.items()}
    return {
        "cells": cells,
        "variant": cell_context(LSTM_WITHOUT_FORGET_GATE),
        "benchmark": _record("benchmark"),
        "checks": _record("verify"),
        "modules": {name: (ROOT / "derive" / "generated" / f"{name}.py").read_text() for name in CATALOGUE},
    }


def pages() -> dict[Path, str]:
    """Every generated file of the site: the pages and their figures."""
    from .figures import figures, gradient_rates, keep_rates

    drawn = figures()
    ctx = context()
    ctx["rates"] = [{"scale": k, "factor": v, "trend": "shrinks" if v < 1 else "grows",
                     "tenfold": abs(np.log(10) / np.log(v))} for k, v in gradient_rates().items()]
    ctx["kept"] = [{"cell": CATALOGUE[name].title, "factor": rate, "value": value,
                    "bias": latex(MatrixSymbol(bias, N_HIDDEN, 1), [p.name for p in CATALOGUE[name].parameters])}
                   for name, (bias, value, rate) in keep_rates().items()]
    ctx["figures"] = {key: module for key, (_, module) in drawn.items()}
    out = {ROOT / "docs" / "figures" / f"{key}.svg": svg for key, (svg, _) in drawn.items()}
    for page in PAGES:
        out[ROOT / "docs" / f"{page}.md"] = render(f"pages/{page}.md.j2", page=page, **ctx)
    return out
