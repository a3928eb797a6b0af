"""What the training page and the cell pages say about trained networks, read from
the records that ``python -m derive train ... --record`` wrote (nothing here trains).

The review's measurements run the committed weights forward on the seed's review and
read the gates from the generated module's cache; each claim the pages' story makes
about a gate is tested against them, so that the prose can say when it fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..catalogue import CATALOGUE
from ..training import corpus
from ..training.experiments import SOLVED, review_model, solved_lags
from ..training.model import READ_OUT, sigmoid
from ..training.tasks import ADDING_BASELINE, vocabulary

# What the story on the LSTM and GRU pages says each gate does on the review, as a
# comparison the measurements can test: the gate's mean over units is lower at the
# first words than at the second ("the rest": every other word of the review).
CLAIMS = {
    "lstm": {
        "o": (("dry",), "the rest"),
        "i": (("the", "of", "was"), ("dry", "picked", "up", "pace", "amazing")),
        "f": (("but",), "the rest"),
    },
    "gru": {
        "o": (("but",), "the rest"),
        "i": (("the",), ("amazing",)),
    },
}
CLEAR = 0.1  # a gate's mean lower by more than this is "lower" as the story says; less, "barely"
UNITS = 3  # the units shown beside each gate's mean: those that move most at "but"
TURN = "but"


class MissingRecord(FileNotFoundError):
    """A record the pages read is not in records/; the message names the command that writes it."""


def records(root: Path) -> dict:
    """The race's and the review's records and the review's weights."""
    folder = root / "records"
    out: dict = {}
    for name in ("adding", "review"):
        path = folder / f"{name}.json"
        if not path.is_file():
            raise MissingRecord(
                f"records/{name}.json is missing: run `python -m derive train {name} --record` "
                "(a few minutes) and commit what it writes"
            )
        out[name] = json.loads(path.read_text())
    out["weights"] = {}
    for run in out["review"]["runs"]:
        path = folder / f"review_{run['cell']}.npz"
        if not path.is_file():
            raise MissingRecord(
                f"records/review_{run['cell']}.npz is missing: run `python -m derive train review --record`"
            )
        with np.load(path) as weights:
            out["weights"][run["cell"]] = dict(weights)
    return out


def read_review(cell: str, params: dict[str, np.ndarray], settings: dict) -> dict:
    """The trained network reading the review word by word: every equation's value after
    each word (mean over units and per unit), the state's norm, P(positive)."""
    model = review_model(cell, settings)
    words = corpus.tokenize(corpus.REVIEW)
    ids = vocabulary()
    outputs, cache, y = model.run(params, np.array([[ids[w]] for w in words]))
    values = {name: v[:, 0, :] for name, v in cache["values"].items()}  # (T, n) each
    state = CATALOGUE[cell].states[0]
    return {
        "words": words,
        "values": values,
        "state_norm": np.linalg.norm(outputs[state][:, 0, :], axis=1),
        "prediction": sigmoid(y[:, 0, 0]),
        "read_out": params[READ_OUT][0],
    }


def gates(cell: str) -> list[str]:
    return [eq.name for eq in CATALOGUE[cell].equations if eq.role.value == "gate"]


def turn_units(values: np.ndarray, words: list[str]) -> list[int]:
    """The units whose gate value at "but" differs most from their mean over the other words."""
    at = [k for k, w in enumerate(words) if w == TURN]
    rest = [k for k, w in enumerate(words) if w != TURN]
    change = np.abs(values[at].mean(axis=0) - values[rest].mean(axis=0))
    return [int(u) for u in np.argsort(-change, kind="stable")[:UNITS]]


def _positions(words: list[str], chosen) -> list[int]:
    return [k for k, w in enumerate(words) if w in chosen]


def measure(cell: str, reading: dict) -> dict:
    """Per gate: its claim tested (the two means and whether the first is lower), and
    the units that move most at "but" with their values there and elsewhere."""
    words = reading["words"]
    out = {}
    for gate in gates(cell):
        g = reading["values"][gate]
        entry: dict = {"units": []}
        at = _positions(words, (TURN,))
        rest = [k for k in range(len(words)) if k not in at]
        for u in turn_units(g, words):
            entry["units"].append(
                {"unit": u, "at": float(g[at, u].mean()), "elsewhere": float(g[rest, u].mean())}
            )
        if gate in CLAIMS.get(cell, {}):
            low, high = CLAIMS[cell][gate]
            lows = _positions(words, low)
            highs = (
                [k for k in range(len(words)) if k not in lows]
                if high == "the rest"
                else _positions(words, high)
            )
            a, b = float(g[lows].mean()), float(g[highs].mean())
            entry["claim"] = {
                "low": list(low),
                "high": high if high == "the rest" else list(high),
                "low_mean": a,
                "high_mean": b,
                "verdict": "holds" if b - a > CLEAR else "barely" if b > a else "fails",
                "smallest": float(g[lows].min()),
            }
        out[gate] = entry
    # The candidate's push along the read-out: V s̃ at "dry" and at "amazing".
    if "s_tilde" in reading["values"]:
        push = reading["values"]["s_tilde"] @ reading["read_out"]
        dry, amazing = (float(push[_positions(words, (w,))].mean()) for w in ("dry", "amazing"))
        out["s_tilde"] = {"dry": dry, "amazing": amazing, "holds": dry < 0 < amazing}
    return out


def predictions(reading: dict) -> dict:
    """P(positive) after the words the story turns on, and at the end."""
    words, p = reading["words"], reading["prediction"]
    after = {w: float(p[words.index(w)]) for w in ("dry", "but", "pace", "amazing")}
    return {
        "after": after,
        "final": float(p[-1]),
        "lowest": float(p.min()),
        "lowest_word": words[int(p.argmin())],
    }


def race(record: dict) -> dict:
    """The race's budget, its table (cell by lag, each seed's held-out error) and the
    lags each cell solved, and how the gradient reaching the first step moved."""
    runs = record["runs"]
    cells = list(dict.fromkeys(r["cell"] for r in runs))
    lags = list(dict.fromkeys(r["lag"] for r in runs))
    solved = solved_lags(runs)
    table = []
    for cell in cells:
        row = {"cell": cell, "lags": []}
        for lag in lags:
            mine = [r for r in runs if r["cell"] == cell and r["lag"] == lag]
            k, n = solved[cell][lag]
            row["lags"].append({"lag": lag, "errors": [r["test_mse"] for r in mine], "solved": k, "seeds": n})
        table.append(row)
    summary = [
        {
            "cell": cell,
            "all": [lag for lag in lags if solved[cell][lag][0] == solved[cell][lag][1]],
            "some": [lag for lag in lags if 0 < solved[cell][lag][0] < solved[cell][lag][1]],
            "none": [lag for lag in lags if solved[cell][lag][0] == 0],
        }
        for cell in cells
    ]
    # The gradient reaching the first step: its median over the first tenth of training
    # and over the last tenth, per cell and lag (the median over seeds of each).
    gradient = []
    for cell in cells:
        for lag in lags:
            mine = [np.array(r["first_step_norm"]) for r in runs if r["cell"] == cell and r["lag"] == lag]
            tenth = max(1, len(mine[0]) // 10)
            gradient.append(
                {
                    "cell": cell,
                    "lag": lag,
                    "start": float(np.median([np.median(m[:tenth]) for m in mine])),
                    "end": float(np.median([np.median(m[-tenth:]) for m in mine])),
                }
            )
    return {
        "cells": cells,
        "lags": lags,
        "table": table,
        "summary": summary,
        "gradient": gradient,
        "solved_below": SOLVED,
    }


REPRODUCED = 1e-9  # the largest difference from the recorded predictions the pages accept


def context(root: Path) -> dict:
    """Everything the pages say about training, and the figures: (context, {key: svg})."""
    from . import training_figures as draw

    found = records(root)
    review = found["review"]
    cells, readings, drawn = {}, {}, {}
    for run in review["runs"]:
        cell = run["cell"]
        reading = read_review(cell, found["weights"][cell], review["settings"])
        difference = float(np.max(np.abs(reading["prediction"] - np.array(run["predictions"]))))
        if difference > REPRODUCED:
            raise RuntimeError(
                f"the {cell} weights in records/review_{cell}.npz give predictions on the review "
                f"{difference:.1e} away from records/review.json's: run `python -m derive train review "
                "--record` again and commit both"
            )
        measured = measure(cell, reading)
        cells[cell] = {"run": run, "measured": measured, "predictions": predictions(reading)}
        readings[cell] = reading
        units = {gate: [u["unit"] for u in measured[gate]["units"]] for gate in gates(cell)}
        drawn[f"review_gates_{cell}"] = draw.review_gates(cell, reading, units, gates(cell))
    drawn["review_reading"] = draw.review_reading(readings)
    drawn["race_loss"] = draw.race_loss(found["adding"], ADDING_BASELINE, SOLVED)
    drawn["race_gradient"] = draw.race_gradient(found["adding"])
    ctx = {
        "adding": found["adding"],
        "race": race(found["adding"]),
        "baseline": ADDING_BASELINE,
        "margin": CLEAR,
        "review": review,
        "readings": cells,
        "corpus": {
            "subjects": corpus.SUBJECTS,
            "adverbs": corpus.ADVERBS,
            "positive": corpus.POSITIVE,
            "negative": corpus.NEGATIVE,
            "frames": [{"frame": f, "agree": a, "decides": d} for f, a, d in corpus.FRAMES],
            "adverb_rate": corpus.ADVERB_RATE,
            "words": len(corpus.words()),
            "review": " ".join(corpus.tokenize(corpus.REVIEW)),
        },
    }
    return ctx, drawn
