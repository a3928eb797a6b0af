"""Numeric checks of a generated module: against the derivation and against finite differences.

Both take a module that follows the contract of ``derive/generated`` (for a
catalogue cell, or one generated in memory for a test cell).
"""

from __future__ import annotations

import mpmath
import numpy as np

from .. import naming
from ..cell import N_HIDDEN, N_INPUT
from ..derivation import Derivation
from . import reference_bptt
from .proof import mp_number, numeric_functions


def random_problem(module, n_input, n_hidden, steps, batch, seed, dtype=np.float64, scale=1.0):
    """Parameters, inputs, initial states and output adjoints, all random."""
    rng = np.random.default_rng(seed)
    params = module.init_params(n_input, n_hidden, rng=rng, dtype=dtype)
    x = (scale * rng.normal(size=(steps, batch, n_input))).astype(dtype)
    state = {s: rng.normal(size=(batch, n_hidden)).astype(dtype) for s in module.STATES}
    d_outputs = {s: rng.normal(size=(steps, batch, n_hidden)).astype(dtype) for s in module.STATES}
    return params, x, state, d_outputs


def relative_error(got, want, floor: float = 1e-3) -> float:
    """‖got - want‖∞ / ‖want‖∞, but never relative to less than ``floor``: a gradient
    that is exactly zero comes out of float64 as rounding, about 1e-16 of the
    terms that cancel in it, which is no error.  The checks run on values of
    order 1, so below 1e-3 only differences of 1e-15 and more can be told apart."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(np.max(np.abs(want), initial=0.0), floor)
    diff = np.max(np.abs(got - want), initial=0.0)
    return float(diff / scale)


REFERENCE_DIGITS = 30  # the precision at which the derived equations are evaluated for a module


def reference(derivation: Derivation, params, x, state, d_outputs, digits: int = REFERENCE_DIGITS):
    """Outputs and gradients from the derived equations evaluated at ``digits`` digits,
    one sequence of the batch at a time: (outputs, d_params, d_x, d_state) in float64."""
    cell = derivation.cell
    steps, batch, n_input = x.shape
    n_hidden = next(iter(state.values())).shape[1]
    sizes = {N_INPUT: n_input, N_HIDDEN: n_hidden}
    functions = numeric_functions()
    mp = np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])

    def column(v):
        return mp(np.asarray(v, dtype=np.float64).reshape(-1, 1))

    outputs = {s: np.empty((steps, batch, n_hidden)) for s in cell.states}
    d_params = {p.name: np.zeros(params[p.name].shape) for p in cell.parameters}
    d_x = np.empty((steps, batch, n_input))
    d_state = {s: np.empty((batch, n_hidden)) for s in cell.states}
    with mpmath.workdps(digits):
        ps = {k: (column(v) if v.ndim == 1 else mp(v.astype(np.float64))) for k, v in params.items()}
        for b in range(batch):
            xs = [{name: column(x[t, b]) for name in cell.inputs} for t in range(steps)]
            initial = {naming.prev(s): column(state[s][b]) for s in cell.states}
            envs = reference_bptt.unroll(derivation, ps, xs, initial, functions, sizes, mp_number)
            g = [{s: column(d_outputs[s][t, b]) for s in cell.states} for t in range(steps)]
            dp, dxs, d0 = reference_bptt.backpropagate(derivation, envs, g, functions, sizes, mp_number)
            for s in cell.states:
                for t in range(steps):
                    outputs[s][t, b] = np.array(envs[t][s], dtype=np.float64)[:, 0]
                d_state[s][b] = np.array(d0[naming.prev(s)], dtype=np.float64)[:, 0]
            for name, value in dp.items():
                d_params[name] += np.array(value, dtype=np.float64).reshape(params[name].shape)
            for t in range(steps):
                d_x[t, b] = np.array(dxs[t][cell.inputs[0]], dtype=np.float64)[:, 0]
    return outputs, d_params, d_x, d_state


def against_reference(module, derivation, params, x, state, d_outputs) -> float:
    """The largest relative difference between the module and the derivation."""
    outputs, cache = module.forward(params, x, state)
    d_params, d_x, d_state = module.backward(cache, d_outputs)
    want = reference(derivation, params, x, state, d_outputs)
    errors = [relative_error(outputs[s], want[0][s]) for s in module.STATES]
    errors += [relative_error(d_params[k], want[1][k]) for k in module.PARAMETERS]
    errors.append(relative_error(d_x, want[2]))
    errors += [relative_error(d_state[s], want[3][s]) for s in module.STATES]
    return max(errors)


STEPS = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)


def finite_differences(module, params, x, state, d_outputs, seed: int = 0) -> dict[str, float]:
    """For every parameter, the input and every initial state: the relative difference
    between the analytic directional derivative of L = Σ ⟨d_outputs, outputs⟩ along a
    random direction and a fourth-order central difference (float64).  The step is
    chosen where the difference quotients of neighbouring steps agree best, so that
    neither truncation (large steps) nor rounding (small ones) dominates.

    The difference is relative to the larger of the two derivatives, but never to
    less than 1e-7 of the loss's scale Σ |d_outputs ⊙ outputs|: below that, a
    float64 difference quotient measures rounding, not the derivative (a saturated
    tanh has derivatives of 1e-9 and smaller, and a cell that ignores its input
    has a derivative of exactly 0, which rounding puts near 1e-15).
    """
    rng = np.random.default_rng(seed)

    def loss(p, xx, st):
        outputs, _ = module.forward(p, xx, st)
        return sum(float(np.sum(d_outputs[s] * outputs[s])) for s in module.STATES)

    outputs, cache = module.forward(params, x, state)
    floor = 1e-7 * sum(float(np.sum(np.abs(d_outputs[s] * outputs[s]))) for s in module.STATES)
    d_params, d_x, d_state = module.backward(cache, d_outputs)
    arguments = [(f"params[{k!r}]", ("p", k), params[k], d_params[k]) for k in module.PARAMETERS]
    arguments.append(("x", ("x", None), x, d_x))
    arguments += [(f"state[{s!r}]", ("s", s), state[s], d_state[s]) for s in module.STATES]

    def along(kind, key, value, direction):
        """The loss as a function of a step from ``value`` along ``direction``."""

        def at(step):
            moved = value + step * direction
            p = dict(params, **{key: moved}) if kind == "p" else params
            xx = moved if kind == "x" else x
            st = dict(state, **{key: moved}) if kind == "s" else state
            return loss(p, xx, st)

        return at

    errors = {}
    for label, (kind, key), value, gradient in arguments:
        direction = rng.normal(size=value.shape)
        at = along(kind, key, value, direction)
        quotients = [(-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h) for h in STEPS]
        k = min(range(len(STEPS) - 1), key=lambda k: abs(quotients[k] - quotients[k + 1]))
        numeric = quotients[k + 1]
        analytic = float(np.sum(gradient * direction))
        scale = max(abs(numeric), abs(analytic), floor)
        errors[label] = abs(numeric - analytic) / scale if scale else 0.0
    return errors


def check_module(module, derivation: Derivation, seed: int = 0):
    """The two numeric checks of a generated module, as rows of ``verify``'s table."""
    import time

    from .proof import Proof

    rows = []
    start = time.perf_counter()
    worst, count = 0.0, 0
    for k, (steps, batch, n_input, n_hidden) in enumerate([(5, 3, 4, 6), (1, 1, 1, 1), (9, 2, 3, 2)]):
        problem = random_problem(module, n_input, n_hidden, steps, batch, seed + k)
        worst = max(worst, against_reference(module, derivation, *problem))
        count += 1
    rows.append(
        Proof(
            derivation.cell.name,
            "generated NumPy = derivation at 30 digits",
            count,
            worst,
            time.perf_counter() - start,
            tolerance=1e-12,
        )
    )
    start = time.perf_counter()
    worst, count = 0.0, 0
    for k, (steps, batch, n_input, n_hidden) in enumerate([(6, 3, 4, 5), (12, 5, 7, 9), (1, 1, 1, 1)]):
        problem = random_problem(module, n_input, n_hidden, steps, batch, seed + k)
        errors = finite_differences(module, *problem, seed=seed + k)
        worst, count = max(worst, *errors.values()), count + len(errors)
    rows.append(
        Proof(
            derivation.cell.name,
            "generated NumPy = finite differences",
            count,
            worst,
            time.perf_counter() - start,
            tolerance=1e-6,
        )
    )
    return rows
