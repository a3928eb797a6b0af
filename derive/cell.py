"""A recurrent cell as data: named parameters and an ordered list of equations.

An equation's right-hand side is written as text in NumPy's operator
vocabulary (``@`` matrix product, ``*`` elementwise product, ``/`` elementwise
quotient, ``+``, ``-``, a number meaning the matrix of that number, and the
elementwise functions of :mod:`derive.elementwise`: σ, tanh, exp, log, ...) and
parsed into a SymPy matrix expression of symbolic size.
Parsing the text ourselves, rather than running SymPy's operators, lets
every mistake in a cell be reported against the equation that holds it.
"""

from __future__ import annotations

import ast
import math
import unicodedata
from collections.abc import Collection, Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import Enum
from typing import NoReturn, TypeAlias

from sympy import Expr, Integer, MatrixExpr, MatrixSymbol, Rational, Symbol

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
    rhs: MatrixExpr = field(default=None, compare=False)  # parsed from ``text`` by the Cell; None before

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

    def __post_init__(self) -> None:
        _checked(self)
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


def _checked(cell: Cell) -> None:
    """Everything in a cell but its equations' text, checked, with the names
    stored as Python reads them (NFKC) and the roles as :class:`Role`."""
    if not isinstance(cell.name, str) or not cell.name.isidentifier():
        raise CellError(
            f"cell {cell.name!r}: a cell's name names its generated module; use an identifier such as 'mgu'"
        )
    _check_prose(f"cell {cell.name!r}: the title", cell.title)
    parameters = _tuple(
        cell, "parameters", cell.parameters, "(*affine(), Parameter('V', 'hidden', 'hidden'))"
    )
    inputs = _tuple(cell, "inputs", cell.inputs, "('x',)")
    states = _tuple(cell, "states", cell.states, "('s',)")
    equations = _tuple(
        cell,
        "equations",
        cell.equations,
        "(Equation('s', 'tanh(W @ s_prev + U @ x + b)', Role.STATE, 'new state'),)",
    )
    if inputs != ("x",):
        raise CellError(
            f"cell {cell.name!r}: the generated modules take one input x, of shape (T, B, n_input); "
            f"use inputs=('x',), not {inputs!r}"
        )
    if not parameters:
        # The generated module takes its dtype and sizes from the parameters.
        raise CellError(
            f"cell {cell.name!r} has no parameters; a cell learns at least one, e.g. parameters=affine()"
        )
    if not states:
        raise CellError(
            f"cell {cell.name!r} has no states; "
            "name the equations carried to the next step, e.g. states=('s',)"
        )
    if not equations:
        raise CellError(f"cell {cell.name!r} has no equations")
    seen: dict[str, str] = {"x": "input 'x'"}  # each name as Python reads it -> what it names

    def name(kind: str, raw: object) -> tuple[str, str]:
        """Where ``raw`` is, for messages, and the name as Python reads it."""
        where = f"cell {cell.name!r}, {kind} {raw!r}"
        reason = naming.refusal(raw)
        if reason or not isinstance(raw, str):  # refusal() refuses anything but a string
            article = "an" if kind[0] in "aeiou" else "a"
            raise CellError(f"{where}: {_as_read(raw)} cannot name {article} {kind}: {reason}")
        return where, naming.normal(raw)

    def once(where: str, kind: str, raw: str, normal: str) -> None:
        if normal in seen:
            raise CellError(
                f"{where}: {_as_read(raw)} is already defined, as {seen[normal]}; "
                f"give the {kind} another name"
            )
        seen[normal] = f"{kind} {raw!r}"

    normal_parameters: list[Parameter] = []
    for p in parameters:
        if not isinstance(p, Parameter):
            raise CellError(
                f"cell {cell.name!r}: {p!r} is not a parameter; use Parameter(name, rows, cols) or affine()"
            )
        where, normal = name("parameter", p.name)
        for d in (p.rows, p.cols):
            if not isinstance(d, str) or d not in SIZES:
                raise CellError(
                    f"{where}: the size {d!r} is not one of {', '.join(map(repr, SIZES))}; "
                    "use 'hidden' or 'input' for a matrix's rows and columns, "
                    "'1' for the columns of a vector"
                )
        once(where, "parameter", p.name, normal)
        normal_parameters.append(Parameter(normal, p.rows, p.cols))
    if all("hidden" not in (p.rows, p.cols) for p in normal_parameters):
        # The generated module takes the number of units from the parameters, as it takes its dtype.
        raise CellError(
            f"cell {cell.name!r}: no parameter has the hidden size, and the generated module takes the "
            "number of units from the parameters; learn at least one vector or matrix, e.g. a bias "
            'b = ["hidden", "1"]'
        )
    normal_states: list[str] = []
    for state in states:
        where, normal = name("state", state)
        if normal in normal_states:
            raise CellError(f"{where}: the state is listed twice; list each state once")
        normal_states.append(normal)
    normal_equations: list[Equation] = []
    for eq in equations:
        if not isinstance(eq, Equation):
            raise CellError(
                f"cell {cell.name!r}: {eq!r} is not an equation; use Equation(name, text, role, meaning)"
            )
        where, normal = name("equation", eq.name)
        once(where, "equation", eq.name, normal)
        try:
            role = Role(eq.role)
        except (ValueError, TypeError):
            raise CellError(
                f"{where}: {eq.role!r} is not a role; use one of " + ", ".join(f"Role.{r.name}" for r in Role)
            ) from None
        _check_prose(f"{where}: the meaning", eq.meaning)
        if not isinstance(eq.text, str):
            raise CellError(
                f"{where}: the text is {type(eq.text).__name__}, not a string; "
                "write the right-hand side as text, e.g. 'tanh(W @ s_prev + U @ x + b)'"
            )
        normal_equations.append(Equation(normal, eq.text, role, eq.meaning))
    for field_name, value in (
        ("parameters", normal_parameters),
        ("inputs", inputs),
        ("states", normal_states),
        ("equations", normal_equations),
    ):
        object.__setattr__(cell, field_name, tuple(value))


def _tuple(cell: Cell, field_name: str, value: object, example: str) -> tuple[object, ...]:
    """A field that lists things: a tuple or list, never a string (which would list its letters)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise CellError(
        f"cell {cell.name!r}: {field_name} must be a tuple, e.g. {field_name}={example}, "
        f"not {type(value).__name__} {_excerpt(repr(value))}"
    )


def _as_read(name: object) -> str:
    """``name`` quoted, and as Python reads it when that differs: ``'ｇ' (which Python reads as 'g')``."""
    normal = naming.normal(name) if isinstance(name, str) else name
    return repr(name) + (f" (which Python reads as {normal!r})" if normal != name else "")


# Characters that would end a line or a docstring's line, or hide text: controls,
# format characters (bidirectional overrides), surrogates, line and paragraph separators.
_NOT_PROSE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _check_prose(where: str, text: object) -> None:
    """Titles and meanings are printed into comments, docstrings and pages: one line of text."""
    if not isinstance(text, str):
        raise CellError(f"{where} is {type(text).__name__}; write it as a string of one line")
    bad = next((c for c in text if unicodedata.category(c) in _NOT_PROSE), None)
    if bad is not None:
        raise CellError(
            f"{where} holds the control character {bad!r} (U+{ord(bad):04X}); "
            "write it on one line, without control characters"
        )


def _excerpt(text: str, limit: int = 60) -> str:
    """At most ``limit`` characters of ``text``, for quoting it in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_equations(
    equations: Sequence[tuple[str, str]],
    given: Mapping[str, MatrixSymbol],
    parameters: Set[MatrixSymbol] = frozenset(),
    where: str = "equations",
) -> tuple[tuple[MatrixSymbol, MatrixExpr], ...]:
    """``(name, text)`` pairs parsed in order as a cell's equations are, each reading the
    symbols of ``given`` (``parameters`` among them) and the equations above it:
    ``((symbol, expression), ...)``.  The names are not checked: a cell checks them for
    its generated module; this serves equations that are only printed and evaluated,
    such as another text's GRU in its own letters (which uses z and n)."""
    later = {name for name, _ in equations}
    scope = dict(given)
    out = []
    for name, text in equations:
        rhs = _Parser(f"{where}, equation {name!r}", scope, later, name, parameters).parse(text)
        scope[name] = MatrixSymbol(name, *rhs.shape)
        out.append((scope[name], rhs))
    return tuple(out)


def _parse_all(cell: Cell) -> list[Equation]:
    given = {s.name: s for s in (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols)}
    later = {eq.name for eq in cell.equations}
    parsed: list[Equation] = []
    for eq in cell.equations:
        where = f"cell {cell.name!r}, equation {eq.name!r}"
        scope = given | {p.name: p.symbol for p in parsed}
        rhs = _Parser(where, scope, later, eq.name, set(cell.parameter_symbols)).parse(eq.text)
        if rhs.shape[1] != 1:
            raise CellError(
                f"{where}: an equation's value must be a column, but this one is {_shape(rhs)}; "
                "use the matrix inside the equation that multiplies it, e.g. (W * V) @ s_prev"
            )
        parsed.append(Equation(eq.name, eq.text, eq.role, eq.meaning, rhs))
    defined = {p.name: p.symbol for p in parsed}
    for state, prev in zip(cell.states, cell.prev_symbols, strict=True):
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
            raise CellError(
                f"cell {cell.name!r}: parameter {p.name!r} is not used by any equation; remove it"
            )
    return parsed


# The derivation, the proof and the printers recurse once or more per level of an
# expression; past this depth they would run out of Python's stack (and of time).
MAX_DEPTH = 100


def _depth(expr: MatrixExpr) -> int:
    """The number of levels of matrix sub-expressions in ``expr``, counted without recursion."""
    depth, level = 0, {expr}
    while level:
        depth += 1
        level = {a for e in level for a in e.args if isinstance(a, MatrixExpr)}
    return depth


def _shape(expr: MatrixExpr) -> str:
    rows, cols = expr.shape
    return f"{rows}×{cols}"


def _operators() -> str:
    """What an equation may use; the functions as registered now (derive.elementwise.register)."""
    return (
        "@ (matrix product), * and / (elementwise product and quotient), +, -, numbers, "
        "and the functions " + ", ".join(sorted(SPELLINGS))
    )


# What a part of an equation's text is: a matrix expression, or an exact number.
_Value: TypeAlias = MatrixExpr | Expr


class _Parser:
    """Turns one equation's text into a matrix expression, naming what is wrong.

    A plain number is a SymPy Integer or Rational, exact: a float literal is
    the rational its decimal text says (0.1 is 1/10), and numbers combine exactly.
    """

    def __init__(
        self,
        where: str,
        scope: Mapping[str, MatrixSymbol],
        later: Collection[str],
        own_name: str,
        parameters: Set[MatrixSymbol] = frozenset(),
    ) -> None:
        self.where, self.scope, self.later, self.own = where, scope, later, own_name
        self.parameters = parameters  # the symbols that are the same at every step

    def fail(self, message: str) -> NoReturn:
        raise CellError(f"{self.where}: {message}")

    def parse(self, text: str) -> MatrixExpr:
        self.text = text
        try:
            try:
                tree = ast.parse(text, mode="eval")
            except (SyntaxError, ValueError) as e:
                self.fail(
                    f"cannot read {_excerpt(text)!r}: {_excerpt(getattr(e, 'msg', None) or str(e), 80)}"
                )
            expr = self.visit(tree.body)
        except (RecursionError, MemoryError):
            self.fail(
                f"{_excerpt(text)!r} is nested too deeply for the parser (a long chain of + or - nests too); "
                "define some of its parts as equations of their own"
            )
        if not isinstance(expr, MatrixExpr):
            self.fail(f"{_excerpt(text)!r} is a plain number, not a matrix expression")
        depth = _depth(expr)
        if depth > MAX_DEPTH:
            self.fail(
                f"{_excerpt(text)!r} nests {depth} levels deep, more than the derivation's "
                f"{MAX_DEPTH}; define some of its parts as equations of their own"
            )
        return expr

    def segment(self, node: ast.AST) -> str:
        """The text of ``node`` as written, shortened."""
        return _excerpt(ast.get_source_segment(self.text, node) or ast.unparse(node))

    def show(self, node: ast.AST) -> str:
        return repr(self.segment(node))

    def visit(self, node: ast.AST) -> _Value:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.unsupported(node)
        return method(node)

    def unsupported(self, node: ast.AST) -> NoReturn:
        hint: dict[type[object], str] = {
            ast.Pow: "powers (**) are not supported; write the product out, e.g. a * a",
            ast.FloorDiv: "// is not supported; / divides elementwise, e.g. c / n",
        }
        op = type(getattr(node, "op", None))
        self.fail(f"{self.show(node)} is not supported; " + hint.get(op, f"use {_operators()}"))

    def mismatch(self, node: ast.BinOp, left: MatrixExpr, right: MatrixExpr) -> NoReturn:
        self.fail(
            f"the sizes in {self.show(node)} do not agree: {self.segment(node.left)} is "
            f"{_shape(left)} and {self.segment(node.right)} is {_shape(right)}"
        )

    def number(self, value: Expr, node: ast.AST) -> Expr:
        """``value`` if the generated code can compute with it: a finite float64."""
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            self.fail(f"{self.show(node)} is too large a number for float64; use a smaller one")
        return value

    def visit_Name(self, node: ast.Name) -> MatrixSymbol:
        if node.id in self.scope:
            return self.scope[node.id]
        if node.id == self.own:
            self.fail(
                f"uses its own result {node.id!r}; a value from the previous step is {naming.prev(node.id)!r}"
            )
        if node.id in self.later:
            self.fail(f"uses {node.id!r} before it is defined; move equation {node.id!r} above this one")
        self.fail(
            f"{node.id!r} is not defined; it must be a parameter, an input, a previous state (v_prev) "
            f"or an earlier equation: {', '.join(sorted(self.scope))}"
        )

    def visit_Constant(self, node: ast.Constant) -> Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{self.show(node)} is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"{self.show(node)} is not a finite number in float64; use a smaller one")
        return self.number(Integer(value) if isinstance(value, int) else Rational(repr(value)), node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> _Value:
        if not isinstance(node.op, ast.USub):
            self.unsupported(node)
        operand = self.visit(node.operand)
        return algebra.scale(-1, operand) if isinstance(operand, MatrixExpr) else -operand

    def visit_Call(self, node: ast.Call) -> algebra.Apply:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in SPELLINGS or len(node.args) != 1 or node.keywords:
            self.fail(
                f"{self.show(node)} is not supported; "
                f"the functions are {', '.join(sorted(SPELLINGS))}, of one argument"
            )
        arg = self.visit(node.args[0])
        if not isinstance(arg, MatrixExpr):
            self.fail(f"{self.show(node)} applies {name} to a plain number")
        return algebra.Apply(SPELLINGS[name], arg)

    def visit_BinOp(self, node: ast.BinOp) -> _Value:
        op = type(node.op)
        if op not in (ast.Add, ast.Sub, ast.MatMult, ast.Mult, ast.Div):
            self.unsupported(node)
        left, right = self.visit(node.left), self.visit(node.right)
        matrices = isinstance(left, MatrixExpr), isinstance(right, MatrixExpr)
        if op in (ast.Add, ast.Sub):
            if not any(matrices):
                return self.number(left + right if op is ast.Add else left - right, node)
            left, right = self._broadcast(node, left, right)
            return algebra.add(left, algebra.scale(-1, right) if op is ast.Sub else right)
        if op is ast.MatMult:
            if not all(matrices):
                self.fail(f"{self.show(node)}: @ multiplies two matrices; use * for a number")
            if left.shape[1] != right.shape[0]:
                self.mismatch(node, left, right)
            if right.shape[1] == 1 and right.free_symbols <= self.parameters:
                self.fail(
                    f"{self.show(node)} is the same at every step (it reads parameters only); "
                    "write a bias vector, a parameter of size (hidden, 1), instead"
                )
            return algebra.matmul(left, right)
        if op is ast.Div:
            return self._divide(node, left, right)
        if not any(matrices):
            return self.number(left * right, node)
        if not all(matrices):
            number, matrix = (right, left) if matrices[0] else (left, right)
            if number == 0:
                # algebra drops zero terms; a term that is zero is better not written.
                self.fail(f"{self.show(node)} multiplies by zero; remove the term")
            return algebra.scale(number, matrix)
        left, right = self._spread(node, left, right)
        return algebra.hadamard(left, right)

    def _divide(self, node: ast.BinOp, left: _Value, right: _Value) -> _Value:
        """``a / b`` elementwise; by a number, the product by its inverse (exact); a
        number over a matrix, the matrix of that number divided.  A divisor that can
        be zero is allowed: where it is, the quotient is inf or NaN, as in NumPy."""
        if not isinstance(right, MatrixExpr):
            if right == 0:
                self.fail(f"{self.show(node)} divides by zero; divide by a nonzero number")
            if not isinstance(left, MatrixExpr):
                return self.number(left / right, node)
            return algebra.scale(self.number(1 / right, node), left)
        if isinstance(left, MatrixExpr):
            left, right = self._spread(node, left, right)
        if not isinstance(left, MatrixExpr):
            if left == 0:
                self.fail(f"{self.show(node)} is zero; remove the term")
            left = algebra.scale(left, algebra.ones(right.shape))
        return algebra.divide(left, right)

    def _spread(self, node: ast.BinOp, left: MatrixExpr, right: MatrixExpr) -> tuple[MatrixExpr, MatrixExpr]:
        """Two matrices of one shape; a 1×1 one (a scalar parameter) beside a column is
        spread over the column, as NumPy broadcasts it (:func:`derive.algebra.spread`)."""
        if left.shape == right.shape:
            return left, right
        if left.shape == (1, 1) and right.shape[1] == 1:
            return algebra.spread(left, right.shape[0]), right
        if right.shape == (1, 1) and left.shape[1] == 1:
            return left, algebra.spread(right, left.shape[0])
        self.mismatch(node, left, right)

    def _broadcast(self, node: ast.BinOp, left: _Value, right: _Value) -> tuple[MatrixExpr, MatrixExpr]:
        """A number in a sum means the matrix of that number; a zero adds nothing."""
        if isinstance(left, MatrixExpr) and isinstance(right, MatrixExpr):
            return self._spread(node, left, right)
        shape = (left if isinstance(left, MatrixExpr) else right).shape

        def as_matrix(e: _Value) -> MatrixExpr:
            return e if isinstance(e, MatrixExpr) else algebra.scale(e, algebra.ones(shape))

        return as_matrix(left), as_matrix(right)
