"""Cells are validated when they are built, with errors that name the equation."""

import pytest

from derive import Cell, CellError, Equation, Parameter, Role, affine
from derive.cells import CATALOGUE

G = Role.GATE


def cell(*equations, parameters=affine(), states=("s",)):
    return Cell(name="c", title="test", parameters=parameters, states=states, equations=equations)


def test_catalogue_cells_have_their_equations_in_order():
    assert [e.name for e in CATALOGUE["lstm"].equations] == ["o", "i", "f", "s_tilde", "s", "h"]
    assert CATALOGUE["lstm"].states == ("s", "h")
    assert [e.role for e in CATALOGUE["gru"].equations] == [G, G, Role.CANDIDATE, Role.STATE]
    assert all(e.meaning for c in CATALOGUE.values() for e in c.equations)


def test_shapes_are_symbolic():
    rnn = CATALOGUE["rnn"]
    assert str(rnn.equation("s").rhs.shape) == "(n_hidden, 1)"
    assert {str(p.symbol.shape) for p in rnn.parameters} == {
        "(n_hidden, n_hidden)", "(n_hidden, n_input)", "(n_hidden, 1)"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("tanh(W @ s_prev + U @ x + q)", "equation 's': 'q' is not defined"),
        ("tanh(W @ s + U @ x + b)", "equation 's': uses its own result 's'"),
        ("tanh(W @ x + U @ x + b)", "sizes in 'W @ x' do not agree: W is n_hidden×n_hidden and x is n_input×1"),
        ("tanh(W @ s_prev + U @ s_prev + b)", "sizes in 'U @ s_prev' do not agree"),
        ("tanh(W @ s_prev + U @ x + b) ** 2", "'tanh(W @ s_prev + U @ x + b) ** 2' is not supported"),
        ("exp(W @ s_prev + U @ x + b)", "'exp(W @ s_prev + U @ x + b)' is not supported"),
        ("tanh(W @ s_prev + U @ x + b", "cannot read"),
        ("W @ s_prev / 2 + U @ x + b", "is not supported"),
        ("tanh(W @ s_prev + U @ x + b + x)", "sizes in"),
    ],
)
def test_bad_equation_is_named(text, message):
    with pytest.raises(CellError, match=r"equation 's'") as error:
        cell(Equation("s", text, Role.STATE, "state"))
    assert message in str(error.value)


def test_use_before_definition_says_to_reorder():
    with pytest.raises(CellError, match="uses 'g' before it is defined; move equation 'g' above"):
        cell(Equation("s", "g * tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
             Equation("g", "σ(W @ s_prev)", G, ""))


def test_cycle_between_equations_is_refused():
    with pytest.raises(CellError, match="before it is defined"):
        cell(Equation("a", "σ(W @ s + b)", G, ""), Equation("s", "a * tanh(U @ x)", Role.STATE, ""))


def test_unused_parameter_is_refused():
    with pytest.raises(CellError, match="parameter 'b' is not used"):
        cell(Equation("s", "tanh(W @ s_prev + U @ x)", Role.STATE, ""))


def test_state_without_equation_is_refused():
    with pytest.raises(CellError, match="state 'h' has no equation"):
        cell(Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""), states=("s", "h"))


def test_state_must_be_a_hidden_column():
    with pytest.raises(CellError, match="a state must be a column of n_hidden, but this one is n_hidden×n_input"):
        cell(Equation("s", "U", Role.STATE, ""))


def test_state_with_wrong_shape_via_parameter():
    params = (*affine(), Parameter("V", "input", "hidden"))
    with pytest.raises(CellError, match="a state must be a column of n_hidden, but this one is n_input×1"):
        cell(Equation("s", "V @ tanh(W @ s_prev + U @ x + b)", Role.STATE, ""), parameters=params)


def test_duplicate_equation_is_refused():
    with pytest.raises(CellError, match="'s' is already defined"):
        cell(Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
             Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""))


def test_equation_named_like_a_parameter_is_refused():
    with pytest.raises(CellError, match="'W' is already defined"):
        cell(Equation("W", "tanh(U @ x)", G, ""), Equation("s", "W * tanh(W @ s_prev + U @ x + b)", Role.STATE, ""))


def test_numbers_broadcast_in_sums_and_scale_products():
    c = cell(Equation("s", "2 * (1 - σ(W @ s_prev + U @ x + b)) - 1", Role.STATE, ""))
    assert c.equation("s").rhs.shape == c.prev_symbols[0].shape


@pytest.mark.parametrize("name", ["d_s", "z_s", "z2_s", "h_prev", "s_in", "2s"])
def test_names_the_derivation_makes_are_refused(name):
    with pytest.raises(CellError, match=f"'{name}' cannot name an equation"):
        cell(Equation(name, "σ(W @ s_prev)", G, ""), Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""))
