"""The fuzzed guarantee: every cell the grammar accepts is derived, proved and
lowered correctly, and every cell it cannot accept is refused with CellError.

For each cell (random ones from ``strategies.cells()``, and the regression
corpus of ``corpus.py`` on every run):

* ``Cell(...)`` raises ``CellError``, and then nothing else is asked (a cell
  broken on purpose must be refused); or
* ``derive(cell)`` succeeds and ``prove_bptt`` holds on 2 unrolled steps;
* both lowerings (fused and literal) generate and load, and pass the check
  ``module_source`` makes before it hands a module out;
* the derivation's forward pass is what NumPy makes of the equations' text;
* the torch module agrees with the derivation, with the NumPy module and with torch
  autograd of the equations to 1e-12, and its Function passes gradcheck;
* on a small random problem, each module's outputs and gradients (parameters,
  input, initial states) agree with the derivation evaluated at 30 digits
  (what ``checks.against_reference`` measures) to 1e-10, and with each other to
  1e-10; the fused module's agree with finite differences to 1e-5.

Any other exception is a failure.  The messages name the stage and, for a
wrong number, every array that is off and by how much.
"""

from __future__ import annotations

import numpy as np
import pytest
from corpus import CORPUS
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context, event, note
from strategies import cells

from derive import CellError, derive
from derive.backends import module_source
from derive.codegen.modules import load
from derive.codegen.plan import plan
from derive.verification.numeric import finite_differences, random_problem, reference, relative_error
from derive.verification.proof import prove_bptt

TOLERANCE = 1e-10  # against the derivation at 30 digits, and between the two lowerings
FINITE_DIFFERENCES = 1e-5
TORCH_NUMPY = 1e-12  # the torch module against the NumPy module and torch autograd, float64

# The problem the generated modules run on: small, so that the 30-digit reference is quick.
sizes = st.fixed_dictionaries(
    {
        "n_input": st.integers(1, 3),
        "n_hidden": st.integers(1, 3),
        "steps": st.integers(1, 3),
        "batch": st.integers(1, 2),
        "seed": st.integers(0, 2**16),
    }
)
# The proof's (n_input, n_hidden), over 2 steps: its cost grows linearly with the cell.
proof_sizes = st.tuples(st.integers(1, 2), st.integers(1, 3))


def run(module, problem):
    """(outputs, d_params, d_x, d_state) of one forward and backward pass."""
    params, x, state, d_outputs = problem
    outputs, cache = module.forward(params, x, state)
    d_params, d_x, d_state = module.backward(cache, d_outputs)
    return outputs, d_params, d_x, d_state


def differences(got, want) -> dict[str, float]:
    """Relative error of every array of ``got`` against ``want`` (both as ``run`` returns)."""
    out = {f"outputs[{s!r}]": relative_error(got[0][s], want[0][s]) for s in want[0]}
    out |= {f"d_params[{k!r}]": relative_error(got[1][k], want[1][k]) for k in want[1]}
    out["d_x"] = relative_error(got[2], want[2])
    out |= {f"d_state[{s!r}]": relative_error(got[3][s], want[3][s]) for s in want[3]}
    return out


def off(errors: dict[str, float], tolerance: float) -> str:
    """The entries above ``tolerance``, worst first."""
    bad = sorted(((e, k) for k, e in errors.items() if not e <= tolerance), reverse=True)
    return ", ".join(f"{k}: {e:.3g}" for e, k in bad)


class Shapes:
    """What ``checks.random_problem`` asks of a module (its states and ``init_params``),
    from the cell alone: a problem exists before any code is generated."""

    def __init__(self, cell):
        self.STATES = cell.states
        self.shapes = {p.name: tuple(d for d in (p.rows, p.cols) if d != "1") for p in cell.parameters}

    def init_params(self, n_input, n_hidden, rng, dtype=np.float64):
        sizes, bound = {"hidden": n_hidden, "input": n_input}, 1 / np.sqrt(n_hidden)
        return {
            k: rng.uniform(-bound, bound, tuple(sizes[d] for d in shape)).astype(dtype)
            for k, shape in self.shapes.items()
        }


def evaluate_text(spec, params, x, state):
    """The states at every step, from the equations' text run by NumPy itself: the
    semantics the text is written in, independent of the parser.  Columns are the
    batch: a value is (rows, B), a vector parameter (rows, 1)."""

    def sigma(z):
        with np.errstate(over="ignore"):  # exp(-z) = inf where σ(z) is exactly 0
            return 1 / (1 + np.exp(-z))

    functions = {
        "σ": sigma,
        "sigma": sigma,
        "tanh": np.tanh,
        "exp": np.exp,
        "log": np.log,
        "softplus": lambda z: np.logaddexp(0, z),
        "relu": lambda z: np.maximum(z, 0),
    }
    env = {k: (v[:, None] if v.ndim == 1 else v) for k, v in params.items()}
    prev = {f"{s}_prev": state[s].T for s in spec.states}
    out = {s: [] for s in spec.states}
    for x_t in x:
        values = {**functions, **env, **prev, "x": x_t.T}
        for name, text, _ in spec.equations:
            values[name] = eval(text, {"__builtins__": {}}, values)
        for s in spec.states:
            out[s].append(np.broadcast_to(values[s], prev[f"{s}_prev"].shape).T)
        prev = {f"{s}_prev": np.broadcast_to(values[s], prev[f"{s}_prev"].shape) for s in spec.states}
    return {s: np.stack(v) for s, v in out.items()}


def say(text: str):
    """A note on the falsifying example, when Hypothesis runs the check."""
    if currently_in_test_context():
        note(text)


def count(label: str):
    if currently_in_test_context():
        event(label)


def check_torch(cell, problem, want, fused_run):
    """The torch module of ``cell``: against the derivation and the NumPy module, against
    torch autograd of the literal equations, and its Function under gradcheck."""
    import torch_reference

    module = load(module_source(cell, backend="torch", check=False), f"{cell.name}_torch")
    got = torch_reference.run_layer(module, problem)
    errors = differences(got, want)
    assert max(errors.values()) <= TOLERANCE, f"torch ≠ derivation: {off(errors, TOLERANCE)}"
    errors = differences(got, fused_run)
    assert max(errors.values()) <= TORCH_NUMPY, f"torch ≠ NumPy: {off(errors, TORCH_NUMPY)}"
    errors = differences(got, torch_reference.run_literal(cell, problem))
    assert max(errors.values()) <= TORCH_NUMPY, (
        f"torch ≠ autograd of the equations: {off(errors, TORCH_NUMPY)}"
    )
    assert torch_reference.gradcheck(module, problem, raise_exception=False), "torch gradcheck fails"


def check(spec, size, proof=(2, 3), by_hand=None):
    """The property for one cell definition; returns "refused" or "ok", raises on a failure.

    The stages go from cheap to dear, so that a failing cell shrinks quickly: the
    exact proof comes last (finite differences have already checked the numbers
    the derivation gives, through the modules that follow it)."""
    try:
        cell = spec.build()
    except CellError as e:
        say(f"refused: {e}")
        count("refused on purpose" if spec.refuse else "refused")
        return "refused"
    assert not spec.refuse, f"the cell is broken on purpose ({spec.refuse}) but Cell(...) accepted it"
    count("accepted")

    derivation = derive(cell)
    unlooped = plan(derivation, set()).unlooped
    if unlooped.before or unlooped.parts or unlooped.after:
        count("with forward work outside the step loop")  # the plan's state-free pass applies
    problem = random_problem(
        Shapes(cell), size["n_input"], size["n_hidden"], size["steps"], size["batch"], size["seed"]
    )
    # What checks.against_reference compares a module with; its maximum over the
    # arrays below is against_reference's value.
    want = reference(derivation, *problem)
    for s, value in evaluate_text(spec, *problem[:3]).items():
        error = relative_error(want[0][s], value)
        assert error <= TOLERANCE, f"the derivation's {s!r} is not what NumPy makes of the text: {error:.3g}"
    expected = by_hand(*problem) if by_hand else {}
    for s, value in expected.items():
        error = relative_error(want[0][s], value)
        assert error <= TOLERANCE, f"the derivation's {s!r} is not the value computed by hand: {error:.3g}"

    # Unchecked here, so that a wrong number is reported by the assertions below,
    # each its own failure; module_source's own check is asked for at the end.
    fused = load(module_source(cell, check=False), f"{cell.name}_fused")
    literal = load(module_source(cell, literal=True, check=False), f"{cell.name}_literal")
    fused_run = run(fused, problem)
    literal_run = run(literal, problem)
    for s, value in expected.items():
        error = relative_error(fused_run[0][s], value)
        assert error <= TOLERANCE, f"the fused module's {s!r} is not the value computed by hand: {error:.3g}"
        error = relative_error(literal_run[0][s], value)
        assert error <= TOLERANCE, (
            f"the literal module's {s!r} is not the value computed by hand: {error:.3g}"
        )
    errors = differences(fused_run, want)
    worst = max(errors.values())
    assert worst <= TOLERANCE, f"fused ≠ derivation: {off(errors, TOLERANCE)}"
    errors = differences(literal_run, want)
    worst = max(errors.values())
    assert worst <= TOLERANCE, f"literal ≠ derivation: {off(errors, TOLERANCE)}"
    errors = differences(fused_run, literal_run)
    worst = max(errors.values())
    assert worst <= TOLERANCE, f"fused ≠ literal: {off(errors, TOLERANCE)}"
    errors = finite_differences(fused, *problem, seed=size["seed"])
    worst = max(errors.values())
    assert worst <= FINITE_DIFFERENCES, f"fused ≠ finite differences: {off(errors, FINITE_DIFFERENCES)}"

    # As a user calls it: the module is checked before it is handed out, and must
    # pass (the fused one; the literal one is the same numbers, as checked above).
    module_source(cell)
    check_torch(cell, problem, want, fused_run)

    n_input, n_hidden = proof
    result = prove_bptt(derivation, n_input=n_input, n_hidden=n_hidden, steps=2, points=1)
    worst = result.max_relative_difference
    assert result.holds, f"the proof fails ({n_input} in, {n_hidden} hidden, 2 steps): {worst:.3g}"
    return "ok"


def test_the_random_cells_include_work_that_reads_no_state():
    # The plan computes such work outside the step loops; the property above covers it
    # only if the strategy draws it: a gate from the input alone, in a cell whose state
    # update the loop keeps.
    def state_free(spec) -> bool:
        try:
            cell = spec.build()
        except CellError:
            return False
        unlooped = plan(derive(cell), set()).unlooped
        return bool(unlooped.before) and len(unlooped.before) < len(cell.equations)

    spec = find(cells(broken=False), state_free, settings=settings(max_examples=500, database=None))
    assert state_free(spec)


# Two families, so that pytest -n 2 runs them side by side; the profile's
# max_examples applies to each.
FAMILIES = {"one state": dict(max_states=1), "several states": dict(min_states=2)}


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), size=sizes, proof=proof_sizes)
def test_every_cell_is_refused_or_derived_proved_and_lowered_correctly(family, data, size, proof):
    spec = data.draw(cells(**FAMILIES[family]), label="cell")
    check(spec, size, proof)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CORPUS, ids=[e.id for e in CORPUS])
def test_corpus(entry):
    size = {"n_input": 2, "n_hidden": 3, "steps": 3, "batch": 2, "seed": 0}
    outcome = check(entry.spec, size, by_hand=entry.by_hand)
    assert entry.expect in (None, outcome), f"expected {entry.expect}, got {outcome}"
