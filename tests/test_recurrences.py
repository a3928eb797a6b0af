"""The page on the recurrences of 2024: its Jacobian claims against finite differences of the
generated step, the scan's operator against the sequential loop, the sLSTM's range, and the
race's table and figure against the records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated
from derive.site import recurrences as R
from derive.site import scan
from derive.site.pages import PAGES

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "recurrences.md"


# --- the Jacobians -----------------------------------------------------------------


def _step_jacobian(name: str, seed: int = 0) -> tuple[np.ndarray, dict, dict]:
    """The Jacobian of one step of the generated module from the carried states (those a
    step reads back, stacked) to their new values, by central differences (one sequence),
    with the parameters and the step's cache."""
    module = generated(name)
    rng = np.random.default_rng(seed)
    params = module.init_params(3, 5, rng=rng)
    x = rng.normal(size=(1, 1, 3))
    start = {s: rng.uniform(0.5, 1.5, size=(1, 5)) for s in module.STATES}
    carried = R.recurrent_states(CATALOGUE[name])

    def step(v):
        given = {s: v[5 * k : 5 * (k + 1)][None] for k, s in enumerate(carried)}
        out, _ = module.forward(params, x, dict(start, **given))
        return np.concatenate([out[s][0, 0] for s in carried])

    at = np.concatenate([start[s][0] for s in carried])
    columns = [(step(at + e) - step(at - e)) / 2e-6 for e in 1e-6 * np.eye(len(at))]
    _, cache = module.forward(params, x, start)
    return np.array(columns).T, params, cache


@pytest.mark.parametrize("name", ["mingru", "minlstm", "lru"])
def test_the_diagonal_claim_holds_on_the_generated_step(name):
    """The derivation says diagonal with no weight matrix; the generated step, differenced,
    has no off-diagonal entry and its diagonal is the derived keep factor."""
    claim = R.recurrence_jacobian(CATALOGUE[name])
    assert claim["diagonal"] and claim["weights"] == []
    jacobian, params, cache = _step_jacobian(name)
    off = jacobian - np.diag(np.diag(jacobian))
    assert np.abs(off).max() < 1e-9
    keep = R.keep_factors(CATALOGUE[name], params, cache)[0, 0]
    np.testing.assert_allclose(np.diag(jacobian), keep, rtol=1e-7)


@pytest.mark.parametrize("name", ["lstm", "gru", "slstm"])
def test_the_cells_whose_step_mixes_units_are_not_called_diagonal(name):
    claim = R.recurrence_jacobian(CATALOGUE[name])
    assert not claim["diagonal"] and "W" in claim["weights"]
    jacobian, *_ = _step_jacobian(name)
    assert np.abs(jacobian - np.diag(np.diag(jacobian))).max() > 1e-3


def test_the_lru_read_out_is_not_a_carried_state():
    assert R.recurrent_states(CATALOGUE["lru"]) == ["s"]
    assert R.recurrent_states(CATALOGUE["slstm"]) == ["c", "n", "h"]


def test_the_product_check_sees_a_wrong_keep_factor(monkeypatch):
    assert R.product_check("mingru", "kept") < 1e-12
    right = R.keep_factors
    monkeypatch.setattr(R, "keep_factors", lambda *args: 1.01 * right(*args))
    assert R.product_check("mingru", "kept") == pytest.approx(0.01, rel=1e-6)


def test_with_the_keep_entries_near_0_95_the_gradient_shrinks_by_the_keep_factor():
    rate = {row["cell"]: row for row in R.rates()}
    for name in ("mingru", "minlstm", "lru"):
        assert rate[name]["kept"] == pytest.approx(rate[name]["kept_keep"], abs=2e-3)
        assert 0.94 < rate[name]["kept"] < 0.96
    assert "kept_keep" not in rate["lstm"]


# --- the scan ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2, 7, 8, 13])
def test_the_scan_gives_the_loops_states(steps):
    rng = np.random.default_rng(steps)
    a, b, s0 = rng.uniform(-1.2, 1.2, (steps, 4)), rng.normal(size=(steps, 4)), rng.normal(size=4)
    np.testing.assert_allclose(scan.scanned(a, b, s0), scan.sequential(a, b, s0), rtol=1e-12, atol=1e-12)
    # each state by hand: s_t = a_t s_{t-1} + b_t
    s = s0
    for t in range(steps):
        s = a[t] * s + b[t]
    np.testing.assert_allclose(scan.scanned(a, b, s0)[-1], s, rtol=1e-12)


def test_the_operator_is_associative_and_composes_two_steps():
    rng = np.random.default_rng(0)
    p, q, r = ((rng.normal(size=3), rng.normal(size=3)) for _ in range(3))
    left = scan.combine(scan.combine(p, q), r)
    right = scan.combine(p, scan.combine(q, r))
    np.testing.assert_allclose(left, right, rtol=1e-13)
    s = rng.normal(size=3)
    a, b = scan.combine(p, q)
    np.testing.assert_allclose(a * s + b, q[0] * (p[0] * s + p[1]) + q[1], rtol=1e-13)


def test_the_drawn_rounds_cover_every_prefix():
    rounds = scan.doubling(8)
    assert len(rounds) == 4
    assert rounds[-1] == [(1, t) for t in range(1, 9)]
    assert rounds[1] == [(1, 1)] + [(t - 1, t) for t in range(2, 9)]
    svg = scan.figure()
    labels = re.findall(r'<text class="n"[^>]*>([^<]+)</text>', svg)
    assert len(labels) == 32 and labels[-8:] == ["1", *(f"1–{t}" for t in range(2, 9))]
    width = float(re.search(r'width="([\d.]+)"', svg)[1])
    assert width <= 358  # a phone's column shows it at its own size, text at 12 px or more


# --- the sLSTM's range ------------------------------------------------------------------


def test_the_slstm_range_brackets_where_it_stops_being_finite():
    small = {"steps": 64, "batch": 2, "inputs": 4, "hidden": 8, "seed": 1}
    ranges = {}
    for dtype in ("float32", "float64"):
        low, high = R.overflow_scale(dtype, tuple(small.items()))
        assert high / low <= 1.02
        assert R._finite(np.dtype(dtype).type, low, small)
        assert not R._finite(np.dtype(dtype).type, high, small)
        ranges[dtype] = low
    assert ranges["float64"] > 4 * ranges["float32"]


# --- the page --------------------------------------------------------------------------


def test_the_page_comes_after_the_variants_in_the_nav():
    assert PAGES.index("recurrences") == PAGES.index("variants") + 1
    nav = [m for m in re.findall(r"^  - [^:]+: (\w+)\.md$", (ROOT / "mkdocs.yml").read_text(), re.M)]
    assert nav == list(PAGES)


def test_the_pages_jacobian_table_is_the_derivations():
    text = PAGE.read_text()
    for name in (*R.BESIDE, *R.NEW):
        row = re.search(rf"^\| `{name}` \| [^|]+\| (yes|no) \| ([^|]+) \|$", text, re.M)
        claim = R.recurrence_jacobian(CATALOGUE[name])
        assert row[1] == ("yes" if claim["diagonal"] else "no")
        assert (row[2].strip() == "none") == (claim["weights"] == [])


def test_the_race_on_the_page_is_the_records():
    record = R.race_record(ROOT)
    old = json.loads((ROOT / "records" / "adding.json").read_text())
    new = json.loads((ROOT / "records" / "adding-2024.json").read_text())
    assert new["command"] == "python -m derive train adding-2024 --record"
    assert {k: v for k, v in new["settings"].items() if k != "cells"} == {
        k: v for k, v in old["settings"].items() if k != "cells"
    }
    text = PAGE.read_text().split("## The long-lag race")[1]
    for cell in record["settings"]["cells"]:
        row = re.search(rf"^\| `{cell}` \| (.*) \|$", text, re.M)[1]
        shown = [float(v) for v in re.findall(r"\d\.\d{4}", row)]
        runs = [r["test_mse"] for r in record["runs"] if r["cell"] == cell]
        assert shown == [float(f"{e:.4f}") for e in runs]
    from derive.site import training_figures
    from derive.training.experiments import SOLVED
    from derive.training.tasks import ADDING_BASELINE

    drawn = training_figures.race_loss(record, ADDING_BASELINE, SOLVED)
    assert drawn == (ROOT / "docs" / "figures" / "recurrences_race.svg").read_text()


def test_records_of_other_settings_stop_the_page(tmp_path):
    (tmp_path / "records").mkdir()
    old = json.loads((ROOT / "records" / "adding.json").read_text())
    new = json.loads((ROOT / "records" / "adding-2024.json").read_text())
    new["settings"]["steps"] = 10
    (tmp_path / "records" / "adding.json").write_text(json.dumps(old))
    (tmp_path / "records" / "adding-2024.json").write_text(json.dumps(new))
    with pytest.raises(RuntimeError, match="different settings"):
        R.race_record(tmp_path)
