"""Cells are validated when they are built, with errors that name the equation."""

import re

import numpy as np
import pytest
from sympy import Rational

from derive import Cell, CellError, Equation, Parameter, Role, affine
from derive.algebra import split_coefficient
from derive.catalogue import CATALOGUE

G = Role.GATE
AFFINE = affine()


def cell(*equations, parameters=AFFINE, states=("s",)):
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
        "(n_hidden, n_hidden)",
        "(n_hidden, n_input)",
        "(n_hidden, 1)",
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("tanh(W @ s_prev + U @ x + q)", "equation 's': 'q' is not defined"),
        ("tanh(W @ s + U @ x + b)", "equation 's': uses its own result 's'"),
        (
            "tanh(W @ x + U @ x + b)",
            "sizes in 'W @ x' do not agree: W is n_hidden×n_hidden and x is n_input×1",
        ),
        ("tanh(W @ s_prev + U @ s_prev + b)", "sizes in 'U @ s_prev' do not agree"),
        ("tanh(W @ s_prev + U @ x + b) ** 2", "'tanh(W @ s_prev + U @ x + b) ** 2' is not supported"),
        ("sqrt(W @ s_prev + U @ x + b)", "'sqrt(W @ s_prev + U @ x + b)' is not supported"),
        ("tanh(W @ s_prev + U @ x + b", "cannot read"),
        ("W @ s_prev // 2 + U @ x + b", "// is not supported; / divides elementwise"),
        ("W @ s_prev / 0 + U @ x + b", "divides by zero"),
        ("W @ s_prev / x + U @ x + b", "sizes in 'W @ s_prev / x' do not agree"),
        ("tanh(W @ s_prev + U @ x + b + x)", "sizes in"),
    ],
)
def test_bad_equation_is_named(text, message):
    with pytest.raises(CellError, match=r"equation 's'") as error:
        cell(Equation("s", text, Role.STATE, "state"))
    assert message in str(error.value)


def test_division_reads_as_numpy_does():
    """a / b is the elementwise quotient; by a number, the product by its exact inverse;
    a number over a column, the column of that number divided."""
    from derive.algebra import Divide

    c = cell(
        Equation(
            "s",
            "tanh(W @ s_prev + U @ x + b) / (1 + s_prev * s_prev) + 2 / (3 + s_prev) + s_prev / 4",
            Role.STATE,
            "",
        )
    )
    quotient, number_over, by_number = c.equations[0].rhs.args
    assert isinstance(quotient, Divide) and isinstance(number_over, Divide)
    assert str(number_over.dividend) == "2*1"
    assert by_number.args[0] == Rational(1, 4)


def test_use_before_definition_says_to_reorder():
    with pytest.raises(CellError, match="uses 'g' before it is defined; move equation 'g' above"):
        cell(
            Equation("s", "g * tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
            Equation("g", "σ(W @ s_prev)", G, ""),
        )


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
    with pytest.raises(
        CellError, match="an equation's value must be a column, but this one is n_hidden×n_input"
    ):
        cell(Equation("s", "U", Role.STATE, ""))


def test_state_with_wrong_shape_via_parameter():
    params = (*affine(), Parameter("V", "input", "hidden"))
    with pytest.raises(CellError, match="a state must be a column of n_hidden, but this one is n_input×1"):
        cell(Equation("s", "V @ tanh(W @ s_prev + U @ x + b)", Role.STATE, ""), parameters=params)


def test_duplicate_equation_is_refused():
    with pytest.raises(CellError, match="'s' is already defined"):
        cell(
            Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
            Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
        )


def test_equation_named_like_a_parameter_is_refused():
    with pytest.raises(CellError, match="'W' is already defined"):
        cell(
            Equation("W", "tanh(U @ x)", G, ""),
            Equation("s", "W * tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
        )


def test_numbers_broadcast_in_sums_and_scale_products():
    c = cell(Equation("s", "2 * (1 - σ(W @ s_prev + U @ x + b)) - 1", Role.STATE, ""))
    assert c.equation("s").rhs.shape == c.prev_symbols[0].shape


@pytest.mark.parametrize("name", ["d_s", "z_s", "z2_s", "h_prev", "s_in", "2s"])
def test_names_the_derivation_makes_are_refused(name):
    with pytest.raises(CellError, match=f"'{name}' cannot name an equation"):
        cell(
            Equation(name, "σ(W @ s_prev)", G, ""),
            Equation("s", "tanh(W @ s_prev + U @ x + b)", Role.STATE, ""),
        )


# Every mistake is a CellError at build time, naming the equation or parameter.

RNN_TEXT = "tanh(W @ s_prev + U @ x + b)"


def rnn(**fields):
    """The RNN with some fields replaced."""
    values = dict(
        name="c",
        title="test",
        parameters=affine(),
        states=("s",),
        equations=(Equation("s", RNN_TEXT, Role.STATE, "new state"),),
    )
    return Cell(**{**values, **fields})


def with_gate(name):
    return cell(
        Equation(name, "σ(W @ s_prev)", G, ""), Equation("s", name + " * " + RNN_TEXT, Role.STATE, "")
    )


@pytest.mark.parametrize(
    "name, reason",
    [
        ("lambda", "it is a Python keyword"),
        ("None", "it is a Python keyword"),
        ("range", "it is a Python builtin"),
        ("reversed", "it is a Python builtin"),
        ("_g", "names starting with _ are the generated code's own"),
        ("np", "the generated module's interface or a library it calls has this name"),
        ("torch", "the generated module's interface or a library it calls has this name"),
        ("params", "the generated module's interface or a library it calls has this name"),
        ("d_outputs", "the generated module's interface or a library it calls has this name"),
        ("g_seq", "it has the form of a name the derivation or the generated code makes"),
        ("weights_o", "it has the form of a name the derivation or the generated code makes"),
    ],
)
def test_equation_names_python_or_the_generated_module_needs_are_refused(name, reason):
    with pytest.raises(
        CellError, match=f"cell 'c', equation '{name}': '{name}' cannot name an equation: {reason}"
    ):
        with_gate(name)


@pytest.mark.parametrize(
    "name", ["s_in", "s_prev", "d_W", "z_s", "W_seq", "weights_s", "lambda", "range", "state", "_W"]
)
def test_parameter_names_follow_the_same_rules(name):
    with pytest.raises(CellError, match=f"cell 'c', parameter '{name}': '{name}' cannot name a parameter"):
        cell(
            Equation("s", RNN_TEXT.replace("+ b", "+ " + name), Role.STATE, ""),
            parameters=(*affine()[:2], Parameter(name, "hidden", "1")),
        )


def test_state_names_follow_the_same_rules():
    with pytest.raises(
        CellError, match="cell 'c', state 'for': 'for' cannot name a state: it is a Python keyword"
    ):
        rnn(states=("s", "for"))


def test_names_are_read_as_python_reads_them():
    # Python reads the ligature ﬁ as fi and the full-width ｓ as s (NFKC).
    c = cell(
        Equation("ｓ", "tanh(W @ s_prev + U @ x + ﬁ)", Role.STATE, ""),
        parameters=(*affine()[:2], Parameter("ﬁ", "hidden", "1")),
    )
    assert [p.name for p in c.parameters] == ["W", "U", "fi"]
    assert [e.name for e in c.equations] == ["s"]


def test_names_equal_as_python_reads_them_are_refused():
    with pytest.raises(
        CellError,
        match=r"parameter 'ｂ': 'ｂ' \(which Python reads as 'b'\) is already defined, "
        "as parameter 'b'; give the parameter another name",
    ):
        cell(Equation("s", RNN_TEXT, Role.STATE, ""), parameters=(*affine(), Parameter("ｂ", "hidden", "1")))
    with pytest.raises(CellError, match=r"equation 'ｇ': 'ｇ' .* is already defined, as equation 'g'"):
        cell(
            Equation("g", "σ(W @ s_prev)", G, ""),
            Equation("ｇ", "σ(W @ s_prev)", G, ""),
            Equation("s", RNN_TEXT, Role.STATE, ""),
        )


def test_a_shape_word_that_is_not_a_size_is_refused():
    with pytest.raises(
        CellError, match="cell 'c', parameter 'W': the size 'hiden' is not one of 'input', 'hidden', '1'"
    ):
        cell(
            Equation("s", RNN_TEXT, Role.STATE, ""),
            parameters=(Parameter("W", "hiden", "hidden"), *affine()[1:]),
        )


def test_a_role_that_is_not_a_role_is_refused():
    with pytest.raises(
        CellError,
        match=re.escape(
            "equation 's': 'state ' is not a role; use one of "
            "Role.GATE, Role.CANDIDATE, Role.STATE, Role.OUTPUT"
        ),
    ):
        cell(Equation("s", RNN_TEXT, "state ", ""))
    assert cell(Equation("s", RNN_TEXT, "state", "")).equations[0].role is Role.STATE


@pytest.mark.parametrize("inputs", [("y",), ("x", "x2"), ()])
def test_the_one_input_is_x(inputs):
    with pytest.raises(
        CellError, match=r"the generated modules take one input x, of shape \(T, B, n_input\)"
    ):
        rnn(inputs=inputs)


@pytest.mark.parametrize("field, example", [("states", "states=('s',)"), ("inputs", "inputs=('x',)")])
def test_a_string_for_a_tuple_of_names_is_refused(field, example):
    # "sh" would otherwise be read as the two states s and h.
    with pytest.raises(CellError, match=f"{field} must be a tuple, e.g. {re.escape(example)}, not str"):
        rnn(**{field: "s" if field == "states" else "x"})


def test_a_cell_without_states_or_parameters_is_refused():
    with pytest.raises(CellError, match="cell 'c' has no states"):
        rnn(states=())
    with pytest.raises(CellError, match="cell 'c' has no parameters; a cell learns at least one"):
        rnn(parameters=(), equations=(Equation("s", "-s_prev", Role.STATE, ""),))


@pytest.mark.parametrize(
    "text, message",
    [
        ("tanh(W @ s_prev + U @ x + b" + " + b" * 490 + ")", "is nested too deeply"),
        ("-" * 5000 + RNN_TEXT, "is nested too deeply"),
        ("tanh(" * 99 + "W @ s_prev + U @ x + b" + ")" * 99, "levels deep, more than the derivation's 100"),
        ("1" + "0" * 400 + " * " + RNN_TEXT, "is too large a number for float64"),
        ("1e400 * " + RNN_TEXT, "'1e400' is not a finite number"),
        ("(1e300 * 1e300) * " + RNN_TEXT, "'1e300 * 1e300' is too large a number"),
        ("0 * s_prev + " + RNN_TEXT, "'0 * s_prev' multiplies by zero; remove the term"),
        ("0 * " + RNN_TEXT, "multiplies by zero; remove the term"),
        ("True * " + RNN_TEXT, "'True' is not a number"),
        ("2 - 3", "'2 - 3' is a plain number"),
        (RNN_TEXT + " ** 2", "powers (**) are not supported; write the product out"),
        ("1 +* 2", "cannot read '1 +* 2'"),
        ("s_prev\x00", "cannot read"),
        ("1" * 5000 + " * s_prev", "cannot read"),
    ],
)
def test_every_parser_error_names_the_equation_and_quotes_little(text, message):
    with pytest.raises(CellError, match="cell 'c', equation 's': ") as error:
        cell(Equation("s", text, Role.STATE, ""))
    assert message in str(error.value)
    assert len(str(error.value)) < 300


def test_text_that_is_not_a_string_is_refused():
    with pytest.raises(CellError, match="equation 's': the text is int, not a string"):
        cell(Equation("s", 3, Role.STATE, ""))


@pytest.mark.parametrize(
    "text, coefficient",
    [
        ("(2*3) * " + RNN_TEXT, 6),
        ("((-2)*(-3)) * " + RNN_TEXT, 6),
        ("(2*3*5) * " + RNN_TEXT, 30),
        ("0.1 * " + RNN_TEXT, Rational(1, 10)),
        ("(1 - 0.25) * " + RNN_TEXT, Rational(3, 4)),
        ("-(0.5 * 3) * " + RNN_TEXT, Rational(-3, 2)),
        ("2.0 * " + RNN_TEXT, 2),
    ],
)
def test_numbers_are_computed_exactly(text, coefficient):
    rhs = cell(Equation("s", text, Role.STATE, "")).equation("s").rhs
    c, core = split_coefficient(rhs)
    assert c == coefficient and type(c) is type(Rational(coefficient))
    assert str(core) == "Apply(tanh, U*x + W*s_prev + b)"


@pytest.mark.parametrize("field", ["title", "meaning"])
@pytest.mark.parametrize(
    "text", ["one\ntwo", "tab\there", "nul\x00", "line\u2028separator", "\u202eoverride"]
)
def test_titles_and_meanings_are_one_line_of_text(field, text):
    with pytest.raises(CellError, match=f"the {field} holds the control character"):
        if field == "title":
            rnn(title=text)
        else:
            cell(Equation("s", RNN_TEXT, Role.STATE, text))


def test_a_title_cannot_escape_the_generated_docstring():
    from derive.backends import module_source
    from derive.codegen.modules import load

    # Were the docstring closed, the code after it would run as the module loads.
    title = 'x"""; INJECTED = True; """ \\ end'
    module = load(module_source(rnn(title=title), literal=True), "m")
    assert not hasattr(module, "INJECTED")
    assert module.__doc__.startswith(title + ": forward pass")
    outputs, _ = module.forward(module.init_params(2, 3, rng=0), np.ones((2, 1, 2)))
    assert outputs["s"].shape == (2, 1, 3)


def test_a_cell_name_must_name_a_module():
    with pytest.raises(CellError, match="a cell's name names its generated module; use an identifier"):
        rnn(name="my cell")


def test_a_parameter_named_like_the_input_is_refused():
    with pytest.raises(CellError, match="parameter 'x': 'x' is already defined, as input 'x'"):
        cell(
            Equation("s", RNN_TEXT.replace("+ b", "+ x"), Role.STATE, ""),
            parameters=(*affine()[:2], Parameter("x", "input", "1")),
        )


def test_an_equation_whose_value_is_a_matrix_is_refused():
    with pytest.raises(
        CellError,
        match=r"equation 'a': an equation's value must be a column, but this one is "
        r"n_hidden×n_hidden",
    ):
        cell(Equation("a", "W * W", G, ""), Equation("s", "tanh(a @ s_prev + U @ x + b)", Role.STATE, ""))


def test_a_product_that_is_the_same_at_every_step_says_to_write_a_bias():
    with pytest.raises(CellError, match=r"'W @ b' is the same at every step .* write a bias vector"):
        cell(Equation("s", "tanh(W @ s_prev + U @ x + W @ b)", Role.STATE, ""))
