"""Random cells for the fuzz test, drawn from the whole grammar that ``derive.cell`` parses.

A drawn cell is a :class:`CellSpec`: the definition of a cell, not yet built, so
that the test itself sees whether ``Cell(...)`` refuses it.  Its ``repr`` is the
Python that rebuilds it, ready to paste into ``tests/corpus.py``.

Expressions are built as Python syntax trees typed by their number of rows
(n_hidden or n_input; every value is a column) and printed with
``ast.unparse``, so the text has exactly the parentheses the tree needs.  The
grammar covered: σ, tanh and softplus, nested and on any argument, exp of a
bounded one (exp(tanh(...))), and log of a column that is positive everywhere; ``@`` with a
parameter on any sub-expression (the state, the input, an earlier equation, a
product, another product); ``*`` between columns and with vector parameters;
numbers (integers, decimals, products and negations of numbers) scaling,
added, subtracted, ``1 - g``; sums and differences; quotients ``a / b`` of
columns or numbers by numbers or by columns kept away from zero; parameters shared between
equations; up to three states; outputs that reuse other equations; equations
read later in the step, by a matrix product too.  About one cell in ten is
broken on purpose (see ``BREAKAGES``) and must be refused with ``CellError``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hypothesis import strategies as st

from derive import Cell, Equation, Parameter, Role

# Plain identifiers, none a keyword or builtin, none of the forms the derivation
# makes (d_*, z_*, *_prev, *_in); z, n, t and T were the generated code's own names
# once, and are a cell's to use now that the code's own start with _.
STATE_NAMES = ("s", "h", "y", "s2")
AUX_NAMES = ("g1", "g2", "a", "c", "e", "k", "m", "q", "r", "z", "n", "t", "T")
# Parameter kinds: name prefix -> (rows, cols).  W, U, b are the usual affine
# parameters; v is a hidden vector used elementwise; P, V, u are the rarer
# shapes the parser accepts (input×input, input×hidden, input vector); ζ a scalar,
# spread over the units where it meets a column.
KINDS = {
    "W": ("hidden", "hidden"),
    "U": ("hidden", "input"),
    "b": ("hidden", "1"),
    "v": ("hidden", "1"),
    "P": ("input", "input"),
    "V": ("input", "hidden"),
    "u": ("input", "1"),
    "ζ": ("1", "1"),
}
DECIMALS = (0.5, 0.25, 1.5, 0.1, 2.5)
BREAKAGES = (
    "unused parameter",
    "shape mismatch",
    "used before defined",
    "state not a hidden column",
    "undefined name",
    "own result",
    "unsupported operation",
)
ROLE_OF = {"σ": Role.GATE, "tanh": Role.CANDIDATE, "exp": Role.GATE}


@dataclass(frozen=True)
class CellSpec:
    """A cell's definition: ``equations`` as (name, text, role value), ``parameters``
    as (name, rows, cols).  ``refuse`` is non-empty when the cell is broken on
    purpose, and says how: then ``Cell(...)`` must raise ``CellError``."""

    equations: tuple[tuple[str, str, str], ...]
    states: tuple[str, ...]
    parameters: tuple[tuple[str, str, str], ...]
    refuse: str = ""
    name: str = "fuzz"

    def build(self) -> Cell:
        return Cell(
            name=self.name,
            title=f"fuzzed cell {self.name}",
            parameters=tuple(Parameter(*p) for p in self.parameters),
            states=self.states,
            equations=tuple(Equation(n, text, Role(role), "") for n, text, role in self.equations),
        )

    def __repr__(self):
        lines = ["CellSpec(", "    equations=("]
        lines += [f"        ({n!r}, {text!r}, {role!r})," for n, text, role in self.equations]
        lines += ["    ),", f"    states={self.states!r},", "    parameters=("]
        lines += [f"        {p!r}," for p in self.parameters]
        lines.append("    ),")
        if self.refuse:
            lines.append(f"    refuse={self.refuse!r},")
        if self.name != "fuzz":
            lines.append(f"    name={self.name!r},")
        lines.append(")")
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Syntax trees.


def _name(n):
    return ast.Name(id=n, ctx=ast.Load())


def _bin(left, op, right):
    return ast.BinOp(left=left, op=op, right=right)


def _call(function, arg):
    return ast.Call(func=_name(function), args=[arg], keywords=[])


def _num(value):
    return ast.Constant(value=value)


def _neg(node):
    return ast.UnaryOp(op=ast.USub(), operand=node)


def _sum(terms, signs):
    out = terms[0]
    for term, minus in zip(terms[1:], signs, strict=True):
        out = _bin(out, ast.Sub() if minus else ast.Add(), term)
    return out


def unparse(node) -> str:
    return ast.unparse(node)


class _Builder:
    """Draws typed expressions for one cell and records the parameters they use."""

    def __init__(self, draw, depth):
        self.draw, self.depth = draw, depth
        self.params: dict[str, tuple[str, str]] = {}
        self.hidden: list[str] = []  # names of hidden columns in scope: previous states, earlier equations

    def choose(self, options):
        """One of ``options``, a sequence of (weight, value); shrinks towards the first."""
        total = sum(w for w, _ in options)
        k = self.draw(st.integers(0, total - 1))
        for w, value in options:
            if k < w:
                return value
            k -= w
        raise AssertionError

    def param(self, kind) -> ast.AST:
        """A parameter of ``kind``: often one already used (shared), else a new one."""
        existing = [n for n in self.params if n.rstrip("0123456789") == kind]
        if existing and self.choose([(2, False), (1, True)]):
            return _name(self.draw(st.sampled_from(existing)))
        name = f"{kind}{len(existing) + 1}"
        self.params[name] = KINDS[kind]
        return _name(name)

    def number(self) -> ast.AST:
        form = self.choose([(6, "integer"), (3, "decimal"), (1, "product"), (1, "negative")])
        if form == "integer":
            return _num(self.choose([(4, 1), (4, 2), (3, 3), (1, 0)]))
        if form == "decimal":
            return _num(self.draw(st.sampled_from(DECIMALS)))
        if form == "product":
            return _bin(
                _num(self.draw(st.sampled_from((2, 3)))),
                ast.Mult(),
                _num(self.draw(st.sampled_from((3, 0.5)))),
            )
        return _neg(_num(self.draw(st.sampled_from((2, 1, 0.5)))))

    def leaf(self) -> ast.AST:
        return _name(self.draw(st.sampled_from(self.hidden)))

    def hidden_expr(self, depth) -> ast.AST:
        """A column of n_hidden rows."""
        if depth <= 0:
            return self.leaf()
        d = depth - 1
        kind = self.choose(
            [
                (4, "leaf"),
                (5, "function"),
                (2, "W@"),
                (1, "U@"),
                (2, "hadamard"),
                (1, "vector*"),
                (1, "1-"),
                (1, "scaled"),
                (1, "plus number"),
                (1, "sum"),
                (1, "quotient"),
                (1, "log"),
                (1, "negated"),
                (1, "scalar*"),
            ]
        )
        if kind == "leaf":
            return self.leaf()
        if kind == "function":
            return self.apply(self.pre_activation(d))
        if kind == "W@":
            return _bin(self.param("W"), ast.MatMult(), self.hidden_expr(d))
        if kind == "U@":
            return _bin(self.param("U"), ast.MatMult(), self.input_expr(d))
        if kind == "hadamard":
            return _bin(self.hidden_expr(d), ast.Mult(), self.hidden_expr(d))
        if kind == "vector*":
            operand = self.hidden_expr(d) if self.choose([(2, True), (1, False)]) else self.input_product(d)
            return (
                _bin(self.param("v"), ast.Mult(), operand)
                if self.choose([(2, True), (1, False)])
                else _bin(operand, ast.Mult(), self.param("v"))
            )
        if kind == "1-":
            return _bin(_num(1), ast.Sub(), self.hidden_expr(d))
        if kind == "scaled":
            e = self.hidden_expr(d)
            return (
                _bin(self.number(), ast.Mult(), e)
                if self.choose([(3, True), (1, False)])
                else _bin(e, ast.Mult(), self.number())
            )
        if kind == "plus number":
            e, n = self.hidden_expr(d), self.number()
            return self.choose(
                [
                    (2, _bin(e, ast.Add(), n)),
                    (1, _bin(n, ast.Sub(), e)),
                    (1, _bin(e, ast.Sub(), n)),
                    (1, _bin(n, ast.Add(), e)),
                ]
            )
        if kind == "sum":
            return _bin(
                self.hidden_expr(d), self.choose([(2, ast.Add()), (1, ast.Sub())]), self.hidden_expr(d)
            )
        if kind == "log":
            return _call("log", self.positive(d))
        if kind == "quotient":
            dividend = self.hidden_expr(d) if self.choose([(4, True), (1, False)]) else self.number()
            return _bin(dividend, ast.Div(), self.divisor(d))
        if kind == "scalar*":
            e, scalar = self.hidden_expr(d), self.param("ζ")
            return self.choose(
                [
                    (3, _bin(scalar, ast.Mult(), e)),
                    (1, _bin(e, ast.Mult(), scalar)),
                    (1, _bin(e, ast.Add(), scalar)),
                ]
            )
        return _neg(self.hidden_expr(d))

    def divisor(self, depth) -> ast.AST:
        """What a quotient divides by: a number, or a column kept away from 0 at the
        fuzz test's random points (the parser takes any divisor; near 0 the finite
        differences the test compares with would be meaningless)."""
        kind = self.choose([(1, "number"), (2, "1 + e*e"), (2, "2 + σ"), (1, "2 - tanh")])
        if kind == "number":
            return _num(self.draw(st.sampled_from((2, 0.5, 4, 3))))
        if kind == "1 + e*e":
            e = self.hidden_expr(depth)
            return _bin(_num(1), ast.Add(), _bin(e, ast.Mult(), e))
        if kind == "2 + σ":
            return _bin(_num(2), ast.Add(), _call("σ", self.pre_activation(depth)))
        return _bin(_num(2), ast.Sub(), _call("tanh", self.pre_activation(depth)))

    def input_product(self, depth) -> ast.AST:
        return _bin(self.param("U"), ast.MatMult(), self.input_expr(depth))

    def input_expr(self, depth) -> ast.AST:
        """A column of n_input rows: mostly the input itself."""
        if depth <= 0:
            return _name("x")
        d = depth - 1
        kind = self.choose(
            [
                (12, "x"),
                (1, "function"),
                (1, "P@"),
                (1, "V@"),
                (1, "vector*"),
                (1, "plus number"),
                (1, "hadamard"),
            ]
        )
        if kind == "x":
            return _name("x")
        if kind == "function":
            return self.apply(self.input_expr(d))
        if kind == "P@":
            return _bin(self.param("P"), ast.MatMult(), self.input_expr(d))
        if kind == "V@":
            return _bin(self.param("V"), ast.MatMult(), self.hidden_expr(d))
        if kind == "vector*":
            return _bin(self.param("u"), ast.Mult(), self.input_expr(d))
        if kind == "plus number":
            return _bin(self.input_expr(d), ast.Add(), self.number())
        return _bin(self.input_expr(d), ast.Mult(), self.input_expr(d))

    def function(self) -> str:
        return self.choose([(4, "σ"), (4, "tanh"), (1, "exp"), (1, "softplus")])

    def apply(self, arg) -> ast.AST:
        """A function of the grammar applied to ``arg``; exp to a bounded argument,
        exp(tanh(arg)), since exp of a state fed back overflows within a few steps
        (h = exp(2 W h_prev) did, at the module check's random points), which is the
        cell's range, not a fault of derive.  sLSTM's exp of an affine map is in the
        corpus and the catalogue."""
        function = self.function()
        return _call("exp", _call("tanh", arg)) if function == "exp" else _call(function, arg)

    def positive(self, depth) -> ast.AST:
        """A column that is positive at every point: what log is applied to."""
        kind = self.choose([(1, "σ"), (1, "exp"), (1, "softplus"), (1, "1 + e*e")])
        if kind == "1 + e*e":
            e = self.hidden_expr(depth)
            return _bin(_num(1), ast.Add(), _bin(e, ast.Mult(), e))
        if kind == "exp":
            return _call("exp", _call("tanh", self.pre_activation(depth)))
        return _call(kind, self.pre_activation(depth))

    def pre_activation(self, depth) -> ast.AST:
        """The argument of σ or tanh: mostly an affine sum, W h + U x + b and variations."""
        if self.choose([(3, True), (1, False)]):
            return self.affine(depth)
        return self.hidden_expr(depth)

    def affine(self, depth) -> ast.AST:
        d = max(depth - 1, 0)
        count = self.draw(st.integers(1, 4))
        terms = []
        for _ in range(count):
            kind = self.choose([(3, "W@"), (3, "U@"), (3, "b"), (1, "column"), (1, "vector*")])
            if kind == "W@":
                operand = self.leaf() if self.choose([(3, True), (1, False)]) else self.hidden_expr(d)
                terms.append(_bin(self.param("W"), ast.MatMult(), operand))
            elif kind == "U@":
                terms.append(self.input_product(d))
            elif kind == "b":
                terms.append(self.param("b"))
            elif kind == "column":
                terms.append(self.hidden_expr(d))
            else:
                terms.append(
                    _bin(
                        self.param("v"),
                        ast.Mult(),
                        self.leaf() if self.choose([(1, True), (1, False)]) else self.input_product(d),
                    )
                )
        signs = [self.choose([(5, False), (1, True)]) for _ in terms[1:]]
        return _sum(terms, signs)

    # ----------------------------------------------------------------------
    # Whole equations.

    def gate(self):
        return _call("σ", self.affine(self.depth))

    def input_map(self):
        """U x + b: a column that reads the input alone (and earlier such equations'
        values, when the state-free equations drawn so far are in ``hidden``)."""
        return _bin(self.input_product(0), ast.Add(), self.param("b"))

    def input_gate(self):
        """σ(U x + b): a gate that reads no state, whose work the plan does for every
        step outside the time loop."""
        return _call(self.choose([(3, "σ"), (1, "tanh")]), self.input_map())

    def candidate(self):
        return _call("tanh", self.affine(self.depth))

    def state(self, prev, gates):
        """A state's update, mostly the shapes recurrent cells have."""
        g = (lambda: _name(self.draw(st.sampled_from(gates)))) if gates else self.gate
        form = self.choose(
            [
                (3, "rnn"),
                (2, "lstm"),
                (2, "gru"),
                (2, "gated residual"),
                (1, "residual"),
                (1, "scaled"),
                (3, "any"),
            ]
        )
        if form == "rnn":
            return self.apply(self.affine(self.depth))
        if form == "lstm":
            return _bin(
                _bin(g(), ast.Mult(), _name(prev)), ast.Add(), _bin(g(), ast.Mult(), self.candidate_or_name())
            )
        if form == "gru":
            gate = g()
            return _bin(
                _bin(_bin(_num(1), ast.Sub(), gate), ast.Mult(), _name(prev)),
                ast.Add(),
                _bin(gate, ast.Mult(), self.candidate_or_name()),
            )
        if form == "gated residual":
            gate = g()
            return _bin(
                _bin(gate, ast.Mult(), self.candidate()),
                ast.Add(),
                _bin(_bin(_num(1), ast.Sub(), gate), ast.Mult(), _name(prev)),
            )
        if form == "residual":
            return _bin(self.candidate(), ast.Add(), _name(prev))
        if form == "scaled":
            f = self.candidate() if self.choose([(1, True), (1, False)]) else self.gate()
            return self.choose(
                [
                    (1, _bin(self.number(), ast.Mult(), f)),
                    (1, _bin(f, ast.Add(), self.number())),
                    (
                        1,
                        _bin(
                            _bin(self.number(), ast.Mult(), _bin(_num(1), ast.Sub(), f)),
                            ast.Sub(),
                            self.number(),
                        ),
                    ),
                ]
            )
        return self.hidden_expr(self.depth + 1)

    def candidate_or_name(self):
        candidates = [n for n in self.hidden if not n.endswith("_prev")]
        if candidates and self.choose([(1, True), (1, False)]):
            return _name(self.draw(st.sampled_from(candidates)))
        return self.candidate()

    def output(self, earlier_states, gates):
        """An output that reuses a state of this step: o ⊙ tanh(s), s, tanh(s), ..."""
        s = _name(self.draw(st.sampled_from(earlier_states)))
        form = self.choose([(3, "gated"), (2, "copy"), (1, "squashed"), (1, "any")])
        if form == "gated":
            o = _name(self.draw(st.sampled_from(gates))) if gates else self.gate()
            return _bin(o, ast.Mult(), _call("tanh", s))
        if form == "copy":
            return s
        if form == "squashed":
            return self.apply(s)
        return self.hidden_expr(self.depth)


@st.composite
def cells(
    draw, max_depth: int = 2, max_aux: int = 3, min_states: int = 1, max_states: int = 3, broken: bool = True
):
    """Random cell definitions (:class:`CellSpec`); about one in eight is broken on purpose
    (``broken=False`` draws only cells meant to be valid)."""
    depth = draw(st.integers(1, max_depth))
    b = _Builder(draw, depth)
    n_states = b.choose([(w, n) for w, n in [(6, 1), (3, 2), (1, 3)] if min_states <= n <= max_states])
    states = tuple(draw(st.permutations(STATE_NAMES))[:n_states])
    n_aux = draw(st.integers(0, max_aux))
    aux = draw(st.permutations(AUX_NAMES))[:n_aux]
    # Shrinks towards the auxiliary equations first, then the states, in order.
    order = [*aux, *states]
    if draw(st.booleans()):
        order = list(draw(st.permutations(order)))
    b.hidden = [f"{s}_prev" for s in states]
    equations, gates, done_states = [], [], []
    for name in order:
        if name in states:
            if done_states and b.choose([(1, True), (1, False)]):
                tree, role = b.output(done_states, gates), Role.OUTPUT
            else:
                tree, role = b.state(f"{name}_prev", gates), Role.STATE
            done_states.append(name)
        else:
            kind = b.choose([(3, "gate"), (2, "candidate"), (1, "any"), (2, "input gate"), (1, "input map")])
            if kind == "input gate":  # reads no state: minGRU's and minLSTM's gates
                tree, kind = b.input_gate(), "gate"
            elif kind == "input map":  # minGRU's candidate, U x + b
                tree, kind = b.input_map(), "candidate"
            else:
                tree = (
                    b.gate()
                    if kind == "gate"
                    else b.candidate()
                    if kind == "candidate"
                    else b.hidden_expr(depth)
                )
            role = (
                Role.GATE
                if kind == "gate"
                else Role.CANDIDATE
                if kind == "candidate"
                else ROLE_OF.get(getattr(getattr(tree, "func", None), "id", None), Role.GATE)
            )
            if kind == "gate":
                gates.append(name)
        equations.append([name, tree, role.value])
        b.hidden.append(name)
    refuse = ""
    # Two coins (about one cell in ten, as Hypothesis draws them); shrinking goes
    # towards a valid cell.
    if broken and draw(st.booleans()) and draw(st.booleans()):
        refuse = _break(draw, b, equations, draw(st.sampled_from(BREAKAGES)))
    params = list(b.params.items())
    if draw(st.booleans()):
        params = draw(st.permutations(params))
    return CellSpec(
        equations=tuple((n, unparse(tree), role) for n, tree, role in equations),
        states=states,
        parameters=tuple((n, rows, cols) for n, (rows, cols) in params),
        refuse=refuse,
    )


def _break(draw, b, equations, how) -> str:
    """Change the equations (and parameters) so that the cell must be refused; returns how."""
    k = draw(st.integers(0, len(equations) - 1))
    if how == "used before defined":
        if len(equations) == 1:
            how = "undefined name"
        else:
            k = min(k, len(equations) - 2)
    name, tree, _ = equations[k]
    if how == "unused parameter":
        kind = draw(st.sampled_from(("W", "U", "b", "v")))
        b.params[f"{kind}9"] = KINDS[kind]
    elif how == "shape mismatch":
        form = draw(st.sampled_from(("+ x", "x *", "W @ x", "U @")))
        if form == "+ x":
            equations[k][1] = _bin(tree, ast.Add(), _name("x"))
        elif form == "x *":
            equations[k][1] = _bin(_name("x"), ast.Mult(), tree)
        elif form == "W @ x":
            equations[k][1] = _bin(tree, ast.Add(), _bin(b.param("W"), ast.MatMult(), _name("x")))
        else:
            equations[k][1] = _bin(b.param("U"), ast.MatMult(), tree)
    elif how == "used before defined":
        later = draw(st.sampled_from([e[0] for e in equations[k + 1 :]]))
        equations[k][1] = _bin(tree, ast.Add(), _name(later))
    elif how == "state not a hidden column":
        state = draw(st.sampled_from([e for e in equations if e[2] in (Role.STATE.value, Role.OUTPUT.value)]))
        state[1] = _bin(b.param("V"), ast.MatMult(), state[1])
    elif how == "undefined name":
        equations[k][1] = _bin(tree, ast.Mult(), _name("w9"))
    elif how == "own result":
        equations[k][1] = _bin(tree, ast.Add(), _name(name))
    else:
        form = draw(st.sampled_from(("//", "/ 0", "**", "sqrt", "tuple", "<")))
        equations[k][1] = {
            "//": lambda: _bin(tree, ast.FloorDiv(), _num(2)),
            "/ 0": lambda: _bin(tree, ast.Div(), _num(0)),
            "**": lambda: _bin(tree, ast.Pow(), _num(2)),
            "sqrt": lambda: _call("sqrt", tree),
            "tuple": lambda: _call("tanh", ast.Tuple(elts=[tree], ctx=ast.Load())),
            "<": lambda: ast.Compare(left=tree, ops=[ast.Lt()], comparators=[_num(1)]),
        }[form]()
    return how
