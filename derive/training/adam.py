"""Adam with the gradient's global norm clipped: the update every run uses.

>>> import numpy as np
>>> opt = Adam({"w": np.zeros(2)}, learning_rate=0.1)
>>> opt.step({"w": np.array([3.0, 4.0])}, clip=1.0)  # the norm before clipping
5.0
>>> opt.params["w"].round(6)  # Adam's first step is -learning_rate * sign(gradient)
array([-0.1, -0.1])
"""

from __future__ import annotations

import numpy as np


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """The Euclidean norm of all gradients taken together, as one vector."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))


class Adam:
    """Kingma and Ba's Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8) on a dict of arrays, updated in place."""

    def __init__(self, params: dict[str, np.ndarray], learning_rate: float = 1e-2):
        self.params = params
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.eps = 0.9, 0.999, 1e-8
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray], clip: float | None = None) -> float:
        """Scale the gradients down to norm ``clip`` when they exceed it (all together, so
        their direction is kept), then take one Adam step.  Returns the norm before clipping."""
        norm = global_norm(grads)
        scale = clip / norm if clip is not None and norm > clip else 1.0
        self.t += 1
        # The bias corrections of the two running means, folded into the step size.
        rate = self.learning_rate * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for k, p in self.params.items():
            g = grads[k] * scale
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            p -= rate * self.m[k] / (np.sqrt(self.v[k]) + self.eps)
        return norm
