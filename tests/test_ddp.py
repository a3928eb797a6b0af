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
def test_two_processes_take_the_steps_of_one_on_the_whole_batch(tmp_path):
    # The cells one after the other, in one test: two torchrun launches at once (a test
    # each, on two workers) may pick the same free port for their rendezvous.
    for cell in ("lstm", "gru"):
        _two_processes_take_the_steps_of_one(cell, tmp_path / cell)


def _two_processes_take_the_steps_of_one(cell, folder):
    folder.mkdir()
    out = folder / "ddp.npz"
    settings = ["--cell", cell, "--lag", "6", "--batch", "8", "--hidden", "5", "--steps", "4", "--float64"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "derive.training.ddp", *settings, "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"torchrun ({cell}) exited with {run.returncode}:\n{run.stderr[-4000:]}"
    torch.manual_seed(0)
    net = Net(layer_module(cell), 2, 5, 1, dtype=torch.float64)
    alone = steps(net, net, lag=6, batch=8, steps=4, seed=0)
    both = np.load(out)
    assert set(both.files) == set(alone)
    for name, value in alone.items():
        np.testing.assert_allclose(both[name], value, rtol=1e-10, atol=1e-12, err_msg=name)
