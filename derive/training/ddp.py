"""A cell's torch Layer trained data-parallel with ``DistributedDataParallel``:
PyTorch's own engine, launched by ``torchrun``, one process per device or core::

    torchrun --nproc_per_node 2 -m derive.training.ddp --cell lstm --lag 50 --steps 200

Every process draws the same batch of the adding problem from the same seed and
computes its own share of the rows; DDP averages the gradients, so each step is
the step one process takes on the whole batch.  gloo on the CPU, NCCL on GPUs.
``--out PATH`` (rank 0) saves the parameters after the last step and the
gradients of the first, as NumPy arrays, for a test to compare.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .tasks import adding
from .torch_layer import Net, layer_module, tensors


def steps(
    net: nn.Module, cell_net: Net, lag: int, batch: int, steps: int, seed: int, rank: int = 0, world: int = 1
) -> dict[str, np.ndarray]:
    """``steps`` Adam steps of ``net`` (``cell_net`` itself or wrapped by DDP) on rows
    ``rank::world`` of each batch; returns the parameters after them and the gradients
    of the first step (``grad:`` before each name)."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    dtype = next(net.parameters()).dtype
    device = next(net.parameters()).device
    first: dict[str, np.ndarray] = {}
    for step in range(steps):
        data, lengths, targets = tensors(adding(lag, batch, rng), dtype)
        rows = slice(rank * batch // world, (rank + 1) * batch // world)
        data, lengths, targets = data[:, rows].to(device), lengths[rows].to(device), targets[rows].to(device)
        optimizer.zero_grad()
        nn.functional.mse_loss(net(data, lengths), targets).backward()
        if step == 0:
            first = {
                f"grad:{k}": p.grad.detach().cpu().numpy().copy() for k, p in cell_net.named_parameters()
            }
        optimizer.step()
    return {**first, **{k: p.detach().cpu().numpy() for k, p in cell_net.named_parameters()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--lag", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32, help="the whole batch, shared by the processes")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--out", help="rank 0 saves the parameters and first gradients here (.npz)")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    torch.manual_seed(args.seed)  # the same initial weights in every process
    net = Net(
        layer_module(args.cell), 2, args.hidden, 1, dtype=torch.float64 if args.float64 else torch.float32
    )
    net.to(device)
    wrapped = DistributedDataParallel(net, device_ids=[device.index] if cuda else None)
    result = steps(wrapped, net, args.lag, args.batch, args.steps, args.seed, rank, world)
    if rank == 0 and args.out:
        np.savez(args.out, **result)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
