"""Cells that exist only in the tests, to show the engine is generic."""

from derive import CATALOGUE, Cell, Equation, Role, affine

# The minimal gated unit (Zhou et al., 2016): one gate both forgets and reads.
MGU = Cell(
    name="mgu",
    title="Minimal gated unit",
    parameters=(*affine("f"), *affine()),
    states=("s",),
    equations=(
        Equation("f", "σ(W_f @ s_prev + U_f @ x + b_f)", Role.GATE, "forget gate"),
        Equation("s_tilde", "tanh(W @ (f * s_prev) + U @ x + b)", Role.CANDIDATE, "candidate"),
        Equation("s", "(1 - f) * s_prev + f * s_tilde", Role.STATE, "new state"),
    ),
)

# The explainer's three and one cell defined in Python: what the detailed tests run on.
# The catalogue's variants are each proved and checked whole by `verify`
# (tests/test_catalogue.py), which keeps the fast run fast.
ALL_CELLS = {**{name: CATALOGUE[name] for name in ("rnn", "lstm", "gru")}, MGU.name: MGU}
