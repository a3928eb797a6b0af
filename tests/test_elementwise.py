"""The elementwise derivatives, written through the output, against hand derivations."""

import mpmath
import pytest
from sympy import Lambda, MatrixSymbol, exp, lambdify, tanh

from derive.elementwise import FUNCTIONS, derivative, derivative_through_output, y, z
from derive.printing.text import text


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    assert derivative_through_output(1 / (1 + exp(-z))) == Lambda(y, y * (1 - y))


def test_tanh_derivative_is_one_minus_tanh_squared():
    assert derivative_through_output(tanh(z)) == Lambda(y, 1 - y**2)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivative_through_output_matches_diff_at_points(name):
    f = FUNCTIONS[name]
    value = lambdify(z, f.definition, "mpmath")
    slope = lambdify(z, f.definition.diff(z), "mpmath")
    through_output = lambdify(y, f.derivative()(y), "mpmath")
    for point in (-3.5, -0.2, 0, 0.7, 4):
        assert mpmath.almosteq(through_output(value(point)), slope(point), 1e-14)


def test_a_function_not_rational_in_exp_is_refused():
    with pytest.raises(ValueError, match="not a rational function of exp"):
        derivative_through_output(z**3 + 1 / z)


def test_lifted_to_matrices():
    o = MatrixSymbol("o", 3, 1)
    assert text(derivative("sigma", o)) == "o_t ⊙ (1 - o_t)"
    assert text(derivative("tanh", o)) == "1 - o_t²"
