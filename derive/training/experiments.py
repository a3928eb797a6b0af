"""The runs whose records the site reads: the long-lag race and the review.

Each function trains, measures and returns a record (plain JSON-able data, and for
the review the trained weights); ``plan`` lays out the runs of a ``train`` command and
``record_files`` makes the records from them, which the command line writes
(``python -m derive train adding --record``, ``python -m derive train review --record``).
The same seed gives the same numbers; only the times and the machine differ between runs.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import corpus
from .corpus import split
from .loop import train
from .model import Model, sigmoid
from .tasks import ADDING_BASELINE, adding, encode, vocabulary

# The race: every cell gets the same budget at every lag.
RACE = {
    "cells": ("rnn", "lstm", "gru"),
    "lags": (10, 50, 100),
    "seeds": (0, 1),
    "steps": 1000,
    "batch": 32,
    "learning_rate": 0.01,
    "hidden": 32,
    "test_size": 1000,
}
# The recurrences of 2024 in the same race: RACE's budget, lags, seeds and held-out sets,
# so that their runs (records/adding-2024.json) stand beside the LSTM's and GRU's in
# records/adding.json without training those again.
RACE_2024 = dict(RACE, cells=("mingru", "minlstm"))
# A lag counts as solved when the held-out error falls below a tenth of the baseline's.
SOLVED = ADDING_BASELINE / 10
EVERY = 10  # the records keep the mean of each EVERY steps

REVIEW = {
    "cells": ("lstm", "gru"),
    "seed": 0,
    "size": 3000,
    "held_out": 0.2,
    "new_size": 300,  # reviews of the held-out frames, and of the held-out subjects
    "steps": 1500,
    "batch": 32,
    "learning_rate": 0.01,
    "hidden": 16,
    "embedding": 16,
}

# Each task of `python -m derive train TASK`: its settings; every task but the review is
# the adding problem, and TASK.json is its record.
EXPERIMENTS = {"adding": RACE, "adding-2024": RACE_2024, "review": REVIEW}
ADDING = ("adding", "adding-2024")


def machine() -> str:
    """What the times were measured on (no host name)."""
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, one BLAS thread per run"
    )


def _windows(values: list[float]) -> list[float]:
    """The mean of each EVERY consecutive values (the last window may be shorter)."""
    return [float(np.mean(values[k : k + EVERY])) for k in range(0, len(values), EVERY)]


def adding_run(
    cell: str,
    lag: int,
    seed: int,
    steps: int,
    on_step: Callable[[int, float], None] | None = None,
    settings: dict = RACE,
) -> dict:
    """One cell trained on the adding problem at one lag, and its error on a held-out
    set of sequences (the same set for every cell and seed at that lag)."""
    from ..backends import fused_module

    start = time.process_time()
    model = Model(fused_module(cell), n_input=2, n_hidden=settings["hidden"], n_output=1, loss="mse")
    run = train(
        model,
        lambda rng: adding(lag, settings["batch"], rng),
        steps,
        settings["learning_rate"],
        seed,
        on_step=on_step,
    )
    test = adding(lag, settings["test_size"], np.random.default_rng(lag))
    error = float(np.mean((model.predict(run.params, test.data, test.lengths) - test.targets) ** 2))
    return {
        "cell": cell,
        "lag": lag,
        "seed": seed,
        "test_mse": error,
        "solved": error < SOLVED,
        "loss": _windows(run.log["loss"]),
        "first_step_norm": _windows(run.log["first_step_norm"]),
        "seconds": time.process_time() - start,
    }


def review_data(settings: dict = REVIEW):
    """(vocabulary, training set, held-out set), encoded."""
    words = vocabulary()
    training, held_out = split(settings["size"], settings["held_out"], settings["seed"])
    return words, encode(training, words), encode(held_out, words)


def review_tests(settings: dict = REVIEW) -> dict:
    """The sets that no training review resembles, encoded: {"new_frames": reviews of the
    held-out frames, "new_words": reviews about the held-out subjects}."""
    words = vocabulary()
    size, seed = settings["new_size"], settings["seed"]
    return {
        "new_frames": encode(corpus.new_frames(size, seed), words),
        "new_words": encode(corpus.new_words(size, seed), words),
    }


def review_model(cell: str, settings: dict = REVIEW) -> Model:
    from ..backends import fused_module

    return Model(
        fused_module(cell),
        n_input=settings["embedding"],
        n_hidden=settings["hidden"],
        n_output=1,
        loss="logistic",
        vocabulary=len(vocabulary()),
    )


def accuracy(model: Model, params: dict[str, np.ndarray], data) -> float:
    """The share of reviews whose predicted label (σ(y) > 1/2) is right."""
    y = model.predict(params, data.tokens, data.lengths)
    return float(np.mean((y > 0) == (data.labels > 0.5)))


def review_predictions(model: Model, params: dict[str, np.ndarray]) -> list[float]:
    """P(positive) after each word of the seed's review."""
    words = vocabulary()
    tokens = np.array([[words[w]] for w in corpus.tokenize(corpus.REVIEW)])
    _, _, y = model.run(params, tokens)
    return [float(p) for p in sigmoid(y[:, 0, 0])]


def review_run(
    cell: str, steps: int, seed: int, on_step: Callable[[int, float], None] | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """One cell trained on the review corpus: (its record, its trained parameters)."""
    start = time.process_time()
    settings = dict(REVIEW, seed=seed)
    _, training, held_out = review_data(settings)
    model = review_model(cell, settings)
    batch = settings["batch"]

    def batches(rng):
        return training.batch(rng.choice(len(training), batch, replace=False))

    run = train(model, batches, steps, settings["learning_rate"], seed, on_step=on_step)
    record = {
        "cell": cell,
        "held_out_accuracy": accuracy(model, run.params, held_out),
        "training_accuracy": accuracy(model, run.params, training),
        **{f"{k}_accuracy": accuracy(model, run.params, data) for k, data in review_tests(settings).items()},
        "loss": _windows(run.log["loss"]),
        "review": corpus.tokenize(corpus.REVIEW),
        "predictions": review_predictions(model, run.params),
        "seconds": time.process_time() - start,
    }
    return record, run.params


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as an .npz file (what numpy.load reads), byte for byte the same for
    the same arrays: the zip entries carry a fixed date instead of the time of writing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, entry.getvalue())
    return buffer.getvalue()


def review_data_note(settings: dict) -> dict:
    """What the review's corpus was: its sizes and where its rules are."""
    _, training, held_out = review_data(settings)
    return {
        "rules": "derive/training/corpus.py",
        "training": len(training),
        "held_out": len(held_out),
        "new_frames": settings["new_size"],
        "new_words": settings["new_size"],
        "vocabulary": len(vocabulary()),
        "seed": settings["seed"],
    }


def solved_lags(runs: list[dict]) -> dict[str, dict[int, tuple[int, int]]]:
    """{cell: {lag: (seeds solved, seeds run)}} from the race's runs."""
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for r in runs:
        solved, total = out.setdefault(r["cell"], {}).get(r["lag"], (0, 0))
        out[r["cell"]][r["lag"]] = (solved + r["solved"], total + 1)
    return out


def race_table(runs: list[dict]) -> str:
    """The race's runs as a text table, and the lags each cell solved."""
    lines = [f"{'cell':<10} {'lag':>5} {'seed':>5} {'held-out MSE':>13}  solved (below {SOLVED:.4f})"]
    for r in runs:
        lines.append(
            f"{r['cell']:<10} {r['lag']:>5} {r['seed']:>5} {r['test_mse']:>13.5f}  "
            + ("yes" if r["solved"] else "no")
        )
    for cell, lags in solved_lags(runs).items():
        shown = ", ".join(f"{lag} ({k} of {n} seeds)" for lag, (k, n) in lags.items() if k)
        lines.append(f"{cell} solved lags: {shown or 'none'}")
    return "\n".join(lines)


def review_table(runs: list[dict]) -> str:
    lines = [
        f"{'cell':<6} {'held out':>9} {'new frames':>11} {'new words':>10} {'training':>9}"
        "  P(positive) after the review"
    ]
    for r in runs:
        lines.append(
            f"{r['cell']:<6} {r['held_out_accuracy']:>9.4f} {r['new_frames_accuracy']:>11.4f} "
            f"{r['new_words_accuracy']:>10.4f} {r['training_accuracy']:>9.4f}  {r['predictions'][-1]:.4f}"
        )
    return "\n".join(lines)


TOLERANCE = 1e-6  # the relative difference --check allows: the BLAS's rounding, not a change


# One run of a train command: (task, cell, lag, seed, steps); the review's lag is 0.
Run = tuple[str, str, int, int, int]


def plan(
    task: str,
    settings: dict,
    cell: str | None = None,
    lag: int | None = None,
    seed: int | None = None,
    steps: int | None = None,
) -> tuple[dict, list[Run]]:
    """The settings of a ``train TASK`` command (the experiment's ``settings`` with its
    cells, steps and seeds as the command sets them; None is the experiment's own) and
    its runs: the adding problem at every cell, lag and seed, the review once a cell."""
    cells = [cell] if cell else list(settings["cells"])
    steps = steps or settings["steps"]
    if task in ADDING:
        seeds = [seed] if seed is not None else list(settings["seeds"])
        lags = [lag] if lag else list(settings["lags"])
        runs = [("adding", c, k, s, steps) for c in cells for k in lags for s in seeds]
        return dict(settings, cells=cells, steps=steps, seeds=seeds), runs
    seed = settings["seed"] if seed is None else seed
    return dict(settings, cells=cells, steps=steps, seed=seed), [("review", c, 0, seed, steps) for c in cells]


def record_files(
    folder: Path,
    task: str,
    settings: dict,
    results: list[tuple[dict, dict[str, np.ndarray] | None]],
    *,
    seed: int | None,
    steps: int | None,
    seconds: float,
    jobs: int,
) -> dict[Path, str | bytes]:
    """The records of ``train TASK --record`` under ``folder``: TASK.json (the command, with
    the --seed and --steps it was given, None where not; the ``settings`` from :func:`plan`;
    the wall-clock and CPU seconds, the processes and the machine; every run), and for the
    review each cell's trained weights, review_CELL.npz.  ``results`` are the runs' (record,
    weights or None) in the order of :func:`plan`."""
    runs = [r for r, _ in results]
    command = f"python -m derive train {task} --record" + "".join(
        f" --{option} {value}" for option, value in (("seed", seed), ("steps", steps)) if value
    )
    meta = {
        "command": command,
        "settings": settings,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(sum(r["seconds"] for r in runs), 1),
        "jobs": jobs,
        "machine": machine(),
    }
    files: dict[Path, str | bytes] = {}
    if task in ADDING:
        meta["solved_below"] = SOLVED
    else:
        meta["data"] = review_data_note(settings)
        for record, params in results:
            assert params is not None, "a review run returns its weights"
            files[folder / f"review_{record['cell']}.npz"] = npz_bytes(params)
    meta["runs"] = runs
    files[folder / f"{task}.json"] = json.dumps(meta, indent=1, ensure_ascii=False) + "\n"
    return files


def read_record(folder: Path, task: str) -> dict:
    """records/TASK.json, or a FileNotFoundError that names the command that writes it."""
    path = folder / f"{task}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"records/{task}.json is missing: run `python -m derive train {task} --record`"
        )
    return json.loads(path.read_text())


def compare(recorded: list[dict], fresh: list[dict]) -> tuple[list[str], float]:
    """The numbers of the fresh runs that differ from the recorded ones by more than
    TOLERANCE (relative), each as one line, and the largest relative difference.  Times
    are not compared."""
    differences: list[str] = []
    largest = 0.0
    if len(recorded) != len(fresh):
        return [f"{len(fresh)} runs against {len(recorded)} recorded"], float("inf")
    for old, new in zip(recorded, fresh, strict=True):
        name = " ".join(f"{k} {old[k]}" for k in ("cell", "lag", "seed") if k in old)
        for key, value in old.items():
            if key == "seconds":
                continue
            a, b = np.asarray(value), np.asarray(new.get(key))
            if a.dtype.kind in "fc" or b.dtype.kind in "fc":
                if a.shape != b.shape:
                    differences.append(f"{name}: {key} has {b.size} values, the record {a.size}")
                    continue
                scale = np.maximum(np.abs(a), 1e-12)
                relative = float(np.max(np.abs(a - b) / scale)) if a.size else 0.0
                largest = max(largest, relative)
                if relative > TOLERANCE:
                    differences.append(f"{name}: {key} differs by {relative:.1e} (relative)")
            elif value != new.get(key):
                differences.append(f"{name}: {key} is {new.get(key)!r}, the record {value!r}")
    return differences, largest


def changed_settings(task: str, recorded: dict) -> list[str]:
    """The experiment's settings that the code now has and the record was not made with."""
    current = EXPERIMENTS[task]
    runs = ("cells", "steps", "seeds", "seed", "lags")  # what --check takes from the record itself
    return [
        f"the setting {k} is now {v!r}, the record's {recorded.get(k)!r}"
        for k, v in current.items()
        if k not in runs and v != recorded.get(k)
    ]
