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

from dataclasses import dataclass
from typing import Callable

import numpy as np

from strategies import CellSpec

STATE, GATE, CANDIDATE, OUTPUT = "state", "gate", "candidate", "output"


def affine(label: str = "") -> tuple[tuple[str, str, str], ...]:
    suffix = f"_{label}" if label else ""
    return (("W" + suffix, "hidden", "hidden"), ("U" + suffix, "hidden", "input"), ("b" + suffix, "hidden", "1"))


@dataclass(frozen=True)
class Entry:
    id: str
    spec: CellSpec
    expect: str | None = "ok"
    by_hand: Callable | None = None
    proof: tuple[int, int] = (2, 2)  # (n_input, n_hidden) of the proof


def one_state(text: str, parameters=affine(), *before) -> CellSpec:
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
    Entry("gated residual state", one_state(
        "g * tanh(W @ s_prev + U @ x + b) + (1 - g) * s_prev", (*affine("g"), *affine()), GATE_G)),
    Entry("equation named tanh_s beside tanh(s)", CellSpec(
        equations=(
            ("tanh_s", "σ(W_t @ h_prev + U_t @ x + b_t)", GATE),
            ("s", "tanh(W @ h_prev + U @ x + b)", STATE),
            ("h", "tanh_s * tanh(s)", OUTPUT),
        ),
        states=("s", "h"),
        parameters=(*affine("t"), *affine()),
    ), expect=None),
    Entry("products sharing an operand, not adjacent in the block", one_state(
        "a * s_prev + c * e",
        (*affine("a"), ("U_c", "hidden", "input"), ("b_c", "hidden", "1"), *affine("e")),
        ("a", "σ(W_a @ s_prev + U_a @ x + b_a)", GATE),
        ("c", "σ(U_c @ x + b_c)", GATE),
        ("e", "σ(W_e @ s_prev + U_e @ x + b_e)", GATE),
    )),
    Entry("W_a @ tanh(s_prev) inside a gate", one_state(
        "g * tanh(W @ s_prev + U @ x + b)", (*affine("a"), *affine()),
        ("g", "σ(W_a @ tanh(s_prev) + U_a @ x + b_a)", GATE))),
    Entry("vector parameter times a product: v * (U @ x)", one_state(
        "tanh(W @ s_prev + v * (U @ x) + b)", (*affine(), ("v", "hidden", "1")))),
    Entry("residual tanh(...) + s_prev", one_state(RNN + " + s_prev")),
    Entry("2 * tanh(...)", one_state("2 * " + RNN), by_hand=scaled_rnn(2)),
    Entry("tanh(...) + 1", one_state(RNN + " + 1")),
    Entry("2 * (1 - σ(...)) - 1", one_state("2 * (1 - σ(W @ s_prev + U @ x + b)) - 1")),
    Entry("gate kept, then multiplied by a matrix in the same step", one_state(
        RNN.replace("W @ s_prev", "W @ c"), (*affine("c"), *affine()),
        ("c", "tanh(W_c @ s_prev + U_c @ x + b_c)", CANDIDATE))),
    Entry("product kept, then multiplied by a matrix in the same step", one_state(
        RNN.replace("W @ s_prev", "W @ m"), (*affine("g"), *affine()),
        GATE_G, ("m", "g * s_prev", GATE))),
    Entry("input only inside a nested function", one_state(
        "tanh(W @ s_prev + W2 @ tanh(U @ x + b2) + b)",
        (("W", "hidden", "hidden"), ("W2", "hidden", "hidden"), ("U", "hidden", "input"),
         ("b2", "hidden", "1"), ("b", "hidden", "1")))),
    Entry("input only as tanh(x)", one_state("tanh(W @ s_prev + U @ tanh(x) + b)")),
    Entry("W @ (W @ s_prev)", one_state("tanh(W @ (W @ s_prev) + U @ x + b)")),
    Entry("W @ (U @ x)", one_state(
        "tanh(W @ s_prev + W2 @ (U @ x) + b)", (*affine(), ("W2", "hidden", "hidden")))),
    Entry("output h = s", CellSpec(
        equations=(("s", "tanh(W @ h_prev + U @ x + b)", STATE), ("h", "s", OUTPUT)),
        states=("s", "h"), parameters=affine())),
    Entry("(2*3) * tanh(...) is 6 tanh(...)", one_state("(2*3)*" + RNN), by_hand=scaled_rnn(6)),
    Entry("(-2)*(-3) * tanh(...) is 6 tanh(...)", one_state("(-2)*(-3)*" + RNN), by_hand=scaled_rnn(6)),
]

# Cells that pass today: the catalogue's shapes, so that a failure above is the cell's, not the harness's.
CONTROLS = [
    Entry("control: RNN", one_state(RNN), by_hand=scaled_rnn(1)),
    Entry("control: GRU", one_state(
        "(1 - i) * s_prev + i * s_tilde", (*affine("o"), *affine("i"), *affine()),
        ("o", "σ(W_o @ s_prev + U_o @ x + b_o)", GATE),
        ("i", "σ(W_i @ s_prev + U_i @ x + b_i)", GATE),
        ("s_tilde", "tanh(W @ (o * s_prev) + U @ x + b)", CANDIDATE)), proof=(2, 1)),
    Entry("control: unused parameter is refused", one_state(
        "tanh(W @ s_prev + U @ x)"), expect="refused"),
]

FOUND: list[Entry] = []

CORPUS = [*KNOWN, *FOUND, *CONTROLS]
