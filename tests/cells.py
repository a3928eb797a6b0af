"""Cells that exist only in the tests, to show the engine is generic."""

from pathlib import Path

from derive import CATALOGUE, Cell, Equation, Role, affine
from derive.cellfile import load

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

# Recurrent highway networks of depth 2 and 3 (tests/cellfiles/): several layers inside
# one step, each reading the one before, on which a proof that differentiated the
# unrolled cell whole grew geometrically with the depth.
HIGHWAY = {path.stem: load(path) for path in sorted((Path(__file__).parent / "cellfiles").glob("rhn*.toml"))}
