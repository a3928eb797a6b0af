"""SymPy proves a derivation, independently of the rules that produced it.

The cell is instantiated on small explicit matrices of scalar symbols and
unrolled; ``sympy.diff`` differentiates the scalar loss with respect to every
entry of every parameter, input and initial state.  The derived adjoint
equations, run as a backward pass on 50-digit numbers, must agree with those
derivatives at random points.  Neither the matrix-level rule table nor the
derivatives written through the saved outputs take part in the reference:
the elementwise functions are opaque SymPy functions whose derivative is
``sympy.diff`` of their definition, evaluated at the argument.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
from sympy import Function, Rational, Symbol, lambdify

from ..cell import N_HIDDEN, N_INPUT
from ..derivation import Derivation
from ..elementwise import FUNCTIONS, Elementwise, z
from . import reference_bptt
from .explicit import evaluate

DIGITS = 50
TOLERANCE = mpmath.mpf(10) ** -30


@dataclass(frozen=True)
class Proof:
    """The outcome of one proof: how many derivative entries agreed, and how well."""

    cell: str
    claim: str
    entries: int
    max_relative_difference: float
    seconds: float
    tolerance: float = float(TOLERANCE)

    @property
    def holds(self) -> bool:
        return self.max_relative_difference <= self.tolerance


def _dirac_delta(x):
    """``DiracDelta``, the derivative of the unit step (and so of step, relu's
    derivative): 0 away from 0.  At 0 there is no derivative; the points are random,
    so an argument of exactly 0 is a coincidence, refused rather than compared."""
    if x == 0:
        raise ValueError("an elementwise function is evaluated at its kink, 0, where it has no derivative")
    return mpmath.mpf(0)


# What mpmath lacks of the definitions' derivatives (max(0, z) and Heaviside it has).
_MPMATH = [{"DiracDelta": _dirac_delta}, "mpmath"]


@cache
def _opaque(f: Elementwise):
    """For one elementwise function: an opaque SymPy function whose derivative is
    another opaque function, and mpmath implementations of both from the definition,
    keyed by the two classes."""
    prime = type(f"{f.name}_prime", (Function,), {})
    value = type(f"{f.name}_", (Function,), {"fdiff": lambda self, argindex=1, p=prime: p(self.args[0])})
    return value, {
        value: lambdify(z, f.definition, _MPMATH),
        prime: lambdify(z, f.definition.diff(z), _MPMATH),
    }


def _opaque_classes():
    """The opaque SymPy function of each elementwise function, by name."""
    return {name: _opaque(f)[0] for name, f in FUNCTIONS.items()}


def _implementations():
    """mpmath callables for the opaque functions and their derivatives, by class."""
    return {cls: fn for f in FUNCTIONS.values() for cls, fn in _opaque(f)[1].items()}


def numeric_functions():
    """The elementwise functions as mpmath callables, from their definitions."""
    out = {}
    for name, f in FUNCTIONS.items():
        value, implementations = _opaque(f)
        out[name] = implementations[value]
    return out


def _symbols(name: str, rows: int, cols: int) -> np.ndarray:
    out = np.empty((rows, cols), dtype=object)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = Symbol(f"{name}[{i},{j}]")
    return out


def mp_number(c):
    """A SymPy rational as an mpmath number at the working precision."""
    return mpmath.mpf(Rational(c).p) / Rational(c).q


def _relative(a, b):
    """|a - b| relative to the larger, but never to less than 1e-18: the points are
    of order 1, so rounding at DIGITS digits is about 1e-50, and a derivative that
    is exactly zero (terms that cancel) may come out as that.  Relative to 1e-18,
    such rounding stays under the tolerance of 1e-30; a real difference does not."""
    scale = max(abs(a), abs(b), mpmath.mpf(10) ** -18)
    return abs(a - b) / scale


class _Instance:
    """A cell unrolled over ``steps`` on explicit ``n_input`` × ``n_hidden`` matrices."""

    def __init__(self, derivation: Derivation, n_input: int, n_hidden: int, steps: int):
        cell = derivation.cell
        self.derivation, self.steps = derivation, steps
        self.sizes = {N_INPUT: n_input, N_HIDDEN: n_hidden}

        def shape(s):
            return tuple(int(self.sizes.get(d, d)) for d in s.shape)

        # The entries' names are not identifiers beyond the cell's own names, so
        # that no parameter (x0, g_s0, ...) can share a symbol with a step's input.
        self.params = {p.name: _symbols(p.name, *shape(p)) for p in cell.parameter_symbols}
        self.xs = [
            {x.name: _symbols(f"{x.name}(t={t + 1})", *shape(x)) for x in cell.input_symbols}
            for t in range(steps)
        ]
        self.initial = {p.name: _symbols(f"{p.name}(t=1)", *shape(p)) for p in cell.prev_symbols}
        # Every output of every step is weighted in the loss.
        self.weights = [
            {s.name: _symbols(f"g({s.name}, t={t + 1})", *shape(s)) for s in cell.state_symbols}
            for t in range(steps)
        ]

    def leaves(self):
        """(label, symbol array) for everything the loss is differentiated against."""
        yield from self.params.items()
        for t, xs in enumerate(self.xs):
            for name, a in xs.items():
                yield f"{name}[t={t + 1}]", a
        yield from self.initial.items()

    def forward(self, functions, number, values=None):
        """The environment of each step, explicitly."""
        pick = (lambda a: a) if values is None else (lambda a: _at(a, values))
        params = {k: pick(v) for k, v in self.params.items()}
        xs = [{k: pick(v) for k, v in x.items()} for x in self.xs]
        initial = {k: pick(v) for k, v in self.initial.items()}
        return reference_bptt.unroll(self.derivation, params, xs, initial, functions, self.sizes, number)

    def loss(self, envs):
        total = 0
        for env, weights in zip(envs, self.weights, strict=True):
            for name, g in weights.items():
                total += (g * env[name]).sum()
        return total

    def backward(self, values):
        """The derived BPTT run on numbers: adjoints of every leaf, by label."""
        functions = numeric_functions()
        envs = self.forward(functions, mp_number, values)
        d_outputs = [{k: _at(g, values) for k, g in w.items()} for w in self.weights]
        d_params, d_xs, d_initial = reference_bptt.backpropagate(
            self.derivation, envs, d_outputs, functions, self.sizes, mp_number
        )
        grads = dict(d_params)
        for t, d_x in enumerate(d_xs):
            for name, value in d_x.items():
                grads[f"{name}[t={t + 1}]"] = value
        grads.update(d_initial)
        return grads

    def point(self, rng: random.Random):
        """Random values in [-1, 1] for every symbol (weights of the loss included)."""
        arrays = [a for _, a in self.leaves()] + [g for w in self.weights for g in w.values()]
        return {s: mpmath.mpf(rng.randint(-(10**6), 10**6)) / 10**6 for a in arrays for s in a.flat}


def _at(array, values):
    return np.vectorize(lambda s: values[s], otypes=[object])(array)


def _value(expr, values, memo, functions):
    """An explicit scalar expression at a point, each shared sub-expression once;
    ``functions`` maps the class of each opaque function to its implementation.

    The unrolled expressions are DAGs with much sharing; ``lambdify`` and
    ``subs`` walk them as trees, which costs seconds.
    """
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        out = values[expr]
    elif expr.is_Rational:
        out = mp_number(expr)
    elif expr.is_Add:
        out = mpmath.fsum(_value(a, values, memo, functions) for a in expr.args)
    elif expr.is_Mul:
        out = mpmath.fprod(_value(a, values, memo, functions) for a in expr.args)
    elif expr.is_Pow:
        out = _value(expr.base, values, memo, functions) ** _value(expr.exp, values, memo, functions)
    elif expr.is_Function:
        out = functions[type(expr)](_value(expr.args[0], values, memo, functions))
    else:
        raise TypeError(f"cannot evaluate {expr!r}")
    memo[expr] = out
    return out


def _compare(exact, runs):
    """The largest relative difference between the exact derivatives, evaluated
    at each run's point, and the derived values of that run."""
    worst = mpmath.mpf(0)
    functions = _implementations()
    for values, derived in runs:
        memo = {}
        for e, got in zip(exact, derived, strict=True):
            worst = max(worst, _relative(_value(e, values, memo, functions), got))
    return worst


def prove_bptt(
    derivation: Derivation, n_input: int, n_hidden: int, steps: int, points: int = 3, seed: int = 0
) -> Proof:
    """The derived adjoints of every parameter, input and initial state equal
    ``sympy.diff`` of the loss Σ_t Σ_v ⟨g_{v,t}, v_t⟩ over ``steps`` unrolled steps."""
    start = time.perf_counter()
    with mpmath.workdps(DIGITS):
        instance = _Instance(derivation, n_input, n_hidden, steps)
        loss = instance.loss(instance.forward(_opaque_classes(), Rational))
        leaves = list(instance.leaves())
        exact = [loss.diff(s) for _, a in leaves for s in a.flat]
        rng = random.Random(seed)
        runs = []
        for _ in range(points):
            values = instance.point(rng)
            grads = instance.backward(values)
            runs.append((values, [v for label, _ in leaves for v in grads[label].flat]))
        worst = _compare(exact, runs)
    claim = (
        f"one step ({n_input} in, {n_hidden} hidden)"
        if steps == 1
        else f"BPTT over {steps} steps ({n_input} in, {n_hidden} hidden)"
    )
    return Proof(derivation.cell.name, claim, len(exact) * points, float(worst), time.perf_counter() - start)


def prove_jacobians(
    derivation: Derivation, n_input: int, n_hidden: int, points: int = 3, seed: int = 0
) -> Proof:
    """Every closed-form Jacobian ∂v_t/∂u_{t-1} equals ``sympy.diff`` of the explicit step."""
    start = time.perf_counter()
    with mpmath.workdps(DIGITS):
        instance = _Instance(derivation, n_input, n_hidden, steps=1)
        (env,) = instance.forward(_opaque_classes(), Rational)
        exact = []
        for j in derivation.jacobians:
            for v in env[j.of.name].flat:
                exact.extend(v.diff(u) for u in instance.initial[j.wrt.name].flat)
        rng = random.Random(seed)
        runs = []
        for _ in range(points):
            values = instance.point(rng)
            (numeric,) = instance.forward(numeric_functions(), mp_number, values)
            derived = []
            for j in derivation.jacobians:
                derived.extend(
                    evaluate(j.value, numeric, numeric_functions(), instance.sizes, mp_number).flat
                )
            runs.append((values, derived))
        worst = _compare(exact, runs)
    claim = f"Jacobians ∂v_t/∂u_(t-1) ({n_input} in, {n_hidden} hidden)"
    return Proof(derivation.cell.name, claim, len(exact) * points, float(worst), time.perf_counter() - start)
