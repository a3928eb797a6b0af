"""A recurrent cell as data: named parameters and an ordered list of equations.

An equation's right-hand side is written as text in NumPy's operator
vocabulary (``@`` matrix product, ``*`` elementwise product, ``+``, ``-``,
a number meaning the matrix of that number, and the elementwise functions
σ and tanh) and parsed into a SymPy matrix expression of symbolic size.
Parsing the text ourselves, rather than running SymPy's operators, lets
every mistake in a cell be reported against the equation that holds it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum

from sympy import Integer, MatrixExpr, MatrixSymbol, Symbol

from . import algebra, naming
from .elementwise import SPELLINGS

N_INPUT = Symbol("n_input", integer=True, positive=True)
N_HIDDEN = Symbol("n_hidden", integer=True, positive=True)
SIZES = {"input": N_INPUT, "hidden": N_HIDDEN, "1": Integer(1)}


class CellError(ValueError):
    """A cell definition that cannot be used, with the reason and the fix."""


class Role(Enum):
    GATE = "gate"
    CANDIDATE = "candidate"
    STATE = "state"
    OUTPUT = "output"


@dataclass(frozen=True)
class Parameter:
    """A learned matrix; its shape in terms of ``input``, ``hidden`` and ``1``."""

    name: str
    rows: str
    cols: str

    @property
    def symbol(self) -> MatrixSymbol:
        return MatrixSymbol(self.name, SIZES[self.rows], SIZES[self.cols])


def affine(label: str = "") -> tuple[Parameter, Parameter, Parameter]:
    """``W_label`` (hidden×hidden), ``U_label`` (hidden×input), ``b_label`` (hidden)."""
    suffix = f"_{label}" if label else ""
    return (
        Parameter("W" + suffix, "hidden", "hidden"),
        Parameter("U" + suffix, "hidden", "input"),
        Parameter("b" + suffix, "hidden", "1"),
    )


@dataclass(frozen=True)
class Equation:
    """``name = text``, with its role in the cell and what it means in one line."""

    name: str
    text: str
    role: Role
    meaning: str
    rhs: MatrixExpr = field(default=None, compare=False)

    @property
    def symbol(self) -> MatrixSymbol:
        return MatrixSymbol(self.name, *self.rhs.shape)


@dataclass(frozen=True)
class Cell:
    """A recurrent cell: one step maps the previous states and the input to new states.

    ``states`` name the equations whose results are carried to the next step
    (and are the step's outputs); inside an equation, ``v_prev`` is the value
    of state ``v`` at the previous step and ``x`` the input at this step.
    """

    name: str
    title: str
    parameters: tuple[Parameter, ...]
    states: tuple[str, ...]
    equations: tuple[Equation, ...]
    inputs: tuple[str, ...] = ("x",)

    def __post_init__(self):
        object.__setattr__(self, "equations", tuple(_parse_all(self)))

    # The symbols of one step, by kind.
    @property
    def parameter_symbols(self) -> tuple[MatrixSymbol, ...]:
        return tuple(p.symbol for p in self.parameters)

    @property
    def input_symbols(self) -> tuple[MatrixSymbol, ...]:
        return tuple(MatrixSymbol(x, N_INPUT, 1) for x in self.inputs)

    @property
    def prev_symbols(self) -> tuple[MatrixSymbol, ...]:
        return tuple(MatrixSymbol(naming.prev(s), N_HIDDEN, 1) for s in self.states)

    @property
    def state_symbols(self) -> tuple[MatrixSymbol, ...]:
        return tuple(self.equation(s).symbol for s in self.states)

    def equation(self, name: str) -> Equation:
        for eq in self.equations:
            if eq.name == name:
                return eq
        raise KeyError(name)


def _parse_all(cell: "Cell") -> list[Equation]:
    if not cell.equations:
        raise CellError(f"cell {cell.name!r} has no equations")
    given: dict[str, MatrixSymbol] = {}
    for symbol in (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols):
        if symbol.name in given:
            raise CellError(f"cell {cell.name!r}: the name {symbol.name!r} is given twice")
        given[symbol.name] = symbol
    later = {eq.name for eq in cell.equations}
    parsed: list[Equation] = []
    for eq in cell.equations:
        where = f"cell {cell.name!r}, equation {eq.name!r}"
        if eq.name in given or any(p.name == eq.name for p in parsed) or eq.name in SPELLINGS:
            raise CellError(f"{where}: {eq.name!r} is already defined; give the equation another name")
        if not eq.name.isidentifier() or naming.reserved(eq.name):
            raise CellError(f"{where}: {eq.name!r} cannot name an equation; use an identifier that does not "
                            "start with d_ or z_ and does not end with _prev or _in (the derivation makes those)")
        scope = given | {p.name: p.symbol for p in parsed}
        rhs = _Parser(where, scope, later, eq.name).parse(eq.text)
        parsed.append(Equation(eq.name, eq.text, Role(eq.role), eq.meaning, rhs))
    defined = {p.name: p.symbol for p in parsed}
    for state, prev in zip(cell.states, cell.prev_symbols):
        if state not in defined:
            raise CellError(f"cell {cell.name!r}: state {state!r} has no equation; add one named {state!r}")
        if defined[state].shape != prev.shape:
            raise CellError(
                f"cell {cell.name!r}, equation {state!r}: a state must be a column of n_hidden, "
                f"but this one is {_shape(defined[state])}"
            )
    used = set().union(*(p.rhs.free_symbols for p in parsed))
    for p in cell.parameters:
        if p.symbol not in used:
            raise CellError(f"cell {cell.name!r}: parameter {p.name!r} is not used by any equation; remove it")
    return parsed


def _shape(expr) -> str:
    rows, cols = expr.shape
    return f"{rows}×{cols}"


_OPERATORS = "@ (matrix product), * (elementwise product), +, -, numbers, and the functions " + ", ".join(
    sorted(SPELLINGS)
)


class _Parser:
    """Turns one equation's text into a matrix expression, naming what is wrong."""

    def __init__(self, where, scope, later, own_name):
        self.where, self.scope, self.later, self.own = where, scope, later, own_name

    def fail(self, message):
        raise CellError(f"{self.where}: {message}")

    def parse(self, text: str) -> MatrixExpr:
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as e:
            self.fail(f"cannot read {text!r}: {e.msg}")
        expr = self.visit(tree.body)
        if not isinstance(expr, MatrixExpr):
            self.fail(f"{text!r} is a plain number, not a matrix expression")
        return expr

    def visit(self, node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.fail(f"{ast.unparse(node)!r} is not supported; use {_OPERATORS}")
        return method(node)

    def mismatch(self, node, left, right):
        self.fail(
            f"the sizes in {ast.unparse(node)!r} do not agree: {ast.unparse(node.left)} is "
            f"{_shape(left)} and {ast.unparse(node.right)} is {_shape(right)}"
        )

    def visit_Name(self, node):
        if node.id in self.scope:
            return self.scope[node.id]
        if node.id == self.own:
            self.fail(f"uses its own result {node.id!r}; a value from the previous step is {naming.prev(node.id)!r}")
        if node.id in self.later:
            self.fail(f"uses {node.id!r} before it is defined; move equation {node.id!r} above this one")
        self.fail(
            f"{node.id!r} is not defined; it must be a parameter, an input, a previous state (v_prev) "
            f"or an earlier equation: {', '.join(sorted(self.scope))}"
        )

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return Integer(node.value) if float(node.value).is_integer() else node.value
        self.fail(f"{node.value!r} is not a number")

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            return algebra.scale(-1, self.visit(node.operand))
        self.fail(f"{ast.unparse(node)!r} is not supported; use {_OPERATORS}")

    def visit_Call(self, node):
        name = getattr(node.func, "id", None)
        if name not in SPELLINGS or len(node.args) != 1 or node.keywords:
            self.fail(f"{ast.unparse(node)!r} is not supported; the functions are {', '.join(sorted(SPELLINGS))}, of one argument")
        arg = self.visit(node.args[0])
        if not isinstance(arg, MatrixExpr):
            self.fail(f"{ast.unparse(node)!r} applies {name} to a plain number")
        return algebra.Apply(SPELLINGS[name], arg)

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        op = type(node.op)
        if op in (ast.Add, ast.Sub):
            left, right = self._broadcast(node, left, right)
            return algebra.add(left, algebra.scale(-1, right) if op is ast.Sub else right)
        if op is ast.MatMult:
            if not (isinstance(left, MatrixExpr) and isinstance(right, MatrixExpr)):
                self.fail(f"{ast.unparse(node)!r}: @ multiplies two matrices; use * for a number")
            if left.shape[1] != right.shape[0]:
                self.mismatch(node, left, right)
            return algebra.matmul(left, right)
        if op is ast.Mult:
            if not isinstance(left, MatrixExpr) or not isinstance(right, MatrixExpr):
                return algebra.scale(left if not isinstance(left, MatrixExpr) else right,
                                     right if isinstance(right, MatrixExpr) else left)
            if left.shape != right.shape:
                self.mismatch(node, left, right)
            return algebra.hadamard(left, right)
        self.fail(f"{ast.unparse(node)!r} is not supported; use {_OPERATORS}")

    def _broadcast(self, node, left, right):
        """A number in a sum means the matrix of that number."""
        if isinstance(left, MatrixExpr) and isinstance(right, MatrixExpr):
            if left.shape != right.shape:
                self.mismatch(node, left, right)
            return left, right
        if not isinstance(left, MatrixExpr) and not isinstance(right, MatrixExpr):
            self.fail(f"{ast.unparse(node)!r} adds plain numbers")
        shape = (left if isinstance(left, MatrixExpr) else right).shape
        as_matrix = lambda e: e if isinstance(e, MatrixExpr) else algebra.scale(e, algebra.ones(shape))
        return as_matrix(left), as_matrix(right)
