"""What the "LSTM or GRU" page shows: the two cells set side by side from their equations,
derivations and generated modules, and truncated BPTT measured on those modules.

``context(cells)`` takes the cells' contexts (``printing.context.cell_context``) and returns
what the template lays out; every number in it is computed here, none is typed in a template.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from ..catalogue import CATALOGUE
from ..printing.context import comparison
from ..printing.latex import latex
from . import truncation as tr

# The cells of the size-and-cost table, and the size its numbers are given at.
COSTED = ("rnn", "lstm", "gru", "gru_torch")
N_INPUT, N_HIDDEN = 128, 256
# Forget-gate biases for the table of how long the state's own path keeps a gradient.
BIASES = (0.0, 1.0, 2.0, 3.0)
# A long sequence and a window, for what truncation saves in memory.
LONG, WINDOW = 1000, 50


def reads(name: str) -> list[dict]:
    """For each equation of the cell: its symbol, and the previous states it reads."""
    cell = CATALOGUE[name]
    params = [p.name for p in cell.parameters]
    previous = {f"{s}_prev" for s in cell.states}
    out = []
    for eq in cell.equations:
        used = sorted((s for s in eq.rhs.free_symbols if s.name in previous), key=lambda s: s.name)
        out.append({"symbol": latex(eq.symbol, params, "t"), "reads": [latex(s, params, "t") for s in used]})
    return out


def sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def keep_table() -> list[dict]:
    """For forget-gate biases b (the rest of the gate's input at 0): the gate σ(b), and the
    steps along the state's own path, diag(f) per step, after which a gradient is a tenth."""
    return [
        {"bias": b, "gate": sigmoid(b), "tenfold": float(np.log(0.1) / np.log(sigmoid(b)))} for b in BIASES
    ]


def exposure() -> dict:
    """On the measurement's random sequence (truncation.problem), at the default
    initialisation and with the keep biases: the LSTM's mean output gate (how much of
    tanh(s) its output h shows), and the largest |s| each cell's state reached."""
    out: dict = {"largest": {}}
    for key, name, bias in tr.SETTINGS:
        if name == "rnn":
            continue
        module, params, x, _ = tr.problem(name, bias)
        outputs, cache = module.forward(params, x)
        out["largest"][key] = {
            "label": tr.label(name, bias, "tex"),
            "value": float(np.abs(outputs["s"]).max()),
        }
        if key == "lstm":
            out["output_gate"] = float(cache["values"]["o"].mean())
    return out


def costs(cells: dict) -> list[dict]:
    """Per cell: states carried, parameters and forward FLOPs per step (counted from the
    model), and what the generated module's cache keeps per step (measured)."""
    return [
        {
            "name": name,
            "states": len(CATALOGUE[name].states),
            "counts": cells[name]["counts"],
            "cache": tr.cache_per_step(name),
            "cache_kib": tr.cache_per_step(name) * N_HIDDEN * 4 / 1024,
        }
        for name in COSTED
    ]


def _without_docstring(source: str) -> str:
    """A function's source with its docstring left out (the page explains it in prose)."""
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    doc = function.body[0]
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and doc.end_lineno
    lines = source.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno :])


CLOSE = 0.1  # a truncated gradient this close to the full one (relative error) counts as near it


def truncation_context() -> dict:
    """The measurement, with what the page says about it decided from the numbers."""
    windows = tr.WINDOWS
    rows = tr.truncation(windows)
    by_key = {r["key"]: r for r in rows}
    for r in rows:
        r["label"] = tr.label(r["cell"], r["bias"], "tex")
        r["html"] = tr.label(r["cell"], r["bias"], "html")
        under = [k for k, e in zip(windows, r["errors"], strict=True) if e < CLOSE]
        r["under_tenth"] = under[0] if under else None
    longer = {}
    for cell in ("lstm", "gru"):
        base, kept = by_key[cell], by_key[f"{cell}_keep"]
        longer[cell] = all(k > b for k, b in zip(kept["errors"], base["errors"], strict=True))
    whole = tr.truncation((tr.STEPS,))
    return {
        "windows": windows,
        "rows": rows,
        "by_key": by_key,
        "keep_costs_more": longer,
        # With K = 1: the smallest and largest relative error over the settings.
        "one_step": (min(r["errors"][0] for r in rows), max(r["errors"][0] for r in rows)),
        # K = T: one window, the full gradient; the largest relative error over the settings.
        "whole": max(r["errors"][0] for r in whole),
        "close": CLOSE,
        # Where the keep biases start the LSTM's forget gate (and the GRU's 1 - i).
        "keep_gate": sigmoid(by_key["lstm_keep"]["bias"][1]),
        "steps": tr.STEPS,
        "batch": tr.BATCH,
        "inputs": tr.INPUTS,
        "hidden": tr.HIDDEN,
        "seed": tr.SEED,
        "source": _without_docstring(inspect.getsource(tr.truncated_gradient)),
        "modules": ", ".join(f"derive.generated.{n}" for n in dict.fromkeys(s[1] for s in tr.SETTINGS)),
    }


def context(cells: dict) -> dict:
    lstm, gru = cells["lstm"], cells["gru"]
    cost = costs(cells)
    cache = {c["name"]: c for c in cost}
    return {
        "reads": {name: reads(name) for name in ("lstm", "gru")},
        "lstm_jacobian": lstm["jacobian"][("s", "s_prev")],
        "gru_jacobian": gru["jacobian"][("s", "s_prev")],
        "exposure": exposure(),
        "reset": comparison(cells["gru_torch"], gru),
        "costs": cost,
        "sizes": {"n_x": N_INPUT, "n_h": N_HIDDEN},
        "keep": keep_table(),
        "truncation": truncation_context(),
        "memory": {
            "long": LONG,
            "window": WINDOW,
            "lstm_cache": cache["lstm"]["cache"],
            "lstm_full_mib": cache["lstm"]["cache_kib"] * LONG / 1024,
            "lstm_window_mib": cache["lstm"]["cache_kib"] * WINDOW / 1024,
        },
    }


def figure(ctx: dict) -> str:
    """The truncation figure for the measurement in ``ctx`` (from :func:`context`)."""
    t = ctx["truncation"]
    return tr.figure(t["rows"], t["windows"])
