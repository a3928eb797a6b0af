"""What every backend's printer of the statement IR shares: dispatch, names, numbers,
the index arithmetic with its precedence, and statements as indented lines.

A backend's printer subclasses :class:`StatementPrinter` and writes one
``_print_<Node>`` method per node of :mod:`derive.codegen.ir` that its
lowering emits, plus :meth:`~StatementPrinter.loop`; a node it has no method
for raises :class:`NotImplementedError` naming the node and the backend.  Its
spellings are small tables: :attr:`~StatementPrinter.operators` for the index
arithmetic, :attr:`~StatementPrinter.given` for the frame's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..codegen import ir


@dataclass(frozen=True)
class Line:
    """One printed line: ``text`` at ``depth`` levels of indentation inside the function."""

    depth: int
    text: str

    def __str__(self) -> str:
        return self.text


# How tightly each operation of the index arithmetic binds; an operand that binds
# less tightly is parenthesised (a right operand of equal precedence too).
PRECEDENCE: dict[type, int] = {ir.Plus: 10, ir.Minus: 10, ir.Times: 20, ir.Quotient: 20}


class StatementPrinter:
    """Prints the nodes and statements of :mod:`derive.codegen.ir`: ``printer(node)``
    is the text of a node, :meth:`lines` the lines of statements."""

    language: ClassVar[str] = ""
    # The index arithmetic's operators; a backend without one overrides its _print_ method.
    operators: ClassVar[dict[type, str]] = {ir.Plus: "+", ir.Minus: "-", ir.Times: "*", ir.Quotient: "//"}
    # The frame's values by their name in the IR: how the printed function calls them.
    given: ClassVar[dict[str, str]] = {}

    def __call__(self, node: ir.Node | ir.Statement | None) -> str:
        if isinstance(node, str):
            return self.name(node)
        if isinstance(node, bool) or node is None:
            raise TypeError(f"{node!r} is no node of the statement IR")
        if isinstance(node, int):
            return self.number(node)
        method = getattr(self, "_print_" + type(node).__name__, None)
        if method is None:
            raise NotImplementedError(f"no {self.language} for the statement node {type(node).__name__}")
        return str(method(node))

    def name(self, name: str) -> str:
        """The identifier that holds the value named ``name``."""
        return name

    def number(self, value: int) -> str:
        return str(value)

    def lines(self, statements: Sequence[ir.Statement], depth: int = 0) -> list[Line]:
        """``statements`` as lines at ``depth``, a loop as its header, its body one level
        deeper and what closes it (:meth:`loop`)."""
        out: list[Line] = []
        for statement in statements:
            if isinstance(statement, ir.Loop):
                out.extend(self.loop(statement, depth))
            elif isinstance(statement, ir.Quiet):
                out.extend(self.quiet(statement, depth))
            else:
                out.append(Line(depth, self(statement)))
        return out

    def loop(self, node: ir.Loop, depth: int) -> list[Line]:
        raise NotImplementedError(f"no {self.language} for a loop")

    def quiet(self, node: ir.Quiet, depth: int) -> list[Line]:
        """Statements where exp may overflow (:class:`~derive.codegen.ir.Quiet`); a
        library that reports no overflow prints them as they are."""
        return self.lines(node.body, depth)

    def wrap(self, node: ir.Node, level: int, right: bool = False) -> str:
        """``node`` printed, in parentheses where it binds less tightly than ``level``
        (or as tightly, on the right of a left-associative operation)."""
        text = self(node)
        own = PRECEDENCE.get(type(node))
        if own is not None and (own < level or (right and own == level)):
            return f"({text})"
        return text

    def _binary(self, node: ir.Plus | ir.Minus | ir.Times | ir.Quotient) -> str:
        level = PRECEDENCE[type(node)]
        return (
            f"{self.wrap(node.a, level)} {self.operators[type(node)]} {self.wrap(node.b, level, right=True)}"
        )

    _print_Plus = _print_Minus = _print_Times = _print_Quotient = _binary

    def _print_Given(self, node: ir.Given) -> str:
        return self.given.get(node.name, node.name)

    def _print_Comment(self, node: ir.Comment) -> str:
        raise NotImplementedError(f"no {self.language} for a comment")


__all__ = ["PRECEDENCE", "Line", "StatementPrinter"]
