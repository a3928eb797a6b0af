"""SymPy proves every derivation, and the proof catches a wrong rule."""

import pytest
from cells import ALL_CELLS
from sympy import Lambda

from derive import derive
from derive.elementwise import y
from derive.verification.proof import TOLERANCE, prove_bptt, prove_jacobians


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_one_step_is_proved(name):
    proof = prove_bptt(derive(ALL_CELLS[name]), n_input=2, n_hidden=3, steps=1)
    assert proof.holds, proof
    assert proof.entries > 0 and proof.max_relative_difference < 1e-40


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_bptt_through_three_steps_is_proved(name):
    proof = prove_bptt(derive(ALL_CELLS[name]), n_input=1, n_hidden=1, steps=3)
    assert proof.holds, proof


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_jacobians_are_proved(name):
    proof = prove_jacobians(derive(ALL_CELLS[name]), n_input=2, n_hidden=3)
    assert proof.holds, proof


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("lstm", {"sigma": Lambda(y, y)}),  # σ' = σ
        ("gru", {"sigma": Lambda(y, 1 - y)}),  # σ' = 1 - σ
        ("rnn", {"tanh": Lambda(y, 1 - y)}),  # tanh' = 1 - tanh
        ("mgu", {"tanh": Lambda(y, (1 - y**2) * 1.0001)}),  # off by a factor 1.0001
    ],
)
def test_a_wrong_rule_is_caught(name, wrong):
    derivation = derive(ALL_CELLS[name], derivatives=wrong)
    proof = prove_bptt(derivation, n_input=2, n_hidden=3, steps=1)
    assert not proof.holds
    assert proof.max_relative_difference > 1e-6


@pytest.mark.slow
def test_a_wrong_recurrence_is_caught():
    """Carrying δh back into s (and δs into h) is invisible in one step, not in three."""
    from derive.derivation import Carry, Derivation

    d = derive(ALL_CELLS["lstm"])
    s, h = d.carries
    swapped = (Carry(s.state, s.incoming, h.carried), Carry(h.state, h.incoming, s.carried))
    broken = Derivation(d.cell, d.intermediates, d.backward, swapped, d.jacobians)
    assert prove_bptt(broken, 2, 3, steps=1).holds
    assert not prove_bptt(broken, 1, 1, steps=3).holds


def test_tolerance_is_thirty_digits():
    assert TOLERANCE == pytest.approx(1e-30)


@pytest.mark.parametrize(
    "name, text",
    [
        ("x0", "tanh(W @ s_prev + U @ (x + x0) + b)"),  # once the entries of x at the first step
        ("g_s0", "tanh(W @ s_prev + U @ x + b + g_s0)"),  # once the loss's weights of s at the first step
        ("s_prev0", "tanh(W @ s_prev + U @ x + b + s_prev0)"),  # once the initial state
    ],
)
def test_a_parameter_shares_no_symbol_with_the_unrolled_steps(name, text):
    from derive import Cell, Equation, Parameter, Role, affine

    size = "input" if name == "x0" else "hidden"
    cell = Cell(
        name="c",
        title="test",
        parameters=(*affine(), Parameter(name, size, "1")),
        states=("s",),
        equations=(Equation("s", text, Role.STATE, ""),),
    )
    assert prove_bptt(derive(cell), 2, 3, 2).holds
