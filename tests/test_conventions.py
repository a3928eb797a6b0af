"""The notation page's GRUs in Cho et al.'s and PyTorch's letters: printed by derive's printer
from equations parsed by derive's parser, and checked against derive's cells while the page
is made; a wrong mapping stops the page."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from derive.site import conventions as C


def test_cho_et_al_is_printed_in_their_letters():
    assert C.lines(C.CHO) == [
        r"\mathbf{r}_{t} &= \sigma(W_{r} \mathbf{x}_{t} + U_{r} \mathbf{h}_{t-1})",
        r"\mathbf{z}_{t} &= \sigma(W_{z} \mathbf{x}_{t} + U_{z} \mathbf{h}_{t-1})",
        r"\tilde{\mathbf{h}}_{t} &= \tanh(W \mathbf{x}_{t} + U (\mathbf{r}_{t} \odot \mathbf{h}_{t-1}))",
        r"\mathbf{h}_{t} &= \mathbf{z}_{t} \odot \mathbf{h}_{t-1} + "
        r"(\mathbf{1} - \mathbf{z}_{t}) \odot \tilde{\mathbf{h}}_{t}",
    ]


def test_pytorch_is_printed_in_its_letters():
    lines = C.lines(C.TORCH)
    assert lines[2] == (
        r"\mathbf{n}_{t} &= \tanh(W_{in} \mathbf{x}_{t} + \mathbf{b}_{in} + "
        r"\mathbf{r}_{t} \odot (W_{hn} \mathbf{h}_{t-1} + \mathbf{b}_{hn}))"
    )
    assert lines[3] == (
        r"\mathbf{h}_{t} &= (\mathbf{1} - \mathbf{z}_{t}) \odot \mathbf{n}_{t} + "
        r"\mathbf{z}_{t} \odot \mathbf{h}_{t-1}"
    )


@pytest.mark.parametrize("convention", [C.CHO, C.TORCH], ids=["cho", "torch"])
def test_each_form_computes_derives_cell(convention):
    result = C.check(convention)
    assert result["largest"] <= 1e-14
    p = C.PROBLEM
    assert result["values"] == len(convention.values) * p["steps"] * p["batch"] * p["hidden"]


def test_the_cho_form_by_hand_at_one_step():
    """The evaluator's values of the Cho form against NumPy written from the paper's equations."""
    rng = np.random.default_rng(0)
    n, m = 3, 2
    params = {
        name: rng.normal(size=(n, m if rows_cols[1] == "input" else n))
        for name, *rows_cols in C.CHO.parameters_shapes
    }
    x, h = rng.normal(size=(1, 1, m)), rng.normal(size=(1, n))
    got = C.theirs(C.CHO, params, x, h)

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    p, xt, hp = params, x[0, 0], h[0]
    r = sigmoid(p["W_r"] @ xt + p["U_r"] @ hp)
    z = sigmoid(p["W_z"] @ xt + p["U_z"] @ hp)
    h_tilde = np.tanh(p["W"] @ xt + p["U"] @ (r * hp))
    want = {"r": r, "z": z, "h_tilde": h_tilde, "h": z * hp + (1 - z) * h_tilde}
    for name, value in want.items():
        np.testing.assert_allclose(got[name][0, 0], value, rtol=0, atol=1e-14)


def _with(convention, **changes):
    return dataclasses.replace(convention, **changes)


WRONG = {
    # W and U not swapped: the shapes do not fit, and that is named
    "cho, W and U kept": _with(C.CHO, parameters={**C.CHO.parameters, "W": (1, ("W",)), "U": (1, ("U",))}),
    # i = z instead of 1 - z
    "cho, z not negated": _with(
        C.CHO, parameters={**C.CHO.parameters, "W_i": (1, ("U_z",)), "U_i": (1, ("W_z",))}
    ),
    # r and z exchanged
    "cho, r for z": _with(C.CHO, parameters={**C.CHO.parameters, "W_o": (1, ("U_z",)), "U_o": (1, ("W_z",))}),
    # the candidate's second bias dropped
    "torch, b_hn dropped": _with(C.TORCH, parameters={**C.TORCH.parameters, "c": (1, ())}),
    # one bias of a gate left out of the sum
    "torch, b_hr dropped": _with(C.TORCH, parameters={**C.TORCH.parameters, "b_o": (1, ("b_ir",))}),
    # z compared with i instead of 1 - i
    "torch, z is i": _with(C.TORCH, values={**C.TORCH.values, "z": ("i", False)}),
    # the reset before the product, as in Cho et al., is not PyTorch's function
    "torch, reset before the product": _with(
        C.TORCH,
        equations=(
            *C.TORCH.equations[:2],
            ("n", "tanh(W_in @ x + b_in + W_hn @ (r * h_prev) + b_hn)"),
            C.TORCH.equations[3],
        ),
    ),
    # a parameter of derive's cell the mapping forgets
    "torch, c unmapped": _with(C.TORCH, parameters={k: v for k, v in C.TORCH.parameters.items() if k != "c"}),
}


@pytest.mark.parametrize("wrong", list(WRONG))
def test_a_wrong_mapping_or_equation_stops_the_page(wrong):
    with pytest.raises(
        C.ConventionMismatch, match=r"notation page's equations of .* do not compute derive's"
    ):
        C.check(WRONG[wrong])


def test_the_command_line_names_the_mismatch_in_one_line(monkeypatch):
    from derive import cli

    monkeypatch.setattr(C, "CONVENTIONS", {"cho": WRONG["cho, z not negated"]})
    with pytest.raises(C.ConventionMismatch) as failed:
        C.context()
    line = cli._explain(failed.value)
    assert line is not None and "\n" not in line
    assert (
        "Cho et al. (2014)" in line and "derive/site/conventions.py" in line and "no page was written" in line
    )


def test_the_page_shows_the_checked_forms():
    from derive.render import render

    ctx = C.context()
    assert ctx["compared"] == sum(f["values"] for f in ctx["forms"].values())
    page = render(
        "pages/notation.md.j2",
        page="notation",
        cells={"gru": {"forward": ["x &= y"]}},
        conventions=ctx,
    )
    assert '=== "Cho et al. (2014)"' in page and '=== "PyTorch nn.GRU"' in page
    for form in ctx["forms"].values():
        assert all(line in page for line in form["lines"])
    assert f"over {ctx['compared']} values" in page and r"\mathbf{z}^{(2)}_{v,t}" in page


def test_docs_stops_in_one_line_and_writes_nothing(monkeypatch, capsys):
    """`python -m derive docs` with a wrong mapping: exit 1, one line naming the form, no file
    written (the forms are checked before anything else of the site is made)."""
    from derive import build, cli

    written = []
    monkeypatch.setattr(C, "CONVENTIONS", {"torch": WRONG["torch, b_hr dropped"]})
    monkeypatch.setattr(build, "write", lambda files: written.append(files) or [])
    assert cli.main(["docs"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("python -m derive docs: the notation page's equations of PyTorch nn.GRU")
    assert "differs by" in err and "derive/site/conventions.py" in err
    assert written == []
