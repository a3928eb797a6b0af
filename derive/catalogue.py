"""The catalogue: the vanilla RNN, the LSTM and the GRU, in the project's notation.

State ``s``, output ``h``, gates ``o`` (output), ``i`` (input), ``f`` (forget),
candidate ``s_tilde``; ``W`` multiplies the state, ``U`` the input.
"""

from __future__ import annotations

from .cell import Cell, Equation, Role, affine

GATE, CANDIDATE, STATE, OUTPUT = Role.GATE, Role.CANDIDATE, Role.STATE, Role.OUTPUT

RNN = Cell(
    name="rnn",
    title="Vanilla RNN",
    parameters=affine(),
    states=("s",),
    equations=(
        Equation(
            "s",
            "tanh(W @ s_prev + U @ x + b)",
            STATE,
            "the new state: the old state and the input, mixed and squashed, all rewritten at every step",
        ),
    ),
)

LSTM = Cell(
    name="lstm",
    title="Long short-term memory (LSTM)",
    parameters=(*affine("o"), *affine("i"), *affine("f"), *affine()),
    states=("s", "h"),
    equations=(
        Equation(
            "o",
            "σ(W_o @ h_prev + U_o @ x + b_o)",
            GATE,
            "output gate (selective write): how much of each state entry to expose as the output",
        ),
        Equation(
            "i",
            "σ(W_i @ h_prev + U_i @ x + b_i)",
            GATE,
            "input gate (selective read): how much of the new candidate to take in",
        ),
        Equation(
            "f",
            "σ(W_f @ h_prev + U_f @ x + b_f)",
            GATE,
            "forget gate (selective forget): how much of the old state to keep",
        ),
        Equation(
            "s_tilde",
            "tanh(W @ h_prev + U @ x + b)",
            CANDIDATE,
            "candidate state: what this step proposes to write",
        ),
        Equation(
            "s",
            "f * s_prev + i * s_tilde",
            STATE,
            "the new state: the kept part of the old state plus the admitted part of the candidate",
        ),
        Equation(
            "h", "o * tanh(s)", OUTPUT, "the output: the squashed state, passed through the output gate"
        ),
    ),
)

GRU = Cell(
    name="gru",
    title="Gated recurrent unit (GRU)",
    parameters=(*affine("o"), *affine("i"), *affine()),
    states=("s",),
    equations=(
        Equation(
            "o",
            "σ(W_o @ s_prev + U_o @ x + b_o)",
            GATE,
            "output gate (selective write, often called the reset gate): "
            "how much of the old state the candidate may see",
        ),
        Equation(
            "i",
            "σ(W_i @ s_prev + U_i @ x + b_i)",
            GATE,
            "input gate (selective read, often called the update gate): "
            "how much of the candidate to take in; 1 - i is kept",
        ),
        Equation(
            "s_tilde",
            "tanh(W @ (o * s_prev) + U @ x + b)",
            CANDIDATE,
            "candidate state: computed from the gated old state and the input",
        ),
        Equation(
            "s",
            "(1 - i) * s_prev + i * s_tilde",
            STATE,
            "the new state: forgetting and reading are coupled, what is read in replaces what is forgotten",
        ),
    ),
)

CATALOGUE: dict[str, Cell] = {cell.name: cell for cell in (RNN, LSTM, GRU)}

# Not in the catalogue (no generated module): the LSTM as first published, without
# a forget gate, derived for the explainer's comparison.
LSTM_WITHOUT_FORGET_GATE = Cell(
    name="lstm_without_forget_gate",
    title="LSTM without a forget gate (1997)",
    parameters=(*affine("o"), *affine("i"), *affine()),
    states=("s", "h"),
    equations=(
        Equation("o", "σ(W_o @ h_prev + U_o @ x + b_o)", GATE, "output gate"),
        Equation("i", "σ(W_i @ h_prev + U_i @ x + b_i)", GATE, "input gate"),
        Equation("s_tilde", "tanh(W @ h_prev + U @ x + b)", CANDIDATE, "candidate state"),
        Equation("s", "s_prev + i * s_tilde", STATE, "the state only accumulates"),
        Equation("h", "o * tanh(s)", OUTPUT, "the output"),
    ),
)
