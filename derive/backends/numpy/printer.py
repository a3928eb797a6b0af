"""The NumPy printer: matrix expressions in the batch-row layout of the generated
modules, and the statements of :mod:`derive.codegen.ir` as Python lines.

In the mathematics a variable is a column; in the generated code it is an
array of shape (B, rows), one row per sequence in the batch.  So ``W v``
prints as ``v @ W.T``, ``Wᵀ g`` as ``g @ W``, and the outer product ``g vᵀ``
(a parameter gradient) as ``g.T @ v``, which also sums over the batch.
Parameter vectors (biases) are 1-D and broadcast over the rows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sympy import HadamardProduct, MatAdd, MatMul, OneMatrix, Transpose
from sympy.printing.numpy import NumPyPrinter

from ...algebra import Divide, is_spread, is_total, split_coefficient
from ...codegen import ir
from ..printer import Line
from ..printer import StatementPrinter as Base
from .functions import helper

ADD, PRODUCT, ATOM = 10, 20, 100


class BatchRowPrinter(NumPyPrinter):
    """Settings: ``names`` maps a symbol's name to the code that holds its value.

    A factor's shape says how it is stored: a column (k×1) is an array of rows
    (or a 1-D parameter vector), a row (1×k) is the transpose of a column, and a
    matrix (neither dimension 1) is a parameter, or a sum over the batch of outer
    products, held as a 2-D array.
    """

    _default_settings: ClassVar[dict[str, Any]] = {**NumPyPrinter._default_settings, "names": {}}

    def _level(self, expr: Any) -> int:
        if is_spread(expr):  # printed as the scalar it spreads
            return self._level(expr.args[1])
        if isinstance(expr, MatAdd):
            return ADD
        c, core = split_coefficient(expr)
        if isinstance(core, OneMatrix):  # printed as the number c
            return ADD if c.is_negative else ATOM
        if c != 1 or isinstance(expr, (MatMul, HadamardProduct, Divide)):
            return PRODUCT
        return ATOM

    def wrap(self, expr: Any, level: int) -> str:
        text = self._print(expr)
        return f"({text})" if self._level(expr) < level else text

    def _print_MatrixSymbol(self, expr: Any) -> str:
        return self._settings["names"].get(expr.name, expr.name)

    def _print_MatAdd(self, expr: Any) -> str:
        out = []
        for k, term in enumerate(expr.args):
            c, core = split_coefficient(term)
            if c.is_negative:
                body = (
                    self.wrap(core, PRODUCT + 1)
                    if c == -1
                    else f"{self._print(-c)} * {self.wrap(core, PRODUCT + 1)}"
                )
                out.append(("-" if k == 0 else " - ") + body)
            else:
                out.append(("" if k == 0 else " + ") + self._print(term))
        return "".join(out)

    def _matrix(self, factor: Any, transposed: bool) -> str:
        """A matrix factor, or its transpose, as a 2-D array."""
        if isinstance(factor, Transpose):
            factor, transposed = factor.arg, not transposed
        return self.wrap(factor, ATOM) + (".T" if transposed else "")

    def _print_MatMul(self, expr: Any) -> str:
        if is_spread(expr):  # a scalar parameter over a column: the 0-d array, broadcast
            return self._print(expr.args[1])
        if is_total(expr):  # 𝟙ᵀ g, the sum of a column's entries: one number per row
            return f"{self.wrap(expr.args[1], ATOM)}.sum(axis=-1)"
        c, core = split_coefficient(expr)
        if isinstance(core, OneMatrix):  # the matrix of c's: c, broadcast
            return self._print(c)
        if c != 1:
            return ("-" if c == -1 else f"{self._print(c)} * ") + self.wrap(core, PRODUCT + 1)
        assert core is not None
        factors = list(core.args)
        if core.shape[1] == 1 and all(_is_matrix(f) for f in factors[:-1]):
            # (A B v) as rows: v @ B.T @ A.T
            return " @ ".join(
                [self.wrap(factors[-1], ATOM), *(self._matrix(f, True) for f in reversed(factors[:-1]))]
            )
        columns = [k for k, f in enumerate(factors) if f.shape[1] == 1]
        if len(columns) == 1 and _is_matrix(core):
            k = columns[0]
            left, column, rest = factors[:k], factors[k], factors[k + 1 :]
            if rest and rest[0].shape[0] == 1 and all(_is_matrix(f) for f in [*left, *rest[1:]]):
                # L g vᵀ R summed over the batch: L @ (g.T @ v) @ R
                row = rest[0].arg if isinstance(rest[0], Transpose) else Transpose(rest[0])
                outer = f"{self.wrap(column, ATOM)}.T @ {self.wrap(row, ATOM)}"
                if left or rest[1:]:
                    outer = f"({outer})"
                return " @ ".join(
                    [
                        *(self._matrix(f, False) for f in left),
                        outer,
                        *(self._matrix(f, False) for f in rest[1:]),
                    ]
                )
        raise NotImplementedError(f"no batch-row form for the product {expr}")

    def _print_Transpose(self, expr: Any) -> str:
        if _is_matrix(expr):
            return self._matrix(expr.arg, True)
        # A column and its transpose are the same array of rows.
        return self._print(expr.arg)

    def _print_HadamardProduct(self, expr: Any) -> str:
        return " * ".join(self.wrap(f, PRODUCT + 1) for f in expr.args)

    def _print_HadamardPower(self, expr: Any) -> str:
        return f"{self.wrap(expr.base, ATOM)}**{int(expr.exp)}"

    def _print_Divide(self, expr: Any) -> str:
        return f"{self.wrap(expr.dividend, PRODUCT + 1)} / {self.wrap(expr.divisor, PRODUCT + 1)}"

    def _print_Apply(self, expr: Any) -> str:
        return f"{helper(expr.function).name}({self._print(expr.arg)})"

    def _print_OneMatrix(self, expr: Any) -> str:
        return "1"

    def _print_ZeroMatrix(self, expr: Any) -> str:
        return "0"

    def _print_Integer(self, expr: Any) -> str:
        return str(expr)

    def _print_Rational(self, expr: Any) -> str:
        return repr(float(expr))

    def _print_Float(self, expr: Any) -> str:
        return repr(float(expr))


def _is_matrix(expr: Any) -> bool:
    return expr.shape[0] != 1 and expr.shape[1] != 1


def code(expr: Any, names: dict[str, str] | None = None) -> str:
    return BatchRowPrinter({"names": names or {}}).doprint(expr)


# The statements of derive.codegen.ir, spelled in NumPy: one method per node.

# The index arithmetic's minimum and maximum.

# What the loops whose body may overflow say, above the errstate that silences it.
_OVERFLOWS = (
    "# exp may overflow to inf inside σ and tanh, where the formulas give the exact",
    "# limits (0, 1, -1); silence that once here rather than at every call.",
)


class StatementPrinter(Base):
    """Prints the nodes and statements of :mod:`derive.codegen.ir` as Python lines."""

    language = "NumPy"
    # The elementwise operations written into an array (ir.OpInto, and the addition of
    # ir.Incoming), each a function with out=.
    operations: ClassVar[dict[str, str]] = {
        "exp": "np.exp",
        "reciprocal": "np.reciprocal",
        "multiply": "np.multiply",
        "divide": "np.divide",
        "add": "np.add",
    }

    def loop(self, node: ir.Loop, depth: int) -> list[Line]:
        body = set().union(*(ir.reads(s) for s in node.body))
        index = node.index if node.index in body else "_"
        bounds = [self(node.stop)]
        if node.start != 0 or node.step != 1:
            bounds.insert(0, self(node.start))
        if node.step != 1:
            bounds.append(self(node.step))
        steps = f"range({', '.join(bounds)})"
        if node.reverse:
            steps = f"reversed({steps})"
        lines: list[Line] = []
        if node.overflows:
            lines += [Line(depth, text) for text in _OVERFLOWS]
            lines.append(Line(depth, 'with np.errstate(over="ignore"):'))
            depth += 1
        lines.append(Line(depth, f"for {index} in {steps}:"))
        return lines + self.lines(node.body, depth + 1)

    def quiet(self, node: ir.Quiet, depth: int) -> list[Line]:
        lines = [Line(depth, text) for text in _OVERFLOWS]
        lines.append(Line(depth, 'with np.errstate(over="ignore"):'))
        return lines + self.lines(node.body, depth + 1)

    def _print_Least(self, node: ir.Least) -> str:
        return f"min({self(node.a)}, {self(node.b)})"

    def _print_Greatest(self, node: ir.Greatest) -> str:
        return f"max({self(node.a)}, {self(node.b)})"

    def _print_Slice(self, node: ir.Slice) -> str:
        start = "" if node.start is None else self(node.start)
        stop = "" if node.stop is None else self(node.stop)
        return f"{start}:{stop}"

    def _times(self, k: int) -> str:
        """``k * n``, with 0 and 1 written as 0 and n."""
        n = self(ir.N)
        return "0" if k == 0 else n if k == 1 else f"{k} * {n}"

    def _print_Width(self, node: ir.Width) -> str:
        return self._times(node.k)

    def _print_Math(self, node: ir.Math) -> str:
        return code(node.expr, {name: self(value) for name, value in node.names})

    def _print_At(self, node: ir.At) -> str:
        return f"{self(node.array)}[{self(node.index)}]"

    def _print_Key(self, node: ir.Key) -> str:
        return repr(node.name)

    def _print_Block(self, node: ir.Block) -> str:
        array = self(node.array)
        if node.start == 0 and node.stop == node.width:
            whole = ", ".join(self(i) for i in node.lead if i != ir.ALL)
            return f"{array}[{whole}]" if whole else array
        lead = ", ".join(self(i) for i in node.lead)
        return f"{array}[{lead}, {self._times(node.start)}:{self._times(node.stop)}]"

    def _print_RowRange(self, node: ir.RowRange) -> str:
        return f"{self(node.array)}[{self._times(node.start)}:{self._times(node.stop)}]"

    def _print_Everything(self, node: ir.Everything) -> str:
        return f"{self(node.view)}[...]"

    def _print_MatMul(self, node: ir.MatMul) -> str:
        return f"{self(node.a)} @ {self(node.b)}"

    def _print_Add(self, node: ir.Add) -> str:
        return " + ".join(self(t) for t in node.terms)

    def _print_Transpose(self, node: ir.Transpose) -> str:
        return f"{self(node.a)}.T"

    def _print_Rows(self, node: ir.Rows) -> str:
        steps = self(ir.T) if node.steps is None else self(node.steps)
        return f"{self(node.array)}.reshape({steps} * {self(ir.B)}, -1)"

    def _print_Steps(self, node: ir.Steps) -> str:
        cols = "-1" if node.cols is None else self(node.cols)
        return f"({self(node.rows)}).reshape({self(ir.T)}, {self(ir.B)}, {cols})"

    def _print_BatchSum(self, node: ir.BatchSum) -> str:
        a = self(node.a)
        return f"{a}.sum(axis=0)" if a.isidentifier() else f"({a}).sum(axis=0)"

    def _print_StackColumns(self, node: ir.StackColumns) -> str:
        scales = node.scales or (1,) * len(node.names)
        columns = [_scaled(n + ".T", c) for n, c in zip(node.names, scales, strict=True)]
        if len(columns) == 1:
            return columns[0]
        return f"np.concatenate(({', '.join(columns)}), axis=1)"

    def _print_Scaled(self, node: ir.Scaled) -> str:
        return _scaled(self(node.a), node.factor)

    def _print_StackRows(self, node: ir.StackRows) -> str:
        if len(node.names) == 1:
            return node.names[0]
        return f"np.concatenate(({', '.join(node.names)}))"

    def _print_Concat(self, node: ir.Concat) -> str:
        scales = node.scales or (1,) * len(node.names)
        vectors = [_scaled(n, c) for n, c in zip(node.names, scales, strict=True)]
        if len(vectors) == 1:
            return vectors[0]
        return f"np.concatenate(({', '.join(vectors)}))"

    def _print_Shape(self, node: ir.Shape) -> str:
        if node.of is not None:
            return f"{node.of}.shape"
        return "(" + ", ".join(self(d) for d in node.sizes) + ("," if len(node.sizes) == 1 else "") + ")"

    def _print_Itemsize(self, node: ir.Itemsize) -> str:
        return f"{self(ir.DTYPE)}.itemsize"

    def _print_Empty(self, node: ir.Empty) -> str:
        return f"np.empty({self(node.shape)}, {self(ir.DTYPE)})"

    def _print_Constant(self, node: ir.Constant) -> str:
        return f"np.full((), {node.value}, {self(ir.DTYPE)})"

    def _print_Zeros(self, node: ir.Zeros) -> str:
        return f"np.zeros({self(node.shape)}, {self(ir.DTYPE)})"

    def _print_Incoming(self, node: ir.Incoming) -> str:
        d_out, carried = self(node.d_out), self(node.carried)
        given = f"{d_out}[{self(node.step)}]"
        if node.into is not None:  # carried + 0 is carried, in one call either way
            add = self.operations["add"]
            return f"{add}({carried}, 0 if {d_out} is None else {given}, out={self(node.into)})"
        return f"{carried} if {d_out} is None else {given} + {carried}"

    def _print_PreviousAll(self, node: ir.PreviousAll) -> str:
        return f"np.concatenate(({self(node.initial)}[None], {self(node.outputs)}[:-1]))"

    def _print_Comment(self, node: ir.Comment) -> str:
        return "# " + node.text

    def _print_Assign(self, node: ir.Assign) -> str:
        return f"{self(node.target)} {node.op} {self(node.value)}"

    def _print_MatMulInto(self, node: ir.MatMulInto) -> str:
        return f"np.matmul({self(node.a)}, {self(node.b)}, out={self(node.out)})"

    def _print_OpInto(self, node: ir.OpInto) -> str:
        args = ", ".join(self(a) for a in node.args)
        return f"{self.operations[node.op]}({args}, out={self(node.out)})"

    def _print_ApplyInto(self, node: ir.ApplyInto) -> str:
        return f"{helper(node.function).name}({self(node.arg)}, out={self(node.out)})"


def _scaled(text: str, factor: int) -> str:
    """``factor * text``, with -1 and 1 written as a sign and nothing."""
    if factor == 1:
        return text
    if not (text.isidentifier() or text.replace(".", "").isidentifier()):
        text = f"({text})"
    return f"-{text}" if factor == -1 else f"{factor} * {text}"


__all__ = ["BatchRowPrinter", "StatementPrinter", "code"]
