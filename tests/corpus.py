"""The regression corpus of the fuzz test: cells replayed on every run.

Each entry is a cell definition (a ``CellSpec``, built inside the test so that a
refusal is seen there), what the test must conclude (``"ok"``: accepted, derived,
proved and lowered correctly; ``"refused"``: ``CellError``; ``None``: either), and
optionally the states' values computed by hand with NumPy, for cells whose
numbers the parser could get wrong in the same way everywhere.

The first entries are defects known before the fuzzer ran; those after them
are cells the fuzzer found, each reduced to a small cell with the same symptom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from cells import HIGHWAY
from strategies import KINDS, CellSpec

STATE, GATE, CANDIDATE, OUTPUT = "state", "gate", "candidate", "output"


def affine(label: str = "") -> tuple[tuple[str, str, str], ...]:
    suffix = f"_{label}" if label else ""
    return (
        ("W" + suffix, "hidden", "hidden"),
        ("U" + suffix, "hidden", "input"),
        ("b" + suffix, "hidden", "1"),
    )


AFFINE = affine()  # W, U and b, a one-state cell's parameters unless it names others


@dataclass(frozen=True)
class Entry:
    id: str
    spec: CellSpec
    expect: str | None = "ok"
    by_hand: Callable | None = None


def one_state(text: str, parameters=AFFINE, *before) -> CellSpec:
    """A cell of one state ``s`` defined by ``text``, after the equations ``before``."""
    return CellSpec(equations=(*before, ("s", text, STATE)), states=("s",), parameters=tuple(parameters))


def scaled_rnn(factor: float):
    """s_t = factor · tanh(W s_{t-1} + U x_t + b), step by step in NumPy."""

    def by_hand(params, x, state, d_outputs):
        s, out = state["s"], []
        for x_t in x:
            s = factor * np.tanh(s @ params["W"].T + x_t @ params["U"].T + params["b"])
            out.append(s)
        return {"s": np.stack(out)}

    return by_hand


GATE_G = ("g", "σ(W_g @ s_prev + U_g @ x + b_g)", GATE)
RNN = "tanh(W @ s_prev + U @ x + b)"

KNOWN = [
    Entry(
        "gated residual state",
        one_state("g * tanh(W @ s_prev + U @ x + b) + (1 - g) * s_prev", (*affine("g"), *affine()), GATE_G),
    ),
    Entry(
        "equation named tanh_s beside tanh(s)",
        CellSpec(
            equations=(
                ("tanh_s", "σ(W_t @ h_prev + U_t @ x + b_t)", GATE),
                ("s", "tanh(W @ h_prev + U @ x + b)", STATE),
                ("h", "tanh_s * tanh(s)", OUTPUT),
            ),
            states=("s", "h"),
            parameters=(*affine("t"), *affine()),
        ),
        expect=None,
    ),
    Entry(
        "products sharing an operand, not adjacent in the block",
        one_state(
            "a * s_prev + c * e",
            (*affine("a"), ("U_c", "hidden", "input"), ("b_c", "hidden", "1"), *affine("e")),
            ("a", "σ(W_a @ s_prev + U_a @ x + b_a)", GATE),
            ("c", "σ(U_c @ x + b_c)", GATE),
            ("e", "σ(W_e @ s_prev + U_e @ x + b_e)", GATE),
        ),
    ),
    Entry(
        "W_a @ tanh(s_prev) inside a gate",
        one_state(
            "g * tanh(W @ s_prev + U @ x + b)",
            (*affine("a"), *affine()),
            ("g", "σ(W_a @ tanh(s_prev) + U_a @ x + b_a)", GATE),
        ),
    ),
    Entry(
        "vector parameter times a product: v * (U @ x)",
        one_state("tanh(W @ s_prev + v * (U @ x) + b)", (*affine(), ("v", "hidden", "1"))),
    ),
    Entry("residual tanh(...) + s_prev", one_state(RNN + " + s_prev")),
    Entry("2 * tanh(...)", one_state("2 * " + RNN), by_hand=scaled_rnn(2)),
    Entry("tanh(...) + 1", one_state(RNN + " + 1")),
    Entry("2 * (1 - σ(...)) - 1", one_state("2 * (1 - σ(W @ s_prev + U @ x + b)) - 1")),
    Entry(
        "gate kept, then multiplied by a matrix in the same step",
        one_state(
            RNN.replace("W @ s_prev", "W @ c"),
            (*affine("c"), *affine()),
            ("c", "tanh(W_c @ s_prev + U_c @ x + b_c)", CANDIDATE),
        ),
    ),
    Entry(
        "product kept, then multiplied by a matrix in the same step",
        one_state(
            RNN.replace("W @ s_prev", "W @ m"), (*affine("g"), *affine()), GATE_G, ("m", "g * s_prev", GATE)
        ),
    ),
    Entry(
        "input only inside a nested function",
        one_state(
            "tanh(W @ s_prev + W2 @ tanh(U @ x + b2) + b)",
            (
                ("W", "hidden", "hidden"),
                ("W2", "hidden", "hidden"),
                ("U", "hidden", "input"),
                ("b2", "hidden", "1"),
                ("b", "hidden", "1"),
            ),
        ),
    ),
    Entry("input only as tanh(x)", one_state("tanh(W @ s_prev + U @ tanh(x) + b)")),
    Entry("W @ (W @ s_prev)", one_state("tanh(W @ (W @ s_prev) + U @ x + b)")),
    Entry(
        "W @ (U @ x)",
        one_state("tanh(W @ s_prev + W2 @ (U @ x) + b)", (*affine(), ("W2", "hidden", "hidden"))),
    ),
    Entry(
        "output h = s",
        CellSpec(
            equations=(("s", "tanh(W @ h_prev + U @ x + b)", STATE), ("h", "s", OUTPUT)),
            states=("s", "h"),
            parameters=affine(),
        ),
    ),
    Entry("(2*3) * tanh(...) is 6 tanh(...)", one_state("(2*3)*" + RNN), by_hand=scaled_rnn(6)),
    Entry("(-2)*(-3) * tanh(...) is 6 tanh(...)", one_state("(-2)*(-3)*" + RNN), by_hand=scaled_rnn(6)),
]


def spec_of(cell) -> CellSpec:
    """The definition of a cell already built (read from a cell file, say)."""
    return CellSpec(
        equations=tuple((e.name, e.text, e.role.value) for e in cell.equations),
        states=cell.states,
        parameters=tuple((p.name, p.rows, p.cols) for p in cell.parameters),
        name=cell.name,
    )


# Layers inside one step, each reading the one before: the proof's cost must grow
# linearly with the depth (it grew geometrically while it differentiated the unrolled cell).
DEEP = [
    Entry(f"recurrent highway network, depth {name[-1]}", spec_of(cell)) for name, cell in HIGHWAY.items()
]

# Cells that pass today: the catalogue's shapes, so that a failure above is the cell's, not the harness's.
CONTROLS = [
    Entry("control: RNN", one_state(RNN), by_hand=scaled_rnn(1)),
    Entry(
        "control: GRU",
        one_state(
            "(1 - i) * s_prev + i * s_tilde",
            (*affine("o"), *affine("i"), *affine()),
            ("o", "σ(W_o @ s_prev + U_o @ x + b_o)", GATE),
            ("i", "σ(W_i @ s_prev + U_i @ x + b_i)", GATE),
            ("s_tilde", "tanh(W @ (o * s_prev) + U @ x + b)", CANDIDATE),
        ),
    ),
    Entry("control: unused parameter is refused", one_state("tanh(W @ s_prev + U @ x)"), expect="refused"),
]


def params(*names: str) -> tuple[tuple[str, str, str], ...]:
    """Parameters by name, shaped by their first letter as in ``strategies.KINDS``."""
    return tuple((n, *KINDS[n[0]]) for n in names)


def cell(*equations, states=("s",), parameters=()) -> CellSpec:
    """Equations as (name, text); a state's role is "state", the others' "gate"."""
    return CellSpec(
        equations=tuple((n, t, STATE if n in states else GATE) for n, t in equations),
        states=states,
        parameters=parameters,
    )


# Cells the fuzzer found, each reduced by hand to a few terms with the same symptom.
FOUND = [
    # Found against the lowering before its rewrite.
    Entry("no input at all", cell(("s", "σ(W @ s_prev)"), parameters=params("W"))),
    Entry("a state that does not read its previous value", cell(("s", "σ(U @ x)"), parameters=params("U"))),
    Entry(
        "a gate nobody reads",
        cell(("g", "σ(U_g @ x)"), ("s", "σ(W @ s_prev + U @ x)"), parameters=params("U_g", "W", "U")),
    ),
    Entry(
        "a function of a bare symbol as an equation: h = tanh(s)",
        cell(("s", "tanh(W @ h_prev + U @ x + b)"), ("h", "tanh(s)"), states=("s", "h"), parameters=affine()),
    ),
    Entry(
        "a gate of a bias alone: σ(b_g)",
        cell(("g", "σ(b_g)"), ("s", "g * tanh(W @ s_prev + U @ x)"), parameters=params("b_g", "W", "U")),
    ),
    Entry(
        "an equation that is a previous state: a = s_prev",
        cell(("a", "s_prev"), ("s", "tanh(W @ a + U @ x + b)"), parameters=affine()),
    ),
    Entry(
        "U @ (P @ x) with an input×input parameter",
        cell(("s", "tanh(W @ s_prev + U @ (P @ x) + b)"), parameters=(*affine(), *params("P"))),
    ),
    Entry(
        "U2 @ (V @ s_prev) with an input×hidden parameter",
        cell(("s", "tanh(W @ s_prev + U @ x + U2 @ (V @ s_prev))"), parameters=params("W", "U", "U2", "V")),
    ),
    Entry(
        "two products of s_prev in one pre-activation",
        cell(("s", "tanh(W1 @ s_prev + W2 @ s_prev + U @ x)"), parameters=params("W1", "W2", "U")),
    ),
    Entry(
        "two products of x in one pre-activation",
        cell(("s", "tanh(W @ s_prev + U1 @ x + U2 @ x)"), parameters=params("W", "U1", "U2")),
    ),
    Entry(
        "one product twice in one pre-activation",
        cell(("s", "tanh(W @ s_prev + U @ x + U @ x)"), parameters=params("W", "U")),
    ),
    Entry(
        "a gate times a candidate written inline",
        cell(("g", "σ(U_g @ x)"), ("s", "g * tanh(W @ s_prev + U @ x)"), parameters=params("U_g", "W", "U")),
    ),
    Entry(
        "a gate read by a matrix in the next pre-activation",
        cell(
            ("g", "σ(W_g @ s_prev + U_g @ x)"),
            ("s", "σ(W @ g + U @ x)"),
            parameters=params("W_g", "U_g", "W", "U"),
        ),
    ),
    Entry(
        "a candidate read by a matrix, under a residual state",
        cell(
            ("c", "tanh(W_c @ s_prev + U_c @ x)"),
            ("s", "tanh(W @ c + U @ x) + s_prev"),
            parameters=params("W_c", "U_c", "W", "U"),
        ),
    ),
    Entry(
        "U @ (u * x) with an input-sized vector",
        cell(("s", "tanh(W @ s_prev + U @ (u * x) + b)"), parameters=(*affine(), *params("u"))),
    ),
    Entry("U @ (x * x)", cell(("s", "tanh(W @ s_prev + U @ (x * x) + b)"), parameters=affine())),
    Entry("U @ (x + 1)", cell(("s", "tanh(W @ s_prev + U @ (x + 1) + b)"), parameters=affine())),
    Entry(
        "W @ tanh(s_prev) as the state's only recurrence",
        cell(("s", "tanh(W @ tanh(s_prev) + U @ x)"), parameters=params("W", "U")),
    ),
    Entry(
        "σ(...) * s_prev as the state",
        cell(("s", "σ(W @ s_prev + U @ x) * s_prev"), parameters=params("W", "U")),
    ),
    Entry(
        "products of s_prev not adjacent in the block, fewest terms",
        cell(
            ("a", "σ(W_a @ s_prev)"),
            ("c", "σ(U_c @ x)"),
            ("e", "σ(W_e @ s_prev)"),
            ("s", "a * e + c"),
            parameters=params("W_a", "U_c", "W_e"),
        ),
    ),
    Entry(
        "0 * (...) in a sum (refused, or else right)",
        cell(("s", "0 * tanh(W @ s_prev) + tanh(U @ x)"), parameters=params("W", "U")),
        expect=None,
    ),
    Entry("no parameters (refused, or else right)", cell(("s", "σ(s_prev) * s_prev")), expect=None),
    # Found against the rewritten lowering.
    Entry(
        "derivation: a gate and a function of it in one state",
        cell(
            ("g", "σ(W @ s_prev + U @ x)"),
            ("s", "(1 - σ(g)) * s_prev + σ(g) * g"),
            parameters=params("W", "U"),
        ),
    ),
    Entry(
        "derivation: a gate read by another gate and by the state",
        cell(
            ("g1", "σ(W1 @ s_prev)"),
            ("g2", "σ(g1 + U1 @ x)"),
            ("s", "(1 - g2) * s_prev + g2 * g1"),
            parameters=params("W1", "U1"),
        ),
    ),
    Entry(
        "an unused equation that is a product: e = U2 @ x",
        cell(("s", "tanh(W @ s_prev + U @ x)"), ("e", "U2 @ x"), parameters=params("W", "U", "U2")),
    ),
    Entry(
        "an unused equation that is a product of the state: r = W2 @ s",
        cell(("s", "tanh(W @ s_prev + U @ x)"), ("r", "W2 @ s"), parameters=params("W", "U", "W2")),
    ),
    Entry(
        "one product twice in a pre-activation and once in another",
        cell(("r", "σ(U1 @ x)"), ("s", "tanh(U1 @ x + W1 @ r + U1 @ x)"), parameters=params("U1", "W1")),
    ),
    Entry(
        "products that cancel: U @ x - U @ x",
        cell(("s", "tanh(W @ s_prev + U @ x - U @ x)"), parameters=params("W", "U")),
    ),
    Entry(
        "biases that cancel: - b + b",
        cell(("s", "tanh(W @ s_prev + U @ x - b + b)"), parameters=params("W", "U", "b")),
    ),
    Entry(
        "a function written inline that is also an equation: σ(U @ x)",
        cell(("s", "σ(U @ x)"), ("g", "σ(W @ σ(U @ x))"), parameters=params("U", "W")),
    ),
    Entry(
        "an unused equation: a chain of products scaled by a vector",
        cell(
            ("s", "σ(W @ s_prev + U @ x)"),
            ("g", "U2 @ (V @ s_prev) * v"),
            parameters=params("W", "U", "U2", "V", "v"),
        ),
    ),
    Entry(
        "a gradient that vanishes by cancellation, through an equation q = h_prev",
        cell(
            ("q", "h_prev"),
            ("h", "tanh(W1 @ q - W1 @ h_prev + U2 @ x)"),
            states=("h",),
            parameters=params("W1", "U2"),
        ),
    ),
    Entry(
        "the proof: a gradient that vanishes by cancellation (two products of x)",
        cell(
            ("h", "σ(U1 @ x + U2 @ x) * h_prev + (1 - σ(U1 @ x + U2 @ x)) * h_prev"),
            states=("h",),
            parameters=params("U1", "U2"),
        ),
    ),
    Entry(
        "a gradient that vanishes by cancellation",
        cell(
            (
                "s",
                "(1 - σ(W1 @ s_prev + U1 @ x + U2 @ x)) * s_prev + σ(W1 @ s_prev + U1 @ x + U2 @ x) * s_prev",
            ),
            parameters=params("W1", "U1", "U2"),
        ),
    ),
    # Found by the lint of the generated modules (test_generated_lint.py).
    Entry(
        "a state that is zero whatever came before: backward reads neither d_outputs nor the step",
        cell(("g", "σ(W @ s_prev)"), ("s", "2 * (s_prev - s_prev)"), parameters=params("W")),
    ),
    Entry(
        "a stacked product's operand that is also a later equation's whole value",
        cell(
            ("s", "σ(W2 @ σ(W1 @ s_prev) + U @ x)"),
            ("q", "σ(W1 @ s_prev)"),
            parameters=params("W1", "W2", "U"),
        ),
    ),
]


def by_hand_of(update):
    """``s_t = update(s_{t-1}, pre-activation W s_{t-1} + U x_t + b)``, step by step in NumPy."""

    def by_hand(params, x, state, d_outputs):
        s, out = state["s"], []
        for x_t in x:
            s = update(s, s @ params["W"].T + x_t @ params["U"].T + params["b"])
            out.append(s)
        return {"s": np.stack(out)}

    return by_hand


def _softplus(z):
    return np.logaddexp(0, z)


# The grammar of 2024: division by any column, exp, log and softplus.
GRAMMAR_2024 = [
    Entry(
        "a number over a column: 2 / (3 + tanh(...))",
        one_state("2 / (3 + " + RNN + ")"),
        by_hand=by_hand_of(lambda s, z: 2 / (3 + np.tanh(z))),
    ),
    Entry(
        "a column over a number is the product by its inverse",
        one_state(RNN + " / 4"),
        by_hand=by_hand_of(lambda s, z: np.tanh(z) / 4),
    ),
    Entry(
        "a divisor that can be zero: what the forward pass reads, the backward pass divides by",
        one_state("tanh(W @ s_prev + U @ x + b) / (s_prev - 3)"),
        by_hand=by_hand_of(lambda s, z: np.tanh(z) / (s - 3)),
    ),
    Entry(
        "quotients of quotients, the dividend a product",
        one_state("(s_prev * " + RNN + ") / (2 + s_prev * s_prev) / (3 - " + RNN + ")"),
    ),
    Entry(
        "minLSTM's normalised gates: each divided by their sum",
        one_state(
            "f / (f + i) * s_prev + i / (f + i) * (U @ x + b)",
            (*affine("f"), *affine("i"), ("U", "hidden", "input"), ("b", "hidden", "1")),
            ("f", "σ(U_f @ x + b_f + W_f @ s_prev)", GATE),
            ("i", "σ(U_i @ x + b_i + W_i @ s_prev)", GATE),
        ),
    ),
    Entry(
        "exp, log and softplus, nested",
        one_state("log(1 + softplus(W @ s_prev + U @ x + b)) * exp(-(s_prev * s_prev))"),
        by_hand=by_hand_of(lambda s, z: np.log(1 + _softplus(z)) * np.exp(-(s * s))),
    ),
    Entry(
        "sLSTM's exponential gate and normaliser, the output a quotient",
        CellSpec(
            equations=(
                ("i", "exp(W_i @ h_prev + U_i @ x + b_i)", GATE),
                ("f", "σ(W_f @ h_prev + U_f @ x + b_f)", GATE),
                ("c", "f * c_prev + i * tanh(W @ h_prev + U @ x + b)", STATE),
                ("q", "f * q_prev + i", STATE),
                ("h", "c / q", OUTPUT),
            ),
            states=("c", "q", "h"),
            parameters=(*affine("i"), *affine("f"), *affine()),
        ),
    ),
    Entry("division by a zero number is refused", one_state(RNN + " / 0"), expect="refused"),
    Entry("floor division is refused", one_state(RNN + " // 2"), expect="refused"),
]


def by_hand_with_scalars(update):
    """``s_t = update(s_{t-1}, W s_{t-1} + U x_t + b, params)``, step by step in NumPy:
    a scalar parameter is a 0-d array, which NumPy spreads over the units itself."""

    def by_hand(params, x, state, d_outputs):
        s, out = state["s"], []
        for x_t in x:
            s = update(s, s @ params["W"].T + x_t @ params["U"].T + params["b"], params)
            out.append(s)
        return {"s": np.stack(out)}

    return by_hand


SCALAR = ("zeta", "1", "1")
# Scalar parameters (FastGRNN's ζ and ν): a 1×1 parameter spread over the units.
SCALARS = [
    Entry(
        "a scalar parameter scales a column",
        one_state("zeta * " + RNN, (*AFFINE, SCALAR)),
        by_hand=by_hand_with_scalars(lambda s, z, p: p["zeta"] * np.tanh(z)),
    ),
    Entry(
        "a scalar added inside a function, and a column divided by a sum of scalars",
        one_state(
            "tanh(W @ s_prev + U @ x + b + nu) / (2 + zeta * zeta)", (*AFFINE, SCALAR, ("nu", "1", "1"))
        ),
        by_hand=by_hand_with_scalars(lambda s, z, p: np.tanh(z + p["nu"]) / (2 + p["zeta"] * p["zeta"])),
    ),
    Entry(
        "FastGRNN's state: the candidate scaled by zeta (1 - z) + nu",
        one_state(
            "(zeta * (1 - z) + nu) * tanh(W_z @ s_prev + U_z @ x + b) + z * s_prev",
            (*affine("z"), ("b", "hidden", "1"), SCALAR, ("nu", "1", "1")),
            ("z", "σ(W_z @ s_prev + U_z @ x + b_z)", GATE),
        ),
    ),
    Entry(
        "found: scalar parameters alone, which give the module no number of units, are refused",
        one_state("zeta * s_prev", (SCALAR,)),
        expect="refused",
    ),
    Entry(
        "a scalar times the input is refused",
        one_state(RNN + " + zeta @ x", (*AFFINE, SCALAR)),
        expect="refused",
    ),
]

# Cells whose work, or part of it, reads no state: the plan computes it for every step
# outside the time loops (derive.codegen.plan.state_free).
STATE_FREE = [
    Entry(
        "found: a state-free part of a sum, then a number added to it in the loop",
        one_state(
            "σ(v1 * (U1 @ x) + W1 @ s_prev + (s_prev + 1.5)) * s_prev + σ(U1 @ (x + 1.5)) * tanh(s_prev)",
            (("v1", "hidden", "1"), ("U1", "hidden", "input"), ("W1", "hidden", "hidden")),
        ),
    ),
    Entry(
        "minGRU's shape: s = (1 - g) ⊙ s_prev + g ⊙ s̃, g and s̃ from the input alone",
        one_state(
            "(1 - g) * s_prev + g * s_tilde",
            (
                ("U_g", "hidden", "input"),
                ("b_g", "hidden", "1"),
                ("U", "hidden", "input"),
                ("b", "hidden", "1"),
            ),
            ("g", "σ(U_g @ x + b_g)", GATE),
            ("s_tilde", "U @ x + b", CANDIDATE),
        ),
    ),
    Entry(
        "a state-free gate between two that read the state, and an output no step reads back",
        CellSpec(
            equations=(
                ("a", "σ(W_a @ s_prev + U_a @ x + b_a)", GATE),
                ("c", "σ(U_c @ x + b_c)", GATE),
                ("e", "σ(W_e @ s_prev + U_e @ x + b_e)", GATE),
                ("s", "a * s_prev + c * e * tanh(U @ x + b)", STATE),
                ("y", "tanh(W_y @ s) * c", OUTPUT),
            ),
            states=("s", "y"),
            parameters=(
                *affine("a"),
                ("U_c", "hidden", "input"),
                ("b_c", "hidden", "1"),
                *affine("e"),
                ("U", "hidden", "input"),
                ("b", "hidden", "1"),
                ("W_y", "hidden", "hidden"),
            ),
        ),
    ),
    Entry(
        "found: a state-free gate's product W g, which the loop's step does",
        one_state(
            "σ(W1 @ g1)",
            (("U1", "hidden", "input"), ("b1", "hidden", "1"), ("W1", "hidden", "hidden")),
            ("g1", "σ(U1 @ x + b1)", GATE),
        ),
    ),
    Entry(
        "found: a product whose first two factors are scalar parameters, stored into the state's "
        "view (torch's out= does not spread ζ2 ζ1 over the rows)",
        one_state(
            "ζ2 * (ζ1 * s_prev) + tanh(U @ x + b)",
            (("ζ1", "1", "1"), ("ζ2", "1", "1"), ("U", "hidden", "input"), ("b", "hidden", "1")),
        ),
    ),
    Entry(
        "a cell whose every equation reads no state: no step loop is left",
        one_state(
            "tanh(U @ x + b) * σ(U_g @ x)",
            (("U", "hidden", "input"), ("b", "hidden", "1"), ("U_g", "hidden", "input")),
        ),
    ),
]

CORPUS = [*KNOWN, *DEEP, *FOUND, *CONTROLS, *GRAMMAR_2024, *SCALARS, *STATE_FREE]
