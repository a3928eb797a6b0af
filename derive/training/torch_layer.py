"""Training with PyTorch: a cell's generated torch Layer between an input layer and a
linear read-out, as :class:`.model.Model` is for NumPy, trained by ``torch.optim.Adam``.

The cell's gradients are its Layer's backward, the derived BPTT; the rest is
torch's own (``nn.Embedding``, ``nn.Linear``, the loss).  A :class:`Net` is a
plain ``nn.Module``: ``DistributedDataParallel`` wraps it as it stands (see the
README's torchrun command and :mod:`.ddp`).
"""

from __future__ import annotations

import types
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .tasks import Batch

LOSSES = {"mse": nn.functional.mse_loss, "logistic": nn.functional.binary_cross_entropy_with_logits}


def layer_module(name: str) -> types.ModuleType:
    """The generated torch module of a catalogue cell (derive.generated.torch), or of a
    cell file generated in memory."""
    import importlib

    from ..backends import generate
    from ..catalogue import CATALOGUE, resolve

    if name in CATALOGUE:
        return importlib.import_module(f"..generated.torch.{name}", __package__)
    return generate(resolve(name), backend="torch")


class Net(nn.Module):
    """Input layer (an embedding for token ids, else none), the cell's Layer, and a
    read-out y = V h + c on the last state's value at each sequence's last step."""

    def __init__(
        self,
        module: types.ModuleType,
        n_input: int,
        n_hidden: int,
        n_output: int,
        vocabulary: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.last = module.STATES[-1]
        self.embedding = nn.Embedding(vocabulary, n_input, dtype=dtype) if vocabulary else None
        self.cell = module.Layer(n_input, n_hidden, dtype=dtype)
        self.read_out = nn.Linear(n_hidden, n_output, dtype=dtype)

    def forward(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """data (T, B) token ids or (T, B, n_input); lengths (B,) -> y (B, n_output)."""
        x = self.embedding(data) if self.embedding is not None else data
        outputs, _ = self.cell(x)
        h = outputs[self.last][lengths - 1, torch.arange(len(lengths), device=lengths.device)]
        return self.read_out(h)


def tensors(batch: Batch, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of :mod:`.tasks` as tensors: (data, lengths, targets)."""
    data = torch.from_numpy(np.asarray(batch.data))
    if data.is_floating_point():
        data = data.to(dtype)
    return data, torch.from_numpy(np.asarray(batch.lengths)), torch.from_numpy(batch.targets).to(dtype)


def train(
    net: nn.Module,
    batches: Callable[[np.random.Generator], Batch],
    steps: int,
    learning_rate: float,
    seed: int,
    loss: str = "mse",
    clip: float = 1.0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """``steps`` steps of torch.optim.Adam with the gradient's norm clipped to ``clip``,
    on fresh batches drawn by ``batches(rng)``; returns the loss of each step."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    dtype = next(net.parameters()).dtype
    losses = []
    for step in range(1, steps + 1):
        data, lengths, targets = tensors(batches(rng), dtype)
        optimizer.zero_grad()
        value = LOSSES[loss](net(data, lengths), targets)
        value.backward()
        nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        losses.append(value.item())
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def run(task: str, cell: str, lag: int | None, seed: int, steps: int, settings: dict, on_step=None) -> dict:
    """One run of ``task`` (adding or review) with the cell's torch Layer and the
    experiment's settings: the last losses and the held-out score."""
    from . import experiments
    from .tasks import adding

    torch.manual_seed(seed)
    module = layer_module(cell)
    if task == "adding":
        assert lag is not None
        net = Net(module, 2, settings["hidden"], 1)
        losses = train(
            net, lambda rng: adding(lag, settings["batch"], rng), steps, settings["learning_rate"], seed,
            on_step=on_step,
        )  # fmt: skip
        test = tensors(adding(lag, settings["test_size"], np.random.default_rng(lag)), torch.float32)
        with torch.no_grad():
            score = float(nn.functional.mse_loss(net(test[0], test[1]), test[2]))
        return {
            "cell": cell,
            "lag": lag,
            "seed": seed,
            "loss": float(np.mean(losses[-10:])),
            "test_error": score,
        }
    _, training, held_out = experiments.review_data(dict(settings, seed=seed))
    net = Net(module, settings["embedding"], settings["hidden"], 1, vocabulary=len(experiments.vocabulary()))
    batch = settings["batch"]
    losses = train(
        net,
        lambda rng: training.batch(rng.choice(len(training), batch, replace=False)),
        steps,
        settings["learning_rate"],
        seed,
        loss="logistic",
        on_step=on_step,
    )
    data, lengths, targets = tensors(held_out.batch(np.arange(len(held_out))), torch.float32)
    with torch.no_grad():
        right = ((net(data, lengths) > 0).float() == targets).float().mean()
    return {
        "cell": cell,
        "seed": seed,
        "loss": float(np.mean(losses[-10:])),
        "held_out_accuracy": float(right),
    }


__all__ = ["LOSSES", "Net", "layer_module", "run", "tensors", "train"]
