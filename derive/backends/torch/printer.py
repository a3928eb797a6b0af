"""The PyTorch printer: the NumPy printer's batch-row layout, with torch's spellings.

A value is a tensor of rows, one per sequence in the batch, as in the NumPy
modules, so most of the statement IR reads the same in both (``v @ W.T``,
``a[t]``, ``a += b``).  What differs is here: tensors are made like ``x``
(``x.new_empty``, on its device and in its dtype), stacked with ``torch.cat``,
written into with torch's ``out=`` calls, and the elementwise functions are
torch's own kernels (:mod:`.functions`).  torch reports no overflow, so a loop
needs no guard around it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from sympy import MatMul, Transpose

from ...codegen import ir
from ..numpy.printer import BatchRowPrinter
from ..numpy.printer import StatementPrinter as NumPyStatements
from ..printer import Line
from .functions import spelling

# The tensor every new tensor is made like (its dtype and device): the input.
LIKE = "x"


class TorchRowPrinter(BatchRowPrinter):
    """Matrix expressions in the batch-row layout, with torch's elementwise functions."""

    def _print_Apply(self, expr: Any) -> str:
        return f"{spelling(expr.function).call}({self._print(expr.arg)})"


def code(expr: Any, names: dict[str, str] | None = None) -> str:
    return TorchRowPrinter({"names": names or {}}).doprint(expr)


class StatementPrinter(NumPyStatements):
    """Prints the nodes and statements of :mod:`derive.codegen.ir` as torch lines."""

    language = "PyTorch"
    operations: ClassVar[dict[str, str]] = {
        "exp": "torch.exp",
        "reciprocal": "torch.reciprocal",
        "multiply": "torch.mul",
        "divide": "torch.div",
        "add": "torch.add",
    }

    def loop(self, node: ir.Loop, depth: int) -> list[Line]:
        return super().loop(replace(node, overflows=False), depth)

    def quiet(self, node: ir.Quiet, depth: int) -> list[Line]:
        return self.lines(node.body, depth)

    def _print_Math(self, node: ir.Math) -> str:
        return code(node.expr, {name: self(value) for name, value in node.names})

    def _print_Assign(self, node: ir.Assign) -> str:
        value = node.value
        expr = value.expr if isinstance(value, ir.Math) else None
        if (
            isinstance(value, ir.Math)
            and node.op == "+="
            and isinstance(expr, MatMul)
            and len(expr.args) == 2
            and all(getattr(a, "is_Matrix", False) for a in expr.args)  # not -1 · v
            and expr.args[0].shape[1] == 1
            and isinstance(expr.args[1], Transpose)
            and expr.args[1].arg.shape[1] == 1
        ):
            # A sum over the batch of outer products u vᵀ added in place: one GEMM that
            # accumulates (u.T @ v would make a new matrix first).
            names = {name: self(held) for name, held in value.names}
            u, v = (code(f, names) for f in (expr.args[0], expr.args[1].arg))
            u = u if u.isidentifier() else f"({u})"
            return f"{self(node.target)}.addmm_({u}.T, {v})"
        return super()._print_Assign(node)

    def _print_MatMul(self, node: ir.MatMul) -> str:
        if isinstance(node.a, ir.Transpose):
            # A sum of outer products over the steps, δzᵀ v, as (vᵀ δz)ᵀ: torch's GEMM
            # reads a transposed left operand of many rows faster on the right (measured).
            b = self(node.b)
            b = b if isinstance(node.b, (str, ir.Rows, ir.Block, ir.At)) else f"({b})"
            return f"({b}.T @ {self(node.a.a)}).T"
        return super()._print_MatMul(node)

    def _print_BatchSum(self, node: ir.BatchSum) -> str:
        a = self(node.a)
        return f"{a}.sum(0)" if a.isidentifier() else f"({a}).sum(0)"

    def _print_StackColumns(self, node: ir.StackColumns) -> str:
        scales = node.scales or (1,) * len(node.names)
        columns = [_scaled(n + ".T", c) for n, c in zip(node.names, scales, strict=True)]
        if len(columns) == 1:
            # A product reads a contiguous matrix faster than a transposed view.
            return f"{columns[0]}.contiguous()" if scales[0] == 1 else columns[0]
        return f"torch.cat(({', '.join(columns)}), dim=1)"

    def _print_StackRows(self, node: ir.StackRows) -> str:
        if len(node.names) == 1:
            return node.names[0]
        return f"torch.cat(({', '.join(node.names)}))"

    def _print_Concat(self, node: ir.Concat) -> str:
        scales = node.scales or (1,) * len(node.names)
        vectors = [_scaled(n, c) for n, c in zip(node.names, scales, strict=True)]
        if len(vectors) == 1:
            return vectors[0]
        return f"torch.cat(({', '.join(vectors)}))"

    def _print_Itemsize(self, node: ir.Itemsize) -> str:
        return f"{LIKE}.element_size()"

    def _print_Empty(self, node: ir.Empty) -> str:
        return f"{LIKE}.new_empty({self(node.shape)})"

    def _print_Zeros(self, node: ir.Zeros) -> str:
        return f"{LIKE}.new_zeros({self(node.shape)})"

    def _print_Constant(self, node: ir.Constant) -> str:
        # torch takes a Python number as it is, on any device.
        return str(node.value)

    def _print_PreviousAll(self, node: ir.PreviousAll) -> str:
        return f"torch.cat(({self(node.initial)}[None], {self(node.outputs)}[:-1]))"

    def _print_MatMulInto(self, node: ir.MatMulInto) -> str:
        return f"torch.matmul({self(node.a)}, {self(node.b)}, out={self(node.out)})"

    def _print_ApplyInto(self, node: ir.ApplyInto) -> str:
        return f"{spelling(node.function).call}({self(node.arg)}, out={self(node.out)})"


def _scaled(text: str, factor: int) -> str:
    """``factor * text``, with -1 and 1 written as a sign and nothing."""
    if factor == 1:
        return text
    return f"-{text}" if factor == -1 else f"{factor} * {text}"


__all__ = ["LIKE", "StatementPrinter", "TorchRowPrinter", "code"]
