"""The worked example's page: its numbers, its gradients, and the check that guards them."""

from __future__ import annotations

import re

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


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+|(?<![\w{])-?\d+(?![\w}])", text)]


def test_the_hand_expansion_multiplies_out_to_the_computed_value(context, page):
    """The products the page writes out, recomputed from the numbers it prints, give the
    results it prints; and those are the module's values of δs, δf and δz_f."""
    example = context["examples"][worked.HAND["cell"]]
    step, k = worked.HAND["step"], worked.HAND["entry"] - 1
    values = example["values"][step - 1]
    start = page.index("### One step by hand")
    section = page[start : page.index("### The gradients", start)]

    tanh_line = re.search(r"^\\tanh\(s_\{3\}\) &= \\tanh\((.*?)\) = (.*?) \\\\$", section, re.M)
    s, tanh_s = float(tanh_line[1]), float(tanh_line[2])
    assert tanh_s == pytest.approx(np.tanh(s), abs=1e-6)
    d_s_line = re.search(r"^\\delta s_\{3\} &= (.*?) \\\\\n&= (.*)$", section, re.M)
    d_s_in, d_h, o, one, tanh_again = _numbers(d_s_line[1].replace("^2", ""))
    d_s = float(d_s_line[2])
    assert (one, tanh_again) == (1.0, tanh_s)
    assert d_s == pytest.approx(d_s_in + d_h * o * (1 - tanh_s**2), abs=2e-6)

    d_f_line = re.search(r"\\delta f_\{3\} = (.*)$", section, re.M)[1]
    a, b, d_f = _numbers(d_f_line)
    assert a == d_s and d_f == pytest.approx(a * b, abs=2e-6)
    assert b == pytest.approx(example["values"][step - 2]["s"][k], abs=1e-6)

    d_z_line = re.search(r"^\\delta z_\{f,3\} &= (.*?) \\\\\n&= (.*)$", section, re.M)
    a, f, one, f_again = _numbers(d_z_line[1])
    d_z_f = float(d_z_line[2])
    assert (a, one, f_again) == (d_f, 1.0, f)
    assert d_z_f == pytest.approx(d_f * f * (1 - f), abs=2e-6)

    for name, shown in (("d_s", d_s), ("d_f", d_f), ("d_z_f", d_z_f), ("o", o), ("f", f)):
        assert shown == pytest.approx(values[name][k], abs=1e-6), name
    # The table's entry for δz_f at t = 3 (the first column of the backward tables) says the same.
    row = next(r for r in example["backward"] if r["name"] == "d_z_f")
    assert row["rows"][k][0] == f"{values['d_z_f'][k]:.4f}"
    assert float(row["rows"][k][0]) == pytest.approx(d_z_f, abs=1e-4)
    # the unrounded hand computation is the module's value
    assert worked.by_hand(example["values"])["d_z_f"] == pytest.approx(values["d_z_f"][k], abs=1e-15)


def test_a_hand_expansion_that_no_longer_follows_the_cell_stops_the_page(cells, monkeypatch):
    right = worked.by_hand

    def wrong(values, step=3, entry=1):
        out = right(values, step, entry)
        return dict(out, d_f=out["d_f"] * 1.01)

    monkeypatch.setattr(worked, "by_hand", wrong)
    with pytest.raises(worked.WorkedExampleMismatch, match="by hand"):
        worked.context(cells)


@pytest.mark.parametrize("name", worked.CELLS)
def test_pre_activations_come_before_their_values_and_every_row_is_explained(context, page, name):
    example = context["examples"][name]
    body = page[page.index(f"{{ #{name}-forward }}") : page.index(f"{{ #{name}-gradients }}")]
    where = {r["name"]: body.index(r["latex"]) for r in example["sequence"]}
    for row in example["intermediates"]:
        of = row["name"].split("_", 1)[1]
        assert where[row["name"]] < where[of], f"{row['name']} after {of}"
    for row in [*example["sequence"], *example["backward"]]:
        before = body[: body.index(row["latex"])].rsplit('<div class="equations"', 1)[0].rstrip()
        last = before.splitlines()[-1]
        assert re.search(r"[a-z]{3}.*[.)]$", last), f"{row['name']} has no commentary: {last!r}"
