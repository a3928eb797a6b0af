"""Truncated BPTT (derive/site/truncation.py) and the numbers of the "LSTM or GRU" page.

The truncated gradient is checked three independent ways: against the derivation run as
written at 30 digits (the reference BPTT) with the carry cut at the windows' starts;
against finite differences of the loss in which the state a window starts from is held
fixed; and, for the page's own measurement, against PyTorch's autograd on the cells'
equations written here, with the state detached at every window's start.
"""

import tracemalloc

import numpy as np
import pytest

from derive.build import ROOT
from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated
from derive.derivation import derive
from derive.generated import CELLS
from derive.site import compare
from derive.site import truncation as tr
from derive.verification.numeric import random_problem, reference


def windows(steps, window):
    return [slice(a, a + window) for a in range(0, steps, window)]


@pytest.mark.parametrize("name", CELLS)
def test_truncated_gradient_is_the_reference_bptt_with_the_carry_cut(name):
    m = generated(name)
    params, x, state, d_outputs = random_problem(m, 3, 4, 7, 2, seed=5)
    derivation = derive(CATALOGUE[name])
    outputs = reference(derivation, params, x, state, d_outputs)[0]
    want = {k: np.zeros_like(v) for k, v in params.items()}
    for w in windows(7, 3):  # windows of 3, 3 and 1 steps, each from the state before it
        start = state if w.start == 0 else {s: outputs[s][w.start - 1] for s in m.STATES}
        d_params = reference(derivation, params, x[w], start, {s: d[w] for s, d in d_outputs.items()})[1]
        for k in want:
            want[k] += d_params[k]
    got = tr.truncated_gradient(m, params, x, d_outputs, 3, state)
    for k in m.PARAMETERS:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "gru_torch"])
def test_truncated_gradient_is_the_gradient_of_the_loss_with_the_window_starts_held(name):
    """L_K(θ) = Σ_windows Σ_t ⟨g_t, y_t⟩, each window run from the state the full run at the
    unperturbed θ reached before it, held fixed: its central differences along a random
    direction per parameter."""
    m = generated(name)
    params, x, state, d_outputs = random_problem(m, 3, 4, 8, 2, seed=11)
    held, _ = m.forward(params, x, state)
    parts = windows(8, 3)
    starts = [state if w.start == 0 else {s: held[s][w.start - 1] for s in m.STATES} for w in parts]

    def loss(p):
        total = 0.0
        for w, start in zip(parts, starts, strict=True):
            outputs, _ = m.forward(p, x[w], start)
            total += sum(float(np.sum(d_outputs[s][w] * outputs[s])) for s in m.STATES)
        return total

    got = tr.truncated_gradient(m, params, x, d_outputs, 3, state)
    rng = np.random.default_rng(0)
    for k in m.PARAMETERS:
        direction = rng.normal(size=params[k].shape)
        h = 1e-5
        plus = loss(dict(params, **{k: params[k] + h * direction}))
        minus = loss(dict(params, **{k: params[k] - h * direction}))
        numeric = (plus - minus) / (2 * h)
        analytic = float(np.sum(got[k] * direction))
        assert abs(numeric - analytic) <= 1e-7 * max(1.0, abs(analytic)), (k, numeric, analytic)
    # and it is not the full gradient: the cut terms are there to be lost
    _, cache = m.forward(params, x, state)
    full = m.backward(cache, d_outputs)[0]
    assert max(np.abs(full[k] - got[k]).max() for k in m.PARAMETERS) > 1e-3


def test_one_window_of_the_whole_sequence_is_full_bptt():
    m = generated("lstm")
    params, x, state, d_outputs = random_problem(m, 3, 4, 6, 2, seed=2)
    _, cache = m.forward(params, x, state)
    full = m.backward(cache, d_outputs)[0]
    for window in (6, 7, 100):
        got = tr.truncated_gradient(m, params, x, d_outputs, window, state)
        assert all(np.array_equal(got[k], full[k]) for k in m.PARAMETERS)


# --- the page's measurement, recomputed with PyTorch's autograd -------------------------


def _torch_step(name, torch):
    """One step of the cell from its equations (rows: y = v Wᵀ), in torch."""
    sig, tanh = torch.sigmoid, torch.tanh

    def affine(p, gate, v, x):
        suffix = f"_{gate}" if gate else ""
        return v @ p["W" + suffix].T + x @ p["U" + suffix].T + p["b" + suffix]

    def rnn(p, state, x):
        return {"s": tanh(affine(p, "", state["s"], x))}

    def lstm(p, state, x):
        h = state["h"]
        o, i, f = (sig(affine(p, g, h, x)) for g in "oif")
        s = f * state["s"] + i * tanh(affine(p, "", h, x))
        return {"s": s, "h": o * tanh(s), "o": o}

    def gru(p, state, x):
        s = state["s"]
        o, i = sig(affine(p, "o", s, x)), sig(affine(p, "i", s, x))
        candidate = tanh((o * s) @ p["W"].T + x @ p["U"].T + p["b"])
        return {"s": (1 - i) * s + i * candidate}

    return {"rnn": rnn, "lstm": lstm, "gru": gru}[name]


def _torch_truncated(name, bias, window):
    """(truncated gradient as one vector, the run's values): the page's problem in float64,
    the state detached at the start of every window, one backward over the whole loss."""
    torch = pytest.importorskip("torch")
    m, params, x, d_outputs = tr.problem(name, bias)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    state = {s: torch.zeros(tr.BATCH, tr.HIDDEN, dtype=torch.float64) for s in m.STATES}
    step = _torch_step(name, torch)
    y = m.STATES[-1]
    g = torch.tensor(d_outputs[y])
    loss = torch.zeros((), dtype=torch.float64)
    values = {"s": [], "o": []}
    for t in range(tr.STEPS):
        if t % window == 0:
            state = {s: v.detach() for s, v in state.items()}
        out = step(p, state, torch.tensor(x[t]))
        state = {s: out[s] for s in m.STATES}
        loss = loss + (g[t] * out[y]).sum()
        values["s"].append(out["s"].detach().numpy())
        if "o" in out:
            values["o"].append(out["o"].detach().numpy())
    loss.backward()
    return np.concatenate([p[k].grad.numpy().ravel() for k in m.PARAMETERS]), values


@pytest.fixture(scope="module")
def page():
    from derive.printing.context import cell_context

    cells = {name: cell_context(CATALOGUE[name]) for name in ("rnn", "lstm", "gru", "gru_torch")}
    return compare.context(cells)


@pytest.mark.slow
def test_the_pages_truncation_numbers_are_what_autograd_gives(page):
    t = page["truncation"]
    text = (ROOT / "docs" / "compare.md").read_text()
    errors, cosines = {}, {}
    for key, name, bias in tr.SETTINGS:
        full, _ = _torch_truncated(name, bias, tr.STEPS)
        for k in tr.WINDOWS:
            cut, _ = _torch_truncated(name, bias, k)
            errors[key, k] = np.linalg.norm(cut - full) / np.linalg.norm(full)
            cosines[key, k] = cut @ full / (np.linalg.norm(cut) * np.linalg.norm(full))
    for r in t["rows"]:
        for i, k in enumerate(tr.WINDOWS):
            assert r["errors"][i] == pytest.approx(errors[r["key"], k], rel=1e-9)
            assert r["cosines"][i] == pytest.approx(cosines[r["key"], k], rel=1e-12)
    # the committed page shows those numbers, as its tables round them
    for k in tr.WINDOWS:
        row = "".join(f" {errors[key, k]:.3f} |" for key, *_ in tr.SETTINGS)
        assert f"| {k} |{row}" in text
        row = "".join(f" {cosines[key, k]:.4f} |" for key, *_ in tr.SETTINGS)
        assert f"| {k} |{row}" in text
    # what the page says about them
    for r in t["rows"]:
        under = [k for k in tr.WINDOWS if errors[r["key"], k] < 0.1]
        assert r["under_tenth"] == (under[0] if under else None)
    for cell in ("lstm", "gru"):
        longer = all(errors[f"{cell}_keep", k] > errors[cell, k] for k in tr.WINDOWS)
        assert t["keep_costs_more"][cell] == longer
    assert t["whole"] == 0.0


@pytest.mark.slow
def test_the_pages_state_sizes_and_output_gate_are_what_autograd_runs_give(page):
    x = page["exposure"]
    _, lstm = _torch_truncated("lstm", None, tr.STEPS)
    assert x["output_gate"] == pytest.approx(np.mean(lstm["o"]), rel=1e-12)
    for key, name, bias in tr.SETTINGS:
        if name != "rnn":
            _, run = _torch_truncated(name, bias, tr.STEPS)
            assert x["largest"][key]["value"] == pytest.approx(np.abs(run["s"]).max(), rel=1e-12)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "gru_torch"])
def test_cache_per_step_is_the_memory_forward_keeps(name):
    """The cache's growth per step, as the numbers its arrays hold, against the bytes that
    tracemalloc sees a forward pass keep alive for a long sequence."""
    m = generated(name)
    n_hidden, batch = 32, 8
    params = m.init_params(4, n_hidden, rng=0)

    def kept(steps):
        x = np.zeros((steps, batch, 4))
        tracemalloc.start()
        try:
            result = m.forward(params, x)
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del result
        return size

    per_step = (kept(400) - kept(200)) / 200 / (8 * batch * n_hidden)
    assert per_step == pytest.approx(tr.cache_per_step(name), rel=0.02)


def test_keep_table_is_the_gate_and_its_tenfold_length():
    for row in compare.keep_table():
        gate = 1 / (1 + np.exp(-row["bias"]))
        assert row["gate"] == pytest.approx(gate)
        assert gate ** row["tenfold"] == pytest.approx(0.1)


def test_the_page_reads_which_states_each_equation_reads():
    reads = {r["symbol"]: r["reads"] for r in compare.reads("lstm")}
    assert reads[r"\mathbf{f}_{t}"] == [r"\mathbf{h}_{t-1}"]
    assert reads[r"\mathbf{s}_{t}"] == [r"\mathbf{s}_{t-1}"]
    assert reads[r"\mathbf{h}_{t}"] == []
    assert all(r["reads"] == [r"\mathbf{s}_{t-1}"] for r in compare.reads("gru"))
