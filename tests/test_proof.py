"""SymPy proves every derivation, and the proof catches a wrong rule."""

import pytest
from cells import ALL_CELLS, HIGHWAY
from sympy import Lambda, MatAdd, MatrixSymbol, Transpose

from derive import derive
from derive.cell import N_HIDDEN
from derive.derivation import Assignment, Derivation
from derive.elementwise import y
from derive.verification.proof import TOLERANCE, prove_bptt, prove_jacobians

CELLS = {**ALL_CELLS, **HIGHWAY}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_one_step_is_proved(name):
    proof = prove_bptt(derive(CELLS[name]), n_input=2, n_hidden=3, steps=1)
    assert proof.holds, proof
    assert proof.entries > 0 and proof.max_relative_difference < 1e-40


@pytest.mark.parametrize("name", sorted(CELLS))
def test_bptt_through_three_steps_is_proved(name):
    proof = prove_bptt(derive(CELLS[name]), n_input=2, n_hidden=3, steps=3)
    assert proof.holds, proof


@pytest.mark.parametrize("name", sorted(CELLS))
def test_jacobians_are_proved(name):
    proof = prove_jacobians(derive(CELLS[name]), n_input=2, n_hidden=3)
    assert proof.holds, proof


def test_the_proof_grows_linearly_with_the_steps():
    """Twelve steps of a highway network three layers deep, each entry of each equation
    differentiated once: the unrolled cell, differentiated whole, took minutes at three."""
    proof = prove_bptt(derive(HIGHWAY["rhn3"]), n_input=2, n_hidden=3, steps=12, points=1)
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


def test_a_wrong_recurrence_is_caught():
    """Carrying δh back into s (and δs into h) is invisible in one step, not in three."""
    from derive.derivation import Carry, Derivation

    d = derive(ALL_CELLS["lstm"])
    s, h = d.carries
    swapped = (Carry(s.state, s.incoming, h.carried), Carry(h.state, h.incoming, s.carried))
    broken = Derivation(d.cell, d.intermediates, d.backward, swapped, d.jacobians)
    assert prove_bptt(broken, 2, 3, steps=1).holds
    assert not prove_bptt(broken, 1, 1, steps=3).holds


def _with(derivation: Derivation, target: str, change) -> Derivation:
    """The derivation with the backward assignment to ``target`` changed by ``change``."""
    backward = tuple(
        Assignment(a.target, change(a.value)) if a.target.name == target else a for a in derivation.backward
    )
    assert backward != derivation.backward
    return Derivation(
        derivation.cell, derivation.intermediates, backward, derivation.carries, derivation.jacobians
    )


def _without_carry(value):
    """The adjoint of a highway layer's output without its first term, what flows back
    through the next layer's carry path (1 - g) ⊙ s."""
    assert isinstance(value, MatAdd) and len(value.args) == 3
    return MatAdd(*value.args[1:])


def _untransposed(value):
    """Wᵀ δz written W δz: invisible with one hidden unit, not with three."""
    w = MatrixSymbol("W_g2", N_HIDDEN, N_HIDDEN)
    assert Transpose(w) in value.atoms(Transpose)
    return value.xreplace({Transpose(w): w})


@pytest.mark.parametrize("change", [_without_carry, _untransposed])
def test_a_wrong_adjoint_deep_inside_a_step_is_caught(change):
    """In the highway network three layers deep, an adjoint of the first layer's output
    with the second layer's contribution wrong: caught in one step and through three."""
    broken = _with(derive(HIGHWAY["rhn3"]), "d_s1", change)
    for steps in (1, 3):
        proof = prove_bptt(broken, n_input=2, n_hidden=3, steps=steps)
        assert not proof.holds and proof.max_relative_difference > 1e-6, proof


def test_a_wrong_derivative_in_a_deep_cell_is_caught():
    """σ' off by a factor 1.0001 in every layer of the highway network three deep."""
    wrong = derive(HIGHWAY["rhn3"], derivatives={"sigma": Lambda(y, y * (1 - y) * 1.0001)})
    assert not prove_bptt(wrong, n_input=2, n_hidden=3, steps=3).holds
    assert not prove_jacobians(wrong, n_input=2, n_hidden=3).holds


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
