"""SymPy proves a derivation, independently of the rules that produced it.

The cell is instantiated on small explicit matrices of scalar symbols.  Each
entry of each equation is then a SymPy expression of the entries it reads (the
parameters', the input's, the previous states' and the earlier equations'), and
``sympy.diff`` gives its partial derivative by each of them.  The loss
Σ_t Σ_v ⟨g_{v,t}, v_t⟩ of the cell unrolled over a few steps is differentiated
by the chain rule over these scalar partials, evaluated at random points in
50-digit numbers and accumulated from the last equation of the last step back
to the first: the exact derivative of every entry of every parameter, input and
initial state.  The derived adjoint equations, run as a backward pass on the
same numbers, must agree with it.

The unrolled loss is not differentiated whole: its expression grows
geometrically with the steps and with the depth of one step (SymPy took 64 s on
one step of a highway network three layers deep, and more than 400 s on three
steps), while the partials of one equation stay small and the accumulation
grows linearly with both.

Neither the matrix-level rule table nor the derivatives written through the
saved outputs take part in the reference: it reads the cell's equations only,
and the elementwise functions are opaque SymPy functions whose derivative is
``sympy.diff`` of their definition, evaluated at the argument.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
from sympy import Expr, Function, Rational, Symbol, lambdify

from .. import naming
from ..cell import N_HIDDEN, N_INPUT, Cell
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


@dataclass(frozen=True)
class _Entry:
    """One entry of one equation: its value, and its partial derivative by each
    entry it reads, both SymPy expressions of the step's entries."""

    symbol: Symbol
    value: Expr
    partials: tuple[tuple[Symbol, Expr], ...]


class _Step:
    """One step of a cell on explicit matrices, entry by entry, with every partial
    derivative from ``sympy.diff``.

    ``given`` and ``equations`` hold the symbols of the entries, by name: those the
    step is given (parameters, inputs, previous states) and those of its equations.
    """

    def __init__(self, cell: Cell, sizes):
        def shape(s):
            return tuple(int(sizes.get(d, d)) for d in s.shape)

        given = (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols)
        self.given = {s.name: _symbols(s.name, *shape(s)) for s in given}
        self.equations: dict[str, np.ndarray] = {}
        env = dict(self.given)
        entries = []
        for eq in cell.equations:
            value = evaluate(eq.rhs, env, _opaque_classes(), sizes, Rational)
            env[eq.name] = self.equations[eq.name] = _symbols(eq.name, *shape(eq.symbol))
            for symbol, e in zip(env[eq.name].flat, value.flat, strict=True):
                reads = sorted(e.free_symbols, key=str)
                entries.append(_Entry(symbol, e, tuple((u, e.diff(u)) for u in reads)))
        self.entries = tuple(entries)

    def at(self, arrays: dict, values: dict) -> dict:
        """The given symbols' numbers: those of ``arrays`` (symbol arrays by name) in ``values``."""
        return {
            u: values[v]
            for name, a in arrays.items()
            for u, v in zip(self.given[name].flat, a.flat, strict=True)
        }

    def run(self, given: dict) -> tuple[dict, list]:
        """At the point ``given`` (a number for every given symbol): the value of every
        symbol, and every entry's partials as numbers, in the order of the equations."""
        values, memo, functions = dict(given), {}, _implementations()
        for entry in self.entries:
            values[entry.symbol] = _value(entry.value, values, memo, functions)
        partials = [
            (entry.symbol, [(u, _value(p, values, memo, functions)) for u, p in entry.partials])
            for entry in self.entries
        ]
        return values, partials


def _chain(partials, adjoints: dict) -> dict:
    """Reverse accumulation through one step: ``adjoints`` holds ∂L/∂v for the entries
    the loss reads at this step (and what the next step hands back); each entry, last
    first, adds ∂L/∂v · ∂v/∂u to every entry u it reads."""
    for symbol, local in reversed(partials):
        g = adjoints.get(symbol)
        if g is None:
            continue
        for u, p in local:
            adjoints[u] = adjoints.get(u, 0) + g * p
    return adjoints


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

    def forward(self, values):
        """The derivation's forward pass at the point ``values``: one environment per step."""
        functions = numeric_functions()
        params = {k: _at(v, values) for k, v in self.params.items()}
        xs = [{k: _at(v, values) for k, v in x.items()} for x in self.xs]
        initial = {k: _at(v, values) for k, v in self.initial.items()}
        return reference_bptt.unroll(self.derivation, params, xs, initial, functions, self.sizes, mp_number)

    def backward(self, values):
        """The derived BPTT run on numbers: adjoints of every leaf, by label."""
        functions = numeric_functions()
        envs = self.forward(values)
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

    def exact(self, step: _Step, values):
        """∂L/∂leaf for every leaf, by label, as flat lists: the chain rule over the
        partials of ``step``, forward through the steps and back, at ``values``."""
        states = self.derivation.cell.states
        prev = step.at(self.initial, values)
        runs = []
        for xs in self.xs:
            at, partials = step.run({**step.at({**self.params, **xs}, values), **prev})
            runs.append(partials)
            prev = {
                u: at[v]
                for s in states
                for u, v in zip(step.given[naming.prev(s)].flat, step.equations[s].flat, strict=True)
            }
        zero = mpmath.mpf(0)
        grads = {name: [zero] * a.size for name, a in self.params.items()}
        carried: dict = {}
        for t in reversed(range(self.steps)):
            adjoints = {}
            for s in states:
                for v, g in zip(step.equations[s].flat, self.weights[t][s].flat, strict=True):
                    adjoints[v] = values[g] + carried.get(v, 0)
            _chain(runs[t], adjoints)
            for name in self.params:
                grads[name] = [
                    a + adjoints.get(u, 0) for a, u in zip(grads[name], step.given[name].flat, strict=True)
                ]
            for name in self.xs[t]:
                grads[f"{name}[t={t + 1}]"] = [adjoints.get(u, zero) for u in step.given[name].flat]
            carried = {
                v: adjoints.get(u, zero)
                for s in states
                for v, u in zip(step.equations[s].flat, step.given[naming.prev(s)].flat, strict=True)
            }
        for s in states:
            grads[naming.prev(s)] = [carried[v] for v in step.equations[s].flat]
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

    The partials share sub-expressions with the values and with each other;
    ``lambdify`` and ``subs`` walk them as trees.
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


def prove_bptt(
    derivation: Derivation, n_input: int, n_hidden: int, steps: int, points: int = 3, seed: int = 0
) -> Proof:
    """The derived adjoints of every parameter, input and initial state equal the
    derivatives of the loss Σ_t Σ_v ⟨g_{v,t}, v_t⟩ over ``steps`` unrolled steps, by the
    chain rule over ``sympy.diff`` of each equation's entries."""
    start = time.perf_counter()
    with mpmath.workdps(DIGITS):
        instance = _Instance(derivation, n_input, n_hidden, steps)
        step = _Step(derivation.cell, instance.sizes)
        rng = random.Random(seed)
        worst, entries = mpmath.mpf(0), 0
        for _ in range(points):
            values = instance.point(rng)
            exact, derived = instance.exact(step, values), instance.backward(values)
            for label, _ in instance.leaves():
                for want, got in zip(exact[label], derived[label].flat, strict=True):
                    worst = max(worst, _relative(want, got))
                    entries += 1
    claim = (
        f"one step ({n_input} in, {n_hidden} hidden)"
        if steps == 1
        else f"BPTT over {steps} steps ({n_input} in, {n_hidden} hidden)"
    )
    return Proof(derivation.cell.name, claim, entries, float(worst), time.perf_counter() - start)


def prove_jacobians(
    derivation: Derivation, n_input: int, n_hidden: int, points: int = 3, seed: int = 0
) -> Proof:
    """Every closed-form Jacobian ∂v_t/∂u_{t-1} equals the chain rule over ``sympy.diff``
    of each equation's entries, through one explicit step."""
    start = time.perf_counter()
    with mpmath.workdps(DIGITS):
        instance = _Instance(derivation, n_input, n_hidden, steps=1)
        step = _Step(derivation.cell, instance.sizes)
        rng = random.Random(seed)
        worst, entries = mpmath.mpf(0), 0
        for _ in range(points):
            values = instance.point(rng)
            arrays = {**instance.params, **instance.xs[0], **instance.initial}
            _, partials = step.run(step.at(arrays, values))
            (env,) = instance.forward(values)
            for j in derivation.jacobians:
                exact = []
                for v in step.equations[j.of.name].flat:
                    adjoints = _chain(partials, {v: mpmath.mpf(1)})
                    exact.extend(adjoints.get(u, 0) for u in step.given[j.wrt.name].flat)
                derived = evaluate(j.value, env, numeric_functions(), instance.sizes, mp_number).flat
                for want, got in zip(exact, derived, strict=True):
                    worst = max(worst, _relative(want, got))
                    entries += 1
    claim = f"Jacobians ∂v_t/∂u_(t-1) ({n_input} in, {n_hidden} hidden)"
    return Proof(derivation.cell.name, claim, entries, float(worst), time.perf_counter() - start)
