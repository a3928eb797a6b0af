"""Figures for the site, drawn by running the generated modules.

Every figure is an SVG made with fixed seeds and no timestamp, so that
regenerating it gives the same bytes.  ``figures()`` returns
{name: (svg text, module that drew it)}.
"""

from __future__ import annotations

import importlib
import io

import numpy as np

STEPS, HIDDEN, INPUTS, BATCH = 60, 32, 16, 4
SCALES = (0.5, 1.0, 3.0)
BIASES = (-3.0, 0.0, 3.0)
COLOURS = ("#3949ab", "#00897b", "#e53935")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.hashsalt": "derive", "svg.fonttype": "path", "font.size": 9,
        "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    })
    return plt


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    _plt().close(fig)
    return buffer.getvalue()


def _problem(module, seed=0, scale=1.0, bias=None, gate_params=()):
    rng = np.random.default_rng(seed)
    params = module.init_params(INPUTS, HIDDEN, rng=rng)
    params = {k: v * scale if k in gate_params or not gate_params else v for k, v in params.items()}
    if bias is not None:
        params[bias[0]] = np.full_like(params[bias[0]], bias[1])
    x = rng.normal(size=(STEPS, BATCH, INPUTS))
    g = rng.normal(size=(BATCH, HIDDEN))
    return params, x, g


def state_gradients(module, params, x, g, state="s"):
    """‖∂L_T/∂v_k‖ for k = T-1, ..., 0 steps back, with L_T = ⟨g, last output⟩.

    The gradient with respect to the state after step k is the gradient with
    respect to the initial state of the same cell run from step k."""
    outputs, _ = module.forward(params, x)
    last = module.STATES[-1]
    norms = []
    for k in range(x.shape[0]):
        start = {s: outputs[s][k - 1] for s in module.STATES} if k else None
        _, cache = module.forward(params, x[k:], start)
        d = {last: np.zeros((x.shape[0] - k, *g.shape))}
        d[last][-1] = g
        _, _, d_state = module.backward(cache, d)
        norms.append(np.linalg.norm(d_state[state]) / np.sqrt(x.shape[1]))
    return np.array(norms[::-1])  # index j: j steps back from T


def input_gradients(module, params, x, g):
    """‖∂L_T/∂x_{T-j}‖ for j = 0, ..., T-1."""
    outputs, cache = module.forward(params, x)
    last = module.STATES[-1]
    d = {last: np.zeros_like(outputs[last])}
    d[last][-1] = g
    _, d_x, _ = module.backward(cache, d)
    return np.linalg.norm(d_x, axis=(1, 2))[::-1] / np.sqrt(x.shape[1])


def _log_axis(ax, ylabel):
    ax.set_yscale("log")
    ax.set_xlabel("steps back from the last, T − k")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def gradient_flow(names=("rnn", "lstm", "gru")):
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.8), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        module = importlib.import_module(f"derive.generated.{name}")
        for scale, colour in zip(SCALES, COLOURS):
            norms = state_gradients(module, *_problem(module, scale=scale))
            ax.plot(np.arange(STEPS), np.maximum(norms, 1e-300), color=colour, label=f"weights × {scale:g}")
        _log_axis(ax, "‖∂L_T / ∂s_k‖")
        ax.set_title(name.upper())
    axes[0][0].legend(frameon=False)
    return _svg(fig)


def gate_sweep(name, gate, gradient_of):
    """A gate's bias set to close it, leave it neutral, or open it: its mean value per
    step, and how much of the gradient of the last loss reaches back."""
    plt = _plt()
    module = importlib.import_module(f"derive.generated.{name}")
    bias = "b_" + gate
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.8))
    for value, colour in zip(BIASES, COLOURS):
        params, x, g = _problem(module, bias=(bias, value))
        _, cache = module.forward(params, x)
        left.plot(np.arange(1, STEPS + 1), cache["values"][gate].mean(axis=(1, 2)), color=colour,
                  label=f"{bias} = {value:g}")
        norms = input_gradients(module, params, x, g) if gradient_of == "x" else state_gradients(module, params, x, g)
        right.plot(np.arange(STEPS), np.maximum(norms, 1e-300), color=colour)
    left.set_ylim(0, 1)
    left.set_xlabel("step t")
    left.set_ylabel(f"mean {gate}_t")
    left.legend(frameon=False)
    _log_axis(right, "‖∂L_T / ∂x_k‖" if gradient_of == "x" else "‖∂L_T / ∂s_k‖")
    return _svg(fig)


def candidate_sweep(name):
    plt = _plt()
    module = importlib.import_module(f"derive.generated.{name}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.8))
    bins = np.linspace(-1, 1, 41)
    for scale, colour in zip(SCALES, COLOURS):
        params, x, _ = _problem(module, scale=scale, gate_params=("W", "U", "b"))
        _, cache = module.forward(params, x)
        values = cache["values"]["s_tilde"].ravel()
        left.hist(values, bins=bins, histtype="step", color=colour, density=True, label=f"W, U, b × {scale:g}")
        right.hist(1 - values**2, bins=np.linspace(0, 1, 41), histtype="step", color=colour, density=True)
    left.set_xlabel("candidate s̃")
    left.set_ylabel("density")
    left.legend(frameon=False, loc="upper center")
    right.set_xlabel("slope 1 − s̃²")
    return _svg(fig)


SPECS = {
    "rnn_gradient": ("rnn", lambda: gradient_flow(("rnn",))),
    "gradient_flow": ("rnn, lstm, gru", gradient_flow),
    "lstm_o": ("lstm", lambda: gate_sweep("lstm", "o", "x")),
    "lstm_i": ("lstm", lambda: gate_sweep("lstm", "i", "x")),
    "lstm_f": ("lstm", lambda: gate_sweep("lstm", "f", "s")),
    "lstm_s_tilde": ("lstm", lambda: candidate_sweep("lstm")),
    "gru_o": ("gru", lambda: gate_sweep("gru", "o", "x")),
    "gru_i": ("gru", lambda: gate_sweep("gru", "i", "s")),
    "gru_s_tilde": ("gru", lambda: candidate_sweep("gru")),
}


def figures() -> dict[str, tuple[str, str]]:
    return {key: (draw(), ", ".join(f"derive.generated.{m}" for m in modules.split(", ")))
            for key, (modules, draw) in SPECS.items()}
