"""NumPy code for matrix expressions, in the batch-row layout of the generated modules.

In the mathematics a variable is a column; in the generated code it is an
array of shape (B, rows), one row per sequence in the batch.  So ``W v``
prints as ``v @ W.T``, ``Wᵀ g`` as ``g @ W``, and the outer product ``g vᵀ``
(a parameter gradient) as ``g.T @ v``, which also sums over the batch.
Parameter vectors (biases) are 1-D and broadcast over the rows.
"""

from __future__ import annotations

from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, Transpose
from sympy.printing.numpy import NumPyPrinter

from ..algebra import split_coefficient

# Elementwise functions: the name of the helper each generated module defines.
HELPERS = {"sigma": "_sigmoid", "tanh": "_tanh"}

ADD, PRODUCT, ATOM = 10, 20, 100


class BatchRowPrinter(NumPyPrinter):
    """Settings: ``names`` maps a symbol's name to the code that holds its value.

    A factor's shape says how it is stored: a column (k×1) is an array of rows
    (or a 1-D parameter vector), a row (1×k) is the transpose of a column, and a
    matrix (neither dimension 1) is a parameter, or a sum over the batch of outer
    products, held as a 2-D array.
    """

    _default_settings = {**NumPyPrinter._default_settings, "names": {}}

    def _level(self, expr) -> int:
        if isinstance(expr, MatAdd):
            return ADD
        c, _ = split_coefficient(expr)
        if c != 1 or isinstance(expr, (MatMul, HadamardProduct)):
            return PRODUCT
        return ATOM

    def wrap(self, expr, level):
        text = self._print(expr)
        return f"({text})" if self._level(expr) < level else text

    def _print_MatrixSymbol(self, expr):
        return self._settings["names"].get(expr.name, expr.name)

    def _print_MatAdd(self, expr):
        out = []
        for k, term in enumerate(expr.args):
            c, core = split_coefficient(term)
            if c.is_negative:
                body = self.wrap(core, PRODUCT + 1) if c == -1 else f"{self._print(-c)} * {self.wrap(core, PRODUCT + 1)}"
                out.append(("-" if k == 0 else " - ") + body)
            else:
                out.append(("" if k == 0 else " + ") + self._print(term))
        return "".join(out)

    def _matrix(self, factor, transposed: bool) -> str:
        """A matrix factor, or its transpose, as a 2-D array."""
        if isinstance(factor, Transpose):
            factor, transposed = factor.arg, not transposed
        return self.wrap(factor, ATOM) + (".T" if transposed else "")

    def _print_MatMul(self, expr):
        c, core = split_coefficient(expr)
        if c != 1:
            return ("-" if c == -1 else f"{self._print(c)} * ") + self.wrap(core, PRODUCT + 1)
        factors = list(core.args)
        if core.shape[1] == 1 and all(_is_matrix(f) for f in factors[:-1]):
            # (A B v) as rows: v @ B.T @ A.T
            return " @ ".join([self.wrap(factors[-1], ATOM), *(self._matrix(f, True) for f in reversed(factors[:-1]))])
        columns = [k for k, f in enumerate(factors) if f.shape[1] == 1]
        if len(columns) == 1 and _is_matrix(core):
            k = columns[0]
            left, column, rest = factors[:k], factors[k], factors[k + 1:]
            if rest and rest[0].shape[0] == 1 and all(_is_matrix(f) for f in [*left, *rest[1:]]):
                # L g vᵀ R summed over the batch: L @ (g.T @ v) @ R
                row = rest[0].arg if isinstance(rest[0], Transpose) else Transpose(rest[0])
                outer = f"{self.wrap(column, ATOM)}.T @ {self.wrap(row, ATOM)}"
                if left or rest[1:]:
                    outer = f"({outer})"
                return " @ ".join([*(self._matrix(f, False) for f in left), outer,
                                   *(self._matrix(f, False) for f in rest[1:])])
        raise NotImplementedError(f"no batch-row form for the product {expr}")

    def _print_Transpose(self, expr):
        if _is_matrix(expr):
            return self._matrix(expr.arg, True)
        # A column and its transpose are the same array of rows.
        return self._print(expr.arg)

    def _print_HadamardProduct(self, expr):
        return " * ".join(self.wrap(f, PRODUCT + 1) for f in expr.args)

    def _print_HadamardPower(self, expr):
        return f"{self.wrap(expr.base, ATOM)}**{int(expr.exp)}"

    def _print_Apply(self, expr):
        return f"{HELPERS[expr.function]}({self._print(expr.arg)})"

    def _print_OneMatrix(self, expr):
        return "1"

    def _print_ZeroMatrix(self, expr):
        return "0"

    def _print_Integer(self, expr):
        return str(expr)

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Float(self, expr):
        return repr(float(expr))


def _is_matrix(expr) -> bool:
    return expr.shape[0] != 1 and expr.shape[1] != 1


def code(expr, names=None) -> str:
    return BatchRowPrinter({"names": names or {}}).doprint(expr)


# Statements and views of the generated code.  The lowering in
# :mod:`derive.codegen` decides what to compute; these spell it in Python.

def block(array: str, lead: str, start: int, stop: int, width: int) -> str:
    """Columns ``start*n:stop*n`` of the last axis; ``lead`` indexes the axes before it
    (``"t, :"`` for step t of a (T, B, k) array, ``":, :"`` for all of it, ``":"`` for (B, k))."""
    if start == 0 and stop == width:
        whole = lead.replace(":", "").strip(", ")
        return f"{array}[{whole}]" if whole else array
    return f"{array}[{lead}, {_times(start)}:{_times(stop)}]"


def _times(k: int) -> str:
    return "0" if k == 0 else "n" if k == 1 else f"{k} * n"


def width(k: int) -> str:
    return _times(k)


def comment(text: str) -> str:
    return "# " + text


def everything(view: str) -> str:
    """Assigning to ``view[...]`` writes into the array a name is bound to."""
    return f"{view}[...]"


def at(array: str, step: str) -> str:
    return f"{array}[{step}]"


def assign(target: str, value: str, op: str = "=") -> str:
    return f"{target} {op} {value}"


def matmul_into(out: str, a: str, b: str) -> str:
    return f"np.matmul({a}, {b}, out={out})"


def multiply_into(a: str, b: str, out: str) -> str:
    return f"np.multiply({a}, {b}, out={out})"


def matmul(a: str, b: str) -> str:
    return f"{a} @ {b}"


def add(*terms: str) -> str:
    return " + ".join(terms)


def apply_into(function: str, arg: str, out: str) -> str:
    return f"{HELPERS[function]}({arg}, out={out})"


def stack_columns(names: list[str]) -> str:
    """The matrices side by side, each transposed: ``[A.T, B.T]`` (operand @ stack)."""
    if len(names) == 1:
        return f"{names[0]}.T"
    return f"np.concatenate(({', '.join(n + '.T' for n in names)}), axis=1)"


def concat(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"np.concatenate(({', '.join(names)}))"


def rows(array: str) -> str:
    """A (T, B, k) array as (T*B, k) rows."""
    return f"{array}.reshape(T * B, -1)"


def steps(array: str, cols: str) -> str:
    """(T*B, k) rows back to a (T, B, k) array."""
    return f"({array}).reshape(T, B, {cols})"


def transpose(a: str) -> str:
    return f"{a}.T"


def batch_sum(a: str) -> str:
    return f"({a}).sum(axis=0)" if not a.isidentifier() else f"{a}.sum(axis=0)"


def row_range(a: str, start: int, stop: int) -> str:
    return f"{a}[{_times(start)}:{_times(stop)}]"


def empty(shape: str, dtype: str = "dtype") -> str:
    return f"np.empty({shape}, {dtype})"


def zeros(shape: str, dtype: str = "dtype") -> str:
    return f"np.zeros({shape}, {dtype})"


def previous_all(initial: str, outputs: str) -> str:
    """The state before each step: the initial state, then every output but the last."""
    return f"np.concatenate(({initial}[None], {outputs}[:-1]))"


def key(name: str) -> str:
    return repr(name)


def names_tuple(names) -> str:
    return repr(tuple(names))
