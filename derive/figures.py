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
    ax.set_xlabel(r"steps back from the last, $T - k$")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


RECURRENT_SCALES = (1.0, 2.0, 4.0)
# The bias that sets each gated cell's "keep the state" gate near 1 (0.95).
KEEP = {"lstm": ("b_f", 3.0), "gru": ("b_i", -3.0)}


def _recurrent(params, scale):
    """The matrices that multiply the state (W, W_o, ...) scaled; the rest as drawn."""
    return {k: v * scale if k == "W" or k.startswith("W_") else v for k, v in params.items()}


def _rate(norms) -> float:
    """The factor per step of a curve ‖∂L_T/∂s_k‖, fitted on a log scale."""
    return float(np.exp(np.polyfit(np.arange(len(norms)), np.log(norms), 1)[0]))


def gradient_rates(name="rnn"):
    """{scale: factor per step back} for the curves of the gradient-flow figure."""
    module = importlib.import_module(f"derive.generated.{name}")
    params, x, g = _problem(module)
    return {scale: _rate(state_gradients(module, _recurrent(params, scale), 0.1 * x, g))
            for scale in RECURRENT_SCALES}


def keep_rates():
    """{cell: (bias, value, factor per step)} for the dashed curves: the keep gate near 0.95."""
    out = {}
    for name, (bias, value) in KEEP.items():
        module = importlib.import_module(f"derive.generated.{name}")
        params, x, g = _problem(module)
        kept = dict(params, **{bias: np.full_like(params[bias], value)})
        out[name] = (bias, value, _rate(state_gradients(module, kept, 0.1 * x, g)))
    return out


def gradient_flow(names=("rnn", "lstm", "gru")):
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.9), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        module = importlib.import_module(f"derive.generated.{name}")
        params, x, g = _problem(module)
        x = 0.1 * x  # small inputs: the tanh works near its linear range
        for scale, colour in zip(RECURRENT_SCALES, COLOURS):
            norms = state_gradients(module, _recurrent(params, scale), x, g)
            ax.plot(np.arange(STEPS), np.maximum(norms, 1e-300), color=colour, label=f"W × {scale:g}")
        if name in KEEP:
            bias, value = KEEP[name]
            kept = dict(params, **{bias: np.full_like(params[bias], value)})
            norms = state_gradients(module, kept, x, g)
            ax.plot(np.arange(STEPS), norms, color="black", linestyle="--", label=f"{bias} = {value:g}")
        _log_axis(ax, r"$\Vert\partial L_T / \partial s_k\Vert$")
        ax.set_title(name.upper())
        ax.legend(frameon=False, fontsize=8)
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
    left.set_ylabel(f"mean ${gate}_t$")
    left.legend(frameon=False, loc="center right", bbox_to_anchor=(1.0, 0.74))
    _log_axis(right, r"$\Vert\partial L_T / \partial x_k\Vert$" if gradient_of == "x"
              else r"$\Vert\partial L_T / \partial s_k\Vert$")
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
        left.hist(values, bins=bins, histtype="step", color=colour, density=True)
        right.hist(1 - values**2, bins=np.linspace(0, 1, 41), histtype="step", color=colour, density=True,
                   label=f"W, U, b × {scale:g}")
    left.set_xlabel(r"candidate $\tilde{s}$")
    left.set_ylabel("density")
    right.legend(frameon=False, loc="upper left")
    right.set_xlabel(r"slope $1 - \tilde{s}^2$")
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
