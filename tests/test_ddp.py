"""DistributedDataParallel over a cell's torch Layer: two CPU processes (gloo), launched
by torchrun, end a few Adam steps with the parameters one process reaches on the whole
batch, and average the first step's gradients to its gradients (float64, 1e-10)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive.build import ROOT  # noqa: E402
from derive.training.ddp import steps  # noqa: E402
from derive.training.torch_layer import Net, layer_module  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_two_processes_take_the_steps_of_one_on_the_whole_batch(cell, tmp_path):
    out = tmp_path / "ddp.npz"
    settings = ["--cell", cell, "--lag", "6", "--batch", "8", "--hidden", "5", "--steps", "4", "--float64"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "derive.training.ddp", *settings, "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    torch.manual_seed(0)
    net = Net(layer_module(cell), 2, 5, 1, dtype=torch.float64)
    alone = steps(net, net, lag=6, batch=8, steps=4, seed=0)
    both = np.load(out)
    assert set(both.files) == set(alone)
    for name, value in alone.items():
        np.testing.assert_allclose(both[name], value, rtol=1e-10, atol=1e-12, err_msg=name)
