"""NumPy code for matrix expressions, in the batch-row layout of the generated modules.

In the mathematics a variable is a column; in the generated code it is an
array of shape (B, rows), one row per sequence in the batch.  So ``W v``
prints as ``v @ W.T``, ``Wᵀ g`` as ``g @ W``, and the outer product ``g vᵀ``
(a parameter gradient) as ``g.T @ v``, which also sums over the batch.
Parameter vectors (biases) are 1-D and broadcast over the rows.
"""

from __future__ import annotations

import ast
from collections import Counter
from types import SimpleNamespace
from typing import ClassVar

from sympy import HadamardProduct, MatAdd, MatMul, Transpose
from sympy.printing.numpy import NumPyPrinter

from ..algebra import split_coefficient
from ..codegen import ir
from ..elementwise import FUNCTIONS

ADD, PRODUCT, ATOM = 10, 20, 100


class BatchRowPrinter(NumPyPrinter):
    """Settings: ``names`` maps a symbol's name to the code that holds its value.

    A factor's shape says how it is stored: a column (k×1) is an array of rows
    (or a 1-D parameter vector), a row (1×k) is the transpose of a column, and a
    matrix (neither dimension 1) is a parameter, or a sum over the batch of outer
    products, held as a 2-D array.
    """

    _default_settings: ClassVar[dict] = {**NumPyPrinter._default_settings, "names": {}}

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
                body = (
                    self.wrap(core, PRODUCT + 1)
                    if c == -1
                    else f"{self._print(-c)} * {self.wrap(core, PRODUCT + 1)}"
                )
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
        return f"{FUNCTIONS[expr.function].numpy}({self._print(expr.arg)})"

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


# The statements of derive.codegen.ir, spelled in NumPy: one method per node.


class StatementPrinter:
    """Prints the nodes and statements of :mod:`derive.codegen.ir` as Python lines."""

    def __call__(self, node) -> str:
        if isinstance(node, str):
            return node
        return getattr(self, "_print_" + type(node).__name__)(node)

    def _print_Width(self, node):
        return _times(node.k)

    def _print_Math(self, node):
        return code(node.expr, {name: self(value) for name, value in node.names})

    def _print_At(self, node):
        return f"{self(node.array)}[{self(node.index)}]"

    def _print_Key(self, node):
        return repr(node.name)

    def _print_Block(self, node):
        array = self(node.array)
        if node.start == 0 and node.stop == node.width:
            whole = ", ".join(i for i in node.lead if i != ":")
            return f"{array}[{whole}]" if whole else array
        return f"{array}[{', '.join(node.lead)}, {_times(node.start)}:{_times(node.stop)}]"

    def _print_RowRange(self, node):
        return f"{self(node.array)}[{_times(node.start)}:{_times(node.stop)}]"

    def _print_Everything(self, node):
        return f"{self(node.view)}[...]"

    def _print_MatMul(self, node):
        return f"{self(node.a)} @ {self(node.b)}"

    def _print_Add(self, node):
        return " + ".join(self(t) for t in node.terms)

    def _print_Transpose(self, node):
        return f"{self(node.a)}.T"

    def _print_Rows(self, node):
        return f"{self(node.array)}.reshape(T * B, -1)"

    def _print_Steps(self, node):
        cols = "-1" if node.cols is None else self(node.cols)
        return f"({self(node.rows)}).reshape(T, B, {cols})"

    def _print_BatchSum(self, node):
        a = self(node.a)
        return f"{a}.sum(axis=0)" if a.isidentifier() else f"({a}).sum(axis=0)"

    def _print_StackColumns(self, node):
        scales = node.scales or (1,) * len(node.names)
        columns = [_scaled(n + ".T", c) for n, c in zip(node.names, scales, strict=True)]
        if len(columns) == 1:
            return columns[0]
        return f"np.concatenate(({', '.join(columns)}), axis=1)"

    def _print_Scaled(self, node):
        return _scaled(self(node.a), node.factor)

    def _print_StackRows(self, node):
        if len(node.names) == 1:
            return node.names[0]
        return f"np.concatenate(({', '.join(node.names)}))"

    def _print_Concat(self, node):
        scales = node.scales or (1,) * len(node.names)
        vectors = [_scaled(n, c) for n, c in zip(node.names, scales, strict=True)]
        if len(vectors) == 1:
            return vectors[0]
        return f"np.concatenate(({', '.join(vectors)}))"

    def _print_Shape(self, node):
        if node.of is not None:
            return f"{node.of}.shape"
        return "(" + ", ".join(self(d) for d in node.sizes) + ")"

    def _print_Empty(self, node):
        return f"np.empty({self(node.shape)}, dtype)"

    def _print_Constant(self, node):
        return f"np.full((), {node.value}, dtype)"

    def _print_Zeros(self, node):
        return f"np.zeros({self(node.shape)}, dtype)"

    def _print_Incoming(self, node):
        return f"{node.carried} if {node.d_out} is None else {node.d_out}[t] + {node.carried}"

    def _print_PreviousAll(self, node):
        return f"np.concatenate(({self(node.initial)}[None], {self(node.outputs)}[:-1]))"

    def _print_Comment(self, node):
        return "# " + node.text

    def _print_Assign(self, node):
        return f"{self(node.target)} {node.op} {self(node.value)}"

    def _print_MatMulInto(self, node):
        return f"np.matmul({self(node.a)}, {self(node.b)}, out={self(node.out)})"

    def _print_MultiplyInto(self, node):
        return f"np.multiply({self(node.a)}, {self(node.b)}, out={self(node.out)})"

    def _print_NumPyInto(self, node):
        return f"np.{node.function}({self(node.arg)}, out={self(node.out)})"

    def _print_ApplyInto(self, node):
        return f"{FUNCTIONS[node.function].numpy}({self(node.arg)}, out={self(node.out)})"


def _scaled(text: str, factor: int) -> str:
    """``factor * text``, with -1 and 1 written as a sign and nothing."""
    if factor == 1:
        return text
    if not (text.isidentifier() or text.replace(".", "").isidentifier()):
        text = f"({text})"
    return f"-{text}" if factor == -1 else f"{factor} * {text}"


def _times(k: int) -> str:
    return "0" if k == 0 else "n" if k == 1 else f"{k} * n"


# The sections of each function, in the order they run.
FORWARD = ("forward_setup", "forward_loop", "forward_finish")
BACKWARD = ("backward_setup", "backward_chunk", "backward_loop", "backward_finish")


def statements(code) -> SimpleNamespace:
    """The statements and values of a lowering (:class:`derive.codegen.Code`), printed,
    for the module template.

    Only what is read is kept: an assignment to a name that nothing else in its
    function reads (a previous state that a cell without that recurrence never
    reads, the adjoint of a value nothing reads, an array only such statements
    read) is left out, with the comments that stand for it alone.  ``forward_reads``
    and ``backward_reads`` are the names each function's statements and results
    read, so that the template binds only those (``dtype``, ``n``, a parameter, an
    entry of the cache, ``d_out``); ``step`` names each loop's variable.
    """
    show = StatementPrinter()
    out = {}
    for name, value in vars(code).items():
        if isinstance(value, dict):
            out[name] = {k: show(v) for k, v in value.items()}
        elif isinstance(value, list):
            out[name] = [show(v) for v in value]
        else:
            out[name] = show(value)
    forward_results = [*out["outputs"].values(), *out["values"].values(), *out["cache"]]
    backward_results = [*out["d_params"].values(), *out["d_state"].values(), out["d_x"]]
    out["forward_reads"] = _keep_read(code, out, FORWARD, forward_results)
    out["backward_reads"] = _keep_read(code, out, BACKWARD, backward_results)
    # The step of each loop, ``t``, or ``_`` where nothing in the loop reads it.
    out["step"] = {
        loop: "t" if any("t" in reads(line) for line in out[loop]) else "_"
        for loop in ("forward_loop", "backward_loop")
    }
    out["backward_params"] = [p for p in out["backward_params"] if p in out["backward_reads"]]
    out["backward_cache"] = [c for c in out["cache"] if c in out["backward_reads"]]
    return SimpleNamespace(**out)


def reads(line: str) -> set[str]:
    """The names a printed statement or expression reads (an augmented assignment,
    ``z += ...``, reads its target).

    >>> sorted(reads("d_s = d_out_s[t] + d_s_prev"))
    ['d_out_s', 'd_s_prev', 't']
    >>> sorted(reads("np.multiply(a, b, out=c)"))
    ['a', 'b', 'c', 'np']
    """
    try:
        tree = ast.parse(line)
    except SyntaxError:
        tree = ast.parse(line, mode="eval")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    names |= {
        n.target.id for n in ast.walk(tree) if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
    }
    return names


def _keep_read(code, out: dict, sections: tuple[str, ...], results: list[str]) -> set[str]:
    """Drop from ``out``'s sections the assignments to names nothing reads (until
    none is left), and the comments of the statements dropped; the names read."""
    lines = [(section, k) for section in sections for k in range(len(out[section]))]
    used = {place: reads(out[place[0]][place[1]]) for place in lines}
    binds = {}
    for section, k in lines:
        node = getattr(code, section)[k]
        if isinstance(node, ir.Assign) and node.op == "=" and isinstance(node.target, str):
            binds[(section, k)] = node.target
    needed = set().union(*(reads(r) for r in results))
    dropped: set[tuple[str, int]] = set()
    while True:
        read = Counter(name for place in lines if place not in dropped for name in used[place])
        dead = {
            place
            for place, name in binds.items()
            if place not in dropped and name not in needed and read[name] == (name in used[place])
        }
        if not dead:
            break
        dropped |= dead
    for section in sections:
        # A block: comments, then the statements they describe (its places in the
        # section).  Its comments go when every one of its statements has gone.
        blocks: list[tuple[list[int], list[int]]] = []
        for k, node in enumerate(getattr(code, section)):
            comment = isinstance(node, ir.Comment)
            if not blocks or (comment and blocks[-1][1]):
                blocks.append(([], []))
            blocks[-1][0 if comment else 1].append(k)
        kept = []
        for comments, body in blocks:
            live = [k for k in body if (section, k) not in dropped]
            kept += (comments if live or not body else []) + live
        out[section] = [out[section][k] for k in kept]
    return needed.union(*(used[place] for place in lines if place not in dropped))
