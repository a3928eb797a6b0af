"""Truncated backpropagation through time, run on the generated modules and measured.

Truncation splits the sequence into windows of K steps.  The forward pass carries
the state from window to window as usual; the backward pass runs on one window at
a time and drops the adjoint that would leave the window towards the one before
(the gradient of the state the window started from).  Every parameter gradient
then lacks the terms whose path from a loss back to a use of the parameter crosses
a window's start.  ``truncation()`` measures how far that moves the gradient from
the full one, and ``figure()`` draws it.
"""

from __future__ import annotations

import numpy as np

from ..codegen.modules import generated
from .words import _

STEPS, BATCH, INPUTS, HIDDEN, SEED = 100, 4, 8, 16, 0
WINDOWS = (1, 2, 5, 10, 20, 50)

# (key, cell, bias set or None): the three cells at their default initialisation, and the
# two gated ones with the gate that keeps the state at σ(1) = 0.73 at the start, the LSTM's
# forget bias of 1 and the GRU's b_i = -1 (its keep gate is 1 - i).
SETTINGS = (
    ("rnn", "rnn", None),
    ("lstm", "lstm", None),
    ("gru", "gru", None),
    ("lstm_keep", "lstm", ("b_f", 1.0)),
    ("gru_keep", "gru", ("b_i", -1.0)),
)


def label(name, bias, form) -> str:
    """A setting's name: "LSTM, b_f = 1" as the figure's mathtext ("mathtext"), the page's
    inline math ("tex"), or HTML ("html": for tables, where an inline formula wider than
    the screen would stretch the page)."""
    if bias is None:
        return name.upper()
    value = f"{bias[1]:g}"
    math = {
        "mathtext": f"${bias[0]} = {value}$",
        "tex": rf"\({bias[0]} = {value}\)",
        "html": f"<i>b</i><sub>{bias[0].removeprefix('b_')}</sub> = {value.replace('-', '−')}",
    }[form]
    return f"{name.upper()}, {math}"


def truncated_gradient(module, params, x, d_outputs, window, state=None):
    """The parameter gradients of truncated BPTT with windows of ``window`` steps.

    x: (T, B, n_input); d_outputs: {name: (T, B, n_hidden)} = ∂L/∂outputs[name], as
    for ``module.backward``; state: the state before step 1 (zeros if None).  Each
    window runs forward from the state the previous one ended in, then backward on
    its own steps only; the gradient of the state it started from is dropped.  Only
    one window's cache is alive at a time.  Returns {name: array like the parameter}.
    """
    total = {name: np.zeros_like(params[name]) for name in module.PARAMETERS}
    for start in range(0, x.shape[0], window):
        steps = slice(start, start + window)
        outputs, cache = module.forward(params, x[steps], state)
        d_params, _, _ = module.backward(cache, {k: v[steps] for k, v in d_outputs.items()})
        for name in total:
            total[name] += d_params[name]
        state = {name: outputs[name][-1] for name in module.STATES}
    return total


def problem(name, bias=None):
    """(module, params, x, d_outputs) of the measurement: a seeded random sequence, the
    default parameters (``bias`` = (name, value) sets one bias vector), and a loss
    L = Σ_t ⟨g_t, y_t⟩ on the cell's output y (the last of its states) at every step."""
    module = generated(name)
    rng = np.random.default_rng(SEED)
    params = module.init_params(INPUTS, HIDDEN, rng=rng)
    if bias is not None:
        params[bias[0]] = np.full_like(params[bias[0]], bias[1])
    x = rng.normal(size=(STEPS, BATCH, INPUTS))
    d_outputs = {module.STATES[-1]: rng.normal(size=(STEPS, BATCH, HIDDEN))}
    return module, params, x, d_outputs


def flat(module, d_params) -> np.ndarray:
    """Every parameter gradient in one vector, in the module's order."""
    return np.concatenate([d_params[name].ravel() for name in module.PARAMETERS])


def compare(full: np.ndarray, cut: np.ndarray) -> tuple[float, float]:
    """(‖cut − full‖ / ‖full‖, cosine of the angle between them)."""
    norm = np.linalg.norm(full)
    return (
        float(np.linalg.norm(cut - full) / norm),
        float(cut @ full / (np.linalg.norm(cut) * norm)),
    )


def truncation(windows=WINDOWS) -> list[dict]:
    """For each setting: {key, cell, bias, errors, cosines}, one value per window."""
    rows = []
    for key, name, bias in SETTINGS:
        module, params, x, d_outputs = problem(name, bias)
        _, cache = module.forward(params, x)
        full = flat(module, module.backward(cache, d_outputs)[0])
        measured = [
            compare(full, flat(module, truncated_gradient(module, params, x, d_outputs, k))) for k in windows
        ]
        rows.append(
            {
                "key": key,
                "cell": name,
                "bias": bias,
                "errors": [e for e, _ in measured],
                "cosines": [c for _, c in measured],
            }
        )
    return rows


def cache_per_step(name, n_hidden=HIDDEN, n_input=INPUTS) -> float:
    """The floating-point numbers the module's cache holds per step of one sequence, in
    units of n_hidden: the growth of its arrays (each buffer counted once, the input x,
    which the cache does not copy, left out) from T = 1 to T = 2."""
    module = generated(name)
    params = module.init_params(n_input, n_hidden, rng=SEED)

    def held(steps):
        x = np.zeros((steps, 1, n_input))
        _, cache = module.forward(params, x)
        buffers = {}
        stack = [v for k, v in cache.items() if k != "x"]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, np.ndarray):
                while isinstance(v.base, np.ndarray):
                    v = v.base
                buffers[id(v)] = v.size
        return sum(buffers.values())

    return (held(2) - held(1)) / n_hidden


def figure(rows, windows=WINDOWS) -> list[tuple[str, str]]:
    """Two panels, each a (title, svg): the relative error and the cosine similarity of the
    truncated gradient against the window length, one line per setting."""
    from .figures import CELL_COLOURS, panel, svg

    (fig_e, error), (fig_c, cosine) = panel(), panel()
    for r in rows:
        style = {"color": CELL_COLOURS[r["cell"]], "marker": "o", "markersize": 4}
        style["linestyle"] = "--" if r["bias"] else "-"
        name = label(r["cell"], r["bias"], "mathtext")
        error.plot(windows, r["errors"], label=name, **style)
        cosine.plot(windows, r["cosines"], label=name, **style)
    error.set_yscale("log")
    # Plain numbers on the log scale, from just below the smallest error up.
    low = min(min(r["errors"]) for r in rows)
    ticks = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if v > low / 2]
    error.set_yticks(ticks, [f"{v:g}" for v in ticks])
    error.set_yticks([], minor=True)
    error.set_ylabel(r"$\Vert \hat{\mathbf{g}} - \mathbf{g} \Vert \,/\, \Vert \mathbf{g} \Vert$")
    error.set_title(_("Relative error"))
    cosine.set_ylabel(r"$\cos(\hat{\mathbf{g}}, \mathbf{g})$")
    cosine.set_title(_("Cosine similarity"))
    for ax in (error, cosine):
        ax.set_xscale("log")
        ax.set_xticks(windows, [str(k) for k in windows])
        ax.set_xticks([], minor=True)
        ax.set_xlabel(_("window $K$, steps"))
        ax.grid(True, which="major", alpha=0.3)
    error.legend(frameon=False, loc="lower left")
    cosine.legend(frameon=False, loc="lower right")
    return [
        ("The truncated gradient's relative error against the window K", svg(fig_e)),
        (
            "The cosine of the angle between the truncated and the full gradient against the window K",
            svg(fig_c),
        ),
    ]
