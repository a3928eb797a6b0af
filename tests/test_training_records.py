"""The committed training records and what the pages say from them: the weights give the
recorded predictions, a short retrain repeats the record's start, the records say how
they were made, and the prose about each gate follows the measurements, also when they
contradict the story."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from derive.training import corpus, experiments

ROOT = Path(__file__).resolve().parent.parent


# --- the committed records -------------------------------------------------------


def _review_record():
    return json.loads((ROOT / "records" / "review.json").read_text())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_committed_weights_reproduce_the_committed_predictions(cell):
    record = _review_record()
    run = next(r for r in record["runs"] if r["cell"] == cell)
    with np.load(ROOT / "records" / f"review_{cell}.npz") as weights:
        params = dict(weights)
    model = experiments.review_model(cell, record["settings"])
    np.testing.assert_allclose(
        experiments.review_predictions(model, params), run["predictions"], rtol=0, atol=1e-12
    )
    _, _, held_out = experiments.review_data(record["settings"])
    assert experiments.accuracy(model, params, held_out) == run["held_out_accuracy"]


def test_the_records_say_how_they_were_made():
    for name in experiments.EXPERIMENTS:
        record = json.loads((ROOT / "records" / f"{name}.json").read_text())
        assert record["command"].startswith(f"python -m derive train {name} --record")
        assert record["seconds"] > 0 and "cores" in record["machine"] and record["settings"]["steps"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("task", list(experiments.EXPERIMENTS))
def test_the_records_are_made_from_their_runs_byte_for_byte(task, monkeypatch):
    """The committed records again from their own runs, times and machine: the command's
    plan has the record's settings, and record_files gives the same bytes."""
    recorded = json.loads((ROOT / "records" / f"{task}.json").read_text())
    settings, runs = experiments.plan(task, experiments.EXPERIMENTS[task])
    assert json.loads(json.dumps(settings)) == recorded["settings"]
    assert [(cell, seed) for _, cell, _, seed, _ in runs] == [
        (r["cell"], r.get("seed", settings.get("seed"))) for r in recorded["runs"]
    ]
    results = []
    for run in recorded["runs"]:
        weights = None
        if task == "review":
            with np.load(ROOT / "records" / f"review_{run['cell']}.npz") as npz:
                weights = dict(npz)
        results.append((run, weights))
    monkeypatch.setattr(experiments, "machine", lambda: recorded["machine"])
    files = experiments.record_files(
        ROOT / "records",
        task,
        settings,
        results,
        seed=None,
        steps=None,
        seconds=recorded["seconds"],
        jobs=recorded["jobs"],
    )
    npz_files = [f"review_{r['cell']}.npz" for r in recorded["runs"]] if task == "review" else []
    assert sorted(files) == sorted(ROOT / "records" / name for name in [f"{task}.json", *npz_files])
    for path, content in files.items():
        assert (content.encode() if isinstance(content, str) else content) == path.read_bytes(), path.name


def test_a_short_retrain_falls_and_repeats_the_record_start():
    """The review's first 100 steps again: the loss falls, and the record's first windows
    of the loss come back (the same seed gives the same numbers)."""
    record = _review_record()
    run = next(r for r in record["runs"] if r["cell"] == "lstm")
    again, _ = experiments.review_run("lstm", steps=100, seed=record["settings"]["seed"])
    assert again["loss"][-1] < 0.8 * again["loss"][0]
    np.testing.assert_allclose(again["loss"], run["loss"][: len(again["loss"])], rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "cell"), [("adding", "rnn"), ("adding-2024", "mingru"), ("adding-2024", "minlstm")]
)
def test_a_short_adding_run_repeats_the_race_record(task, cell):
    record = json.loads((ROOT / "records" / f"{task}.json").read_text())
    run = next(r for r in record["runs"] if r["cell"] == cell and r["lag"] == 10)
    again = experiments.adding_run(cell, 10, run["seed"], steps=200)
    np.testing.assert_allclose(again["loss"], run["loss"][:20], rtol=1e-9)
    assert np.mean(again["loss"][-5:]) < np.mean(again["loss"][:5])


# --- what the pages say --------------------------------------------------------------


def _reading(cell, gate_at_but, gate_elsewhere):
    """A made-up reading of the review in which every gate is gate_elsewhere except at "but"."""
    words = corpus.tokenize(corpus.REVIEW)
    values = {}
    for name in ("o", "i", "f", "s_tilde"):
        g = np.full((len(words), 4), gate_elsewhere)
        g[words.index("but")] = gate_at_but
        values[name] = g
    return {"words": words, "values": values, "read_out": np.ones(4)}


def test_a_gate_that_does_not_behave_as_the_story_says_is_reported_so():
    from derive.render import environment
    from derive.site import training

    template = environment().from_string(
        '{% import "pages/_training.md.j2" as tr %}{{ tr.measured(training, "lstm", "f") }}'
    )

    def sentence(reading):
        measured = training.measure("lstm", reading)
        ctx = {
            "readings": {"lstm": {"measured": measured}},
            "margin": training.CLEAR,
            "closed": training.CLOSED,
        }
        return template.render(training=ctx), measured["f"]["claim"]

    text, claim = sentence(_reading("lstm", 0.9, 0.2))  # the forget gate opens at "but": the story is wrong
    assert claim["holds_on"] == 0 and "**not as the story says**" in text
    assert "unit 0: 0.90 against 0.20, not nearly closed" in text
    text, claim = sentence(_reading("lstm", 0.05, 0.8))  # it closes on every unit: the story holds
    assert claim["holds_on"] == 3
    assert "words): as the story says. Its mean over all units, 0.05 against 0.80," in text
    reading = _reading("lstm", 0.05, 0.8)
    reading["values"]["f"][reading["words"].index("but"), 1] = 0.5  # one read-out unit only half closes
    text, claim = sentence(reading)
    assert claim["holds_on"] == 2 and "**as the story says on 2 of the 3 units only**" in text


def test_the_units_followed_are_those_the_read_out_weighs_most():
    from derive.site import training

    reading = _reading("lstm", 0.5, 0.5)
    reading["read_out"] = np.array([0.1, -2.0, 0.3, 1.5])
    reading["values"]["f"][reading["words"].index("but"), 1] = 0.05
    measured = training.measure("lstm", reading)
    assert [u["unit"] for u in measured["units"]] == [1, 3, 2]
    turn = measured["f"]["turn"][0]
    assert turn["unit"] == 1 and turn["at"] == pytest.approx(0.05) and turn["elsewhere"] == pytest.approx(0.5)
    # the candidate is judged on the same units, with the sign of their read-out weights
    words = reading["words"]
    c = reading["values"]["s_tilde"]
    c[:] = 0.0
    c[words.index("dry"), 1], c[words.index("amazing"), 1] = 0.6, -0.7  # weight -2: dry pushes down
    c[words.index("dry"), 3], c[words.index("amazing"), 3] = -0.6, 0.7  # weight +1.5: the same
    candidate = training.measure("lstm", reading)["s_tilde"]
    assert [u["holds"] for u in candidate["units"]] == [True, True, False]
    assert all(-1 <= u[k] <= 1 for u in candidate["units"] for k in ("dry", "amazing"))


def test_weights_that_do_not_give_the_recorded_predictions_stop_the_pages(tmp_path):
    from derive.site import training

    (tmp_path / "records").mkdir()
    for path in (ROOT / "records").glob("*"):
        (tmp_path / "records" / path.name).write_bytes(path.read_bytes())
    record = _review_record()
    record["runs"][0]["predictions"][3] += 1e-6
    (tmp_path / "records" / "review.json").write_text(json.dumps(record))
    with pytest.raises(RuntimeError, match="run `python -m derive train review --record` again"):
        training.context(tmp_path)
    (tmp_path / "records" / "adding.json").unlink()
    with pytest.raises(training.MissingRecord, match="python -m derive train adding --record"):
        training.context(tmp_path)


def test_the_figures_are_the_same_bytes_and_readable_on_a_phone():
    """Drawn twice, the same bytes; no text under 12 points, recorded in the SVG, and no
    figure wider than 330 points, the narrowest a page shows a panel at (330 px), so that
    nothing is shown under 12 px."""
    import re

    from derive.site import training

    one = training.context(ROOT)[1]()
    two = training.context(ROOT)[1]()
    assert one == two and set(one) >= {"race_loss", "race_gradient", "review_reading", "review_gates_lstm"}
    for svg in one.values():
        assert float(re.search(r'data-smallest-text="([\d.]+)"', svg).group(1)) >= 12
        assert float(re.search(r'<svg[^>]*width="([\d.]+)pt"', svg).group(1)) <= 330
        assert "Generated by `python -m derive docs` (derive/site/training_figures.py)" in svg.split("\n")[1]


def test_check_finds_a_number_that_differs_and_ignores_times():
    record = json.loads((ROOT / "records" / "adding.json").read_text())
    runs = record["runs"]
    fresh = json.loads(json.dumps(runs))
    fresh[0]["seconds"] += 5  # times differ from run to run
    assert experiments.compare(runs, fresh) == ([], 0.0)
    fresh[3]["loss"][7] *= 1 + 1e-4
    fresh[5]["solved"] = not fresh[5]["solved"]
    differences, largest = experiments.compare(runs, fresh)
    assert largest == pytest.approx(1e-4, rel=1e-6)
    r3, r5 = runs[3], runs[5]
    assert differences == [
        f"cell {r3['cell']} lag {r3['lag']} seed {r3['seed']}: loss differs by 1.0e-04 (relative)",
        f"cell {r5['cell']} lag {r5['lag']} seed {r5['seed']}: solved is {not r5['solved']!r}, "
        f"the record {r5['solved']!r}",
    ]
    assert experiments.changed_settings("adding", record["settings"]) == []
    assert experiments.changed_settings("adding", dict(record["settings"], hidden=8)) == [
        f"the setting hidden is now {experiments.RACE['hidden']!r}, the record's 8"
    ]


@pytest.mark.slow
def test_train_check_reproduces_the_review_record():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "derive", "train", "review", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "every number of records/review.json reproduced" in out.stdout
