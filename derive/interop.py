"""Weights in and out of PyTorch's layouts: a generated module's parameters as the
``state_dict`` of a single-layer, unidirectional ``torch.nn.RNN``, ``torch.nn.LSTM``
or ``torch.nn.GRU``, and back.

Three cells of the catalogue compute what one of PyTorch's modules computes:

=============  =======================================  =====================================
cell           PyTorch                                  derive's names for PyTorch's blocks
=============  =======================================  =====================================
``rnn``        ``torch.nn.RNN`` (``nonlinearity``       the one block: ``W``, ``U``, ``b``
               ``"tanh"``, the default)
``lstm``       ``torch.nn.LSTM`` (``proj_size=0``)      i, f, g, o: ``*_i``, ``*_f``, the
                                                        candidate's ``W``, ``U``, ``b``, ``*_o``;
                                                        PyTorch's c is derive's state ``s``,
                                                        its h the output ``h``
``gru_torch``  ``torch.nn.GRU``                         r, z, n: ``*_o``, minus ``*_i``, the
                                                        candidate's ``W``, ``U``, ``b``, ``c``
=============  =======================================  =====================================

PyTorch stacks the blocks by rows: ``weight_ih_l0`` is (gates × hidden, input), the blocks
of ``U``; ``weight_hh_l0`` (gates × hidden, hidden), the blocks of ``W``; and it has two
biases, ``bias_ih_l0`` and ``bias_hh_l0``, where derive has one, ``b``.  A gate sees only
their sum, so ``from_torch`` adds them, and ``to_torch`` puts the whole of ``b`` in
``bias_ih_l0`` and zeros in ``bias_hh_l0``: a state_dict's own split of a sum does not come
back, the sums do, exactly.

The GRU's update gate z keeps the old state, where derive's input gate ``i`` takes the
candidate in: ``i = 1 - z``, and as σ(-a) = 1 - σ(a), ``W_i``, ``U_i`` and ``b_i`` are z's
weights and biases negated (exactly: a negation does not round).  PyTorch's candidate
n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) keeps its two biases apart, and so does
``gru_torch``: ``b`` is ``b_in`` and ``c`` is ``b_hn``, each converted as it is.

Only NumPy is imported here, never torch: values are anything ``np.asarray`` takes, and
objects with a ``.detach().cpu().numpy()`` path (tensors, parameters that require grad,
tensors on a GPU) are read through it.  Both functions return new NumPy arrays in the
dtype they were given (float32 or float64), sharing no memory with it; PyTorch's
``load_state_dict`` wants tensors, so wrap them with ``torch.from_numpy``.

>>> import numpy as np
>>> from derive.generated import gru_torch
>>> params = gru_torch.init_params(n_input=3, n_hidden=2, rng=0)
>>> state_dict = to_torch("gru_torch", params)
>>> {key: value.shape for key, value in state_dict.items()}
{'weight_ih_l0': (6, 3), 'weight_hh_l0': (6, 2), 'bias_ih_l0': (6,), 'bias_hh_l0': (6,)}
>>> back = from_torch("gru_torch", state_dict)
>>> all(np.array_equal(back[name], params[name]) for name in gru_torch.PARAMETERS)
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .generated import CELLS

__all__ = ["CONVERTIBLE", "from_torch", "to_torch"]

Array = npt.NDArray[np.floating[Any]]

WEIGHT_IH, WEIGHT_HH, BIAS_IH, BIAS_HH = "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"
# The keys of a single-layer, unidirectional module's state_dict, in PyTorch's order.
KEYS = (WEIGHT_IH, WEIGHT_HH, BIAS_IH, BIAS_HH)


@dataclass(frozen=True)
class _Block:
    """One of PyTorch's row blocks and the parameters of derive's cell it holds."""

    gate: str  # PyTorch's name of the block
    W: str  # derive's name of its rows of weight_hh_l0
    U: str  # ... of weight_ih_l0
    b: str  # ... of bias_ih_l0 (plus bias_hh_l0, where hh_bias is None)
    negated: bool = False  # derive's parameters are PyTorch's negated (the GRU's z = 1 - i)
    hh_bias: str | None = None  # derive's own name for this block of bias_hh_l0, if it keeps it apart


@dataclass(frozen=True)
class _Layout:
    module: str
    blocks: tuple[_Block, ...]
    parameters: tuple[str, ...]  # the generated module's PARAMETERS, in its order


_LAYOUTS = {
    "rnn": _Layout(
        "torch.nn.RNN",
        (_Block("the one block", "W", "U", "b"),),
        ("W", "U", "b"),
    ),
    "lstm": _Layout(
        "torch.nn.LSTM",
        (
            _Block("i", "W_i", "U_i", "b_i"),
            _Block("f", "W_f", "U_f", "b_f"),
            _Block("g", "W", "U", "b"),
            _Block("o", "W_o", "U_o", "b_o"),
        ),
        ("W_o", "U_o", "b_o", "W_i", "U_i", "b_i", "W_f", "U_f", "b_f", "W", "U", "b"),
    ),
    "gru_torch": _Layout(
        "torch.nn.GRU",
        (
            _Block("r", "W_o", "U_o", "b_o"),
            _Block("z", "W_i", "U_i", "b_i", negated=True),
            _Block("n", "W", "U", "b", hh_bias="c"),
        ),
        ("W_o", "U_o", "b_o", "W_i", "U_i", "b_i", "W", "U", "b", "c"),
    ),
}

# The cells that convert, with the module each converts to.
CONVERTIBLE = {name: layout.module for name, layout in _LAYOUTS.items()}

_SUGGESTION = "the cells that convert are " + ", ".join(
    f"{name!r} ({module})" for name, module in CONVERTIBLE.items()
)

# Why the catalogue's other cells do not convert.
_REFUSALS = {
    "gru": (
        "derive's 'gru' is the GRU of Cho et al. 2014, whose reset gate multiplies the state "
        "before the matrix product, W @ (o * s_prev); torch.nn.GRU applies it after, to "
        "W_hn h + b_hn: a different function of the same weights, which no conversion makes agree. "
        "'gru_torch' is the GRU as PyTorch computes it, and converts exactly"
    ),
    "lstm_without_forget_gate": (
        "torch.nn.LSTM always has a forget gate, and no finite weights hold it at exactly 1"
    ),
    "lstm_peephole": "torch.nn.LSTM has no peephole weights (p_i, p_f, p_o)",
    "lstm_coupled": "torch.nn.LSTM has no input gate tied to its forget gate (s = (1 - i) * s_prev + ...)",
    "mgu": "PyTorch has no minimal gated unit: its one gate both resets the state and takes the candidate in",
    "indrnn": (
        "derive's 'indrnn' has one recurrent weight per unit (u) and relu, "
        "where torch.nn.RNN has a full recurrent matrix and, here, tanh"
    ),
}


def _layout(cell: object) -> _Layout:
    if isinstance(cell, str) and cell in _LAYOUTS:
        return _LAYOUTS[cell]
    if isinstance(cell, str) and cell in _REFUSALS:
        raise ValueError(f"cell {cell!r} has no PyTorch layout: {_REFUSALS[cell]}; {_SUGGESTION}")
    if isinstance(cell, str) and cell in CELLS:
        raise ValueError(f"cell {cell!r} has no PyTorch module that computes it; {_SUGGESTION}")
    raise ValueError(f"unknown cell {cell!r}; {_SUGGESTION}")


def _array(name: str, value: object) -> Array:
    """``value`` as a float32 or float64 NumPy array, or a ValueError naming it."""
    detach = getattr(value, "detach", None)
    if callable(detach):
        # A torch tensor, on any device, requiring grad or not; read without importing torch.
        try:
            value = detach().cpu().numpy()
        except (AttributeError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"{name} could not be read as a NumPy array ({error}); "
                "float32 and float64 tensors can (tensor.double() makes one)"
            ) from None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of floats ({error})") from None
    if array.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{name} must be float32 or float64, the dtypes the generated modules compute in; "
            f"got {array.dtype}"
        )
    return array


def _arrays(what: str, given: Mapping[str, object], names: tuple[str, ...]) -> dict[str, Array]:
    """The named entries of a mapping as arrays of one dtype."""
    arrays = {name: _array(f"{what}[{name!r}]", given[name]) for name in names}
    dtypes = {str(array.dtype) for array in arrays.values()}
    if len(dtypes) > 1:
        listed = ", ".join(f"{name!r} {array.dtype}" for name, array in arrays.items())
        raise ValueError(f"{what} mixes dtypes ({listed}); use one, float32 or float64")
    return arrays


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_shape(what: str, array: Array, expected: tuple[int, ...], meaning: str) -> None:
    if array.shape != expected:
        raise ValueError(f"{what} must have shape {_shape(expected)} ({meaning}), got {_shape(array.shape)}")


def _other_keys(keys: list[str], module: str) -> str:
    """Why a state_dict has keys beyond the four, in words."""
    if any(re.search(r"_l[1-9]\d*(_reverse)?$", key) for key in keys):
        return f"they belong to a {module} with num_layers > 1; only a single layer converts"
    if any(key.endswith("_reverse") for key in keys):
        return f"they belong to a bidirectional {module}; only a unidirectional one converts"
    if any(key.startswith("weight_hr") for key in keys):
        return (
            f"they belong to a {module} with proj_size > 0, whose output is projected; "
            "only proj_size=0 converts"
        )
    return f"pass the state_dict of the {module} itself, with the keys {list(KEYS)}"


def from_torch(cell: str, state_dict: Mapping[str, object]) -> dict[str, Array]:
    """The parameters of derive's ``cell`` from a PyTorch module's ``state_dict``.

    ``cell`` is ``"rnn"`` (``torch.nn.RNN`` with tanh), ``"lstm"`` (``torch.nn.LSTM``) or
    ``"gru_torch"`` (``torch.nn.GRU``).  ``state_dict`` has exactly the keys weight_ih_l0,
    weight_hh_l0, bias_ih_l0 and bias_hh_l0 (a module made with ``bias=False`` has no
    biases: give zeros for them), float32 or float64, one dtype.  Returns {name: array}
    keyed by the generated module's PARAMETERS, in that dtype, ready for its forward.
    The two biases are summed (for the GRU's candidate, kept apart as ``b`` and ``c``).
    A ``torch.nn.RNN`` with ``nonlinearity="relu"`` has the same state_dict as one with
    tanh and computes something else: convert only tanh ones.
    """
    layout = _layout(cell)
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            f"state_dict must be a mapping with the keys {list(KEYS)}, "
            f"as {layout.module}.state_dict() gives; got {type(state_dict).__name__}"
        )
    keys = [str(key) for key in state_dict]
    missing = [key for key in KEYS if key not in state_dict]
    others = [key for key in keys if key not in KEYS]
    if others:
        raise ValueError(
            f"state_dict has keys beyond {list(KEYS)}: {others}; {_other_keys(others, layout.module)}"
        )
    if missing:
        hint = " (a module made with bias=False has none: give zeros)" if WEIGHT_IH not in missing else ""
        raise ValueError(f"state_dict is missing {missing}{hint}; {layout.module}'s has {list(KEYS)}")
    arrays = _arrays("state_dict", state_dict, KEYS)
    gates = len(layout.blocks)
    names = "one block" if gates == 1 else f"{gates} blocks, {', '.join(b.gate for b in layout.blocks)}"
    weight_hh = arrays[WEIGHT_HH]
    if weight_hh.ndim != 2 or weight_hh.shape[1] < 1:
        raise ValueError(
            f"state_dict[{WEIGHT_HH!r}] must be a matrix ({gates} × hidden, hidden), "
            f"got shape {_shape(weight_hh.shape)}"
        )
    n = weight_hh.shape[1]
    _check_shape(
        f"state_dict[{WEIGHT_HH!r}]", weight_hh, (gates * n, n), f"{layout.module}: {names} of hidden rows"
    )
    weight_ih = arrays[WEIGHT_IH]
    if weight_ih.ndim != 2 or weight_ih.shape[1] < 1:
        raise ValueError(
            f"state_dict[{WEIGHT_IH!r}] must be a matrix ({gates * n}, input), "
            f"got shape {_shape(weight_ih.shape)}"
        )
    _check_shape(f"state_dict[{WEIGHT_IH!r}]", weight_ih, (gates * n, weight_ih.shape[1]), names)
    for key in (BIAS_IH, BIAS_HH):
        _check_shape(f"state_dict[{key!r}]", arrays[key], (gates * n,), names)
    params: dict[str, Array] = {}
    for k, block in enumerate(layout.blocks):
        rows = slice(k * n, (k + 1) * n)
        bias_ih, bias_hh = arrays[BIAS_IH][rows], arrays[BIAS_HH][rows]
        params[block.W] = _signed(weight_hh[rows], block.negated)
        params[block.U] = _signed(weight_ih[rows], block.negated)
        if block.hh_bias is None:
            params[block.b] = _signed(bias_ih + bias_hh, block.negated)
        else:
            params[block.b] = _signed(bias_ih, block.negated)
            params[block.hh_bias] = _signed(bias_hh, block.negated)
    return {name: params[name] for name in layout.parameters}


def to_torch(cell: str, params: Mapping[str, object]) -> dict[str, Array]:
    """The ``state_dict`` of a PyTorch module from the parameters of derive's ``cell``.

    ``cell`` is ``"rnn"``, ``"lstm"`` or ``"gru_torch"``; ``params`` has exactly the
    generated module's PARAMETERS (``init_params`` makes them), float32 or float64, one
    dtype.  Returns {key: array} with the keys weight_ih_l0, weight_hh_l0, bias_ih_l0,
    bias_hh_l0 in that dtype: every bias summed in a gate goes to bias_ih_l0, and
    bias_hh_l0 is zero there (the GRU's candidate keeps ``c`` as its b_hn).  For a module
    built as ``torch.nn.LSTM(n_input, n_hidden)`` (and likewise RNN, GRU)::

        module.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch("lstm", params).items()})
    """
    layout = _layout(cell)
    expected = layout.parameters
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays keyed by {expected}; got {type(params).__name__}")
    missing = [name for name in expected if name not in params]
    unknown = [str(name) for name in params if name not in expected]
    if missing:
        raise ValueError(f"params is missing {missing}; {cell!r} has exactly {expected}")
    if unknown:
        raise ValueError(f"params has unknown {unknown}; {cell!r} has exactly {expected}")
    arrays = _arrays("params", params, expected)
    first = layout.blocks[0]
    W, U = arrays[first.W], arrays[first.U]
    if W.ndim != 2 or W.shape[0] < 1:
        raise ValueError(f"params[{first.W!r}] must be a matrix (n_hidden, n_hidden), got {_shape(W.shape)}")
    n = W.shape[0]
    if U.ndim != 2 or U.shape[1] < 1:
        raise ValueError(f"params[{first.U!r}] must be a matrix (n_hidden, n_input), got {_shape(U.shape)}")
    n_input = U.shape[1]
    for block in layout.blocks:
        _check_shape(f"params[{block.W!r}]", arrays[block.W], (n, n), "n_hidden, n_hidden")
        _check_shape(f"params[{block.U!r}]", arrays[block.U], (n, n_input), "n_hidden, n_input")
        for name in (block.b, block.hh_bias):
            if name is not None:
                _check_shape(f"params[{name!r}]", arrays[name], (n,), "n_hidden")
    zeros = np.zeros(n, W.dtype)
    blocks = layout.blocks
    return {
        WEIGHT_IH: np.concatenate([_signed(arrays[b.U], b.negated) for b in blocks]),
        WEIGHT_HH: np.concatenate([_signed(arrays[b.W], b.negated) for b in blocks]),
        BIAS_IH: np.concatenate([_signed(arrays[b.b], b.negated) for b in blocks]),
        BIAS_HH: np.concatenate(
            [zeros if b.hh_bias is None else _signed(arrays[b.hh_bias], b.negated) for b in blocks]
        ),
    }


def _signed(array: Array, negated: bool) -> Array:
    """A new array (never a view of the caller's): ``array``, or minus it."""
    return np.negative(array) if negated else np.array(array, copy=True)
