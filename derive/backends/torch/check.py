"""A generated torch module behind the NumPy modules' contract (``init_params``,
``forward``, ``backward`` on arrays), in float64: so that the checks written for
that contract (:func:`derive.codegen.modules.quick_check`, the derivation at 30
digits, finite differences) check a torch module too.  Imports torch."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import torch


def as_numpy(module: ModuleType) -> ModuleType:
    """``module``'s Layer as a module of the NumPy contract, computing in float64 on the CPU."""
    shapes = module._SHAPES

    def init_params(n_input: int, n_hidden: int, *, rng: Any = None, dtype: Any = np.float64) -> Any:
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(n_hidden)
        sizes = {"hidden": n_hidden, "input": n_input}
        return {
            name: rng.uniform(-bound, bound, tuple(sizes[d] for d in shape if d != 1)).astype(dtype)
            for name, shape in shapes.items()
        }

    def forward(params: Any, x: Any, state: Any = None) -> Any:
        # the hidden size from a parameter that has it (the first may be a scalar)
        hidden = [name for name, shape in shapes.items() if shape[0] == "hidden"]
        n_hidden = np.asarray(params[hidden[0]]).shape[0] if hidden else np.shape(state[module.STATES[0]])[1]
        x = torch.tensor(np.asarray(x, dtype=np.float64))
        layer = module.Layer(x.shape[2], n_hidden, dtype=torch.float64)
        layer.load_state_dict({k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in params.items()})
        x.requires_grad_(True)
        initial = {
            s: torch.tensor(
                np.asarray((state or {}).get(s, np.zeros((x.shape[1], n_hidden))), dtype=np.float64)
            )
            for s in module.STATES
        }
        for value in initial.values():
            value.requires_grad_(True)
        outputs, _ = layer(x, initial)
        cache = {"layer": layer, "x": x, "state": initial, "outputs": outputs}
        return {k: v.detach().numpy() for k, v in outputs.items()}, cache

    def backward(cache: Any, d_outputs: Any) -> Any:
        outputs = cache["outputs"]
        pairs = [
            (outputs[k], torch.tensor(np.asarray(v, dtype=np.float64)))
            for k, v in d_outputs.items()
            if v is not None
        ]
        layer, x, initial = cache["layer"], cache["x"], cache["state"]
        wanted = [x, *initial.values(), *(getattr(layer, p) for p in module.PARAMETERS)]
        grads = torch.autograd.grad(
            [o for o, _ in pairs], wanted, [g for _, g in pairs], allow_unused=True, retain_graph=True
        )
        arrays = [
            np.zeros(w.shape) if g is None else g.detach().numpy() for w, g in zip(wanted, grads, strict=True)
        ]
        d_x = arrays[0]
        d_state = dict(zip(initial, arrays[1 : 1 + len(initial)], strict=True))
        d_params = dict(zip(module.PARAMETERS, arrays[1 + len(initial) :], strict=True))
        return d_params, d_x, d_state

    contract = ModuleType(module.__name__ + "_as_numpy")
    contract.__dict__.update(
        PARAMETERS=module.PARAMETERS,
        STATES=module.STATES,
        init_params=init_params,
        forward=forward,
        backward=backward,
    )
    return contract


__all__ = ["as_numpy"]
