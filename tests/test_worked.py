"""The worked example's page: its numbers, its gradients, and the check that guards them."""

from __future__ import annotations

import numpy as np
import pytest

from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated
from derive.printing.context import cell_context
from derive.render import render
from derive.site import worked


@pytest.fixture(scope="module")
def cells():
    return {name: cell_context(CATALOGUE[name]) for name in worked.CELLS}


@pytest.fixture(scope="module")
def context(cells):
    return worked.context(cells)


@pytest.fixture(scope="module")
def page(cells, context):
    return render("pages/worked.md.j2", page="worked", cells=cells, worked=context)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_lstm_step_one_is_the_hand_computed_step(context, page):
    """Step 1 of the LSTM, written out here in NumPy from the weights and the first word."""
    p = {k: np.array(v, dtype=float) for k, v in worked.WEIGHTS.items()}
    x = np.array(worked.EMBEDDING[worked.WORDS[0]], dtype=float)
    h0 = s0 = np.zeros(2)
    o = _sigmoid(p["W_o"] @ h0 + p["U_o"] @ x + p["b_o"])
    i = _sigmoid(p["W_i"] @ h0 + p["U_i"] @ x + p["b_i"])
    f = _sigmoid(p["W_f"] @ h0 + p["U_f"] @ x + p["b_f"])
    s_tilde = np.tanh(p["W"] @ h0 + p["U"] @ x + p["b"])
    s = f * s0 + i * s_tilde
    h = o * np.tanh(s)
    hand = {"o": o, "i": i, "f": f, "s_tilde": s_tilde, "s": s, "h": h}

    example = context["examples"]["lstm"]
    step1 = example["values"][0]
    for name, want in hand.items():
        np.testing.assert_allclose(step1[name], want, rtol=0, atol=1e-14, err_msg=name)
    for row, name in zip(example["forward"], hand, strict=True):
        shown = [r[0] for r in row["rows"]]  # the column t = 1
        assert shown == [f"{v:.4f}" for v in hand[name]], name
        table = "\n".join(f"| {' | '.join(r)} |" for r in row["rows"])
        assert table in page
    assert not np.allclose(s, 0) and not np.allclose(h, 0)  # the example is not trivial at step 1


@pytest.mark.parametrize("name", worked.CELLS)
def test_gradients_are_those_of_the_stated_loss(context, name):
    """Central differences of L = 1ᵀ(output at the last step) against the page's gradients."""
    example = context["examples"][name]
    params, x, state, _ = worked.problem(name)
    eps = 1e-6

    def numeric(value, at):
        out = np.zeros(value.shape)
        for k in np.ndindex(value.shape):
            bumped = []
            for sign in (1, -1):
                moved = value.copy()
                moved[k] += sign * eps
                bumped.append(at(moved))
            out[k] = (bumped[0] - bumped[1]) / (2 * eps)
        return out

    for p, value in params.items():
        want = numeric(value, lambda moved, p=p: worked.loss(name, dict(params, **{p: moved})))
        np.testing.assert_allclose(example["d_params"][p], want, rtol=0, atol=1e-8, err_msg=p)
    want = numeric(x, lambda moved: worked.loss(name, params, x=moved))
    np.testing.assert_allclose(example["d_x"], want[:, 0], rtol=0, atol=1e-8)
    for s, value in state.items():
        want = numeric(value, lambda moved, s=s: worked.loss(name, params, state=dict(state, **{s: moved})))
        np.testing.assert_allclose(example["d_state"][s], want[0], rtol=0, atol=1e-8, err_msg=s)
    assert float(example["loss"]) == pytest.approx(worked.loss(name, params), abs=5e-5)


def test_every_number_agrees_with_the_derivation(context):
    assert context["largest"] <= 1e-14
    assert context["compared"] > 300
    for example in context["examples"].values():
        # The module gives the adjoints that leave and enter each step and those of the pre-activations.
        assert any(row["module"] for row in example["backward"])


@pytest.mark.parametrize("where", ["d_params", "d_state", "forward"])
def test_a_wrong_module_stops_the_page(cells, monkeypatch, where):
    """A module whose numbers are off by 1e-6 anywhere: the page's context raises, naming the cell."""
    module = generated("lstm")
    forward, backward = module.forward, module.backward

    def wrong_backward(cache, d_outputs):
        d_params, d_x, d_state = backward(cache, d_outputs)
        if where == "d_params":
            d_params = dict(d_params, W_f=d_params["W_f"] + 1e-6)
        else:
            d_state = dict(d_state, h=d_state["h"] + 1e-6)
        return d_params, d_x, d_state

    def wrong_forward(params, x, state=None):
        outputs, cache = forward(params, x, state)
        values = dict(cache["values"])
        values["i"] = values["i"] + 1e-6
        return outputs, dict(cache, values=values)

    if where == "forward":
        monkeypatch.setattr(module, "forward", wrong_forward)
    else:
        monkeypatch.setattr(module, "backward", wrong_backward)
    with pytest.raises(worked.WorkedExampleMismatch, match=r"lstm numbers .* differ from the derivation"):
        worked.context(cells)


def test_the_command_line_names_the_mismatch_in_one_line():
    from derive import cli

    problem = worked.WorkedExampleMismatch("the worked example's lstm numbers differ")
    assert cli._explain(problem) == "the worked example's lstm numbers differ"


@pytest.mark.slow
def test_docs_fails_and_writes_nothing_when_the_module_is_wrong(monkeypatch, capsys):
    """`python -m derive docs` with a wrong LSTM module: exit 1, one line naming the example,
    and no file written."""
    from derive import build, cli

    module = generated("lstm")
    backward = module.backward

    def wrong_backward(cache, d_outputs):
        d_params, d_x, d_state = backward(cache, d_outputs)
        return dict(d_params, b=d_params["b"] * 1.001), d_x, d_state

    written = []
    monkeypatch.setattr(module, "backward", wrong_backward)
    monkeypatch.setattr(build, "write", lambda files: written.append(files) or [])
    assert cli.main(["docs"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "worked example's lstm numbers" in err and "derivation evaluated at 30 digits" in err
    assert written == []
