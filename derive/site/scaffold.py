"""The steps before the vector derivation, computed: one hidden unit through three steps,
the read-out and its loss, and why gates are sigmoids and the candidate a tanh.

* :func:`scalar` runs the catalogue's RNN with one hidden unit and one input, 1 × 1
  matrices, through the generated module (forward, and backward over each suffix of the
  sequence, as the worked example does), and returns every number the BPTT page shows.
* :func:`read_out` differentiates the softmax cross-entropy with SymPy and checks that
  its gradient at the logits is ŷ − y, the form the pages state.
* :func:`squashes` reads σ and tanh from the elementwise table: their ranges, their
  values at 0 and the largest value of their derivatives, each found by SymPy.
"""

from __future__ import annotations

import math

import numpy as np
from sympy import IndexedBase, Symbol, diff, exp, latex, limit, log, oo, simplify, solve

from ..codegen.modules import generated
from ..elementwise import FUNCTIONS
from .worked import from_module, number, scientific, short

# One unit: s_t = tanh(w s_{t-1} + u x_t + b), judged at the last step by ℓ = ½ (s_3 − y)².
W, U, B = 1.5, 1.0, 0.0
XS = (1.0, -0.5, 2.0)
S0 = 0.0
TARGET = -0.5
LONG = 20  # steps over which the page extrapolates the mean factor


def scalar_loss(s_last: float) -> tuple[float, float]:
    """ℓ = ½ (s_T − y)² and its derivative δs_T = s_T − y (the one hand-written gradient)."""
    return 0.5 * (s_last - TARGET) ** 2, s_last - TARGET


def scalar() -> dict:
    """The one-unit example: its forward values, δ's and the factors w (1 − s_t²) that
    carry δ from step t back to step t − 1, all from the generated RNN module."""
    params = {"W": np.array([[W]]), "U": np.array([[U]]), "b": np.array([B])}
    x = np.array(XS).reshape(-1, 1, 1)
    state = {"s": np.array([[S0]])}
    steps = len(XS)
    # A first forward pass gives s_T, from which the loss's δ at the last step follows.
    outputs, _ = generated("rnn").forward(params, x, state)
    s = [S0, *(float(v) for v in outputs["s"][:, 0, 0])]
    loss, d_last = scalar_loss(s[-1])
    d_outputs = {"s": np.zeros((steps, 1, 1))}
    d_outputs["s"][-1] = d_last
    got = from_module("rnn", params, x, state, d_outputs)
    rows = []
    for t in range(1, steps + 1):
        at = got["steps"][t - 1]
        z = W * s[t - 1] + U * XS[t - 1] + B
        rows.append(
            {
                "t": t,
                "x": XS[t - 1],
                "z": z,
                "s": s[t],
                "slope": 1 - s[t] ** 2,  # tanh' at z_t, through the output
                "d_s": float(at["d_s_in"][0]),  # δs_t, what reaches step t
                "d_z": float(at["d_b"][0]),  # δz_t, the bias's term of step t
                "d_prev": float(at["d_s_prev"][0]),  # what step t hands back to s_{t-1}
                "factor": W * (1 - s[t] ** 2),
                "d_w": float(at["d_W"][0, 0]),
            }
        )
    factors = [r["factor"] for r in rows]
    product = math.prod(factors)
    mean = abs(product) ** (1 / steps)
    return {
        "w": short(W),
        "u": short(U),
        "b": short(B),
        "s0": short(S0),
        "target": short(TARGET),
        "xs": [short(v) for v in XS],
        "rows": rows,
        "shown": [
            {k: short(v) if k == "x" else number(v) if isinstance(v, float) else v for k, v in r.items()}
            for r in rows
        ],
        "loss": number(loss),
        "d_last": number(d_last),
        "product": number(product),
        "d_state": number(float(got["d_state"]["s"][0])),
        "d_params": {k: number(float(v.ravel()[0])) for k, v in got["d_params"].items()},
        "mean": number(mean),
        "long": LONG,
        "long_factor": scientific(mean**LONG),
        "shrinks": mean < 1,
        # raw numbers, for the tests
        "values": {"s": s, "d_params": {k: float(v.ravel()[0]) for k, v in got["d_params"].items()}},
        "d_s0": float(got["d_state"]["s"][0]),
        "loss_value": loss,
    }


def read_out(classes: int = 3) -> dict:
    """The softmax cross-entropy's gradient at the logits, by SymPy: ∂ℓ/∂a_k = ŷ_k − y_k
    for a one-hot y (Σ_j y_j = 1).  Raises if SymPy finds otherwise."""
    a, y = IndexedBase("a"), IndexedBase("y")
    logits = [a[k] for k in range(classes)]
    targets = [y[k] for k in range(classes)]
    total = sum(exp(v) for v in logits)
    loss = -sum(t * log(exp(v) / total) for t, v in zip(targets, logits, strict=True))
    for k in range(classes):
        got = diff(loss, logits[k])
        want = exp(logits[k]) / total - targets[k]
        # Σ_j y_j = 1: substitute for the last target.
        one_hot = {targets[-1]: 1 - sum(targets[:-1])}
        if simplify((got - want).subs(one_hot)) != 0:
            raise AssertionError(f"the softmax cross-entropy's gradient at a_{k} is not ŷ_{k} − y_{k}")
    return {"classes": classes}


def squashes() -> list[dict]:
    """σ and tanh from the elementwise table: range, value at 0, and the largest value
    of the derivative with the output where it is reached."""
    z = Symbol("z", real=True)
    out = []
    for name in ("sigma", "tanh"):
        f = FUNCTIONS[name]
        definition = f.definition.subs(Symbol("z"), z)
        low, high = limit(definition, z, -oo), limit(definition, z, oo)
        slope = f.derivative  # as a function of the output y
        (y,) = slope.variables
        peaks = [p for p in solve(diff(slope.expr, y), y) if low < p < high]
        peak = max(peaks, key=lambda p: slope.expr.subs(y, p))
        largest = slope.expr.subs(y, peak)
        steps = math.log(10) / -math.log(float(largest)) if largest < 1 else None
        out.append(
            {
                "name": name,
                "latex": f.latex,
                "range": (str(low), str(high)),
                "at_zero": str(definition.subs(z, 0)),
                # the derivative through the output, the output written as the function
                "slope": latex(slope.expr.subs(y, Symbol(f.latex))),
                "largest": str(largest),
                "at": str(peak),
                "largest_value": float(largest),
                # steps of the largest slope alone that shrink a gradient tenfold
                "tenfold": None if steps is None else f"{steps:.2g}",
                "ten_steps": scientific(float(largest) ** 10) if largest < 1 else "1",
            }
        )
    return out


def context() -> dict:
    return {"scalar": scalar(), "read_out": read_out(), "squashes": squashes()}
