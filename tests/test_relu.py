"""relu and its derivative, the unit step, as entries of the table, and IndRNN (Li et al.
2018), the cell in derive/catalogue/indrnn.toml that uses relu, end to end: derived, proved,
generated, and checked against finite differences away from the kink and exactly at
negative pre-activations, where every gradient through relu is 0."""

from pathlib import Path

import numpy as np
import pytest
from sympy import Heaviside, Lambda, MatrixSymbol, Max

from derive import CATALOGUE, Cell, Equation, Role, affine, derive, generate, module_source, verify
from derive.algebra import Apply, diag, hadamard
from derive.backends.numpy.functions import HELPERS, helpers
from derive.backends.numpy.printer import code
from derive.cellfile import load
from derive.elementwise import FUNCTIONS, Elementwise, applied, derivative, lift, register, y, z
from derive.naming import refusal
from derive.printing.latex import latex
from derive.printing.text import text
from derive.verification import numeric, proof

INDRNN = Path(__file__).parent.parent / "derive" / "catalogue" / "indrnn.toml"


def test_relu_and_step_entries():
    relu, step = FUNCTIONS["relu"], FUNCTIONS["step"]
    assert relu.definition == Max(0, z) and step.definition == Heaviside(z, 0)
    assert step.definition.subs(z, 0) == 0  # not SymPy's default 1/2
    # relu' is the step of the output; the step is flat wherever it has a derivative.
    assert relu.derivative == Lambda(y, Heaviside(y, 0))
    assert step.derivative == Lambda(y, 0)
    assert (relu.words, step.words) == ("ReLU", "unit step")
    assert not HELPERS["relu"].in_every_module and not HELPERS["step"].in_every_module
    assert "elementwise function" in refusal("relu") and "elementwise function" in refusal("step")


@pytest.mark.parametrize(
    ("name", "as_text", "as_latex", "as_numpy"),
    [
        ("relu", "relu(o_t)", r"\operatorname{relu}(\mathbf{o}_{t})", "_relu(o)"),
        ("step", "step(o_t)", r"\operatorname{step}(\mathbf{o}_{t})", "_step(o)"),
    ],
)
def test_printed(name, as_text, as_latex, as_numpy):
    o = MatrixSymbol("o", 3, 1)
    assert text(Apply(name, o)) == as_text
    assert latex(Apply(name, o)) == as_latex
    assert code(Apply(name, o)) == as_numpy


def test_relu_derivative_is_the_step_of_the_output():
    o = MatrixSymbol("o", 3, 1)
    slope = derivative("relu", o)
    assert slope == Apply("step", o) == lift(Heaviside(y, 0), o)
    assert text(slope) == "step(o_t)"
    assert latex(slope) == r"\operatorname{step}(\mathbf{o}_{t})"
    assert code(slope) == "_step(o)"
    assert derivative("step", o) is None  # zero, as the algebra writes it
    assert applied("relu") == {"step"} and applied("step") == set() and applied("tanh") == set()


def test_a_module_defines_the_helpers_its_derivatives_apply():
    """relu's backward pass computes step, so a module using relu defines both."""
    by_name = {h.function: h.source for h in HELPERS.values()}
    assert by_name["step"] in helpers({"relu"}) and by_name["relu"] in helpers({"relu"})
    assert by_name["relu"] not in helpers({"step"})
    assert helpers(set()) == [by_name["sigma"], by_name["tanh"]]


def test_a_derivative_applying_no_function_of_the_table_is_refused():
    # Heaviside(y, 1) is 1 at 0: no entry is defined as that.
    with pytest.raises(ValueError, match="cannot be written through its output"):
        register(
            Elementwise(
                "relu_at_one",
                Max(0, z),
                through_output=Lambda(y, Heaviside(y, 1)),
            )
        )
    assert "relu_at_one" not in FUNCTIONS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_helpers_are_exact_and_write_into_out(dtype):
    space = {"np": np}
    for name in ("relu", "step"):
        exec(HELPERS[name].source, space)
    tiny = np.finfo(dtype).smallest_subnormal
    values = np.array([-np.inf, -2.5, -tiny, -0.0, 0.0, tiny, 3.25, np.inf, np.nan], dtype=dtype)
    relu = space["_relu"](values)
    step = space["_step"](values)
    assert relu.dtype == dtype and step.dtype == dtype
    np.testing.assert_array_equal(relu, [0, 0, 0, 0, 0, tiny, 3.25, np.inf, np.nan])
    assert not np.signbit(relu[:5]).any()
    np.testing.assert_array_equal(step, [0, 0, 0, 0, 0, 1, 1, 1, 0])
    # The step of the output is the step of the argument: y > 0 exactly where z > 0.
    np.testing.assert_array_equal(space["_step"](relu), step)
    for name, want in (("_relu", relu), ("_step", step)):
        out = values.copy()
        assert space[name](out, out=out) is out
        np.testing.assert_array_equal(out, want)


@pytest.fixture(scope="module")
def indrnn():
    return load(INDRNN)


def test_indrnn_derives(indrnn):
    assert [p.name for p in indrnn.parameters] == ["u", "U", "b"]
    d = derive(indrnn)
    names = [p.name for p in indrnn.parameters]
    backward = {text(a.target, names): text(a.value, names) for a in d.backward}
    assert backward["δz_s,t"] == "δs_t ⊙ step(s_t)"
    assert backward["δ̄s_{t-1}"] == "δz_s,t ⊙ u"
    assert backward["δu"] == "δz_s,t ⊙ s_{t-1}"
    assert backward["δU"] == "δz_s,t x_tᵀ"


def test_indrnn_state_jacobian_is_diagonal(indrnn):
    """Each unit sees only its own past: ∂s_t/∂s_{t-1} = diag(step(s_t) ⊙ u)."""
    d = derive(indrnn)
    ((jacobian),) = d.jacobians
    s = MatrixSymbol("s", *jacobian.of.shape)
    u = next(p for p in indrnn.parameter_symbols if p.name == "u")
    assert (jacobian.of.name, jacobian.wrt.name) == ("s", "s_prev")
    assert jacobian.value == diag(hadamard(Apply("step", s), u))
    assert text(jacobian.value, ["u", "U", "b"]) == "diag(step(s_t) ⊙ u)"
    assert latex(jacobian.value, ["u", "U", "b"]) == (
        r"\operatorname{diag}(\operatorname{step}(\mathbf{s}_{t}) \odot \mathbf{u})"
    )


def test_indrnn_proved(indrnn):
    report = verify(indrnn)
    print(report)
    assert report.holds, str(report)
    claims = {row.claim.split(" (")[0] for row in report.rows}
    assert claims >= {
        "one step",
        "BPTT over 3 steps",
        "Jacobians ∂v_t/∂u_(t-1)",
        "generated NumPy = derivation at 30 digits",
        "generated NumPy = finite differences",
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_indrnn_proof_at_more_points_and_it_catches_a_wrong_derivative(indrnn, seed):
    """Over 3 steps at points on both sides of the kink; relu' taken as 1 (as if it were
    the identity's) is caught."""
    assert proof.prove_bptt(derive(indrnn), 2, 3, steps=3, seed=seed).holds
    wrong = derive(indrnn, derivatives={"relu": Lambda(y, 1)})
    assert not proof.prove_bptt(wrong, 2, 3, steps=3, seed=seed).holds
    assert not proof.prove_jacobians(wrong, 2, 3, seed=seed).holds


@pytest.mark.parametrize("literal", [False, True])
def test_indrnn_module(indrnn, literal):
    source = module_source(indrnn, literal, check=True)  # against the derivation and finite differences
    assert "def _relu(" in source and "def _step(" in source and "_step(" in source.split("def _sigmoid")[0]
    # A function no catalogue cell uses leaves their modules alone.
    assert "_relu" not in module_source(CATALOGUE["rnn"])


def _pre_activations(params, x, state):
    """u ⊙ s_{t-1} + U x_t + b at every step, recomputed here in NumPy."""
    s, out = state["s"], []
    for x_t in x:
        z_t = params["u"] * s + x_t @ params["U"].T + params["b"]
        out.append(z_t)
        s = np.maximum(z_t, 0)
    return np.array(out)


def _problem_away_from_the_kink(module, margin=0.05):
    """The first of some seeded problems whose pre-activations all lie at least ``margin``
    from 0, on both sides of it."""
    for seed in range(100):
        problem = numeric.random_problem(module, 3, 4, 5, 2, seed)
        pre = _pre_activations(*problem[:3])
        if np.abs(pre).min() >= margin and (pre > 0).any() and (pre < 0).any():
            return problem
    raise AssertionError("no seeded problem stays away from the kink")


@pytest.mark.parametrize("literal", [False, True])
def test_indrnn_gradients_match_finite_differences_away_from_the_kink(indrnn, literal):
    module = generate(indrnn, literal)
    problem = _problem_away_from_the_kink(module)
    assert numeric.against_reference(module, derive(indrnn), *problem) <= 1e-12
    errors = numeric.finite_differences(module, *problem)
    assert max(errors.values()) <= 1e-8, errors


@pytest.mark.parametrize("literal", [False, True])
def test_indrnn_gradient_is_exactly_zero_at_negative_pre_activations(indrnn, literal):
    module = generate(indrnn, literal)
    rng = np.random.default_rng(1)
    n_input, n_hidden = 3, 4
    params = {
        "u": np.array([0.5, -0.5, 0.25, 0.75]),
        "U": 0.1 * rng.normal(size=(n_hidden, n_input)),
        "b": np.array([-3.0, 2.0, -3.0, 2.0]),  # units 0 and 2 below the kink, 1 and 3 above
    }
    x = rng.normal(size=(1, 1, n_input))
    state = {"s": 0.1 * rng.normal(size=(1, n_hidden))}
    d_outputs = {"s": rng.normal(size=(1, 1, n_hidden))}
    below = [0, 2]
    assert (_pre_activations(params, x, state)[0, 0, below] < 0).all()
    outputs, cache = module.forward(params, x, state)
    d_params, d_x, d_state = module.backward(cache, d_outputs)
    assert (outputs["s"][..., below] == 0).all()
    assert (d_params["u"][below] == 0).all() and (d_params["b"][below] == 0).all()
    assert (d_params["U"][below] == 0).all() and (d_state["s"][:, below] == 0).all()
    above = [1, 3]
    assert (d_params["b"][above] == d_outputs["s"][0, 0, above]).all()
    np.testing.assert_allclose(d_state["s"][0, above], params["u"][above] * d_outputs["s"][0, 0, above])

    # Every unit below the kink at every step: nothing flows back at all.
    params["b"][:] = -5.0
    x = rng.normal(size=(4, 3, n_input))
    state = {"s": 0.1 * rng.normal(size=(3, n_hidden))}
    outputs, cache = module.forward(params, x, state)
    d_params, d_x, d_state = module.backward(cache, {"s": rng.normal(size=(4, 3, n_hidden))})
    assert not outputs["s"].any()
    assert not any(g.any() for g in d_params.values()) and not d_x.any() and not d_state["s"].any()


def test_indrnn_float32(indrnn):
    module = generate(indrnn)
    params = module.init_params(3, 4, rng=0, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    outputs, cache = module.forward(params, x)
    d_params, d_x, d_state = module.backward(cache, {"s": np.ones_like(outputs["s"])})
    assert outputs["s"].dtype == d_x.dtype == d_state["s"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in d_params.values())


@pytest.mark.slow
def test_a_cell_may_use_step_through_which_nothing_flows():
    """A gate that is the step of its argument: its derivative is 0, so its parameters'
    gradients are 0, and the proof (where sympy.diff gives DiracDelta, 0 away from the
    kink) and the module's checks agree."""
    cell = Cell(
        name="stepped",
        title="A cell with a step gate",
        parameters=(*affine("g"), *affine()),
        states=("s", "h"),
        equations=(
            Equation("g", "step(W_g @ s_prev + U_g @ x + b_g)", Role.GATE, "a gate, open or shut"),
            Equation("s", "g * tanh(W @ s_prev + U @ x + b) + (1 - g) * s_prev", Role.STATE, "new state"),
            Equation("h", "g * relu(s) + relu(h_prev)", Role.OUTPUT, "output"),
        ),
    )
    d = derive(cell)
    backward = {a.target.name: text(a.value) for a in d.backward}
    assert backward["d_W_g"] == backward["d_U_g"] == backward["d_b_g"] == "0"
    assert backward["d_h_prev"] == "δh_t ⊙ step(relu(h_{t-1}))"
    report = verify(cell)
    assert report.holds, str(report)
