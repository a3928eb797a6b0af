"""The generated modules guard their contract: real numbers in, float dtypes from
init_params, results that the caller's later writes cannot change, caches that say
where they came from, and the range of floating point their docstring states."""

import pickle
import re
import warnings

import numpy as np
import pytest
from cells import ALL_CELLS
from generated import module

from derive import Cell, Equation, Role, affine, generate, naming
from derive.algebra import Apply, walk
from derive.backends import module_source
from derive.catalogue import CATALOGUE
from derive.codegen.modules import load
from derive.verification.numeric import random_problem

CELLS = sorted(ALL_CELLS)
LOWERINGS = pytest.mark.parametrize("literal", [False, True], ids=["fused", "literal"])


def _with_none(a):
    a = a.astype(object)
    a.flat[0] = None
    return a


# What np.asarray makes an array of, and astype used to turn into numbers anyway:
# booleans and strings as they read, None as NaN, complex numbers as their real part.
NOT_REAL = {
    "complex": (lambda a: a + 0j, "hold real numbers (floats or integers), got complex numbers"),
    "boolean": (lambda a: a > 0, "hold real numbers (floats or integers), got booleans"),
    "string": (lambda a: a.astype(str), "hold real numbers (floats or integers), got strings"),
    "None": (_with_none, "hold real numbers (floats or integers), got Python objects such as None"),
    "ragged": (lambda a: [[1.0], [1.0, 2.0]], "be an array of real numbers"),
}


def _arguments(m):
    first, last = m.PARAMETERS[0], m.PARAMETERS[-1]
    return ["x", *(f"state[{s!r}]" for s in m.STATES), f"params[{first!r}]", f"params[{last!r}]"]


def _call_with(m, argument, spoil):
    """forward with one argument spoiled (or backward, for d_outputs)."""
    params, x, state, d_out = random_problem(m, 3, 4, 5, 2, seed=0)
    if argument == "x":
        x = spoil(x)
    elif argument.startswith("state"):
        key = argument[7:-2]
        state = {**state, key: spoil(state[key])}
    elif argument.startswith("params"):
        key = argument[8:-2]
        params = {**params, key: spoil(params[key])}
    else:
        _, cache = m.forward(params, x, state)
        key = argument[11:-2]
        return m.backward(cache, {**d_out, key: spoil(d_out[key])})
    return m.forward(params, x, state)


@pytest.mark.parametrize("kind", sorted(NOT_REAL))
@pytest.mark.parametrize("name", CELLS)
def test_values_that_are_not_real_numbers_are_refused_and_named(name, kind):
    m = module(name)
    spoil, message = NOT_REAL[kind]
    for argument in [*_arguments(m), *(f"d_outputs[{s!r}]" for s in m.STATES)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=re.escape(f"{argument} must {message}")):
                _call_with(m, argument, spoil)


def test_integer_arrays_are_still_numbers():
    m = module("lstm")
    params, x, state, d_out = random_problem(m, 3, 4, 5, 2, seed=0)
    state = {s: np.ones((2, 4), np.uint8) for s in state}
    outputs, cache = m.forward(params, np.ones(x.shape, np.int32), state)
    _, d_x, _ = m.backward(cache, {s: np.ones(v.shape, np.int64) for s, v in d_out.items()})
    assert outputs["h"].dtype == d_x.dtype == np.float64


@pytest.mark.parametrize("dtype", [int, np.int32, np.uint8, bool, np.complex128, np.float16, object, "foo"])
def test_init_params_refuses_what_forward_cannot_compute_in(dtype):
    m = module("gru")
    with pytest.raises(ValueError, match=r"dtype must be np\.float32 or np\.float64"):
        m.init_params(3, 4, dtype=dtype)


@pytest.mark.parametrize(
    "dtype, want",
    [(np.float32, np.float32), ("float32", np.float32), (float, np.float64), (None, np.float64)],
)
def test_init_params_takes_either_float_dtype(dtype, want):
    assert {v.dtype for v in module("gru").init_params(3, 4, dtype=dtype).values()} == {np.dtype(want)}


@LOWERINGS
@pytest.mark.parametrize("name", CELLS)
def test_outputs_and_values_are_read_only(name, literal):
    m = module(name, literal)
    params, x, state, d_out = random_problem(m, 3, 4, 5, 2, seed=7)
    outputs, cache = m.forward(params, x, state)
    want = m.backward(cache, d_out)
    for array in [*outputs.values(), *cache["values"].values()]:
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
    np.testing.assert_array_equal(m.backward(cache, d_out)[1], want[1])


@LOWERINGS
@pytest.mark.parametrize("name", CELLS)
def test_later_writes_into_params_and_state_do_not_change_backward(name, literal):
    m = module(name, literal)
    params, x, state, d_out = random_problem(m, 3, 4, 5, 2, seed=7)
    _, cache = m.forward(params, x, state)
    want = m.backward(cache, d_out)
    # The cache's own copies: small, and what a training step writes into.
    for k in m.PARAMETERS:
        assert not np.shares_memory(cache["params"][k], params[k]), k
        params[k] *= 3
    for s in m.STATES:
        assert not np.shares_memory(cache["state"][s], state[s]), s
        state[s][...] = 5
    got = m.backward(cache, d_out)
    for k in m.PARAMETERS:
        np.testing.assert_array_equal(got[0][k], want[0][k])
    np.testing.assert_array_equal(got[1], want[1])
    for s in m.STATES:
        np.testing.assert_array_equal(got[2][s], want[2][s])


def _cache(m):
    params, x, state, _ = random_problem(m, 2, 3, 2, 1, seed=1)
    return m.forward(params, x, state)[1]


@pytest.mark.parametrize("source", CELLS)
def test_backward_names_the_cell_a_foreign_cache_came_from(source):
    cache = _cache(module(source))
    for target in CELLS:
        if target != source:
            with pytest.raises(ValueError, match=f"cache comes from the '{source}' module's forward"):
                module(target).backward(cache, None)


@pytest.mark.parametrize("name", CELLS)
def test_backward_refuses_a_cache_of_the_other_lowering(name):
    with pytest.raises(ValueError, match=f"cache comes from the '{name}' module generated as 'fused"):
        module(name, literal=True).backward(_cache(module(name)), None)
    with pytest.raises(ValueError, match=f"cache comes from the '{name}' module generated as 'literal"):
        module(name).backward(_cache(module(name, literal=True)), None)


def test_backward_refuses_a_cache_of_another_cell_of_the_same_name():
    # Its cache has the same keys and shapes as the RNN's: only the tag tells them apart.
    sigmoid_rnn = Cell(
        name="rnn",
        title="RNN with a logistic state",
        parameters=affine(),
        states=("s",),
        equations=(Equation("s", "σ(W @ s_prev + U @ x + b)", Role.STATE, "new state"),),
    )
    other = generate(sigmoid_rnn)
    with pytest.raises(ValueError, match="another cell named 'rnn', whose equations differ"):
        other.backward(_cache(module("rnn")), None)


def test_a_cache_of_the_same_module_loaded_again_or_pickled_is_accepted():
    m = module("lstm")
    again = load(module_source(CATALOGUE["lstm"]), "lstm_again")
    params, x, state, d_out = random_problem(m, 2, 3, 2, 1, seed=1)
    _, cache = m.forward(params, x, state)
    want = m.backward(cache, d_out)
    for got in (again.backward(cache, d_out), m.backward(pickle.loads(pickle.dumps(cache)), d_out)):
        np.testing.assert_array_equal(got[1], want[1])


RANGE = {np.float32: 1e15, np.float64: 1e150}


def test_the_docstring_states_the_range_of_floating_point():
    for name in CATALOGUE:
        doc = " ".join(module(name).__doc__.split())
        assert "finite results for initial states up to 1e15 in float32 and 1e150 in float64" in doc
        assert 'the float32 LSTM started from s and h of 1e30 gives NaN in d_params["W_f"]' in doc


@LOWERINGS
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_initial_states_inside_the_stated_range_give_finite_results(name, dtype, literal):
    """The range the docstring states, for every state but those an argument of exp reads
    (sLSTM's h), which the docstring says must keep that argument below exp's overflow."""
    m = module(name, literal)
    exp_reads = {
        naming.parse(s.name)["base"]
        for eq in CATALOGUE[name].equations
        for node in walk(eq.rhs)
        if isinstance(node, Apply) and node.function == "exp"
        for s in node.arg.free_symbols
    }
    for seed, (steps, batch, n_hidden) in enumerate([(6, 3, 5), (9, 2, 40), (1, 1, 1), (4, 4, 11)]):
        rng = np.random.default_rng(seed)
        params, x, _, d_out = random_problem(m, 3, n_hidden, steps, batch, seed, dtype=dtype)
        shape = (batch, n_hidden)
        size = RANGE[dtype] * rng.choice([-1, 1], size=shape) * rng.uniform(0.5, 1, shape)
        state = {s: (size / RANGE[dtype] if s in exp_reads else size).astype(dtype) for s in m.STATES}
        with np.errstate(all="ignore"):
            outputs, cache = m.forward(params, x, state)
            d_params, d_x, d_state = m.backward(cache, d_out)
        for a in [*outputs.values(), *d_params.values(), d_x, *d_state.values()]:
            assert np.all(np.isfinite(a)) and a.dtype == dtype


def test_the_stated_example_beyond_the_range_is_real():
    """If this fails, the limit is gone: say so in the module docstring."""
    m = module("lstm")
    rng = np.random.default_rng(1)
    params, x = m.init_params(3, 4, rng=1), rng.normal(size=(3, 2, 3))
    state = {s: np.full((2, 4), 1e30) for s in m.STATES}
    d_out = {s: np.ones((3, 2, 4)) for s in m.STATES}
    results = {}
    for dtype in (np.float32, np.float64):
        p = {k: v.astype(dtype) for k, v in params.items()}
        with np.errstate(all="ignore"):
            _, cache = m.forward(p, x, state)
            results[dtype] = m.backward(cache, d_out)
    d_params, d_x, d_state = results[np.float32]
    assert np.isnan(d_params["W_f"]).any() and np.isnan(d_x).any() and np.isnan(d_state["h"]).any()
    d_params, d_x, d_state = results[np.float64]
    assert all(np.all(np.isfinite(a)) for a in [*d_params.values(), d_x, *d_state.values()])
