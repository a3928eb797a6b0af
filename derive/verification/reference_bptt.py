"""A derivation run as written, on explicit matrices: the reference BPTT.

This follows the derived equations one step at a time, in whatever scalar
type the arrays hold (SymPy symbols, mpmath numbers), with no optimisation.
The proof runs it on 50-digit numbers; the checks of the generated NumPy
code run it as the independent reference.
"""

from __future__ import annotations

from .. import naming
from ..derivation import Derivation
from .explicit import evaluate


def unroll(derivation: Derivation, params, xs, initial, functions, sizes, number=lambda c: c):
    """The forward pass: one environment (name -> value) per step.

    ``params`` maps names to arrays, ``xs`` is one {input name: column} per
    step, and ``initial`` maps ``v_prev`` names to the state before step 1.
    """
    cell = derivation.cell
    prev = dict(initial)
    envs = []
    for x in xs:
        env = {**params, **prev, **x}
        for a in (*derivation.forward, *derivation.intermediates):
            env[a.target.name] = evaluate(a.value, env, functions, sizes, number)
        envs.append(env)
        prev = {naming.prev(s): env[s] for s in cell.states}
    return envs


def backpropagate(derivation: Derivation, envs, d_outputs, functions, sizes, number=lambda c: c, steps=None):
    """Backpropagation through time over the steps of ``envs``.

    ``d_outputs`` is one {state: ∂L/∂state_t} per step.  Returns
    (d_params, d_xs, d_initial): parameter gradients summed over t, one
    {input: adjoint} per step, and {v_prev: adjoint} of the initial state.
    A list given as ``steps`` receives each step's environment with every
    adjoint of the backward step, last step first.
    """
    cell = derivation.cell
    carried = {c.carried.name: None for c in derivation.carries}
    d_params: dict = {}
    d_xs = [None] * len(envs)
    for t in reversed(range(len(envs))):
        env = dict(envs[t])
        for c in derivation.carries:  # δv_t^in = ∂ℓ_t/∂v_t + (δv_{t} carried back from step t+1)
            g, from_next = d_outputs[t][c.state.name], carried[c.carried.name]
            env[c.incoming.name] = g if from_next is None else g + from_next
        for a in derivation.backward:
            env[a.target.name] = evaluate(a.value, env, functions, sizes, number)
        for p in cell.parameters:
            term = env[naming.adjoint(p.name)]
            d_params[p.name] = term if p.name not in d_params else d_params[p.name] + term
        d_xs[t] = {x: env[naming.adjoint(x)] for x in cell.inputs}
        carried = {c.carried.name: env[c.carried.name] for c in derivation.carries}
        if steps is not None:
            steps.append(env)
    d_initial = {naming.prev(s): carried[naming.adjoint(naming.prev(s))] for s in cell.states}
    return d_params, d_xs, d_initial
