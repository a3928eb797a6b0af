"""derive.interop: the generated modules' parameters to and from the state_dict of
torch.nn.RNN, torch.nn.LSTM and torch.nn.GRU.

The layouts are checked without PyTorch (block by block, round trips, refusals, the
checks of the arguments); with PyTorch, the generated modules' forward outputs and every
gradient are compared with PyTorch's own modules in float64 on converted weights.
"""

import subprocess
import sys

import numpy as np
import pytest

from derive import interop
from derive.generated import CELLS, gru_torch, lstm, rnn

MODULES = {"rnn": rnn, "lstm": lstm, "gru_torch": gru_torch}
GATES = {"rnn": 1, "lstm": 4, "gru_torch": 3}
KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
# The tolerance of the comparison with PyTorch, in float64 (the differences are ~1e-15).
TOLERANCE = 1e-10


def _state_dict(cell, n_input, n_hidden, rng, dtype=np.float64):
    """A random state_dict of the cell's PyTorch module, made with NumPy."""
    g = GATES[cell]
    shapes = {
        "weight_ih_l0": (g * n_hidden, n_input),
        "weight_hh_l0": (g * n_hidden, n_hidden),
        "bias_ih_l0": (g * n_hidden,),
        "bias_hh_l0": (g * n_hidden,),
    }
    return {key: rng.normal(size=shape).astype(dtype) for key, shape in shapes.items()}


def _summed_rows(cell, n_hidden):
    """True on the rows whose two biases derive sums (all but the GRU's candidate)."""
    summed = np.ones(GATES[cell] * n_hidden, bool)
    if cell == "gru_torch":
        summed[2 * n_hidden :] = False
    return summed


# ---------------------------------------------------------------- the layouts, no torch


def test_the_convertible_cells_and_their_parameters():
    assert interop.CONVERTIBLE == {
        "rnn": "torch.nn.RNN",
        "lstm": "torch.nn.LSTM",
        "gru_torch": "torch.nn.GRU",
    }
    for cell, module in MODULES.items():
        params = interop.from_torch(cell, _state_dict(cell, 2, 3, np.random.default_rng(0)))
        assert tuple(params) == module.PARAMETERS


def test_lstm_blocks_are_i_f_g_o():
    n, m = 2, 3
    rows = np.repeat(np.arange(4.0), n)  # the block index on every row
    sd = {
        "weight_ih_l0": np.tile(rows[:, None], (1, m)),
        "weight_hh_l0": np.tile(rows[:, None], (1, n)) + 10,
        "bias_ih_l0": rows + 20,
        "bias_hh_l0": rows + 30,
    }
    p = interop.from_torch("lstm", sd)
    for block, (W, U, b) in enumerate(
        [("W_i", "U_i", "b_i"), ("W_f", "U_f", "b_f"), ("W", "U", "b"), ("W_o", "U_o", "b_o")]
    ):
        assert np.array_equal(p[U], np.full((n, m), block))
        assert np.array_equal(p[W], np.full((n, n), block + 10))
        assert np.array_equal(p[b], np.full(n, 2 * block + 50))


def test_gru_blocks_are_r_minus_z_and_n_with_its_own_hidden_bias():
    n, m = 2, 3
    rows = np.repeat(np.arange(1.0, 4.0), n)  # 1 for r, 2 for z, 3 for n
    sd = {
        "weight_ih_l0": np.tile(rows[:, None], (1, m)),
        "weight_hh_l0": np.tile(rows[:, None], (1, n)) + 10,
        "bias_ih_l0": rows + 20,
        "bias_hh_l0": rows + 30,
    }
    p = interop.from_torch("gru_torch", sd)
    assert np.array_equal(p["U_o"], np.full((n, m), 1.0)) and np.array_equal(p["W_o"], np.full((n, n), 11.0))
    assert np.array_equal(p["b_o"], np.full(n, 21.0 + 31.0))
    # i = 1 - z: z's weights and biases negated
    assert np.array_equal(p["U_i"], np.full((n, m), -2.0)) and np.array_equal(
        p["W_i"], np.full((n, n), -12.0)
    )
    assert np.array_equal(p["b_i"], np.full(n, -(22.0 + 32.0)))
    # the candidate keeps b_in as b and b_hn as c
    assert np.array_equal(p["U"], np.full((n, m), 3.0)) and np.array_equal(p["W"], np.full((n, n), 13.0))
    assert np.array_equal(p["b"], np.full(n, 23.0)) and np.array_equal(p["c"], np.full(n, 33.0))


def test_rnn_sums_its_biases_and_splits_them_back_into_bias_ih():
    sd = _state_dict("rnn", 2, 3, np.random.default_rng(1))
    p = interop.from_torch("rnn", sd)
    assert np.array_equal(p["W"], sd["weight_hh_l0"]) and np.array_equal(p["U"], sd["weight_ih_l0"])
    assert np.array_equal(p["b"], sd["bias_ih_l0"] + sd["bias_hh_l0"])
    back = interop.to_torch("rnn", p)
    assert np.array_equal(back["bias_ih_l0"], p["b"]) and np.array_equal(back["bias_hh_l0"], np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", list(MODULES))
def test_parameters_round_trip_exactly(cell, dtype):
    module = MODULES[cell]
    for seed, (n_input, n_hidden) in enumerate([(1, 1), (3, 5), (7, 2)]):
        params = module.init_params(n_input, n_hidden, rng=seed, dtype=dtype)
        sd = interop.to_torch(cell, params)
        assert tuple(sd) == KEYS
        g = GATES[cell]
        shapes = [(g * n_hidden, n_input), (g * n_hidden, n_hidden), (g * n_hidden,), (g * n_hidden,)]
        assert [a.shape for a in sd.values()] == shapes
        assert all(a.dtype == dtype for a in sd.values())
        assert not sd["bias_hh_l0"][_summed_rows(cell, n_hidden)].any()
        back = interop.from_torch(cell, sd)
        assert tuple(back) == module.PARAMETERS
        for name in module.PARAMETERS:
            assert back[name].dtype == dtype
            assert np.array_equal(back[name], params[name]), name
            assert not np.shares_memory(back[name], params[name])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", list(MODULES))
def test_state_dicts_round_trip_up_to_the_bias_split(cell, dtype):
    for seed, (n_input, n_hidden) in enumerate([(1, 1), (4, 3), (2, 6)]):
        sd = _state_dict(cell, n_input, n_hidden, np.random.default_rng(seed), dtype)
        back = interop.to_torch(cell, interop.from_torch(cell, sd))
        assert tuple(back) == KEYS
        for key in KEYS:
            assert back[key].dtype == dtype and back[key].shape == sd[key].shape
            assert not np.shares_memory(back[key], sd[key])
        assert np.array_equal(back["weight_ih_l0"], sd["weight_ih_l0"])
        assert np.array_equal(back["weight_hh_l0"], sd["weight_hh_l0"])
        summed = _summed_rows(cell, n_hidden)
        # Where derive sums the two biases, the sum comes back (whole, in bias_ih_l0) ...
        assert np.array_equal(
            (back["bias_ih_l0"] + back["bias_hh_l0"])[summed], (sd["bias_ih_l0"] + sd["bias_hh_l0"])[summed]
        )
        assert not back["bias_hh_l0"][summed].any()
        # ... and the GRU's candidate keeps both as they were.
        for key in ("bias_ih_l0", "bias_hh_l0"):
            assert np.array_equal(back[key][~summed], sd[key][~summed])


def test_values_are_read_through_detach_cpu_numpy_without_torch():
    class Tensor:  # what a torch tensor that requires grad offers
        def __init__(self, array):
            self.array = array

        def __array__(self, *args, **kwargs):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad")

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

    sd = _state_dict("lstm", 2, 3, np.random.default_rng(2))
    p = interop.from_torch("lstm", {key: Tensor(value) for key, value in sd.items()})
    assert np.array_equal(p["U_o"], sd["weight_ih_l0"][9:12])
    back = interop.to_torch("lstm", {name: Tensor(value) for name, value in p.items()})
    assert np.array_equal(back["weight_hh_l0"], sd["weight_hh_l0"])


def test_importing_interop_does_not_import_torch():
    code = "import derive.interop, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- refusals and checks


@pytest.mark.parametrize("convert", [interop.from_torch, interop.to_torch])
def test_gru_is_refused_and_pointed_to_gru_torch(convert):
    with pytest.raises(ValueError) as caught:
        convert("gru", {})
    message = str(caught.value)
    assert "reset gate" in message and "before the matrix product" in message
    assert "different function" in message and "'gru_torch'" in message


@pytest.mark.parametrize("cell", [c for c in CELLS if c not in MODULES])
def test_other_catalogue_cells_are_refused_with_a_reason(cell):
    for convert in (interop.from_torch, interop.to_torch):
        with pytest.raises(ValueError, match=rf"cell '{cell}' has no PyTorch") as caught:
            convert(cell, {})
        assert "'rnn' (torch.nn.RNN), 'lstm' (torch.nn.LSTM), 'gru_torch' (torch.nn.GRU)" in str(caught.value)


@pytest.mark.parametrize("cell", ["LSTM", "nope", "derive/catalogue/lstm.toml", None, 3])
def test_unknown_cells_list_the_convertible_ones(cell):
    for convert in (interop.from_torch, interop.to_torch):
        with pytest.raises(ValueError, match=r"unknown cell .*'rnn'.*'lstm'.*'gru_torch'"):
            convert(cell, {})


def _refused(cell, state_dict, *fragments):
    with pytest.raises(ValueError) as caught:
        interop.from_torch(cell, state_dict)
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))


def test_state_dict_keys_are_checked():
    sd = _state_dict("lstm", 2, 3, np.random.default_rng(3))
    _refused("lstm", [1, 2], "must be a mapping", "torch.nn.LSTM.state_dict()")
    _refused(
        "lstm", {k: v for k, v in sd.items() if k != "bias_hh_l0"}, "missing ['bias_hh_l0']", "bias=False"
    )
    _refused("lstm", {k: v for k, v in sd.items() if "weight" in k}, "missing ['bias_ih_l0', 'bias_hh_l0']")
    _refused(
        "lstm", {"bias_ih_l0": sd["bias_ih_l0"]}, "missing ['weight_ih_l0', 'weight_hh_l0', 'bias_hh_l0']"
    )
    two_layers = {**sd, **{k.replace("l0", "l1"): v for k, v in sd.items()}}
    _refused("lstm", two_layers, "num_layers > 1", "'weight_ih_l1'")
    bidirectional = {**sd, **{k + "_reverse": v for k, v in sd.items()}}
    _refused("lstm", bidirectional, "bidirectional", "'weight_ih_l0_reverse'")
    _refused("lstm", {**sd, "weight_hr_l0": np.zeros((2, 3))}, "proj_size > 0", "'weight_hr_l0'")
    prefixed = {"lstm." + k: v for k, v in sd.items()}
    _refused("lstm", prefixed, "'lstm.weight_ih_l0'", "state_dict of the torch.nn.LSTM itself")


def test_state_dict_shapes_are_checked():
    rng = np.random.default_rng(4)
    gru = _state_dict("gru_torch", 2, 3, rng)
    _refused("lstm", gru, "'weight_hh_l0'] must have shape (12, 3)", "4 blocks, i, f, g, o", "got (9, 3)")
    _refused("rnn", gru, "'weight_hh_l0'] must have shape (3, 3)", "one block", "got (9, 3)")
    sd = _state_dict("rnn", 2, 3, rng)
    _refused("rnn", {**sd, "weight_hh_l0": np.zeros(3)}, "must be a matrix", "got shape (3,)")
    _refused("rnn", {**sd, "weight_hh_l0": np.zeros((0, 0))}, "must be a matrix", "got shape (0, 0)")
    _refused("rnn", {**sd, "weight_ih_l0": np.zeros((4, 2))}, "'weight_ih_l0'] must have shape (3, 2)")
    _refused("rnn", {**sd, "weight_ih_l0": np.zeros(3)}, "'weight_ih_l0'] must be a matrix (3, input)")
    _refused("rnn", {**sd, "bias_hh_l0": np.zeros((3, 1))}, "'bias_hh_l0'] must have shape (3,)")
    _refused("rnn", {**sd, "bias_ih_l0": np.zeros(4)}, "'bias_ih_l0'] must have shape (3,)")


def test_state_dict_dtypes_are_checked():
    sd = _state_dict("rnn", 2, 3, np.random.default_rng(5))
    _refused(
        "rnn", {**sd, "bias_ih_l0": np.zeros(3, int)}, "'bias_ih_l0'] must be float32 or float64", "int64"
    )
    _refused("rnn", {**sd, "weight_hh_l0": sd["weight_hh_l0"].astype(np.float16)}, "float16")
    _refused("rnn", {**sd, "bias_ih_l0": ["a", "b", "c"]}, "float32 or float64", "<U1")
    mixed = {**sd, "weight_ih_l0": sd["weight_ih_l0"].astype(np.float32)}
    _refused("rnn", mixed, "mixes dtypes", "'weight_ih_l0' float32", "'weight_hh_l0' float64")


def test_params_are_checked():
    params = lstm.init_params(2, 3, rng=0)

    def refused(given, *fragments):
        with pytest.raises(ValueError) as caught:
            interop.to_torch("lstm", given)
        for fragment in fragments:
            assert fragment in str(caught.value), (fragment, str(caught.value))

    refused(list(params.values()), "params must be a dict", "'W_o'")
    refused({k: v for k, v in params.items() if k != "b_f"}, "missing ['b_f']")
    refused({**params, "c": np.zeros(3)}, "unknown ['c']")
    refused({**params, "W_f": np.zeros((3, 4))}, "'W_f'] must have shape (3, 3)")
    refused({**params, "U": np.zeros((3, 4))}, "'U'] must have shape (3, 2)")
    refused({**params, "b_o": np.zeros((3, 1))}, "'b_o'] must have shape (3,)")
    refused({**params, "W_i": np.zeros(3)}, "'W_i'] must be a matrix (n_hidden, n_hidden)")
    refused({**params, "U_i": np.zeros((3, 0))}, "'U_i'] must be a matrix (n_hidden, n_input)")
    refused({**params, "b": params["b"].astype(np.float32)}, "mixes dtypes")
    refused({**params, "b": params["b"] > 0}, "'b'] must be float32 or float64", "bool")
    gru = gru_torch.init_params(2, 3, rng=0)
    with pytest.raises(ValueError, match=r"'c'\] must have shape \(3,\)"):
        interop.to_torch("gru_torch", {**gru, "c": np.zeros(2)})


# ---------------------------------------------------------------- against PyTorch


# (n_input, n_hidden, T, B): one of each, a small one, and one large enough for the
# generated modules' float64 tanh by exp (256 values or more at once).
SIZES = [(1, 1, 1, 1), (3, 5, 7, 2), (6, 40, 9, 8)]


def _compare_with_torch(cell, n_input, n_hidden, T, B, seed, from_derive):
    """Run derive's module and PyTorch's on the same weights, inputs, initial states and
    upstream gradients; return the largest difference of each compared quantity."""
    torch = pytest.importorskip("torch")
    module = MODULES[cell]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    layer = getattr(torch.nn, {"rnn": "RNN", "lstm": "LSTM", "gru_torch": "GRU"}[cell])(
        n_input, n_hidden, dtype=torch.float64, batch_first=False
    )
    if from_derive:
        # derive's parameters, scaled past PyTorch's initial range so that gates saturate somewhat
        params = {k: 2 * v for k, v in module.init_params(n_input, n_hidden, rng=rng).items()}
        layer.load_state_dict({k: torch.from_numpy(v) for k, v in interop.to_torch(cell, params).items()})
    else:
        # PyTorch's own initialisation, read from its parameters (which require grad)
        params = interop.from_torch(cell, dict(layer.named_parameters()))
    x = rng.normal(size=(T, B, n_input))
    state = {name: rng.normal(size=(B, n_hidden)) for name in module.STATES}
    d_outputs = {name: rng.normal(size=(T, B, n_hidden)) for name in module.STATES}

    outputs, cache = module.forward(params, x, state)
    x_t = torch.tensor(x, requires_grad=True)
    if cell == "lstm":
        # PyTorch's h is derive's output h, its c derive's state s; it returns c at the end only.
        d_outputs["s"][:-1] = 0
        h0 = torch.tensor(state["h"][None], requires_grad=True)
        c0 = torch.tensor(state["s"][None], requires_grad=True)
        out, (h_n, c_n) = layer(x_t, (h0, c0))
        loss = (out * torch.from_numpy(d_outputs["h"])).sum() + (
            c_n[0] * torch.from_numpy(d_outputs["s"][-1])
        ).sum()
        found = {"h": out, "s[-1]": c_n[0], "h[-1]": h_n[0]}
        expected = {"h": outputs["h"], "s[-1]": outputs["s"][-1], "h[-1]": outputs["h"][-1]}
        initial = {"h": h0, "s": c0}
    else:
        s0 = torch.tensor(state["s"][None], requires_grad=True)
        out, h_n = layer(x_t, s0)
        loss = (out * torch.from_numpy(d_outputs["s"])).sum()
        found = {"s": out, "s[-1]": h_n[0]}
        expected = {"s": outputs["s"], "s[-1]": outputs["s"][-1]}
        initial = {"s": s0}
    loss.backward()
    d_params, d_x, d_state = module.backward(cache, d_outputs)

    differences = {name: np.abs(found[name].detach().numpy() - expected[name]).max() for name in found}
    differences["d_x"] = np.abs(x_t.grad.numpy() - d_x).max()
    for name, tensor in initial.items():
        differences[f"d_state[{name!r}]"] = np.abs(tensor.grad[0].numpy() - d_state[name]).max()
    # derive's parameters are PyTorch's up to signs and the sum of two biases: its gradients
    # are PyTorch's with the same signs, and the gradient of a summed bias is that of either
    # of the two (equal), so from_torch maps them with bias_hh's summed rows set to zero.
    grads = {key: p.grad.numpy() for key, p in layer.named_parameters()}
    summed = _summed_rows(cell, n_hidden)
    assert np.abs(grads["bias_ih_l0"][summed] - grads["bias_hh_l0"][summed]).max() <= TOLERANCE
    grads["bias_hh_l0"] = np.where(summed, 0.0, grads["bias_hh_l0"])
    torch_d_params = interop.from_torch(cell, grads)
    assert tuple(d_params) == tuple(torch_d_params) == module.PARAMETERS
    for name in module.PARAMETERS:
        differences[f"d_params[{name!r}]"] = np.abs(torch_d_params[name] - d_params[name]).max()
    return differences


@pytest.mark.slow
@pytest.mark.parametrize("from_derive", [False, True], ids=["torch_weights", "derive_weights"])
@pytest.mark.parametrize("cell", list(MODULES))
def test_outputs_and_every_gradient_agree_with_torch(cell, from_derive):
    for seed, size in enumerate(SIZES):
        differences = _compare_with_torch(cell, *size, seed=seed, from_derive=from_derive)
        worst = max(differences, key=differences.get)
        assert differences[worst] <= TOLERANCE, (size, seed, worst, differences[worst])
