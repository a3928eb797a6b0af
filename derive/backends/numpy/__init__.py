"""The NumPy backend: fused modules over a batch of rows, importable with NumPy alone.

Its printer (:mod:`.printer`) spells the statement IR and the derivation's matrix
expressions in the batch-row layout; its helpers (:mod:`.functions`) are the
stable evaluations of the elementwise functions; its template is
``templates/code/numpy.py.j2``, whose frame's own names start with _
(:func:`derive.naming.own`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from ...cell import Cell
from ...codegen import Code, unused
from ...derivation import Derivation
from ..backend import Backend, applied, module_frame
from . import functions
from .printer import StatementPrinter


def context(cell: Cell, derivation: Derivation, code: Code, literal: bool) -> Mapping[str, object]:
    """The template's variables: the statements printed as lines, what each function's
    frame binds (the names and sizes its statements and results read), the parameters'
    shapes and the helpers the module defines."""
    show = StatementPrinter()
    forward_reads = {show(r) for r in unused.reads(code.forward, code.forward_results)}
    backward_reads = {show(r) for r in unused.reads(code.backward, code.backward_results)}
    printed = SimpleNamespace(
        forward=show.lines(code.forward),
        backward=show.lines(code.backward),
        forward_reads=forward_reads,
        backward_reads=backward_reads,
        outputs={k: show(v) for k, v in code.outputs.items()},
        values={k: show(v) for k, v in code.values.items()},
        cache=list(code.cache),
        backward_params=[p for p in code.backward_params if p in backward_reads],
        backward_cache=[c for c in code.cache if c in backward_reads],
        d_params={k: show(v) for k, v in code.d_params.items()},
        d_state={k: show(v) for k, v in code.d_state.items()},
        d_x=show(code.d_x),
    )
    return {**module_frame(cell, literal), "code": printed, "helpers": functions.helpers(applied(cell))}


BACKEND = Backend(
    name="numpy",
    language="Python",
    suffix=".py",
    template="code/numpy.py.j2",
    printer=StatementPrinter,
    context=context,
    command="python -m derive code",
    fused=True,
    importable=True,
)

__all__ = ["BACKEND", "context"]
