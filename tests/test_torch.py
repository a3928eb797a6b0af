"""The torch backend: every catalogue cell as a Layer whose backward is the derived
BPTT, checked three ways (gradcheck of its Function; torch autograd of the literal
equations, an oracle that shares nothing with the backend; the NumPy module), and
float32 against float64; the module's contract; a cell outside the catalogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from generated import worst  # noqa: E402
from torch_reference import gradcheck, run_layer, run_literal  # noqa: E402

from derive import CATALOGUE, generate, module_source  # noqa: E402
from derive.build import GENERATED  # noqa: E402
from derive.codegen.modules import REFERENCE_TOLERANCE, generated, load  # noqa: E402
from derive.verification.numeric import random_problem  # noqa: E402

NAMES = list(CATALOGUE)
CELLFILES = Path(__file__).parent / "cellfiles"


def torch_module(name):
    return load((GENERATED / "torch" / f"{name}.py").read_text(), f"{name}_torch")


def problem(name, n_input=3, n_hidden=4, steps=5, batch=2, seed=0):
    return random_problem(generated(name), n_input, n_hidden, steps, batch, seed)


def numpy_run(name, p):
    module = generated(name)
    params, x, state, d_outputs = p
    outputs, cache = module.forward(params, x, state)
    return (outputs, *module.backward(cache, d_outputs))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_of_the_whole_sequence_function(name):
    assert gradcheck(torch_module(name), problem(name, 2, 3, 3, 2))


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_torch_autograd_of_the_literal_equations(name):
    p = problem(name)
    assert worst(run_layer(torch_module(name), p), run_literal(CATALOGUE[name], p)) <= REFERENCE_TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_the_numpy_module(name):
    p = problem(name)
    assert worst(run_layer(torch_module(name), p), numpy_run(name, p)) <= REFERENCE_TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64(name):
    p = problem(name, 8, 16, 6, 4)
    module = torch_module(name)
    assert worst(run_layer(module, p, torch.float32), run_layer(module, p)) <= 1e-4


def test_the_layer_meets_its_contract():
    lstm = torch_module("lstm")
    layer = lstm.Layer(3, 5, dtype=torch.float64)
    numpy_params = generated("lstm").init_params(3, 5, rng=0)
    assert [name for name, _ in layer.named_parameters()] == list(lstm.PARAMETERS)
    assert {k: tuple(v.shape) for k, v in layer.named_parameters()} == {
        k: v.shape for k, v in numpy_params.items()
    }
    assert all(v.abs().max() <= 1 / np.sqrt(5) for v in layer.parameters())
    assert layer.load_state_dict({k: torch.from_numpy(v) for k, v in numpy_params.items()})
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    outputs, final = layer(x)
    assert set(outputs) == set(final) == {"s", "h"}
    assert outputs["h"].shape == (4, 2, 5) and torch.equal(final["h"], outputs["h"][-1])
    # The initial state's gradient flows; zeros where no state is given.
    h0 = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    _, final = layer(x, {"h": h0})
    final["h"].sum().backward()
    assert h0.grad is not None and h0.grad.abs().sum() > 0
    assert layer.W_o.grad is not None
    assert layer(x, {"s": None})[0]["h"].shape == (4, 2, 5)
    # Float32 by default; a float64 input is computed in the parameters' dtype.
    assert lstm.Layer(3, 5)(x)[0]["h"].dtype == torch.float32
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, n_input\) = \(T, B, 3\)"):
        layer(torch.zeros(4, 2, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"state has unknown \['c'\]"):
        layer(x, {"c": h0})
    with pytest.raises(ValueError, match=r"state\['h'\] must have shape \(B, n_hidden\)"):
        layer(x, {"h": torch.zeros(3, 5)})
    with pytest.raises(ValueError, match="n_hidden must be a positive integer"):
        lstm.Layer(3, 0)
    # Another device, or complex numbers, are refused in one line; the message says what to do.
    for bad, says in [
        (torch.zeros(4, 2, 3, device="meta"), r"x is on meta but the layer.s parameters are on cpu; move"),
        (torch.zeros(4, 2, 3, dtype=torch.complex128), r"x is complex \(torch.complex128\)"),
    ]:
        with pytest.raises(ValueError, match=says) as error:
            layer(bad)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"state\['h'\] is on meta"):
        layer(x, {"h": torch.zeros(2, 5, device="meta")})


@pytest.mark.parametrize("name", ["lstm", "gru_torch"])
def test_the_input_gradient_only_when_asked_and_the_rest_unchanged(name):
    module = torch_module(name)
    layer = module.Layer(3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    grads = []
    for wanted in (True, False):
        layer.zero_grad(set_to_none=True)
        x_in = x.clone().requires_grad_(wanted)
        layer(x_in)[0][module.STATES[-1]].sum().backward()
        assert (x_in.grad is not None) == wanted
        grads.append([p.grad for p in layer.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
    assert "if ctx.needs_input_grad[0]:" in (GENERATED / "torch" / f"{name}.py").read_text()


def test_the_graph_does_not_grow_with_the_steps():
    layer = torch_module("gru").Layer(3, 4)
    outputs, _ = layer(torch.randn(50, 2, 3))
    node = outputs["s"].grad_fn
    # one node for the whole sequence (behind the view of its output)
    names = {type(node).__name__, *(type(f).__name__ for f, _ in node.next_functions if f is not None)}
    assert "_SequenceBackward" in names


def test_a_module_imports_torch_and_not_sympy():
    code = (
        "import sys, derive.generated.torch.lstm as m; "
        "print('sympy' in sys.modules, 'derive.derivation' in sys.modules, m.Layer.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "Layer"]


def test_a_cell_outside_the_catalogue_is_generated_and_checked():
    from derive.catalogue import resolve

    cell = resolve(str(CELLFILES / "rhn2.toml"))
    module = generate(cell, backend="torch")  # checked against its derivation on the way
    outputs, _ = module.Layer(2, 3)(torch.randn(2, 1, 2))
    assert all(v.shape == (2, 1, 3) for v in outputs.values())


def test_a_cell_whose_first_parameter_is_a_scalar_is_checked():
    """The check reads the hidden size from a parameter that has one."""
    from derive import Cell, Equation, Parameter, Role

    cell = Cell(
        name="scaled",
        title="scaled",
        parameters=(
            Parameter("ζ", "1", "1"),
            Parameter("U", "hidden", "input"),
            Parameter("b", "hidden", "1"),
        ),
        states=("s",),
        equations=(Equation("s", "ζ * s_prev + tanh(U @ x + b)", Role.STATE, "state"),),
    )
    module = generate(cell, backend="torch")  # checked against its derivation on the way
    outputs, _ = module.Layer(2, 3)(torch.randn(4, 1, 2))
    assert outputs["s"].shape == (4, 1, 3)


def test_torch_prints_its_own_functions_and_numpy_is_unchanged():
    source = module_source(CATALOGUE["lstm"], backend="torch")
    assert "torch.sigmoid(_z[:, 0:3 * _n], out=_z[:, 0:3 * _n])" in source
    assert "np." not in source and "exp" not in source.split('"""', 2)[2]


def test_torch_prints_products_in_the_layouts_its_gemm_is_fastest_in():
    lstm = module_source(CATALOGUE["lstm"], backend="torch")
    # A weight gradient after the loop: (vᵀ δz)ᵀ, the transposed operand on the right.
    assert "d_weights_h_prev = (h_prev_seq.reshape(_T * _B, -1).T @ _dz_rows).T" in lstm
    # An outer product summed in the loop accumulates in place.
    assert "d_W.addmm_(d_z2_s_tilde.T, s_prev)" in module_source(CATALOGUE["gru_torch"], backend="torch")


@pytest.mark.slow
def test_torch_compile_of_the_layer():
    module = torch_module("lstm")
    layer = module.Layer(3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    want, _ = layer(x)
    compiled = torch.compile(layer)
    got, _ = compiled(x)
    assert torch.allclose(got["h"], want["h"])
    got["h"].sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    want["h"].sum().backward()
    assert all(torch.allclose(a, p.grad) for a, p in zip(grads, layer.parameters(), strict=True))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_on_cuda_as_on_the_cpu(name):
    module = torch_module(name)
    cpu = module.Layer(8, 16, dtype=torch.float64)
    gpu = module.Layer(8, 16, dtype=torch.float64, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(6, 3, 8, dtype=torch.float64)
    a, _ = cpu(x)
    b, _ = gpu(x.cuda())
    sum(v.sum() for v in a.values()).backward()
    sum(v.sum() for v in b.values()).backward()
    assert all(
        torch.allclose(p.grad, q.grad.cpu()) for p, q in zip(cpu.parameters(), gpu.parameters(), strict=True)
    )


def _derive(*args):
    """``python -m derive ARGS`` as a user runs it: its output, after it succeeded."""
    out = subprocess.run(
        [sys.executable, "-m", "derive", *args], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_train_with_torch_from_the_command_line():
    out = _derive("train", "adding", "--backend", "torch", "--cell", "lstm", "--lag", "10", "--steps", "3")
    rows = out.strip().splitlines()
    assert len(rows) == 2 and all(r.startswith("cell lstm  lag 10  seed ") and "loss" in r for r in rows)


def test_bench_with_torch_from_the_command_line():
    out = _derive("bench", "--backend", "torch", "--quick", "--rounds", "1", "lstm")
    assert "one thread, thread CPU time" in out and "nn.LSTM" in out and "GEMM floor" in out
    assert "target: time ≤ 0.75× autograd loop" in out and "target: peak memory ≤ 1.00× autograd loop" in out


def test_targets_say_which_are_met():
    from derive.bench_torch import targets

    row = {
        "cell": "lstm",
        "dtype": "float64",
        "ratio": {"autograd loop": 0.7, "nn.LSTM": 0.95, "GEMM floor": 1.7},
        "peak_MB": {"derive": 10.0, "autograd loop": 12.0, "nn.LSTM": 30.0},
    }
    got = {(t["against"], t["what"]): (t["limit"], t["met"]) for t in targets(row)}
    assert got == {
        ("autograd loop", "time"): (0.75, True),
        ("nn.LSTM", "time"): (0.9, False),
        ("autograd loop", "peak memory"): (1.0, True),
    }
