"""The notation page's GRUs in other texts' letters, printed and checked while the page is made.

Each is written as equations in the cells' text form, in the other text's letters (Cho et
al. 2014: W on the input, U on the state, z weighting the old state; PyTorch's nn.GRU: r
applied after the product with the state, with its biases), parsed by the cells' own parser
(:func:`derive.cell.parse_equations`) and printed by the same LaTeX printer as every cell.
The names are theirs, so these are not cells of the catalogue: z and n are names the
generated modules keep for themselves.

Each comes with the mapping of its parameters onto one of derive's cells and of its values
onto that cell's values.  :func:`context` runs both on the same random problem, the other
text's equations through the derivation's evaluator (:func:`derive.verification.explicit.evaluate`)
at 30 digits and derive's cell through its generated module, and raises
:class:`ConventionMismatch` if any value differs by more than ``TOLERANCE``: then
``python -m derive docs`` stops with one line and writes no page.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from sympy import MatrixSymbol

from .. import naming
from ..cell import SIZES, parse_equations
from ..codegen.modules import generated
from ..printing import latex as L
from ..verification.explicit import evaluate
from ..verification.proof import mp_number, numeric_functions

TOLERANCE = 1e-12  # the largest difference allowed between the two runs' values
DIGITS = 30  # the precision of the other text's equations' evaluation
PROBLEM = {"inputs": 3, "hidden": 4, "steps": 4, "batch": 2, "seed": 5}


@dataclass(frozen=True)
class Convention:
    """Another text's GRU: its parameters by shape, its state, its equations in its letters,
    and how it maps onto derive's cell ``cell``.

    ``parameters`` maps derive's parameter to (sign, the other text's parameters it sums),
    an empty sum being zero; ``values`` maps each of the other text's equations to
    (derive's equation, whether it is 1 minus it)."""

    title: str
    parameters_shapes: tuple[tuple[str, str, str], ...]  # (name, rows, cols)
    state: str
    equations: tuple[tuple[str, str], ...]
    cell: str
    parameters: dict[str, tuple[int, tuple[str, ...]]]
    values: dict[str, tuple[str, bool]]


CHO = Convention(
    title="Cho et al. (2014)",
    parameters_shapes=(
        ("W_r", "hidden", "input"),
        ("U_r", "hidden", "hidden"),
        ("W_z", "hidden", "input"),
        ("U_z", "hidden", "hidden"),
        ("W", "hidden", "input"),
        ("U", "hidden", "hidden"),
    ),
    state="h",
    equations=(
        ("r", "σ(W_r @ x + U_r @ h_prev)"),
        ("z", "σ(W_z @ x + U_z @ h_prev)"),
        ("h_tilde", "tanh(W @ x + U @ (r * h_prev))"),
        ("h", "z * h_prev + (1 - z) * h_tilde"),
    ),
    cell="gru",
    # W and U swap; i = 1 - z, and as 1 - σ(a) = σ(-a), i's weights are z's negated;
    # Cho et al. write no biases, so derive's are zero.
    parameters={
        "W_o": (1, ("U_r",)),
        "U_o": (1, ("W_r",)),
        "b_o": (1, ()),
        "W_i": (-1, ("U_z",)),
        "U_i": (-1, ("W_z",)),
        "b_i": (1, ()),
        "W": (1, ("U",)),
        "U": (1, ("W",)),
        "b": (1, ()),
    },
    values={"r": ("o", False), "z": ("i", True), "h_tilde": ("s_tilde", False), "h": ("s", False)},
)

TORCH = Convention(
    title="PyTorch nn.GRU",
    parameters_shapes=(
        ("W_ir", "hidden", "input"),
        ("b_ir", "hidden", "1"),
        ("W_hr", "hidden", "hidden"),
        ("b_hr", "hidden", "1"),
        ("W_iz", "hidden", "input"),
        ("b_iz", "hidden", "1"),
        ("W_hz", "hidden", "hidden"),
        ("b_hz", "hidden", "1"),
        ("W_in", "hidden", "input"),
        ("b_in", "hidden", "1"),
        ("W_hn", "hidden", "hidden"),
        ("b_hn", "hidden", "1"),
    ),
    state="h",
    equations=(
        ("r", "σ(W_ir @ x + b_ir + W_hr @ h_prev + b_hr)"),
        ("z", "σ(W_iz @ x + b_iz + W_hz @ h_prev + b_hz)"),
        ("n", "tanh(W_in @ x + b_in + r * (W_hn @ h_prev + b_hn))"),
        ("h", "(1 - z) * n + z * h_prev"),
    ),
    cell="gru_torch",
    # A gate sees only the sum of its two biases; the candidate keeps b_hn apart, as c.
    parameters={
        "W_o": (1, ("W_hr",)),
        "U_o": (1, ("W_ir",)),
        "b_o": (1, ("b_ir", "b_hr")),
        "W_i": (-1, ("W_hz",)),
        "U_i": (-1, ("W_iz",)),
        "b_i": (-1, ("b_iz", "b_hz")),
        "W": (1, ("W_hn",)),
        "U": (1, ("W_in",)),
        "b": (1, ("b_in",)),
        "c": (1, ("b_hn",)),
    },
    values={"r": ("o", False), "z": ("i", True), "n": ("s_tilde", False), "h": ("s", False)},
)

CONVENTIONS = {"cho": CHO, "torch": TORCH}


class ConventionMismatch(RuntimeError):
    """Another text's GRU, as the notation page prints it, does not compute derive's cell."""


def parsed(convention: Convention):
    """The convention's equations as ((symbol, expression), ...), and its parameters' symbols."""
    symbols = {
        name: MatrixSymbol(name, SIZES[rows], SIZES[cols])
        for name, rows, cols in convention.parameters_shapes
    }
    given = {
        **symbols,
        "x": MatrixSymbol("x", SIZES["input"], 1),
        naming.prev(convention.state): MatrixSymbol(naming.prev(convention.state), SIZES["hidden"], 1),
    }
    where = f"the notation page's equations of {convention.title}"
    return parse_equations(convention.equations, given, set(symbols.values()), where), symbols


def lines(convention: Convention) -> list[str]:
    """The convention's equations as lines of an ``aligned`` block."""
    equations, symbols = parsed(convention)
    return [L.equation(L.latex(s, symbols), L.latex(e, symbols), aligned=True) for s, e in equations]


def theirs(convention: Convention, params: dict, x, state) -> dict[str, np.ndarray]:
    """{equation: (T, B, n_hidden)}: the convention's equations evaluated step by step at DIGITS digits."""
    equations, _ = parsed(convention)
    functions = numeric_functions()
    steps, batch, n_input = x.shape
    n_hidden = state.shape[1]
    sizes = {SIZES["input"]: n_input, SIZES["hidden"]: n_hidden}
    mp = np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])
    out = {s.name: np.zeros((steps, batch, n_hidden)) for s, _ in equations}
    with mpmath.workdps(DIGITS):
        ps = {k: mp(v.reshape(v.shape[0], -1)) for k, v in params.items()}
        for b in range(batch):
            prev = mp(state[b].reshape(-1, 1))
            for t in range(steps):
                env = {**ps, "x": mp(x[t, b].reshape(-1, 1)), naming.prev(convention.state): prev}
                for s, e in equations:
                    env[s.name] = evaluate(e, env, functions, sizes, mp_number)
                    out[s.name][t, b] = np.array(env[s.name], dtype=np.float64).reshape(-1)
                prev = env[convention.state]
    return out


_FIX = "no page was written: correct the equations or the mapping in derive/site/conventions.py"


def _failed(convention: Convention) -> str:
    return (
        f"the notation page's equations of {convention.title} do not compute derive's "
        f"{convention.cell} under their mapping"
    )


def mapped(convention: Convention, params: dict, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """derive's parameters from the convention's, by its mapping."""
    if set(convention.parameters) != set(shapes):
        raise ConventionMismatch(
            f"{_failed(convention)}: it maps {sorted(convention.parameters)}, "
            f"the cell's parameters are {sorted(shapes)}; {_FIX}"
        )
    out = {}
    for name, (sign, sources) in convention.parameters.items():
        total = np.zeros(shapes[name])
        for source in sources:
            if params[source].shape != total.shape:
                raise ConventionMismatch(
                    f"{_failed(convention)}: its {source}, {params[source].shape}, cannot give derive's "
                    f"{name}, {total.shape}; {_FIX}"
                )
            total = total + params[source]
        out[name] = sign * total
    return out


def check(convention: Convention) -> dict:
    """Run the convention's equations and derive's cell on one random problem; the largest
    difference between corresponding values, or ConventionMismatch beyond TOLERANCE."""
    p = PROBLEM
    rng = np.random.default_rng(p["seed"])
    sizes = {"input": p["inputs"], "hidden": p["hidden"], "1": 1}
    params = {}
    for name, rows, cols in convention.parameters_shapes:
        shape = (sizes[rows],) if cols == "1" else (sizes[rows], sizes[cols])
        params[name] = rng.normal(size=shape)
    x = rng.normal(size=(p["steps"], p["batch"], p["inputs"]))
    state = 0.5 * rng.normal(size=(p["batch"], p["hidden"]))
    module = generated(convention.cell)
    shapes = {k: v.shape for k, v in module.init_params(p["inputs"], p["hidden"], rng=0).items()}
    ours_params = mapped(convention, params, shapes)
    _, cache = module.forward(ours_params, x, {module.STATES[0]: state})
    got = theirs(convention, params, x, state)
    worst, where = 0.0, ""
    for name, (ours, complement) in convention.values.items():
        value = cache["values"][ours]
        value = 1 - value if complement else value
        diff = float(np.max(np.abs(got[name] - value)))
        if not diff <= worst:
            worst, where = diff, f"{name} against {'1 - ' if complement else ''}{ours}"
    if not worst <= TOLERANCE:
        raise ConventionMismatch(
            f"{_failed(convention)}: {where} differs by {worst:.3g}, more than {TOLERANCE:g}; {_FIX}"
        )
    return {"largest": worst, "values": sum(got[name].size for name in convention.values)}


def context() -> dict:
    """The notation page's context: each form's title and lines ("forms"), each checked, and
    what the check measured: the steps of the run, the values compared and (as LaTeX) a
    power of ten above the largest difference, so that the page reads the same on machines
    that round a last bit differently."""
    from .worked import bound, scientific

    forms = {key: {"title": c.title, "lines": lines(c), **check(c)} for key, c in CONVENTIONS.items()}
    largest = max(f["largest"] for f in forms.values())
    return {
        "forms": forms,
        "steps": PROBLEM["steps"],
        "compared": sum(f["values"] for f in forms.values()),
        "largest": largest,
        "largest_latex": scientific(bound(largest)),
        "tolerance_latex": scientific(TOLERANCE),
    }
