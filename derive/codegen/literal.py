"""The literal lowering: every equation and every adjoint as the derivation writes it,
one product per gate per step.  The benchmark's baseline, and a second
implementation of the same contract for the tests."""

from __future__ import annotations

from collections.abc import Sequence

from sympy import MatrixExpr, ZeroMatrix

from .. import algebra, naming
from ..cell import N_HIDDEN
from ..derivation import Assignment, Derivation
from ..printing.text import equation, text
from . import ir
from .code import Code

# The loop's index: the step (the generated code's own name).
STEP = naming.own("t")


def _comment(a: Assignment, parameters: Sequence[str]) -> ir.Comment:
    return ir.Comment(equation(text(a.target, parameters), text(a.value, parameters)))


def _applies(derivation: Derivation) -> bool:
    """Whether an adjoint of ``derivation`` applies an elementwise function."""
    return any(isinstance(e, algebra.Apply) for a in derivation.backward for e in algebra.walk(a.value))


def lower_literal(derivation: Derivation) -> Code:
    cell = derivation.cell
    params = [p.name for p in cell.parameters]
    names: dict[str, ir.Node] = {x: ir.at(x, STEP) for x in cell.inputs}

    def show(e: MatrixExpr) -> ir.Math:
        return ir.Math(e, tuple(names.items()))

    setup: list[ir.Statement] = []
    step: list[ir.Statement] = []
    for eq in cell.equations:
        shape = ir.SEQUENCE if eq.symbol.shape[0] == N_HIDDEN else ir.shape_of("x")
        setup.append(ir.Assign(eq.name + "_seq", ir.Empty(shape)))
    for s in cell.states:
        setup.append(ir.Assign(naming.prev(s), ir.at("state", ir.Key(s))))
    for eq in cell.equations:
        step.append(_comment(Assignment(eq.symbol, eq.rhs), params))
        step.append(ir.Assign(ir.at(eq.name + "_seq", STEP), show(eq.rhs)))
        names[eq.name] = ir.at(eq.name + "_seq", STEP)
    for s in cell.states:
        step.append(ir.Assign(naming.prev(s), ir.at(s + "_seq", STEP)))
    forward = (*setup, ir.Loop(STEP, ir.T, tuple(step), overflows=True))

    # Backward: the same names, read at step t.
    setup, step = [], []
    for s in cell.states:
        setup.append(ir.Assign(naming.own("d_out_" + s), ir.at(naming.own("d_out"), ir.Key(s))))
    for s in cell.states:
        prev = naming.prev(s)
        setup.append(ir.Assign(prev + "_seq", ir.PreviousAll(ir.at("state", ir.Key(s)), s + "_seq")))
        names[prev] = ir.at(prev + "_seq", STEP)
        setup.append(ir.Assign(naming.adjoint(prev), ir.Zeros(ir.BATCH)))
    for p in cell.parameters:
        setup.append(ir.Assign(naming.adjoint(p.name), ir.Zeros(ir.shape_of(p.name))))
    setup.append(ir.Assign(naming.adjoint("x"), ir.Zeros(ir.shape_of("x"))))
    for c in derivation.carries:
        step.append(
            ir.Assign(c.incoming.name, ir.Incoming(naming.own("d_out_" + c.state.name), c.carried.name, STEP))
        )
    gradients = {g.target.name for g in derivation.gradients}
    vectors = {naming.adjoint(p.name) for p in cell.parameters if p.cols == "1"}
    inputs = {naming.adjoint(x) for x in cell.inputs}
    carried = {c.carried.name for c in derivation.carries}
    for a in derivation.backward:
        step.append(_comment(a, params))
        value = show(a.value)
        if a.target.name in gradients and isinstance(a.value, ZeroMatrix):
            continue  # nothing to add: the gradient stays zero
        if a.target.name in gradients:
            step.append(
                ir.Assign(a.target.name, ir.BatchSum(value) if a.target.name in vectors else value, "+=")
            )
        elif a.target.name in inputs:
            step.append(ir.Assign(ir.at(a.target.name, STEP), value))
        elif a.target.name in carried and isinstance(a.value, ZeroMatrix):
            step.append(ir.Assign(a.target.name, ir.Zeros(ir.BATCH)))
        else:
            step.append(ir.Assign(a.target.name, value))
    return Code(
        forward=forward,
        # An adjoint that applies a function again (tanh(s_t), in the LSTM's δs_t) may
        # overflow inside it as the forward pass's did.
        backward=(*setup, ir.Loop(STEP, ir.T, tuple(step), reverse=True, overflows=_applies(derivation))),
        cache=tuple(eq.name + "_seq" for eq in cell.equations),
        backward_params=tuple(params),
        outputs={s: s + "_seq" for s in cell.states},
        values={eq.name: eq.name + "_seq" for eq in cell.equations},
        d_params={p.name: naming.adjoint(p.name) for p in cell.parameters},
        d_x=naming.adjoint("x"),
        d_state={c.state.name: c.carried.name for c in derivation.carries},
    )
