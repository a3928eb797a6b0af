"""The training loop: draw a batch, run the model forward and back, clip, step Adam, log.

>>> import numpy as np
>>> from derive.generated import rnn
>>> from derive.training.model import Model
>>> from derive.training.tasks import adding
>>> model = Model(rnn, n_input=2, n_hidden=8, n_output=1, loss="mse")
>>> run = train(model, lambda rng: adding(5, 16, rng), steps=60, learning_rate=0.02, seed=0)
>>> bool(np.mean(run.log["loss"][-10:]) < np.mean(run.log["loss"][:10]))
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .adam import Adam
from .model import Model
from .tasks import Batch


class Diverged(RuntimeError):
    """The loss stopped being a finite number."""


CLIP = 1.0  # the largest global gradient norm a step may use


@dataclass
class Run:
    """What a run leaves: the trained parameters and, per step, the batch's loss, the
    gradient's global norm before clipping, and the norm of ∂ℓ/∂(initial state), the
    gradient that reaches the first step (the root mean square over the batch of each
    sequence's own, with the states of a cell such as the LSTM's s and h taken together)."""

    params: dict[str, np.ndarray]
    log: dict[str, list[float]]


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent random streams from one seed: the initial weights, the data."""
    init, data = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init), np.random.default_rng(data)


def first_step_norm(d_state: dict[str, np.ndarray]) -> float:
    """RMS over the batch of ‖∂ℓ_b/∂(initial state)‖ from d_state of the batch's mean loss."""
    batch = next(iter(d_state.values())).shape[0]
    return float(np.sqrt(sum(float(np.sum(d * d)) for d in d_state.values()) / batch) * batch)


def train(
    model: Model,
    batches: Callable[[np.random.Generator], Batch],
    steps: int,
    learning_rate: float,
    seed: int,
    clip: float = CLIP,
    on_step: Callable[[int, float], None] | None = None,
) -> Run:
    """``steps`` Adam steps on fresh batches drawn by ``batches(rng)``; the same seed
    gives the same numbers.  ``on_step(step, loss)`` is called after each step."""
    init, data = streams(seed)
    params = model.init_params(init)
    adam = Adam(params, learning_rate)
    log: dict[str, list[float]] = {"loss": [], "gradient_norm": [], "first_step_norm": []}
    for step in range(1, steps + 1):
        b = batches(data)
        loss, grads, d_state = model.loss_and_gradients(params, b.data, b.lengths, b.targets)
        if not np.isfinite(loss):
            raise Diverged(f"the loss is {loss} at step {step}; try a smaller learning rate")
        log["loss"].append(loss)
        log["first_step_norm"].append(first_step_norm(d_state))
        log["gradient_norm"].append(adam.step(grads, clip))
        if on_step is not None:
            on_step(step, loss)
    return Run(params, log)
