"""JavaScript for one sequence at a time: the statements of :mod:`derive.codegen.ir`
as the literal lowering emits them, spelled over ``Float64Array``.

The NumPy printer works on a batch of rows; here the batch is one sequence, so a
column of the mathematics is a ``Float64Array``, a matrix a ``Float64Array`` of
its entries row by row, and a row (the transpose of a column) the same array as
the column.  Every operation is a call of a small helper that the generated file
defines (``_mv(W, v)`` is ``W v``, ``_mtv(W, g)`` is ``Wᵀ g``, ``_outer(g, v)`` is
``g vᵀ``, ``_mul`` the elementwise product, ``_map(f, v)`` a function of the
table applied to each entry), so a line reads like the equation it implements.
Clarity over speed: every call allocates its result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from sympy import Transpose
from sympy.printing.printer import Printer

from ...algebra import is_spread, split_coefficient
from ...cell import N_HIDDEN, N_INPUT
from ...codegen import ir
from ...naming import own
from ..printer import Line
from ..printer import StatementPrinter as Base
from . import functions

# What a size of the mathematics is called in the generated functions (their own names).
SIZES = {N_HIDDEN: own("n"), N_INPUT: own("m")}

# Names a cell's symbol cannot keep in JavaScript: the language's reserved words,
# the names strict mode refuses to bind and the globals the generated code calls.
# Such a name gets a $ appended, which no Python name has.  (The generated
# functions' own locals start with _, as in every backend: derive.naming.own.)
RESERVED = frozenset(
    """
    await break case catch class const continue debugger default delete do else enum
    export extends false finally for function if implements import in instanceof interface
    let new null package private protected public return static super switch this throw
    true try typeof var void while with yield arguments eval undefined NaN Infinity
    globalThis Math Array Float64Array Object JSON Error Number module require exports
    """.split()
)


def js_name(name: str) -> str:
    """The identifier that holds a symbol's value in the generated JavaScript.

    >>> js_name("W_o"), js_name("new")
    ('W_o', 'new$')
    """
    return name + "$" if name in RESERVED else name


class VectorPrinter(Printer):
    """A matrix expression of the derivation as JavaScript over ``Float64Array``.

    Settings: ``names`` maps a symbol's name to the code that holds its value;
    any other symbol is a local of its own name (:func:`js_name`).
    """

    printmethod = "_javascript"
    _default_settings: ClassVar[dict[str, Any]] = {"names": {}}

    def _size(self, rows: Any, cols: Any) -> str:
        sizes = [SIZES[d] for d in (rows, cols) if d != 1]
        return " * ".join(sizes) or "1"

    def _print_MatrixSymbol(self, expr: Any) -> str:
        return self._settings["names"].get(expr.name, js_name(expr.name))

    def _print_MatAdd(self, expr: Any) -> str:
        terms = []
        for term in expr.args:
            c, core = split_coefficient(term)
            if c == 1:
                terms.append(self._print(term))
            elif c == -1:
                terms.append("-" + self._print(core))
            else:
                terms.append(f"_scale({self._number(c)}, {self._print(core)})")
        if len(terms) == 2 and terms[1].startswith("-") and not terms[0].startswith("-"):
            return f"_sub({terms[0]}, {terms[1][1:]})"
        return "_add(" + ", ".join(t if not t.startswith("-") else f"_neg({t[1:]})" for t in terms) + ")"

    def _print_MatMul(self, expr: Any) -> str:
        if is_spread(expr):  # a scalar parameter (an array of one number) over a column
            return f"_full({self._size(*expr.shape)}, {self._print(expr.args[1])}[0])"
        c, core = split_coefficient(expr)
        if c != 1:
            inner = self._print(core)
            return f"_neg({inner})" if c == -1 else f"_scale({self._number(c)}, {inner})"
        assert core is not None
        factors = list(core.args)
        if factors[-1].shape[1] == 1 and all(_is_matrix(f) for f in factors[:-1]):
            # A B v: each matrix applied to the vector, the last first.
            out = self._print(factors[-1])
            for f in reversed(factors[:-1]):
                if isinstance(f, Transpose):
                    out = f"_mtv({self._print(f.arg)}, {out})"
                else:
                    out = f"_mv({self._print(f)}, {out})"
            return out
        if len(factors) == 2 and factors[0].shape[1] == 1 and factors[1].shape[0] == 1:
            row = factors[1].arg if isinstance(factors[1], Transpose) else Transpose(factors[1])
            return f"_outer({self._print(factors[0])}, {self._print(row)})"
        # Anything else, as matrices multiplied in order.
        out, rows = self._dense(factors[0]), factors[0].shape[0]
        for f in factors[1:]:
            inner, cols = f.shape
            out = f"_mm({out}, {self._dense(f)}, {SIZES.get(rows, rows)}, {SIZES.get(inner, inner)}, "
            out += f"{SIZES.get(cols, cols)})"
        return out

    def _dense(self, factor: Any) -> str:
        """A factor as the row-major entries of its matrix."""
        if isinstance(factor, Transpose) and _is_matrix(factor):
            rows, cols = factor.arg.shape
            return f"_transpose({self._print(factor.arg)}, {SIZES[rows]}, {SIZES[cols]})"
        return self._print(factor)

    def _print_Transpose(self, expr: Any) -> str:
        if _is_matrix(expr):
            return self._dense(expr)
        return self._print(expr.arg)  # a row holds the same entries as its column

    def _print_HadamardProduct(self, expr: Any) -> str:
        return "_mul(" + ", ".join(self._print(f) for f in expr.args) + ")"

    def _print_HadamardPower(self, expr: Any) -> str:
        return f"_pow({self._print(expr.base)}, {int(expr.exp)})"

    def _print_Divide(self, expr: Any) -> str:
        return f"_div({self._print(expr.dividend)}, {self._print(expr.divisor)})"

    def _print_Apply(self, expr: Any) -> str:
        return f"_map({functions.name(expr.function)}, {self._print(expr.arg)})"

    def _print_OneMatrix(self, expr: Any) -> str:
        return f"_full({self._size(*expr.shape)}, 1)"

    def _print_ZeroMatrix(self, expr: Any) -> str:
        return f"_full({self._size(*expr.shape)}, 0)"

    def _number(self, c: Any) -> str:
        return str(c) if c.is_Integer else repr(float(c))

    def emptyPrinter(self, expr: Any) -> str:
        raise NotImplementedError(f"no JavaScript for {type(expr).__name__}: {expr}")


def _is_matrix(expr: Any) -> bool:
    return expr.shape[0] != 1 and expr.shape[1] != 1


def code(expr: Any, names: dict[str, str] | None = None) -> str:
    """``expr`` as a JavaScript expression.

    >>> from sympy import MatrixSymbol
    >>> from derive.cell import N_HIDDEN as n
    >>> W, h, b = MatrixSymbol("W", n, n), MatrixSymbol("h_prev", n, 1), MatrixSymbol("b", n, 1)
    >>> code(W * h + b)
    '_add(_mv(W, h_prev), b)'
    """
    return VectorPrinter({"names": names or {}}).doprint(expr)


class StatementPrinter(Base):
    """The statements of the literal lowering as JavaScript lines, for one function.

    An assignment to a name not yet bound in the function declares it (``let``);
    ``declared`` holds the names the function binds before its statements.  The
    nodes only the fused lowering makes (stacked blocks, in-place products) have no
    spelling here.
    """

    language = "JavaScript"

    def __init__(self, declared: Iterable[str] = ()) -> None:
        self.declared = set(declared)

    def name(self, name: str) -> str:
        return js_name(name)

    def loop(self, node: ir.Loop, depth: int) -> list[Line]:
        if node.step != 1:
            raise NotImplementedError(
                "no JavaScript for a loop by steps of more than one: print the literal lowering"
            )
        t = self(node.index)
        if node.reverse:
            first, last = self(ir.Minus(node.stop, 1)), self(node.start)
            head = f"for (let {t} = {first}; {t} >= {last}; {t}--) {{"
        else:
            head = f"for (let {t} = {self(node.start)}; {t} < {self(node.stop)}; {t}++) {{"
        return [Line(depth, head), *self.lines(node.body, depth + 1), Line(depth, "}")]

    def _print_Math(self, node: ir.Math) -> str:
        return code(node.expr, {name: self(value) for name, value in node.names})

    def _print_At(self, node: ir.At) -> str:
        return f"{self(node.array)}[{self(node.index)}]"

    def _print_Key(self, node: ir.Key) -> str:
        return json.dumps(node.name)

    def _print_Add(self, node: ir.Add) -> str:
        return "_add(" + ", ".join(self(t) for t in node.terms) + ")"

    def _print_BatchSum(self, node: ir.BatchSum) -> str:
        return self(node.a)  # a batch of one sequence

    def _print_Shape(self, node: ir.Shape) -> str:
        raise NotImplementedError("a shape is printed by the node that makes the array")

    def _print_Empty(self, node: ir.Empty) -> str:
        # Only sequences are made empty: one entry per step, each written in the loop.
        return f"new Array({self(ir.T)})"

    def _print_Zeros(self, node: ir.Zeros) -> str:
        shape = node.shape
        if shape.of is not None:
            return f"_zerosLike({js_name(shape.of)})"
        if shape == ir.BATCH:
            return f"_full({self(ir.N)}, 0)"
        raise NotImplementedError(f"no JavaScript for zeros of shape {shape}")

    def _print_Incoming(self, node: ir.Incoming) -> str:
        # backward fills a missing output's gradient with zeros (_sequences)
        return f"_add({self(node.d_out)}[{self(node.step)}], {self(node.carried)})"

    def _print_PreviousAll(self, node: ir.PreviousAll) -> str:
        return f"[{self(node.initial)}, ...{self(node.outputs)}.slice(0, -1)]"

    def _print_Comment(self, node: ir.Comment) -> str:
        return "// " + node.text

    def _print_Assign(self, node: ir.Assign) -> str:
        target, value = self(node.target), self(node.value)
        if node.op == "+=":
            return f"_addInto({target}, {value});"
        if node.op != "=":
            raise NotImplementedError(f"no JavaScript for the assignment {node.op}")
        if isinstance(node.target, str) and target not in self.declared:
            self.declared.add(target)
            return f"let {target} = {value};"
        return f"{target} = {value};"


__all__ = ["RESERVED", "SIZES", "StatementPrinter", "VectorPrinter", "code", "js_name"]
