"""Scalar parameters: a cell file may declare a parameter of shape "1" (FastGRNN's ζ and ν),
spread over the units in the equations; its gradient is the sum of the elementwise one over
units, sequences and steps, proved like the rest and checked against finite differences
and torch autograd in every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from generated import results, worst
from javascript import worst_against_numpy
from sympy import HadamardProduct, MatMul, Rational

from derive import CellError, derive, generate, module_source, verify
from derive.cellfile import load, loads
from derive.derivation import Assignment, Derivation
from derive.printing.latex import latex
from derive.printing.text import text
from derive.verification.numeric import random_problem
from derive.verification.proof import prove_bptt

PATH = Path(__file__).parent / "cellfiles" / "fastgrnn.toml"
CELL = load(PATH)
SCALARS = ("zeta", "nu")


def test_a_scalar_parameter_is_declared_by_the_shape_1():
    shapes = {p.name: (p.rows, p.cols) for p in CELL.parameters}
    assert shapes["zeta"] == shapes["nu"] == ("1", "1") and shapes["b_h"] == ("hidden", "1")
    assert text(CELL.equation("h").rhs, [p.name for p in CELL.parameters]) == (
        "(zeta (1 - z_t) + nu) ⊙ h̃_t + z_t ⊙ h_{t-1}"
    )


def test_its_gradient_is_the_sum_of_the_elementwise_one():
    params = [p.name for p in CELL.parameters]
    gradients = {g.target.name: g.value for g in derive(CELL).gradients}
    assert text(gradients["d_nu"], params) == "1ᵀ δz_h,t"
    assert text(gradients["d_zeta"], params) == "1ᵀ (δz_h,t ⊙ (1 - z_t))"
    assert latex(gradients["d_nu"], params) == r"\mathbf{1}^{\top} \delta \mathbf{z}_{h,t}"


def test_verify_proves_the_cell():
    report = verify(CELL)
    assert report.holds, report.failures


def _with_gradient(target, change):
    """FastGRNN's derivation with the backward assignment to ``target`` changed."""
    d = derive(CELL)
    backward = tuple(
        Assignment(a.target, change(a.value)) if a.target.name == target else a for a in d.backward
    )
    assert backward != d.backward
    return Derivation(d.cell, d.intermediates, backward, d.carries, d.jacobians)


@pytest.mark.parametrize(
    ("target", "change"),
    [
        # the sum of the squares of the elementwise gradient, not of the gradient
        ("d_nu", lambda value: MatMul(value.args[0], HadamardProduct(value.args[1], value.args[1]))),
        ("d_zeta", lambda value: MatMul(Rational(10001, 10000), value)),  # off by a factor 1.0001
    ],
)
def test_a_wrong_gradient_of_a_scalar_is_caught(target, change):
    broken = _with_gradient(target, change)
    proof = prove_bptt(broken, n_input=2, n_hidden=3, steps=2)
    assert not proof.holds and proof.max_relative_difference > 1e-6, proof


@pytest.mark.parametrize("literal", [False, True])
def test_the_scalars_gradients_match_finite_differences(literal):
    module = generate(CELL, literal=literal)
    params, x, state, d_outputs = random_problem(module, 3, 4, 6, 2, seed=4)
    assert params["zeta"].shape == () and params["nu"].shape == ()

    def loss(p):
        outputs, _ = module.forward(p, x, state)
        return sum(float((outputs[s] * d_outputs[s]).sum()) for s in outputs)

    _, cache = module.forward(params, x, state)
    d_params, _, _ = module.backward(cache, d_outputs)
    for name in SCALARS:
        assert d_params[name].shape == ()
        step = 1e-6
        up, down = dict(params), dict(params)
        up[name], down[name] = params[name] + step, params[name] - step
        numeric = (loss(up) - loss(down)) / (2 * step)
        assert abs(d_params[name] - numeric) <= 1e-7 * max(1.0, abs(numeric)), name


@pytest.mark.parametrize("literal", [False, True])
def test_numpy_modules_agree_with_torch_autograd_of_the_equations(literal):
    torch_reference = pytest.importorskip("torch_reference")
    module = generate(CELL, literal=literal)
    problem = random_problem(module, 3, 4, 5, 2, seed=5)
    assert worst(results(module, problem), torch_reference.run_literal(CELL, problem)) <= 1e-12


def test_the_torch_layer_agrees_with_the_numpy_module_and_gradcheck():
    torch_reference = pytest.importorskip("torch_reference")
    layer = generate(CELL, backend="torch")
    numpy_module = generate(CELL)
    problem = random_problem(numpy_module, 3, 4, 5, 2, seed=6)
    assert worst(torch_reference.run_layer(layer, problem), results(numpy_module, problem)) <= 1e-12
    assert torch_reference.gradcheck(layer, random_problem(numpy_module, 2, 3, 3, 2, seed=7))


def test_the_javascript_agrees_with_the_numpy_module():
    source = module_source(CELL, backend="javascript")
    assert "_full(_n, zeta[0])" in source
    module = generate(CELL)
    problem = random_problem(module, 3, 4, 6, 1, seed=8)
    assert worst_against_numpy(source, module, problem) <= 1e-12


def test_a_scalar_beside_a_matrix_is_refused_in_one_line():
    text_ = PATH.read_text().replace("zeta * (1 - z)", "zeta @ x * (1 - z)")
    with pytest.raises(CellError, match=r"^fastgrnn\.toml:27: .*sizes in 'zeta @ x' do not agree") as caught:
        loads(text_, "fastgrnn", "fastgrnn.toml")
    assert "\n" not in str(caught.value)


def test_a_cell_of_scalars_alone_is_refused_at_its_parameters_line():
    # Found by the deep fuzz run: with no parameter of the hidden size, the generated module
    # had no way to learn the number of units and failed with a KeyError inside forward.
    text_ = """title = "Only a scalar"
states = ["s"]

[parameters]
zeta = "1"

[[equations]]
equation = "s = zeta * s_prev"
role = "state"
meaning = "the old state, scaled"
"""
    with pytest.raises(CellError, match=r"^decay\.toml:4: .*no parameter has the hidden size") as caught:
        loads(text_, "decay", "decay.toml")
    assert "\n" not in str(caught.value)
