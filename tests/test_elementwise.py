"""The elementwise functions: their derivatives, written through the output, against
hand derivations, and the table of entries, to which one entry adds a function."""

import mpmath
import numpy as np
import pytest
from sympy import DiracDelta, Heaviside, Lambda, MatrixSymbol, exp, lambdify, log, tanh

from derive import CATALOGUE, Cell, CellError, Equation, Role, affine, derive, generate, module_source, verify
from derive.algebra import Apply
from derive.backends.numpy.functions import HELPERS, Helper, define, undefine
from derive.backends.numpy.printer import code
from derive.build import GENERATED
from derive.elementwise import (
    FUNCTIONS,
    SPELLINGS,
    Elementwise,
    applied,
    derivative,
    derivative_through_output,
    register,
    unregister,
    y,
    z,
)
from derive.naming import refusal
from derive.printing.latex import latex
from derive.printing.text import text


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    assert derivative_through_output(1 / (1 + exp(-z))) == Lambda(y, y * (1 - y))


def test_tanh_derivative_is_one_minus_tanh_squared():
    assert derivative_through_output(tanh(z)) == Lambda(y, 1 - y**2)


def test_exp_log_and_softplus_derivatives_are_written_through_the_output():
    """exp' = exp, from sympy.diff; log' = 1/z and softplus' = σ(z) through y are
    exp(-y) and 1 - exp(-y), which lift writes with the table's exp."""
    Y = MatrixSymbol("Y", 2, 1)
    assert FUNCTIONS["exp"].derivative(y) == y
    assert derivative("exp", Y) == Y
    assert derivative("log", Y) == Apply("exp", -Y)
    assert text(derivative("softplus", Y)) == "1 - exp(-Y_t)"
    assert applied("log") == applied("softplus") == {"exp"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivative_through_output_matches_diff_at_points(name):
    """Wherever the function has a derivative: relu and step have none at their kink, 0
    (there the derivative through the output is 0, as the frameworks take it), and log
    has none at 0 and no real value below it."""
    f = FUNCTIONS[name]
    modules = [{"DiracDelta": lambda x: 0}, "mpmath"]  # step's derivative, away from 0
    value = lambdify(z, f.definition, modules)
    slope = lambdify(z, f.definition.diff(z), modules)
    through_output = lambdify(y, f.derivative(y), modules)
    kinked = f.definition.diff(z).has(Heaviside, DiracDelta)
    points = (-3.5, -0.2, 0.7, 4) if kinked else (-3.5, -0.2, 0, 0.7, 4)
    for point in points if f.definition.subs(z, -1).is_real else (1e-3, 0.2, 0.7, 4, 1e3):
        assert mpmath.almosteq(through_output(value(point)), slope(point), 1e-14)


def test_a_function_not_rational_in_exp_is_refused():
    with pytest.raises(ValueError, match="not a rational function of exp"):
        derivative_through_output(z**3 + 1 / z)


def test_lifted_to_matrices():
    o = MatrixSymbol("o", 3, 1)
    assert text(derivative("sigma", o)) == "o_t ⊙ (1 - o_t)"
    assert text(derivative("tanh", o)) == "1 - o_t²"


# A function outside the table, smooth so that finite differences apply: tanh scaled
# by 2, whose derivative through its output is 2 - y²/2.
SCALED_TANH = Elementwise("stanh", 2 * tanh(z))
SCALED_TANH_HELPER = Helper(
    "stanh",
    "_stanh",
    '''
def _stanh(z, out=None):
    """2 tanh(z), in place in ``out`` when given."""
    out = np.tanh(z, out=out)
    out *= 2
    return out
''',
)


def scaled_cell():
    """A gated cell whose candidate, and the squashed state it outputs, use stanh."""
    return Cell(
        name="scaled",
        title="A cell with a function of its own",
        parameters=(*affine("g"), *affine()),
        states=("s",),
        equations=(
            Equation("g", "σ(W_g @ s_prev + U_g @ x + b_g)", Role.GATE, "gate"),
            Equation("c", "stanh(W @ s_prev + U @ x + b)", Role.CANDIDATE, "candidate"),
            Equation("s", "g * c + (1 - g) * s_prev", Role.STATE, "new state"),
            Equation("h", "g * stanh(s)", Role.OUTPUT, "output"),
        ),
    )


@pytest.fixture
def scaled_tanh():
    register(SCALED_TANH)
    define(SCALED_TANH_HELPER)
    try:
        yield SCALED_TANH
    finally:
        HELPERS.pop(SCALED_TANH.name, None)
        unregister(SCALED_TANH.name)


@pytest.mark.slow
def test_one_entry_adds_a_function(scaled_tanh):
    """Registered, the function is spelled, derived, proved, printed and generated
    with nothing else changed; the catalogue's modules stay as they are."""
    assert SPELLINGS["stanh"] == "stanh" and "elementwise function" in refusal("stanh")
    cell = scaled_cell()
    d = derive(cell)
    assert scaled_tanh.derivative == Lambda(y, 2 - y**2 / 2)  # from sympy.diff
    backward = {a.target.name: text(a.value) for a in d.backward}
    assert backward["d_z_c"].startswith("δc_t ⊙ (2") and "1/2 c_t²" in backward["d_z_c"]
    o = MatrixSymbol("o", 3, 1)
    assert latex(Apply("stanh", o)) == r"\operatorname{stanh}(\mathbf{o}_{t})"
    assert text(Apply("stanh", o)) == "stanh(o_t)"
    assert code(Apply("stanh", o)) == "_stanh(o)"

    report = verify(cell)
    assert report.holds, str(report)
    assert {r.claim.split(" (")[0] for r in report.rows} >= {"one step", "BPTT over 3 steps"}

    source = module_source(cell)  # checked against the derivation and finite differences
    assert SCALED_TANH_HELPER.source in source and "_stanh(" in source.split("def _sigmoid")[0]
    module = generate(cell, literal=True)
    params = module.init_params(2, 3, rng=0)
    outputs, _ = module.forward(params, np.zeros((1, 1, 2)))
    assert outputs["s"].shape == (1, 1, 3)

    # A function no catalogue cell uses leaves their modules alone.
    assert module_source(CATALOGUE["rnn"]) == (GENERATED / "rnn.py").read_text()


def test_an_unregistered_function_is_not_in_the_vocabulary(scaled_tanh):
    unregister(SCALED_TANH.name)
    try:
        assert "stanh" not in SPELLINGS and refusal("stanh") is None
        with pytest.raises(CellError, match="stanh"):
            scaled_cell()
    finally:
        register(SCALED_TANH)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "tanh"}, "already spells 'tanh'"),
        ({"aliases": ("σ",)}, "already spells 'sigma'"),
        ({"aliases": ("two words",)}, "not a Python identifier"),
        # softplus' derivative, σ(z) = 1 - exp(-y), is no polynomial in its output
        ({"definition": log(1 + exp(z))}, "cannot be written through its output"),
    ],
)
def test_register_refuses_a_broken_entry(change, message):
    fields = {"name": SCALED_TANH.name, "definition": SCALED_TANH.definition}
    with pytest.raises(ValueError, match=message):
        register(Elementwise(**{**fields, **change}))
    assert "stanh" not in FUNCTIONS and "stanh" not in SPELLINGS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"function": "nothing"}, "no elementwise function has that name"),
        ({"function": "tanh"}, "it has one, _tanh"),
        ({"name": "_tanh"}, "helper name '_tanh' is taken"),
        ({"name": "stanh"}, "starting with _"),
        ({"source": "def _other(z, out=None):\n    return z"}, "the one function _stanh"),
        ({"source": "def _stanh(z, out=None) return z"}, "not Python"),
    ],
)
def test_define_refuses_a_broken_helper(scaled_tanh, change, message):
    undefine("stanh")
    fields = {"function": "stanh", "name": "_stanh", "source": SCALED_TANH_HELPER.source}
    with pytest.raises(ValueError, match=message):
        define(Helper(**{**fields, **change}))
    assert "stanh" not in HELPERS


def test_a_function_without_a_numpy_helper_is_refused_by_name(scaled_tanh):
    undefine("stanh")
    with pytest.raises(ValueError, match=r"'stanh' has no NumPy helper; define one"):
        module_source(scaled_cell(), check=False)


def test_entry_defaults_and_the_table_order():
    assert list(FUNCTIONS) == ["sigma", "tanh", "step", "relu", "exp", "log", "softplus"]
    assert (SCALED_TANH.text, SCALED_TANH.latex, SCALED_TANH.words) == (
        "stanh",
        r"\operatorname{stanh}",
        r"\(\operatorname{stanh}\)",
    )
    assert FUNCTIONS["sigma"].spellings == ("sigma", "σ")
