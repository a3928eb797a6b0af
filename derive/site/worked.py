"""The worked example: an LSTM and a GRU with two hidden units reading three words.

Every number on the page comes from a run of the generated module
(``derive/generated/<cell>.py``) and is checked here, while the page is made,
against the derivation evaluated independently at 30 digits
(:mod:`derive.verification.reference_bptt`, the reference of the numeric checks).
If any of them differs by more than ``TOLERANCE``, :func:`context` raises
:class:`WorkedExampleMismatch` and no page is written.

The module keeps its adjoints inside ``backward``; the page shows those it
returns (the gradient towards each input, towards the initial state, and the
parameter gradients) and those a run of it over the last steps of the sequence
gives: started at step t from the states at t - 1, it returns the adjoints
that leave step t, and the parameter gradients summed over steps t to 3, whose
differences are each step's terms (for a bias, the adjoint of a pre-activation).
The other adjoints (of the gates, say) are the derivation's own values.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from sympy import MatrixSymbol

from .. import naming
from ..catalogue import CATALOGUE
from ..cell import N_HIDDEN, N_INPUT
from ..codegen.modules import generated
from ..derivation import derive
from ..printing import latex as L
from ..verification import reference_bptt
from ..verification.proof import mp_number, numeric_functions

CELLS = ("lstm", "gru")
TOLERANCE = 1e-10  # the largest difference allowed between the module and the derivation
DIGITS = 30  # the precision of the derivation's evaluation
DECIMALS = 4  # on the page

# A made-up embedding of three words: the first entry says how positive a word
# is, the second how much it is about the film.
WORDS = ("the", "movie", "rocks")
EMBEDDING = {"the": (0.0, 0.5), "movie": (0.5, 1.0), "rocks": (1.0, -0.5)}

# Small round weights.  The GRU has no forget gate; it uses the others as they are.
WEIGHTS = {
    "W_o": ((0.5, 0.0), (0.0, 0.5)),
    "U_o": ((0.5, -0.5), (1.0, 0.0)),
    "b_o": (0.0, 0.5),
    "W_i": ((0.1, 0.2), (-0.2, 0.1)),
    "U_i": ((1.0, 0.5), (0.0, -0.5)),
    "b_i": (0.0, 0.0),
    "W_f": ((0.0, 0.5), (0.5, 0.0)),
    "U_f": ((-0.5, 0.0), (0.5, 0.5)),
    "b_f": (1.0, 1.0),
    "W": ((0.5, -0.5), (0.5, 0.5)),
    "U": ((1.0, 0.5), (-0.5, 1.0)),
    "b": (0.5, 0.0),
}

# The loss: the sum of the entries of this state at the last step.
LOSS = {"lstm": "h", "gru": "s"}

# The adjoint the page expands by hand, one scalar product at a time: the LSTM's forget
# gate at the last step, first unit (the first backward step, so the chain is short).
HAND = {"cell": "lstm", "step": 3, "entry": 1}
HAND_DECIMALS = 6


class WorkedExampleMismatch(RuntimeError):
    """The generated module and the derivation disagree on a number of the worked example."""


def problem(name: str):
    """(params, x, state, d_outputs) of the example for one cell: x is (3, 1, 2), the
    initial state zero, d_outputs ∂L/∂state_t (1 at the last step of the loss's state)."""
    mod = generated(name)
    params = {k: np.array(WEIGHTS[k], dtype=np.float64) for k in mod.PARAMETERS}
    x = np.array([[EMBEDDING[w]] for w in WORDS], dtype=np.float64)
    n_hidden = params["b"].shape[0]
    state = {s: np.zeros((1, n_hidden)) for s in mod.STATES}
    d_outputs = {s: np.zeros((len(WORDS), 1, n_hidden)) for s in mod.STATES}
    d_outputs[LOSS[name]][-1] = 1.0
    return params, x, state, d_outputs


def loss(name: str, params, x=None, state=None) -> float:
    """L = the sum of the loss's state at the last step, from the generated module."""
    _, x0, state0, _ = problem(name)
    outputs, _ = generated(name).forward(params, x0 if x is None else x, state0 if state is None else state)
    return float(outputs[LOSS[name]][-1].sum())


def from_module(name: str, params, x, state, d_outputs) -> dict:
    """What the generated module says: {"steps": [{name: vector}], "d_params", "d_x", "d_state"}.

    Step t holds every equation's value (cache["values"]), the gradient towards x_t,
    the adjoints that leave the step towards the previous states (d_<state>_prev),
    those that arrive at it (d_<state>_in) and the step's term of each parameter's
    gradient (d_<parameter>), from a run over steps t..T started at the states of t - 1.
    """
    mod = generated(name)
    steps = len(x)
    outputs, cache = mod.forward(params, x, state)
    d_params, d_x, d_state = mod.backward(cache, d_outputs)
    out = [{eq: np.array(v[t, 0]) for eq, v in cache["values"].items()} for t in range(steps)]
    suffix = {}
    for t in range(steps):
        start = state if t == 0 else {s: outputs[s][t - 1] for s in mod.STATES}
        _, c = mod.forward(params, x[t:], start)
        suffix[t] = mod.backward(c, {s: d_outputs[s][t:] for s in mod.STATES})
    for t in range(steps):
        later = suffix.get(t + 1)
        out[t][naming.adjoint(x_name(name))] = np.array(d_x[t, 0])
        for s in mod.STATES:
            out[t][naming.adjoint(naming.prev(s))] = np.array(suffix[t][2][s][0])
            carried = later[2][s][0] if later else 0.0
            out[t][f"{naming.adjoint(s)}_in"] = np.array(d_outputs[s][t, 0] + carried)
        for p in mod.PARAMETERS:
            out[t][naming.adjoint(p)] = suffix[t][0][p] - (later[0][p] if later else 0.0)
        # A bias's term is the adjoint of its pre-activation (∂L/∂b_o = Σ_t δz_o,t).
        for a in derive(CATALOGUE[name]).gradients:
            if isinstance(a.value, MatrixSymbol):
                out[t][a.value.name] = out[t][a.target.name]
    return {
        "steps": out,
        "d_params": {k: np.array(v) for k, v in d_params.items()},
        "d_x": np.array(d_x[:, 0]),
        "d_state": {s: np.array(v[0]) for s, v in d_state.items()},
    }


def x_name(name: str) -> str:
    (only,) = CATALOGUE[name].inputs
    return only


def from_derivation(name: str, params, x, state, d_outputs) -> dict:
    """The same numbers, and every other value of the forward and backward steps, from
    the derived equations evaluated at DIGITS digits ({"steps": [{name: vector}], ...})."""
    d = derive(CATALOGUE[name])
    cell = d.cell
    steps, n_input = len(x), x.shape[2]
    n_hidden = next(iter(state.values())).shape[1]
    sizes = {N_INPUT: n_input, N_HIDDEN: n_hidden}
    functions = numeric_functions()
    mp = np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])

    def column(v):
        return mp(np.asarray(v, dtype=np.float64).reshape(-1, 1))

    def flat(v):
        return np.array(v, dtype=np.float64).reshape(-1)

    def shaped(k, v):
        """A step's term of a parameter's gradient shaped like the parameter, else a vector."""
        parameter = k[len(naming.ADJOINT) :] if k.startswith(naming.ADJOINT) else None
        return np.array(v, dtype=np.float64).reshape(params[parameter].shape if parameter in params else -1)

    with mpmath.workdps(DIGITS):
        ps = {k: (column(v) if v.ndim == 1 else mp(v)) for k, v in params.items()}
        xs = [{name: column(x[t, 0]) for name in cell.inputs} for t in range(steps)]
        initial = {naming.prev(s): column(state[s][0]) for s in cell.states}
        envs = reference_bptt.unroll(d, ps, xs, initial, functions, sizes, mp_number)
        g = [{s: column(d_outputs[s][t, 0]) for s in cell.states} for t in range(steps)]
        backs: list = []
        dp, dxs, d0 = reference_bptt.backpropagate(d, envs, g, functions, sizes, mp_number, steps=backs)
        backs.reverse()
        shown = {a.target.name for a in (*d.forward, *d.intermediates, *d.backward)}
        shown |= {c.incoming.name for c in d.carries}
        out = [{k: shaped(k, v) for k, v in backs[t].items() if k in shown} for t in range(steps)]
        return {
            "steps": out,
            "d_params": {k: np.array(v, dtype=np.float64).reshape(params[k].shape) for k, v in dp.items()},
            "d_x": np.array([flat(dxs[t][x_name(name)]) for t in range(steps)]),
            "d_state": {s: flat(d0[naming.prev(s)]) for s in cell.states},
        }


def compare(name: str, got: dict, want: dict) -> tuple[float, int]:
    """The largest absolute difference between the module's numbers and the derivation's
    and how many were compared; raises WorkedExampleMismatch beyond TOLERANCE."""
    pairs = [
        (f"{k} at step {t + 1}", v, want["steps"][t][k])
        for t, step in enumerate(got["steps"])
        for k, v in step.items()
    ]
    pairs += [(f"∂L/∂{k}", v, want["d_params"][k]) for k, v in got["d_params"].items()]
    pairs.append(("∂L/∂x", got["d_x"], want["d_x"]))
    pairs += [(f"∂L/∂{s}_0", v, want["d_state"][s]) for s, v in got["d_state"].items()]
    worst, where, count = 0.0, "", 0
    for label, a, b in pairs:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        if not diff <= worst:
            worst, where = diff, label
        count += a.size
    if not worst <= TOLERANCE:
        raise WorkedExampleMismatch(
            f"the worked example's {name} numbers from derive/generated/{name}.py differ from the "
            f"derivation evaluated at {DIGITS} digits by {worst:.3g} ({where}), more than {TOLERANCE:g}; "
            "no page was written: regenerate the module with `python -m derive code` and run "
            "`python -m derive verify` to see which gradient is wrong"
        )
    return worst, count


def number(v: float, decimals: int = DECIMALS) -> str:
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def short(v: float) -> str:
    """A round weight as written: 0.5, -1, 0."""
    return "0" if v == 0 else f"{v:g}"


def scientific(v: float) -> str:
    """A small number in LaTeX: 2.2 \\times 10^{-16}, 10^{-10}, 0."""
    if v == 0:
        return "0"
    mantissa, exponent = f"{v:.1e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1.0" else rf"{mantissa} \times {power}"


def bound(v: float, floor: float = 1e-15) -> float:
    """The smallest power of ten at or above ``v``, and at least ``floor``."""
    return max(floor, 10.0 ** math.ceil(math.log10(v))) if v > 0 else floor


def matrix(a, fmt=number) -> str:
    """A vector (as a column) or a matrix as a LaTeX bmatrix."""
    a = np.asarray(a, dtype=np.float64)
    rows = a.reshape(-1, 1) if a.ndim == 1 else a
    body = r" \\ ".join(" & ".join(fmt(v) for v in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def table(order, values, name) -> list[list[str]]:
    """Rows of a table: one per entry of the vector ``name``, one column per step in ``order``."""
    size = np.asarray(values[0][name]).size
    return [[number(np.asarray(values[t][name]).reshape(-1)[k]) for t in order] for k in range(size)]


def by_hand(values: list[dict], step: int = HAND["step"], entry: int = HAND["entry"]) -> dict:
    """δs, δf and δz_f of the LSTM's unit ``entry`` at ``step``, written out in scalars from the
    step's values: {"factors": {name: float}, "d_s", "d_f", "d_z_f": float}.  The factors are
    those the page prints in the expansion; ``s_prev`` is s at the step before."""
    now, before = values[step - 1], values[step - 2]

    def at(v: dict, name: str) -> float:
        return float(np.asarray(v[name]).reshape(-1)[entry - 1])

    factors = {k: at(now, k) for k in ("d_s_in", "d_h", "o", "s", "f")}
    factors["s_prev"] = at(before, "s")
    f = factors
    d_s = f["d_s_in"] + f["d_h"] * f["o"] * (1 - math.tanh(f["s"]) ** 2)
    d_f = d_s * f["s_prev"]
    d_z_f = d_f * f["f"] * (1 - f["f"])
    return {"factors": factors, "d_s": d_s, "d_f": d_f, "d_z_f": d_z_f}


def hand_example(values: list[dict], lines: dict[str, str]) -> dict:
    """The page's hand expansion, checked against the module's and the derivation's values."""
    step, entry = HAND["step"], HAND["entry"]
    hand = by_hand(values, step, entry)
    for k in ("d_s", "d_f", "d_z_f"):
        want = float(np.asarray(values[step - 1][k]).reshape(-1)[entry - 1])
        if not abs(hand[k] - want) <= TOLERANCE:
            raise WorkedExampleMismatch(
                f"the worked example's lstm numbers: {k} at step {step}, unit {entry}, worked out by hand "
                f"differ from the derivation evaluated at {DIGITS} digits by {abs(hand[k] - want):.3g}; "
                "no page was written: the hand expansion in derive/site/worked.py no longer follows the cell"
            )
    return {
        "step": step,
        "previous": step - 1,
        "entry": entry,
        "lines": [lines[k].replace("&=", "=") for k in ("d_s", "d_f", "d_z_f")],
        # Six decimals, so that the rounded factors multiply out to the rounded result.
        "shown": {
            k: short(v) if float(v).is_integer() else number(v, HAND_DECIMALS)
            for k, v in {**hand["factors"], **hand, "tanh_s": math.tanh(hand["factors"]["s"])}.items()
            if k != "factors"
        },
        "raw": hand,
    }


def _named(name: str) -> tuple[int, str]:
    return naming.subexpression(name) or (0, "")


def in_order(forward: list[dict], intermediates: list[dict]) -> list[dict]:
    """The forward rows with each equation's pre-activations just before it, innermost first
    (z⁽²⁾_v, then z_v, then v): a value is shown after the numbers it is made from."""
    out = []
    for row in forward:
        own = [r for r in intermediates if _named(r["name"])[1] == row["name"]]
        out += [*sorted(own, key=lambda r: -_named(r["name"])[0]), row]
    assert len(out) == len(forward) + len(intermediates), "a pre-activation of no equation"
    return out


def cell_example(name: str, cell_ctx: dict) -> dict:
    """The page's numbers for one cell, from its module, checked against its derivation."""
    d = derive(CATALOGUE[name])
    params_, x, state, d_outputs = problem(name)
    got = from_module(name, params_, x, state, d_outputs)
    want = from_derivation(name, params_, x, state, d_outputs)
    largest, count = compare(name, got, want)
    # Each value as the module gives it, else as the derivation does.
    values = [{**want["steps"][t], **got["steps"][t]} for t in range(len(WORDS))]
    parameters = [p.name for p in d.cell.parameters]

    def show(e, step="t"):
        return L.latex(e, parameters, step)

    forward_order = list(range(len(WORDS)))
    backward_order = forward_order[::-1]
    gradient_names = {a.target.name for a in d.gradients}
    backward = [a for a in d.backward if a.target.name not in gradient_names]
    assert len(backward) == len(cell_ctx["backward"]) and len(d.carries) == len(cell_ctx["carries"])
    module_names = set(got["steps"][0])
    lines = {a.target.name: line for a, line in zip(backward, cell_ctx["backward"], strict=True)}
    forward = [
        {
            "name": eq.target.name,
            "latex": cell_ctx["equation"][eq.target.name]["aligned"],
            "rows": table(forward_order, values, eq.target.name),
        }
        for eq in d.forward
    ]
    intermediates = [
        {"name": a.target.name, "latex": line, "rows": table(forward_order, values, a.target.name)}
        for line, a in zip(cell_ctx["intermediates"], d.intermediates, strict=True)
    ]
    symbols = {p.name: show(p.symbol) for p in d.cell.parameters}
    return {
        "name": name,
        "title": d.cell.title,
        "states": d.cell.states,
        "loss_state": show(next(s for s in d.forward if s.target.name == LOSS[name]).target, step="3"),
        "parameters": [
            {"name": p, "symbol": symbols[p], "value": matrix(params_[p], short)} for p in parameters
        ],
        "forward": forward,
        "intermediates": intermediates,
        "sequence": in_order(forward, intermediates),
        "backward": [
            {
                "name": target,
                "latex": line,
                "rows": table(backward_order, values, target),
                "module": target in module_names,
            }
            for line, target in [
                *((line, c.incoming.name) for line, c in zip(cell_ctx["carries"], d.carries, strict=True)),
                *((line, a.target.name) for line, a in zip(cell_ctx["backward"], backward, strict=True)),
            ]
        ],
        "gradients": [
            L.equation(L.derivative("L", symbols[p]), matrix(got["d_params"][p]), aligned=True)
            for p in parameters
        ],
        "initial": [
            L.equation(
                L.derivative("L", show(c.state, step="0")), matrix(got["d_state"][c.state.name]), aligned=True
            )
            for c in d.carries
        ],
        "loss": number(loss(name, params_)),
        "hand": hand_example(values, lines) if name == HAND["cell"] else None,
        "largest": largest,
        "compared": count,
        # Raw numbers, for the tests.
        "values": values,
        "d_params": got["d_params"],
        "d_x": got["d_x"],
        "d_state": got["d_state"],
    }


def context(cells: dict[str, dict]) -> dict:
    """The worked page's context, from the cell contexts of ``pages.context``."""
    examples = {name: cell_example(name, cells[name]) for name in CELLS}
    shown = [f"{p['symbol']} = {p['value']}" for p in examples["lstm"]["parameters"]]
    return {
        # Three to a paragraph: W, U and b of one gate.
        "weights": [shown[k : k + 3] for k in range(0, len(shown), 3)],
        "words": [{"word": w, "x": EMBEDDING[w]} for w in WORDS],
        # the steps, one a word, and the last, where the loss is taken
        "steps": list(range(1, len(WORDS) + 1)),
        "last": len(WORDS),
        "embedding": [[short(EMBEDDING[w][k]) for w in WORDS] for k in range(2)],
        "examples": examples,
        "tolerance": TOLERANCE,
        "tolerance_latex": scientific(TOLERANCE),
        # A power of ten above the largest difference, so that the page reads the same on
        # machines whose floating point rounds a last bit differently.
        "largest_latex": scientific(bound(max(e["largest"] for e in examples.values()))),
        "digits": DIGITS,
        "decimals": DECIMALS,
        "largest": max(e["largest"] for e in examples.values()),
        "compared": sum(e["compared"] for e in examples.values()),
    }
