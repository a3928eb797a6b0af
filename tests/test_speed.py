"""The speed optimisations of the fused lowering, each checked on its own: the
generated module shows it, and its forward values and every gradient agree with
the literal lowering (one product per gate per step, none of them) to 1e-12."""

import re
import warnings
from functools import cache

import numpy as np
import pytest
from cells import ALL_CELLS
from generated import cell, derivation, module

from derive import naming
from derive.backends import module_source
from derive.catalogue import CATALOGUE
from derive.codegen.fused import CHUNK_BYTES, OWN, STATE_FREE_STEPS
from derive.codegen.plan import plan
from derive.verification.numeric import random_problem, relative_error

CELLS = sorted(set(ALL_CELLS) | set(CATALOGUE))


@cache
def source(name):
    """The source of the fused module of ``name``."""
    return module_source(cell(name))


def assert_same_as_literal(name, problem, d_out, tolerance=1e-12):
    """Forward values, states, ∂L/∂params, ∂L/∂x and ∂L/∂state of the fused module
    equal the literal module's to ``tolerance`` (relative), for ``d_out`` (perhaps partial)."""
    fused, literal = module(name), module(name, literal=True)
    params, x, state, _ = problem
    a_out, a_cache = fused.forward(params, x, state)
    b_out, b_cache = literal.forward(params, x, state)
    for k in b_cache["values"]:
        assert relative_error(a_cache["values"][k], b_cache["values"][k]) <= tolerance, k
    for s in fused.STATES:
        assert relative_error(a_out[s], b_out[s]) <= tolerance, s
    a, b = fused.backward(a_cache, d_out), literal.backward(b_cache, d_out)
    for k in fused.PARAMETERS:
        assert relative_error(a[0][k], b[0][k]) <= tolerance, k
    assert relative_error(a[1], b[1]) <= tolerance
    for s in fused.STATES:
        assert relative_error(a[2][s], b[2][s]) <= tolerance, s


@pytest.mark.parametrize("name", CELLS)
def test_backward_products_use_the_weights_stacked_as_contiguous_rows(name):
    fused, text = module(name), source(name)
    # Through the rows of the stacked weights, never through a transposed view of them.
    assert not re.search(r"weights_\w+\.T", text)
    problem = random_problem(fused, 5, 33, 7, 4, seed=11)
    assert_same_as_literal(name, problem, problem[3])


@pytest.mark.parametrize("name", CELLS)
def test_each_product_in_the_loop_reads_whole_rows_of_its_own_array_of_blocks(name):
    fused, text = module(name), source(name)
    p = plan(derivation(name), set(naming.INTERFACE | OWN))
    looped = [s for s in p.spans if not s.hoisted]
    if name in ("gru", "gru_torch", "mgu"):  # products of the state beside others
        assert len(p.groups) > 1
    for span in looped:
        if (span.start, span.stop) not in p.groups:
            continue  # cut through a run of blocks one call computes
        # δz and the pre-activations in contiguous rows, not a strided slice of wider ones
        assert re.search(rf"(?<!\w)(_dz_t\w*) @ {span.rows}\b", text), span.name
        assert not re.search(rf"\] @ {span.rows}\b", text), span.name
        assert re.search(rf"(?<!\w)_z\w* \+= {span.product}\n", text), span.name
        assert re.search(rf"{span.gradient} \+?= _dz_rows\w*\.T @", text), span.name
    problem = random_problem(fused, 5, 33, 7, 4, seed=16)
    assert_same_as_literal(name, problem, problem[3])


@pytest.mark.parametrize("name", CELLS)
def test_factors_that_read_no_adjoint_are_computed_ahead_in_chunks_of_steps(name):
    fused, text = module(name), source(name)
    if name == "lru":  # linear: its backward multiplies adjoints by parameters and inputs alone
        assert "factor_seq" not in text
    elif name in ("mingru", "minlstm"):
        # their factors are the forward pass's own parts (1 - i), or none; what reads no
        # carried adjoint is computed after each chunk's steps
        assert "for _first in reversed(range(0, _T, _chunk)):" in text
        assert "for the chunk's steps at once" in text
    else:
        assert "for _first in reversed(range(0, _T, _chunk)):" in text and "factor_seq" in text
    # B·n = 6400: chunks of 8 steps (the least a chunk may have; the bytes alone would
    # make 1), so 9 steps are a chunk of 1, then one of 8
    assert CHUNK_BYTES // (64 * 100 * 8) == 1 < STATE_FREE_STEPS == 8
    problem = random_problem(fused, 3, 100, 9, 64, seed=12)
    # Over 9 steps the sLSTM's exponential gate carries the products' rounding (stacked
    # in one lowering, one per gate in the other) to a few parts in 1e12.
    tolerance = 1e-11 if name == "slstm" else 1e-12
    assert_same_as_literal(name, problem, problem[3], tolerance)
    last = fused.STATES[-1]
    assert_same_as_literal(name, problem, {last: problem[3][last]}, tolerance)


@pytest.mark.parametrize("name", CELLS)
def test_sigmoid_and_tanh_gates_share_one_exp_over_pre_scaled_blocks(name):
    fused, text = module(name), source(name)
    if name in ("rnn", "indrnn", "lru"):  # tanh alone (its own helper, which picks the faster tanh), or none
        assert "np.exp(_z" not in text
    elif name in ("mingru", "minlstm"):  # gates of the input alone: over a chunk of steps, before them
        chunk = "_act[_first:_first + _chunk]"
        assert f"np.exp({chunk}" in text and f"np.reciprocal({chunk}" in text
    else:
        assert "np.exp(_z" in text and "np.reciprocal(_z" in text
    for shape, seed in (((4, 3, 2, 33), 13), ((3, 2, 5, 300), 14)):  # small blocks and large
        n_input, n_hidden, steps, batch = shape
        problem = random_problem(fused, n_input, n_hidden, steps, batch, seed=seed)
        assert_same_as_literal(name, problem, problem[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_gates_through_one_exp_are_exact_limits_without_warnings(dtype):
    lstm = module("lstm")
    params = lstm.init_params(2, 3, rng=0, dtype=dtype)
    x = np.full((2, 1, 2), 1e4, dtype)
    params = {k: np.abs(v) for k, v in params.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, cache = lstm.forward(params, x)
        _, cache_low = lstm.forward(params, -x)
    for k in ("o", "i", "f", "s_tilde"):
        assert np.all(cache["values"][k] == 1)
    for k in ("o", "i", "f"):
        assert np.all(cache_low["values"][k] == 0)
    assert np.all(cache_low["values"]["s_tilde"] == -1)


@pytest.mark.parametrize("name", CELLS)
def test_a_missing_output_gradient_is_skipped_not_made_of_zeros(name):
    fused, text = module(name), source(name)
    assert "np.zeros(reference.shape" not in text and " is None else _d_out_" in text
    problem = random_problem(fused, 3, 20, 6, 3, seed=15)
    for given in fused.STATES:  # each output's gradient alone, the others missing
        assert_same_as_literal(name, problem, {given: problem[3][given]})
    assert_same_as_literal(name, problem, {})


@pytest.mark.parametrize("name", CELLS)
def test_the_steps_use_numbers_made_once_in_the_dtype(name):
    fused, text = module(name), source(name)
    # the step loop, or the chunks of steps with their state-free work
    step_loop = "    for _t in range(_T):"
    head = step_loop if step_loop in text else "    for _first in range(0, _T, _chunk):"
    loop = text[text.index(head) : text.index("    _outputs = {")]
    # No Python number in an in-place update of the loop: NumPy would convert it at every call.
    assert not re.search(r"[+*-]= -?\d", loop)
    if "np.exp(_z" in text or "np.exp(_act" in text:
        assert re.search(r"\bone = np\.full\(\(\), 1, _dtype\)", text)
    for dtype in (np.float32, np.float64):
        problem = random_problem(fused, 3, 4, 5, 2, seed=17)
        params = {k: v.astype(dtype) for k, v in problem[0].items()}
        outputs, _ = fused.forward(params, problem[1], problem[2])
        assert all(v.dtype == dtype for v in outputs.values())
    problem = random_problem(fused, 3, 4, 5, 2, seed=17)
    assert_same_as_literal(name, problem, problem[3])


@pytest.mark.parametrize("name", CELLS)
def test_a_state_kept_in_its_own_array_has_the_initial_state_as_its_first_row(name):
    fused, text = module(name), source(name)
    problem = random_problem(fused, 3, 4, 5, 2, seed=18)
    outputs, cache_ = fused.forward(*problem[:3])
    for s in fused.STATES:
        steps = cache_.get(f"{s}_steps")
        if steps is None:  # the state is a pre-activation's value: its own columns of act
            assert f"np.concatenate((state['{s}'][None]" in text
            continue
        # T + 1 rows: the states before each step, where backward reads them, are a
        # view, not a concatenation
        prev = naming.prev(s)
        assert f"{prev}_seq = " not in text or f"{prev}_seq = {s}_steps[:-1]" in text
        assert np.shares_memory(steps, outputs[s])
        assert np.array_equal(steps[0], problem[2][s]) and np.array_equal(steps[1:], outputs[s])
    if name in ("lstm", "gru"):
        assert all(f"{s}_steps" in cache_ for s in fused.STATES)
    assert_same_as_literal(name, problem, problem[3])
