"""What the site's figures plot, recomputed by hand-written NumPy (derive/site/figures.py)."""

from __future__ import annotations

import numpy as np

from derive.generated import lstm, rnn
from derive.site.figures import PULSE, problem, state_gradients, trace


def rnn_states(params, x):
    s = np.zeros((x.shape[1], params["b"].shape[0]))
    out = []
    for x_t in x:
        s = np.tanh(s @ params["W"].T + x_t @ params["U"].T + params["b"])
        out.append(s)
    return np.array(out)


def test_the_nudge_trace_is_the_change_a_hand_written_rnn_shows():
    params, x, _ = problem(rnn)
    e = np.random.default_rng(1).normal(size=x.shape[-1])
    nudged = x.copy()
    nudged[PULSE - 1] += e / np.linalg.norm(e)
    change = np.linalg.norm(rnn_states(params, nudged) - rnn_states(params, x), axis=2).mean(axis=1)
    want = change[PULSE - 1 :]
    got = trace(rnn, params, x, "s")
    shown = ~np.isnan(got)
    assert shown[:10].all() and np.allclose(got[shown], want[shown], rtol=1e-9, atol=1e-14)
    assert (want[~shown] <= 1e-9).all()  # what the figure leaves out is below rounding


def test_an_open_forget_gate_keeps_the_nudge_and_a_closed_one_wipes_it_out():
    kept = trace(lstm, *problem(lstm, bias=("b_f", 3.0))[:2], "s")
    wiped = trace(lstm, *problem(lstm, bias=("b_f", -3.0))[:2], "s")
    assert kept[-1] > 0.1 * kept[0]
    assert np.isnan(wiped[-1]) or wiped[-1] < 1e-9 * wiped[0]


def test_the_gradient_k_steps_back_is_the_rnns_transposed_jacobians_applied_by_hand():
    params, x, g = problem(rnn)
    states = rnn_states(params, x)
    T = len(x)
    d = g.copy()  # the adjoint of s_T under L_T = <g, s_T>
    want = [np.linalg.norm(d) / np.sqrt(x.shape[1])]
    for t in range(T - 1, 0, -1):  # carry it to s_(t-1): W^T (d * (1 - s_t^2))
        d = (d * (1 - states[t] ** 2)) @ params["W"]
        want.append(np.linalg.norm(d) / np.sqrt(x.shape[1]))
    got = state_gradients(rnn, params, x, g)  # entry j: j + 1 steps back
    assert np.allclose(got[: T - 1], want[1:], rtol=1e-9)


def test_the_state_path_alone_is_the_product_of_forget_gates_applied_by_hand():
    from derive.site.figures import path_gradients

    params, x, g = problem(lstm, bias=("b_f", 3.0))
    x = 0.1 * x
    whole, kept, through = path_gradients(lstm, params, x, g)
    outputs, cache = lstm.forward(params, x)
    f, o, s = cache["values"]["f"], cache["values"]["o"], outputs["s"]
    d = g * o[-1] * (1 - np.tanh(s[-1]) ** 2)  # δs_T under L_T = <g, h_T>
    want = []
    for t in range(len(x) - 1, -1, -1):  # δs_(t-1) = f_t ⊙ δs_t along the state alone
        d = d * f[t]
        want.append(np.linalg.norm(d) / np.sqrt(x.shape[1]))
    assert np.allclose(kept, want, rtol=1e-9)
    assert np.allclose(whole, state_gradients(lstm, params, x, g), rtol=1e-12)
    # the split is a split: the two parts' vectors add up to the whole
    assert (through <= whole + kept + 1e-12).all() and (whole <= through + kept + 1e-12).all()


def test_the_rnn_has_no_state_path_and_a_relu_cell_cuts_to_exact_zero():
    from derive.generated import indrnn
    from derive.site.figures import BACK, path_gradients, rectified

    params, x, g = problem(rnn)
    _, kept, through = path_gradients(rnn, params, x, g)
    assert (kept == 0).all() and (through > 0).any()
    cut = rectified()
    norms = state_gradients(indrnn, *problem(indrnn))
    assert BACK[np.argmax(norms == 0)] == cut["k"] and (norms[cut["k"] - 1 :] == 0).all()


def test_the_variants_figure_tells_every_cell_of_a_panel_apart_and_splits_the_close_ones():
    from derive.site.figures import FAMILIES, LOOK, variant_gradients, variant_ratios

    drawn = [name for _, names in FAMILIES for name in names]
    assert len(drawn) == len(set(drawn))  # each cell in one family panel
    for _, names in FAMILIES:
        looks = [LOOK[n] for n in names]
        # no two lines of a panel share a colour, a dash pattern or a marker
        for part in range(3):
            assert len({repr(look[part]) for look in looks}) == len(looks)
    panels = variant_gradients()
    assert len(panels) == len(FAMILIES) + 1  # and the panel of ratios
    # The ratios the page quotes, recomputed from the two cells' own gradients.
    from derive.codegen.modules import generated

    for name, r in variant_ratios().items():
        ours, theirs = generated(name), generated(r["base"])
        ratio = state_gradients(ours, *problem(ours)) / state_gradients(theirs, *problem(theirs))
        assert np.isclose(r["low"], ratio.min()) and np.isclose(r["high"], ratio.max())
    # The GRU's two forms differ at every length but stay within a factor of two: the
    # reason the full panel cannot tell them apart.
    torch = variant_ratios()["gru_torch"]
    assert torch["low"] != 1 and 0.5 < torch["low"] <= torch["high"] < 2
