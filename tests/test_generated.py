"""The generated NumPy code, checked three ways: finite differences, the derivation
evaluated at 30 digits, and the literal (unfused) lowering."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from cells import ALL_CELLS
from generated import derivation, module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.verification.numeric import against_reference, finite_differences, random_problem, relative_error

CELLS = sorted(ALL_CELLS)
sizes = st.fixed_dictionaries(
    {
        "steps": st.integers(1, 12),
        "batch": st.integers(1, 5),
        "n_input": st.integers(1, 7),
        "n_hidden": st.integers(1, 9),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@pytest.mark.slow
@pytest.mark.parametrize("name", CELLS)
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(size=sizes)
def test_gradients_match_finite_differences(name, size):
    m = module(name)
    problem = random_problem(m, size["n_input"], size["n_hidden"], size["steps"], size["batch"], size["seed"])
    errors = finite_differences(m, *problem, seed=size["seed"])
    assert set(errors) == {f"params[{k!r}]" for k in m.PARAMETERS} | {"x"} | {
        f"state[{s!r}]" for s in m.STATES
    }
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("literal", [False, True], ids=["fused", "literal"])
def test_agrees_with_the_derivation_at_30_digits(name, literal):
    m = module(name, literal)
    # (2, 8, 2, 32): blocks of 256 entries and more, where σ and tanh take their exp-based path
    for seed, shape in enumerate([(4, 3, 3, 5), (1, 1, 1, 1), (7, 2, 5, 2), (2, 8, 2, 32)]):
        steps, batch, n_input, n_hidden = shape
        problem = random_problem(m, n_input, n_hidden, steps, batch, seed)
        assert against_reference(m, derivation(name), *problem) <= 1e-12


@pytest.mark.parametrize("name", CELLS)
def test_fused_and_literal_lowerings_agree(name):
    fused, literal = module(name), module(name, literal=True)
    params, x, state, d_out = random_problem(fused, 6, 40, 9, 8, seed=3)
    a_out, a_cache = fused.forward(params, x, state)
    b_out, b_cache = literal.forward(params, x, state)
    for s in fused.STATES:
        assert relative_error(a_out[s], b_out[s]) <= 1e-13
    a, b = fused.backward(a_cache, d_out), literal.backward(b_cache, d_out)
    for k in fused.PARAMETERS:
        assert relative_error(a[0][k], b[0][k]) <= 1e-12
    assert relative_error(a[1], b[1]) <= 1e-12


@pytest.mark.parametrize("name", CELLS)
def test_float32_in_float32_out_close_to_float64(name):
    m = module(name)
    p64, x, state, d_out = random_problem(m, 5, 7, 10, 3, seed=1)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    out32, cache32 = m.forward(p32, x.astype(np.float32), {k: v.astype(np.float32) for k, v in state.items()})
    d32 = m.backward(cache32, {k: v.astype(np.float32) for k, v in d_out.items()})
    out64, cache64 = m.forward(p64, x, state)
    d64 = m.backward(cache64, d_out)
    arrays32 = [*out32.values(), *d32[0].values(), d32[1], *d32[2].values()]
    assert all(a.dtype == np.float32 for a in arrays32)
    for s in m.STATES:
        assert relative_error(out32[s], out64[s]) <= 1e-4
    for k in m.PARAMETERS:
        assert relative_error(d32[0][k], d64[0][k]) <= 1e-4, k
    assert relative_error(d32[1], d64[1]) <= 1e-4


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch, n_hidden", [(2, 4), (8, 40)], ids=["small", "exp-path"])
@pytest.mark.parametrize("literal", [False, True], ids=["fused", "literal"])
def test_huge_inputs_stay_finite_without_warnings(name, dtype, batch, n_hidden, literal):
    """exp overflows to inf inside σ and tanh at |z| = 1e4, where the formulas give the
    exact limits: both lowerings silence that overflow, forward and backward (which
    applies tanh to a state of 1e3 again in the literal LSTM), and nothing else warns."""
    m = module(name, literal=literal)
    params, x, state, d_out = random_problem(m, 3, n_hidden, 6, batch, seed=2, dtype=dtype)
    signs = np.random.default_rng(0)
    x = np.full_like(x, 1e4) * np.sign(signs.normal(size=x.shape)).astype(dtype)
    state = {k: (1e3 * np.sign(signs.normal(size=v.shape))).astype(dtype) for k, v in state.items()}
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        outputs, cache = m.forward(params, x, state)
        d_params, d_x, d_state = m.backward(cache, d_out)
    for a in [*outputs.values(), *d_params.values(), d_x, *d_state.values()]:
        assert np.all(np.isfinite(a)) and a.dtype == dtype


@pytest.mark.parametrize("name", CELLS)
def test_missing_state_and_output_adjoints_count_as_zero(name):
    m = module(name)
    params, x, state, d_out = random_problem(m, 2, 3, 4, 2, seed=5)
    zeros = {s: np.zeros_like(v) for s, v in state.items()}
    a, _ = m.forward(params, x)
    b, cache = m.forward(params, x, zeros)
    for s in m.STATES:
        np.testing.assert_array_equal(a[s], b[s])
    first = m.STATES[0]
    partial = m.backward(cache, {first: d_out[first]})
    full = m.backward(cache, {s: (d_out[first] if s == first else np.zeros_like(d_out[s])) for s in m.STATES})
    np.testing.assert_array_equal(partial[1], full[1])


def test_init_params_follows_the_contract():
    m = module("lstm")
    p = m.init_params(3, 5, rng=0, dtype=np.float32)
    assert tuple(p) == m.PARAMETERS
    assert p["W_o"].shape == (5, 5) and p["U_o"].shape == (5, 3) and p["b_o"].shape == (5,)
    assert all(v.dtype == np.float32 and np.all(np.abs(v) <= 1 / np.sqrt(5)) for v in p.values())
    assert m.STATES == ("s", "h")
    with pytest.raises(ValueError, match="n_hidden must be a positive integer, got 0"):
        m.init_params(3, 0)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, x, s: (p, x[0], s), r"x must have shape \(T, B, n_input\) = \(T, B, 3\), got \(2, 3\)"),
        (
            lambda p, x, s: (p, x[..., :2], s),
            "x has 2 features per step, but the parameters expect n_input = 3",
        ),
        (lambda p, x, s: ({k: v for k, v in p.items() if k != "U_f"}, x, s), r"params is missing \['U_f'\]"),
        (lambda p, x, s: ({**p, "V": p["W"]}, x, s), r"params has unknown \['V'\]"),
        (
            lambda p, x, s: ({**p, "W_i": p["W_i"][:, :3]}, x, s),
            r"params\['W_i'\] has shape \(5, 3\), but n_hidden is 5 from the other parameters; "
            r"expected \(5, 5\)",
        ),
        (lambda p, x, s: ({**p, "b": p["W"]}, x, s), r"params\['b'\] must have shape \(n_hidden,\)"),
        (lambda p, x, s: ({**p, "b": p["b"].astype(np.float32)}, x, s), "params\\['b'\\] is float32"),
        (
            lambda p, x, s: (p, x, {"s": np.zeros((2, 4))}),
            r"state\['s'\] must have shape \(B, n_hidden\) = \(2, 5\), got \(2, 4\)",
        ),
        (lambda p, x, s: (p, x, {"c": np.zeros((2, 5))}), r"state has unknown \['c'\]"),
        (lambda p, x, s: ([1, 2], x, s), "params must be a dict"),
    ],
)
def test_bad_input_is_named(change, message):
    m = module("lstm")
    params, x, state = m.init_params(3, 5, rng=0), np.zeros((4, 2, 3)), None
    with pytest.raises(ValueError, match=message):
        m.forward(*change(params, x, state))


def test_bad_output_adjoints_are_named():
    m = module("gru")
    _, cache = m.forward(m.init_params(3, 5, rng=0), np.zeros((4, 2, 3)))
    with pytest.raises(
        ValueError, match=r"d_outputs\['s'\] must have shape \(T, B, n_hidden\) = \(4, 2, 5\)"
    ):
        m.backward(cache, {"s": np.zeros((4, 5))})
    with pytest.raises(ValueError, match=r"d_outputs has unknown \['h'\]"):
        m.backward(cache, {"h": np.zeros((4, 2, 5))})
    with pytest.raises(ValueError, match="cache must be the second value returned by forward"):
        m.backward({}, {})


def test_importing_a_generated_module_does_not_import_sympy():
    code = "import sys, derive.generated.lstm, derive.generated.gru; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_generated_module_says_it_is_generated(name):
    source = open(module(name).__file__, encoding="utf-8").read()
    head = source[:600]
    assert "Generated by `python -m derive code`" in head and "Do not edit" in head
    assert "import sympy" not in source and "from derive" not in source


def test_checks_still_refuse_bad_parameters_after_good_calls():
    m = module("gru")
    params = m.init_params(3, 5, rng=0)
    m.forward(params, np.zeros((2, 1, 3)))
    m.forward(params, np.zeros((2, 1, 3)))
    bad = {**params, "W_o": params["W_o"][:4]}
    with pytest.raises(ValueError, match=r"params\['W_o'\] has shape \(4, 5\)"):
        m.forward(bad, np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match="x has 4 features per step"):
        m.forward(params, np.zeros((2, 1, 4)))
