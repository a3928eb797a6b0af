"""A cell between an input layer and a linear read-out, with a loss: forward and backward.

The input layer is an embedding (a table with one row per token) when the data are
token ids, or nothing when the data are vectors (the cell's own U matrices then
read them).  The read-out is y = h_T V^T + c on the cell's last output ``h`` (the
state's last name in STATES) at each sequence's own last step.  Only these layers
and the loss have hand-written gradients; the cell's are its generated ``backward``.

Shapes: tokens (T, B) integers or inputs (T, B, n_input); lengths (B,) with
1 <= length <= T (the steps after a sequence's end are computed and ignored);
targets (B, n_output).
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np

EMBEDDING, READ_OUT, READ_OUT_BIAS = "embedding", "V", "c"


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + exp(-z)), without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def mse(y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean squared error over the batch, and its gradient with respect to y."""
    diff = y - target
    return float(np.mean(diff**2)), 2 * diff / diff.size


def logistic(y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The cross-entropy of σ(y) against labels 0 or 1 (the mean over the batch), and
    its gradient with respect to the logit y: (σ(y) - target) / B."""
    # log(1 + exp(y)) - target * y, written so that exp never overflows
    loss = np.maximum(y, 0) + np.log1p(np.exp(-np.abs(y))) - target * y
    return float(np.mean(loss)), (sigmoid(y) - target) / y.size


LOSSES = {"mse": mse, "logistic": logistic}


@dataclass(frozen=True)
class Model:
    """What surrounds the cell: its module, the sizes, and the loss by name."""

    cell: types.ModuleType  # a generated module (derive.generated.<cell> or derive.generate(cell))
    n_input: int
    n_hidden: int
    n_output: int
    loss: str
    vocabulary: int = 0  # > 0: the inputs are token ids and the input layer an embedding

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The cell's parameters by its own init_params, then the embedding (N(0, 1)
        rows) and the read-out (uniform in ±1/sqrt(n_hidden), c = 0)."""
        params = self.cell.init_params(self.n_input, self.n_hidden, rng=rng)
        clash = {EMBEDDING, READ_OUT, READ_OUT_BIAS} & set(params)
        if clash:
            raise ValueError(f"the cell has a parameter named {sorted(clash)[0]!r}, a name the model uses")
        if self.vocabulary:
            params[EMBEDDING] = rng.normal(size=(self.vocabulary, self.n_input))
        bound = 1 / np.sqrt(self.n_hidden)
        params[READ_OUT] = rng.uniform(-bound, bound, (self.n_output, self.n_hidden))
        params[READ_OUT_BIAS] = np.zeros(self.n_output)
        return params

    def inputs(self, params: dict[str, np.ndarray], data: np.ndarray) -> np.ndarray:
        """What the cell reads: the embedding's rows for token ids, else the data as given."""
        return params[EMBEDDING][data] if self.vocabulary else data

    def run(self, params: dict[str, np.ndarray], data: np.ndarray) -> tuple[dict, dict, np.ndarray]:
        """The cell over the whole batch, and the read-out after every step:
        (outputs, cache, y) with y (T, B, n_output)."""
        cell_params = {k: params[k] for k in self.cell.PARAMETERS}
        outputs, cache = self.cell.forward(cell_params, self.inputs(params, data))
        h = outputs[self.cell.STATES[-1]]
        return outputs, cache, h @ params[READ_OUT].T + params[READ_OUT_BIAS]

    def predict(self, params: dict[str, np.ndarray], data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The read-out at each sequence's last step, (B, n_output)."""
        _, _, y = self.run(params, data)
        return y[lengths - 1, np.arange(len(lengths))]

    def loss_and_gradients(
        self, params: dict[str, np.ndarray], data: np.ndarray, lengths: np.ndarray, targets: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(loss, gradients of every parameter, d_state): d_state[name] (B, n_hidden) is
        ∂L/∂(the initial state), what backpropagation carries out of the first step."""
        outputs, cache, _ = self.run(params, data)
        last = self.cell.STATES[-1]
        rows = np.arange(len(lengths))
        h_last = outputs[last][lengths - 1, rows]  # (B, n_hidden)
        y = h_last @ params[READ_OUT].T + params[READ_OUT_BIAS]
        loss, d_y = LOSSES[self.loss](y, targets)
        grads = {READ_OUT: d_y.T @ h_last, READ_OUT_BIAS: d_y.sum(axis=0)}
        d_h = np.zeros_like(outputs[last])
        d_h[lengths - 1, rows] = d_y @ params[READ_OUT]
        d_cell, d_x, d_state = self.cell.backward(cache, {last: d_h})
        grads.update(d_cell)
        if self.vocabulary:
            # Each token's row gathers the gradient of every place it was read.
            d_embedding = np.zeros_like(params[EMBEDDING])
            np.add.at(d_embedding, data, d_x)
            grads[EMBEDDING] = d_embedding
        return loss, grads, d_state
