"""The notation the pages print: the carried adjoint δ̄ apart from the total δ, the column
layout of the RNN page's chain, k only for steps back, and z⁽²⁾ rather than z′."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sympy import MatrixSymbol

from derive.catalogue import CATALOGUE
from derive.generated import rnn
from derive.printing.context import carry, cell_context, initial
from derive.printing.latex import latex
from derive.printing.matrix import previous
from derive.printing.text import text
from derive.site.pages import adjoint_chain, generic_carry

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_carried_adjoint_has_its_own_symbol():
    handed_back = MatrixSymbol("d_s_prev", 3, 1)
    total = MatrixSymbol("d_s", 3, 1)
    assert latex(handed_back) == r"\bar{\delta}\mathbf{s}_{t-1}"
    assert latex(total) == r"\delta \mathbf{s}_{t}"
    assert text(handed_back) == "δ\u0304s_{t-1}" and text(total) == "δs_t"
    # The same symbol one step later is what step t+1 hands back to s_t.
    assert latex(handed_back, step="t+1") == r"\bar{\delta}\mathbf{s}_{t}"
    assert text(MatrixSymbol("d_s_tilde_prev", 3, 1), step="1") == "δ\u0304s̃_0"


def test_previous_step():
    assert [previous(s) for s in ("t", "t+1", "1", "10", "T")] == ["t-1", "t", "0", "9", "T-1"]


def test_the_recurrence_adds_what_the_next_step_hands_back():
    assert carry(generic_carry()) == (
        r"\delta \mathbf{v}_{t}^{\mathrm{in}} &= "
        r"\frac{\partial \ell_t}{\partial \mathbf{v}_{t}} + \bar{\delta}\mathbf{v}_{t}"
    )
    assert (
        initial(generic_carry())
        == r"\frac{\partial L}{\partial \mathbf{v}_{0}} &= \bar{\delta}\mathbf{v}_{0}"
    )
    lstm = cell_context(CATALOGUE["lstm"])
    assert lstm["carries"][1].endswith(r"+ \bar{\delta}\mathbf{h}_{t}")
    assert lstm["backward"][-1].startswith(r"\bar{\delta}\mathbf{h}_{t-1} &= ")


def test_a_second_named_subexpression_is_numbered():
    gru = cell_context(CATALOGUE["gru"])
    assert r"\mathbf{z}^{(2)}_{\tilde{s},t} &= \mathbf{o}_{t} \odot \mathbf{s}_{t-1}" in gru["intermediates"]
    assert text(MatrixSymbol("d_z2_s_tilde", 3, 1)) == "δz⁽²⁾_s̃,t"


def test_the_rnn_chain_is_printed_in_column_layout_from_the_derived_jacobian():
    chain = adjoint_chain(CATALOGUE["rnn"], "s", 4)
    assert chain["lines"][0] == (
        r"\delta \mathbf{s}_{1} &= "
        r"\left(\frac{\partial \mathbf{s}_{2}}{\partial \mathbf{s}_{1}}\right)^{\top} "
        r"\left(\frac{\partial \mathbf{s}_{3}}{\partial \mathbf{s}_{2}}\right)^{\top} "
        r"\left(\frac{\partial \mathbf{s}_{4}}{\partial \mathbf{s}_{3}}\right)^{\top}\,\delta \mathbf{s}_{4}"
    )
    # the same product, one transposed derived Jacobian a line, step 2's first
    assert chain["lines"][1:] == [
        r"&= {W}^{\top} \operatorname{diag}(\mathbf{1} - {\mathbf{s}_{2}}^{2})",
        r"&\quad {W}^{\top} \operatorname{diag}(\mathbf{1} - {\mathbf{s}_{3}}^{2})",
        r"&\quad {W}^{\top} \operatorname{diag}(\mathbf{1} - {\mathbf{s}_{4}}^{2})\,\delta \mathbf{s}_{4}",
    ]
    assert chain["gradient"]["W"] == (
        r"\frac{\partial L_{4}}{\partial W} &= "
        r"\sum_{t=1}^{4} \delta \mathbf{z}_{s,t} {\mathbf{s}_{t-1}}^{\top}"
    )


def test_the_printed_chain_is_the_gradient_the_module_computes():
    """The product in the printed order, in NumPy, against the generated module's ∂L_4/∂s_1,
    and the printed sum against its ∂L_4/∂W, for L_4 = gᵀ s_4."""
    rng = np.random.default_rng(4)
    params = rnn.init_params(3, 5, rng=rng)
    x = rng.normal(size=(4, 1, 3))
    s0 = {"s": 0.3 * rng.normal(size=(1, 5))}
    g = rng.normal(size=5)
    outputs, _ = rnn.forward(params, x, s0)
    s = {t: outputs["s"][t - 1, 0] for t in range(1, 5)} | {0: s0["s"][0]}
    W = params["W"]
    delta_s1 = g
    for t in (4, 3, 2):  # δs_1 = Wᵀ diag(1 - s_2²) Wᵀ diag(1 - s_3²) Wᵀ diag(1 - s_4²) δs_4
        delta_s1 = W.T @ ((1 - s[t] ** 2) * delta_s1)
    d_out = {"s": np.zeros((3, 1, 5))}
    d_out["s"][-1, 0] = g
    from_s1 = rnn.forward(params, x[1:], {"s": s[1][None]})[1]
    np.testing.assert_allclose(rnn.backward(from_s1, d_out)[2]["s"][0], delta_s1, rtol=1e-12, atol=1e-14)
    # ∂L_4/∂W = Σ_t δz_s,t s_{t-1}ᵀ, with δs_t carried back from δs_4 = g
    grad, delta = np.zeros_like(W), g
    for t in (4, 3, 2, 1):
        dz = delta * (1 - s[t] ** 2)
        grad += np.outer(dz, s[t - 1])
        delta = W.T @ dz
    d_all = {"s": np.zeros((4, 1, 5))}
    d_all["s"][-1, 0] = g
    _, cache = rnn.forward(params, x, s0)
    np.testing.assert_allclose(rnn.backward(cache, d_all)[0]["W"], grad, rtol=1e-12, atol=1e-14)


PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_pages_keep_one_meaning_per_symbol(page):
    source = page.read_text()
    # What a step hands back is δ̄ on every page: no printed line defines δv_{t-1}.
    assert r"\delta \mathbf{s}_{t-1} &=" not in source and r"\delta \mathbf{h}_{t-1} &=" not in source
    assert r"\right|_{\text{step }" not in source
    # No prime on a name (it reads as a derivative), and k is never a step index.
    assert r"\mathbf{z}'" not in source
    assert r"\sum_{k" not in source and "T - k\\) such" not in source and r"\mathbf{s}_k" not in source
