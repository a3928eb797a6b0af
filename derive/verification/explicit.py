"""Matrix expressions evaluated on explicit matrices, entry by entry.

The proof evaluates the cell's equations on small matrices whose entries are
SymPy symbols (to differentiate them with ``sympy.diff``) and the derived
adjoint equations on matrices of 50-digit mpmath numbers (to compare).  Both
go through :func:`evaluate`, which works on NumPy arrays of Python objects so
that the same code serves symbols and numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from sympy import (
    HadamardPower,
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix

from ..algebra import Apply, Divide


def evaluate(
    expr,
    env: Mapping[str, np.ndarray],
    functions: Mapping[str, Callable],
    sizes: Mapping,
    number: Callable = lambda c: c,
) -> np.ndarray:
    """The value of ``expr`` as a 2-D object array.

    ``env`` maps symbol names to arrays, ``functions`` elementwise function
    names to scalar callables, ``sizes`` the symbolic sizes to integers, and
    ``number`` turns a SymPy coefficient into the scalar type of ``env``.
    """

    def shape(e):
        return tuple(int(sizes.get(d, d)) for d in e.shape)

    def filled(e, value):
        out = np.empty(shape(e), dtype=object)
        out.fill(value)
        return out

    def ev(e):
        if isinstance(e, MatrixSymbol):
            return env[e.name]
        if isinstance(e, MatAdd):
            total = ev(e.args[0])
            for a in e.args[1:]:
                total = total + ev(a)
            return total
        if isinstance(e, MatMul):
            coefficient = number(1)
            value = None
            for a in e.args:
                if a.is_Matrix:
                    value = ev(a) if value is None else value.dot(ev(a))
                else:
                    coefficient = coefficient * number(a)
            return value * coefficient
        if isinstance(e, HadamardProduct):
            value = ev(e.args[0])
            for a in e.args[1:]:
                value = value * ev(a)
            return value
        if isinstance(e, HadamardPower):
            return ev(e.base) ** int(e.exp)
        if isinstance(e, Divide):
            return ev(e.dividend) / ev(e.divisor)
        if isinstance(e, Apply):
            return np.frompyfunc(functions[e.function], 1, 1)(ev(e.arg))
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, DiagMatrix):
            column = ev(e.args[0])
            out = filled(e, number(0))
            for k in range(column.shape[0]):
                out[k, k] = column[k, 0]
            return out
        if isinstance(e, OneMatrix):
            return filled(e, number(1))
        if isinstance(e, ZeroMatrix):
            return filled(e, number(0))
        if isinstance(e, Identity):
            out = filled(e, number(0))
            for k in range(out.shape[0]):
                out[k, k] = number(1)
            return out
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")

    return ev(expr)
