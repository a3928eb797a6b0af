"""The RNN and BPTT pages' scaffolding (derive/site/scaffold.py) against independent references:
the one-unit example against SymPy's derivative of the unrolled scalar loss and against
finite differences of a plain loop; σ's and tanh's slopes against a numeric search; the
matrices the unrolled RNN names against its equation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy

from derive.catalogue import CATALOGUE
from derive.site import scaffold
from derive.site.unrolled import unrolled, weights


@pytest.fixture(scope="module")
def example():
    return scaffold.scalar()


def _unrolled_loss(start: int):
    """L = ½ (s_3 − y)² as a SymPy expression of w, u, b and the state s_start, unrolled from
    step start + 1 with sympy.tanh (not the project's functions)."""
    w, u, b, s = sympy.symbols("w u b s")
    value = s
    for x in scaffold.XS[start:]:
        value = sympy.tanh(w * value + u * sympy.Float(x) + b)
    return (w, u, b, s), sympy.Rational(1, 2) * (value - sympy.Float(scaffold.TARGET)) ** 2


def test_the_one_unit_gradients_are_sympys_derivatives_of_the_unrolled_loss(example):
    point = {"w": scaffold.W, "u": scaffold.U, "b": scaffold.B}
    (w, u, b, s), loss = _unrolled_loss(0)
    at = {w: point["w"], u: point["u"], b: point["b"], s: scaffold.S0}
    assert float(loss.subs(at)) == pytest.approx(example["loss_value"], rel=1e-12)
    want = {"W": sympy.diff(loss, w), "U": sympy.diff(loss, u), "b": sympy.diff(loss, b)}
    for name, derivative in want.items():
        assert example["values"]["d_params"][name] == pytest.approx(float(derivative.subs(at)), rel=1e-10)
    assert example["d_s0"] == pytest.approx(float(sympy.diff(loss, s).subs(at)), rel=1e-10)
    # δs_t for t = 1, 2, 3: the loss unrolled from a free state at step t
    states = example["values"]["s"]
    for row in example["rows"]:
        t = row["t"]
        (w, u, b, s), later = _unrolled_loss(t)
        d_s = float(sympy.diff(later, s).subs({w: scaffold.W, u: scaffold.U, b: scaffold.B, s: states[t]}))
        assert row["d_s"] == pytest.approx(d_s, rel=1e-10)


def test_the_one_unit_numbers_agree_with_finite_differences_of_a_plain_loop(example):
    def loss(w, u, b, s0):
        s = s0
        for x in scaffold.XS:
            s = math.tanh(w * s + u * x + b)
        return 0.5 * (s - scaffold.TARGET) ** 2

    h = 1e-6
    args = [scaffold.W, scaffold.U, scaffold.B, scaffold.S0]
    for k, name in enumerate(["W", "U", "b", "s0"]):
        up, down = list(args), list(args)
        up[k] += h
        down[k] -= h
        numeric = (loss(*up) - loss(*down)) / (2 * h)
        got = example["d_s0"] if name == "s0" else example["values"]["d_params"][name]
        assert got == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_the_factors_carry_the_gradient_from_the_loss_to_the_initial_state(example):
    rows = example["rows"]
    for r in rows:  # δs_{t-1} = w (1 − s_t²) δs_t
        assert r["d_prev"] == pytest.approx(r["factor"] * r["d_s"], rel=1e-12)
    # the page's one line: δs_0 = δs_T · Π factors
    product = math.prod(r["factor"] for r in rows)
    assert example["d_s0"] == pytest.approx(rows[-1]["d_s"] * product, rel=1e-12)
    assert example["product"] == f"{product:.4f}"
    # the example shows both: a factor above 1 and a saturated step
    assert max(r["factor"] for r in rows) > 1 > min(r["factor"] for r in rows)


def test_sigmoid_and_tanh_slopes_peak_where_a_numeric_search_finds():
    z = np.linspace(-20, 20, 400_001)
    numeric = {"sigma": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}
    found = {f["name"]: f for f in scaffold.squashes()}
    for name, y in numeric.items():
        slope = np.gradient(y, z)
        assert found[name]["largest_value"] == pytest.approx(slope.max(), rel=1e-6)
        assert float(sympy.sympify(found[name]["at"])) == pytest.approx(y[slope.argmax()], abs=1e-4)
        low, high = (float(sympy.sympify(v)) for v in found[name]["range"])
        assert (low, high) == pytest.approx((y.min(), y.max()), abs=1e-8)
    assert found["sigma"]["largest"] == "1/4" and found["tanh"]["largest"] == "1"


def test_the_read_out_check_holds_and_would_catch_a_wrong_gradient():
    assert scaffold.read_out(4) == {"classes": 4}
    # the same gradient numerically: softmax cross-entropy at random scores, one-hot target
    rng = np.random.default_rng(0)
    a, y = rng.normal(size=5), np.eye(5)[2]

    def loss(a):
        return -np.sum(y * (a - np.log(np.sum(np.exp(a)))))

    numeric = np.array([(loss(a + e) - loss(a - e)) / 2e-6 for e in np.eye(5) * 1e-6])
    softmax = np.exp(a) / np.exp(a).sum()
    assert numeric == pytest.approx(softmax - y, abs=1e-8)


def test_the_training_read_out_is_what_the_rnn_page_says():
    from derive.training.experiments import review_model
    from derive.training.model import LOSSES, READ_OUT, READ_OUT_BIAS

    model = review_model("lstm")
    assert (model.loss, model.n_output) == ("logistic", 1)
    assert {"mse", "logistic"} <= set(LOSSES) and (READ_OUT, READ_OUT_BIAS) == ("V", "c")


def test_the_unrolled_rnn_names_w_for_the_state_and_u_for_the_input():
    assert weights(CATALOGUE["rnn"]) == {"s_prev": ["W"], "x": ["U"]}
    assert weights(CATALOGUE["lstm"])["h_prev"] == ["W_o", "W_i", "W_f", "W"]
    for tall in (False, True):
        svg = unrolled(CATALOGUE["rnn"], tall, weights_shown=True)
        labels = re.findall(r'<text class="v"[^>]*>([A-Z])<tspan class="s" dy="3"></tspan>', svg)
        assert sorted(labels) == ["U"] * 3 + ["W"] * 3
        assert "W<tspan" not in unrolled(CATALOGUE["rnn"], tall)
