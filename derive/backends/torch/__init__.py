"""The PyTorch backend: a ``Layer(nn.Module)`` per cell whose backward is the derived
BPTT, one ``torch.autograd.Function`` for the whole sequence.

It prints the fused lowering, as NumPy does, with one choice of the plan of its
own (:class:`~derive.codegen.plan.Options`): σ and tanh are torch's fused
kernels, not folded into one exp.  The statements that only the input's
gradient needs (:func:`~derive.codegen.unused.apart`) run only when autograd
asks for that gradient (``ctx.needs_input_grad``): x is most often data.  Its
printer (:mod:`.printer`) is the NumPy printer's batch-row layout with torch's
spellings (:mod:`.functions`); its
template is ``templates/code/torch.py.j2``, whose frame's own names start with _.
A module of a cell outside the catalogue is checked as NumPy's are, through
:mod:`.check`, which runs it in float64 behind the NumPy modules' contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType, SimpleNamespace

from ...cell import Cell
from ...codegen import Code, Options, unused
from ...derivation import Derivation
from ..backend import Backend, applied, module_frame
from . import functions
from .printer import StatementPrinter

OPTIONS = Options(through_exp=False, keep_products=True, chunk_arrays=False)


def context(cell: Cell, derivation: Derivation, code: Code, literal: bool) -> Mapping[str, object]:
    """The template's variables: the statements printed as lines, what each function's
    frame binds, what forward returns (the outputs, then the tensors backward reads
    that are not outputs) and which of them it saves, and the helpers."""
    show = StatementPrinter()
    forward_reads = {show(r) for r in unused.reads(code.forward, code.forward_results)}
    backward_reads = {show(r) for r in unused.reads(code.backward, code.backward_results)}
    params = [p.name for p in cell.parameters]
    outputs = [show(code.outputs[s]) for s in cell.states]
    backward_cache = [c for c in code.cache if c in backward_reads]
    # The statements only the input's gradient needs run when autograd asks for it.
    parts = unused.apart(code.backward, (*code.d_params.values(), *code.d_state.values()))
    backward, only_d_x = parts if parts is not None else (code.backward, ())
    returned = outputs + [c for c in backward_cache if c not in outputs]
    printed = SimpleNamespace(
        forward=show.lines(code.forward),
        backward=show.lines(backward),
        only_d_x=show.lines(only_d_x, 1),
        forward_reads=forward_reads,
        backward_reads=backward_reads,
        forward_params=[p for p in params if p in forward_reads],
        backward_params=[p for p in code.backward_params if p in backward_reads],
        backward_cache=backward_cache,
        returned=returned,
        saved_outputs=[returned.index(c) for c in backward_cache],
        d_params={k: show(v) for k, v in code.d_params.items()},
        d_state={k: show(v) for k, v in code.d_state.items()},
        d_x=show(code.d_x),
    )
    return {**module_frame(cell, literal), "code": printed, "helpers": functions.helpers(applied(cell))}


def check(module: ModuleType, derivation: Derivation, literal: bool) -> None:
    """The quick check of a generated torch module, run behind the NumPy contract."""
    from ...codegen.modules import quick_check
    from .check import as_numpy

    quick_check(as_numpy(module), derivation, literal)


BACKEND = Backend(
    name="torch",
    language="Python",
    suffix=".py",
    template="code/torch.py.j2",
    printer=StatementPrinter,
    context=context,
    command="python -m derive code",
    fused=True,
    importable=True,
    options=OPTIONS,
    check=check,
)

__all__ = ["BACKEND", "OPTIONS", "check", "context"]
