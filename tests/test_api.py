"""The public API for a cell of one's own: a module and the same checks as derive verify."""

import numpy as np
import pytest
from cells import MGU
from sympy import Lambda

import derive
from derive import (
    CATALOGUE,
    Cell,
    Equation,
    GenerationError,
    Parameter,
    Role,
    affine,
    generate,
    module_source,
    verify,
)
from derive.elementwise import y

GATED_RESIDUAL = Cell(
    name="mine",
    title="A cell of one's own",
    parameters=(*affine("g"), *affine()),
    states=("s",),
    equations=(
        Equation("g", "σ(W_g @ s_prev + U_g @ x + b_g)", Role.GATE, "gate"),
        Equation("s", "g * tanh(W @ s_prev + U @ x + b) + (1 - g) * s_prev", Role.STATE, "gated residual"),
    ),
)


def test_generate_gives_a_module_with_the_contract():
    m = generate(GATED_RESIDUAL)
    assert m.PARAMETERS == ("W_g", "U_g", "b_g", "W", "U", "b") and m.STATES == ("s",)
    params = m.init_params(3, 4, rng=0)
    x = np.random.default_rng(1).normal(size=(5, 2, 3))
    outputs, cache = m.forward(params, x)
    d_params, d_x, d_state = m.backward(cache, {"s": np.ones_like(outputs["s"])})
    assert d_x.shape == x.shape and d_params["W"].shape == (4, 4) and d_state["s"].shape == (2, 4)
    assert "def forward" in module_source(GATED_RESIDUAL)


@pytest.mark.slow
def test_verify_reports_every_claim_and_raises_nothing():
    report = verify(MGU)
    assert report.holds and not report.failures
    claims = [r.claim for r in report.rows]
    assert len(claims) == 5 and "generated NumPy = finite differences" in claims
    assert "mgu" in str(report) and "FAILED" not in str(report)


def test_generate_refuses_a_module_that_fails_its_checks(monkeypatch):
    # With a wrong tanh' the module agrees with its (wrong) derivation, so only the
    # finite differences can tell; the module must not be handed out.
    def wrong(cell):
        return derive.derivation.derive(cell, derivatives={"tanh": Lambda(y, 1 - y)})

    monkeypatch.setattr("derive.backends.derive", wrong)
    with pytest.raises(
        GenerationError, match=r"cell 'mine' disagrees with finite differences in params\['W_g'\]"
    ):
        generate(GATED_RESIDUAL)


def test_a_finite_difference_across_a_kink_is_tried_at_other_points(monkeypatch):
    """A disagreement at one random point only (as a finite difference across relu's kink
    gives) is no bug; one at every point is."""
    from derive.verification import numeric

    real, calls = numeric.finite_differences, []

    def first_point_fails(module, *problem):
        calls.append(1)
        errors = real(module, *problem)
        return {**errors, "d_x": 0.5} if len(calls) == 1 else errors

    monkeypatch.setattr(numeric, "finite_differences", first_point_fails)
    assert "def forward" in module_source(GATED_RESIDUAL)
    assert len(calls) == 2

    def every_point_fails(module, *problem):
        calls.append(1)
        return {**real(module, *problem), "d_x": 0.5}

    calls.clear()
    monkeypatch.setattr(numeric, "finite_differences", every_point_fails)
    with pytest.raises(GenerationError, match=r"disagrees with finite differences in d_x \(5\.0e-01\)"):
        module_source(GATED_RESIDUAL)
    assert len(calls) == 3


def test_report_names_a_failed_check():
    failed = derive.verification.proof.Proof("c", "a claim", 1, 1.0, 0.0)
    report = derive.Report((failed,))
    assert not report.holds and report.failures == (failed,) and "FAILED" in str(report)


def test_catalogue_cells_are_not_rechecked_when_generated(monkeypatch):
    def fail(*args):
        pytest.fail("checked a catalogue cell")

    monkeypatch.setattr("derive.backends.quick_check", fail)
    generate(CATALOGUE["gru"])
    with pytest.raises(pytest.fail.Exception):
        generate(MGU)


@pytest.mark.parametrize(
    "text, before",
    [
        # A gradient that is exactly zero: the two terms through the gate cancel.
        ("(1 - σ(W @ s_prev + U @ x + b)) * s_prev + σ(W @ s_prev + U @ x + b) * s_prev", ()),
        # An equation the size of the input, and a matrix made of parameters.
        ("tanh(W @ s_prev + U @ a + b)", (("a", "tanh(x)", Role.GATE),)),
        ("tanh(tanh(W) @ s_prev + (U * U) @ x + b)", ()),
    ],
)
def test_cells_at_the_edges_verify_and_generate(text, before):
    c = Cell(
        name="edge",
        title="edge",
        parameters=affine(),
        states=("s",),
        equations=(*(Equation(n, t, r, "") for n, t, r in before), Equation("s", text, Role.STATE, "")),
    )
    assert verify(c).holds
    for literal in (False, True):
        generate(c, literal=literal)


def test_the_input_gradient_takes_only_the_stacked_products_it_owns():
    # U1 x and U2 x share a stacked product; U2 x appears twice, which the derivation
    # writes as (U2ᵀ δz_s) ⊙ (1 + 1), so only U1's member is summed after the loop.
    c = Cell(
        name="part",
        title="part",
        states=("s",),
        parameters=(
            Parameter("U1", "hidden", "input"),
            Parameter("b1", "hidden", "1"),
            Parameter("W1", "hidden", "hidden"),
            Parameter("U2", "hidden", "input"),
        ),
        equations=(
            Equation("g1", "σ(U1 @ x + b1 + W1 @ s_prev)", Role.GATE, ""),
            Equation("s", "g1 * σ(U2 @ x + U2 @ x)", Role.STATE, ""),
        ),
    )
    assert verify(c).holds
    generate(c)
