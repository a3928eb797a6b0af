"""What the training page and the cell pages say about trained networks, read from
the records that ``python -m derive train ... --record`` wrote (nothing here trains).

The review's measurements run the committed weights forward on the article's review and
read the gates from the generated module's cache; each claim the pages' story makes
about a gate is tested against them, so that the prose can say when it fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..catalogue import CATALOGUE
from ..training import corpus
from ..training.experiments import EVERY, SOLVED, review_model, solved_lags
from ..training.loop import CLIP
from ..training.model import READ_OUT, sigmoid
from ..training.tasks import ADDING_BASELINE, vocabulary

# What the story on the LSTM and GRU pages says each gate does on the review, as a
# comparison the measurements can test on single units: the gate is lower at the "low"
# words than at the "high" ones ("the rest": every other word of the review), and where the
# story says so, nearly closed at the low words or near 1 at the high ones.
CLAIMS = {
    "lstm": {
        "o": {"low": ("dry",), "high": "the rest"},
        "i": {
            "low": ("the", "of", "was"),
            "high": ("dry", "picked", "up", "pace", "amazing"),
            "closed": True,
        },
        "f": {"low": ("but",), "high": "the rest", "closed": True},
    },
    "gru": {
        "o": {"low": ("but",), "high": "the rest", "closed": True},
        "i": {"low": ("the",), "high": ("amazing",), "closed": True, "open": True},
    },
}
CLEAR = 0.1  # a gate lower by more than this is "lower" as the story says; less, "barely"
CLOSED, OPEN = 0.1, 0.9  # "nearly closed" is below CLOSED, "near 1" above OPEN
UNITS = 3  # the units analysed: those with the largest read-out weights
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


def read_out_units(reading: dict) -> list[int]:
    """The UNITS units whose output the read-out weighs most (largest |V_u|), largest first."""
    return [int(u) for u in np.argsort(-np.abs(reading["read_out"]), kind="stable")[:UNITS]]


def _positions(words: list[str], chosen) -> list[int]:
    return [k for k, w in enumerate(words) if w in chosen]


def measure(cell: str, reading: dict) -> dict:
    """Per gate, on each of the read-out's units: the story's claim tested (the gate's mean
    at the low words and at the high ones, whether it is lower, nearly closed, near 1), its
    value at "but" against elsewhere, and how many units the claim holds on; the gate's mean
    over all units beside, for comparison.  And the candidate on the same units, signed by
    the read-out weight (positive: pushes the verdict towards positive)."""
    words = reading["words"]
    units = read_out_units(reading)
    weights = reading["read_out"]
    turn = _positions(words, (TURN,))
    not_turn = [k for k in range(len(words)) if k not in turn]
    out: dict = {"units": [{"unit": u, "weight": float(weights[u])} for u in units]}
    for gate in gates(cell):
        g = reading["values"][gate]
        entry: dict = {
            "turn": [
                {"unit": u, "at": float(g[turn, u].mean()), "elsewhere": float(g[not_turn, u].mean())}
                for u in units
            ]
        }
        claim = CLAIMS.get(cell, {}).get(gate)
        if claim:
            lows = _positions(words, claim["low"])
            highs = (
                [k for k in range(len(words)) if k not in lows]
                if claim["high"] == "the rest"
                else _positions(words, claim["high"])
            )
            rows = []
            for u in units:
                low, high = float(g[lows, u].mean()), float(g[highs, u].mean())
                row = {"unit": u, "low": low, "high": high, "lower": high - low > CLEAR}
                if claim.get("closed"):
                    row["closed"] = float(g[lows, u].max()) < CLOSED
                if claim.get("open"):
                    row["open"] = float(g[highs, u].min()) > OPEN
                row["holds"] = row["lower"] and row.get("closed", True) and row.get("open", True)
                rows.append(row)
            entry["claim"] = {
                "low": list(claim["low"]),
                "high": claim["high"] if claim["high"] == "the rest" else list(claim["high"]),
                "closed": bool(claim.get("closed")),
                "open": bool(claim.get("open")),
                "units": rows,
                "holds_on": sum(r["holds"] for r in rows),
                "low_mean": float(g[lows].mean()),
                "high_mean": float(g[highs].mean()),
            }
        out[gate] = entry
    if "s_tilde" in reading["values"]:
        c = reading["values"]["s_tilde"]
        rows = []
        for u in units:
            sign = float(np.sign(weights[u]))
            dry, amazing = (float(c[_positions(words, (w,)), u].mean()) for w in ("dry", "amazing"))
            rows.append({"unit": u, "dry": dry, "amazing": amazing, "holds": sign * dry < 0 < sign * amazing})
        out["s_tilde"] = {"units": rows, "holds_on": sum(r["holds"] for r in rows)}
    return out


def predictions(reading: dict) -> dict:
    """P(positive) after the words the story turns on, after *really* (the last word before
    the second clause's verdict: what the network believes before it has read it), and at
    the end."""
    words, p = reading["words"], reading["prediction"]
    after = {w: float(p[words.index(w)]) for w in ("dry", "but", "second", "really", "pace", "amazing")}
    side = p[-1] > 0.5
    turn = words.index(TURN)
    wrong = [k for k in range(turn, len(words)) if (p[k] > 0.5) != side]
    return {
        "after": after,
        # the first word after "but" from which the verdict stays on its final side of 1/2
        "settled_at": words[wrong[-1] + 1] if wrong else TURN,
        "final": float(p[-1]),
        "lowest": float(p.min()),
        "lowest_word": words[int(p.argmin())],
    }


def turned(cell: str, reading: dict, measured: dict) -> dict:
    """What the read-out's units do across the second clause: each unit's push on the
    verdict, V_u times its output, at *but* and after *pace*, and how many of them change
    sign; and how many of the story's gate claims hold on every unit, some, or none."""
    words = reading["words"]
    output = reading["values"].get("h", reading["values"].get(CATALOGUE[cell].states[0]))
    weights = reading["read_out"]
    rows = []
    for u in (m["unit"] for m in measured["units"]):
        at, after = (float(weights[u] * output[words.index(w), u]) for w in (TURN, "pace"))
        rows.append({"unit": u, "at": at, "after": after, "turns": at * after < 0})
    n = len(rows)
    claims = [e["claim"]["holds_on"] for e in measured.values() if isinstance(e, dict) and e.get("claim")]
    if "s_tilde" in measured:
        claims.append(measured["s_tilde"]["holds_on"])
    return {
        "units": rows,
        "turning": sum(r["turns"] for r in rows),
        "claims": len(claims),
        "all": sum(k == n for k in claims),
        "some": sum(0 < k < n for k in claims),
        "none": sum(k == 0 for k in claims),
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


def context(root: Path) -> tuple[dict, Callable[[], dict[str, str]]]:
    """Everything the pages say about training, and what draws its figures: (context, a
    function that returns {key: svg} in the language being drawn, derive.site.words)."""
    from . import training_figures as draw

    found = records(root)
    review = found["review"]
    cells, readings = {}, {}
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
        cells[cell] = {
            "run": run,
            "measured": measured,
            "predictions": predictions(reading),
            "turned": turned(cell, reading, measured),
        }
        readings[cell] = reading

    def drawn() -> dict[str, str]:
        out = {
            f"review_gates_{cell}": draw.review_gates(
                cell, reading, [u["unit"] for u in cells[cell]["measured"]["units"]], gates(cell)
            )
            for cell, reading in readings.items()
        }
        out["review_reading"] = draw.review_reading(readings)
        out["race_loss"] = draw.race_loss(found["adding"], ADDING_BASELINE, SOLVED)
        out["race_gradient"] = draw.race_gradient(found["adding"])
        return out

    ctx = {
        "adding": found["adding"],
        "race": race(found["adding"]),
        "baseline": ADDING_BASELINE,
        "clip": f"{CLIP:g}",  # the norm every run's gradient is clipped to
        "every": EVERY,  # the records keep the mean of each EVERY steps, which the figures draw
        "margin": CLEAR,
        "closed": CLOSED,
        "open": OPEN,
        "review": review,
        "readings": cells,
        "corpus": {
            "subjects": corpus.SUBJECTS,
            "adverbs": corpus.ADVERBS,
            "positive": [p for p, _ in corpus.POSITIVE],
            "negative": [n for n, _ in corpus.NEGATIVE],
            "frames": [{"frame": f, "agree": a, "decides": d, "held_out": h} for f, a, d, h in corpus.FRAMES],
            # one negation of each kind: "was not ...", "never ..."
            "negated": [corpus.POSITIVE[0], next(p for p in corpus.NEGATIVE if not p[0].startswith("was "))],
            "negation_rate": corpus.NEGATION_RATE,
            "neutral": corpus.NEUTRAL,
            "new_subjects": corpus.NEW_SUBJECTS,
            "adverb_rate": corpus.ADVERB_RATE,
            "words": len(corpus.words()),
            "review": " ".join(corpus.tokenize(corpus.REVIEW)),
        },
    }
    return ctx, drawn
