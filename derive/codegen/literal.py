"""The literal lowering: every equation and every adjoint as the derivation writes it,
one product per gate per step.  The benchmark's baseline, and a second
implementation of the same contract for the tests."""

from __future__ import annotations

from sympy import ZeroMatrix

from .. import naming
from ..derivation import Assignment, Derivation
from ..printing import numpy as P
from ..printing.text import equation, text
from .code import Code


def _comment(a: Assignment, parameters) -> str:
    return P.comment(equation(text(a.target, parameters), text(a.value, parameters)))


def lower_literal(derivation: Derivation) -> Code:
    cell = derivation.cell
    params = [p.name for p in cell.parameters]
    code = Code()
    names = {x: P.at(x, "t") for x in cell.inputs}
    show = lambda e: P.code(e, names)

    for eq in cell.equations:
        code.forward_setup.append(P.assign(eq.name + "_seq", P.empty("(T, B, n)")))
    for s in cell.states:
        code.forward_setup.append(P.assign(naming.prev(s), P.at("state", P.key(s))))
    for eq in cell.equations:
        code.forward_loop.append(_comment(Assignment(eq.symbol, eq.rhs), params))
        code.forward_loop.append(P.assign(P.at(eq.name + "_seq", "t"), show(eq.rhs)))
        names[eq.name] = P.at(eq.name + "_seq", "t")
    for s in cell.states:
        code.forward_loop.append(P.assign(naming.prev(s), P.at(s + "_seq", "t")))
        code.outputs[s] = s + "_seq"
    code.values = {eq.name: eq.name + "_seq" for eq in cell.equations}
    code.cache = [eq.name + "_seq" for eq in cell.equations]

    # Backward: the same names, read at step t.
    for s in cell.states:
        prev = naming.prev(s)
        code.backward_setup.append(P.assign(prev + "_seq", P.previous_all(P.at("state", P.key(s)), s + "_seq")))
        names[prev] = P.at(prev + "_seq", "t")
        code.backward_setup.append(P.assign(naming.adjoint(prev), P.zeros("(B, n)")))
    for p in cell.parameters:
        code.backward_setup.append(P.assign(naming.adjoint(p.name), P.zeros(f"{p.name}.shape")))
    code.backward_setup.append(P.assign(naming.adjoint("x"), P.zeros("x.shape")))
    for c in derivation.carries:
        code.backward_loop.append(P.assign(c.incoming.name, P.add(P.at("d_out_" + c.state.name, "t"), c.carried.name)))
    gradients = {g.target.name for g in derivation.gradients}
    vectors = {naming.adjoint(p.name) for p in cell.parameters if p.cols == "1"}
    inputs = {naming.adjoint(x) for x in cell.inputs}
    carried = {c.carried.name for c in derivation.carries}
    for a in derivation.backward:
        code.backward_loop.append(_comment(a, params))
        value = show(a.value)
        if a.target.name in gradients:
            code.backward_loop.append(P.assign(a.target.name, P.batch_sum(value) if a.target.name in vectors else value, "+="))
        elif a.target.name in inputs:
            code.backward_loop.append(P.assign(P.at(a.target.name, "t"), value))
        elif a.target.name in carried and isinstance(a.value, ZeroMatrix):
            code.backward_loop.append(P.assign(a.target.name, P.zeros("(B, n)")))
        else:
            code.backward_loop.append(P.assign(a.target.name, value))
    code.d_params = {p.name: naming.adjoint(p.name) for p in cell.parameters}
    code.backward_params = params
    code.d_x = naming.adjoint("x")
    code.d_state = {c.state.name: c.carried.name for c in derivation.carries}
    return code
