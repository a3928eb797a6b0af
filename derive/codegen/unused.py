"""The pass that leaves out what nothing reads: over the statements of :mod:`.ir`,
shared by every backend.

An assignment to a name that nothing else in its function reads (a previous
state that a cell without that recurrence never reads, the adjoint of a value
nothing reads, an array only such statements read) is left out, until none is
left, with the comments that stand for it alone.  The function's results
(:attr:`.Code.forward_results`, :attr:`.Code.backward_results`) are read.
A loop stays, with what is left of its body.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from . import ir
from .code import Code

# A statement's place: its index in its function, then in each loop's body down to it.
Place = tuple[int, ...]


def prune(code: Code) -> Code:
    """``code`` with the assignments nothing reads left out of both functions."""
    return replace(
        code,
        forward=statements(code.forward, code.forward_results),
        backward=statements(code.backward, code.backward_results),
    )


def statements(body: Sequence[ir.Statement], results: Iterable[ir.Node]) -> tuple[ir.Statement, ...]:
    """The statements of one function, ``body``, without the assignments that neither
    another statement nor ``results`` reads."""
    places = dict(_places(body, ()))
    used = {place: _own_reads(s) for place, s in places.items()}
    bound = {place: name for place, s in places.items() if (name := ir.binds(s)) is not None}
    needed = set().union(*(ir.reads(r) for r in results))
    dropped: set[Place] = set()
    while True:
        read = Counter(name for place in places if place not in dropped for name in used[place])
        dead = {
            place
            for place, name in bound.items()
            if place not in dropped and name not in needed and read[name] == (name in used[place])
        }
        if not dead:
            break
        dropped |= dead
    return _keep(body, (), dropped)


def reads(body: Sequence[ir.Statement], results: Iterable[ir.Node] = ()) -> set[ir.Read]:
    """Every name and frame value that ``body`` and ``results`` read: what the
    function's frame must bind (a parameter, ``N``, ``DTYPE``, ...)."""
    return set().union(*(ir.reads(s) for s in body), *(ir.reads(r) for r in results))


def _places(body: Sequence[ir.Statement], at: Place) -> Iterable[tuple[Place, ir.Statement]]:
    for k, statement in enumerate(body):
        yield (*at, k), statement
        if isinstance(statement, ir.Loop):
            yield from _places(statement.body, (*at, k))


def _own_reads(statement: ir.Statement) -> set[ir.Read]:
    """What a statement reads itself: a loop, its bounds (its body's statements have places of their own)."""
    if isinstance(statement, ir.Loop):
        return ir.reads(ir.Slice(statement.start, statement.stop)) | ir.reads(statement.step)
    return ir.reads(statement)


def _keep(body: Sequence[ir.Statement], at: Place, dropped: set[Place]) -> tuple[ir.Statement, ...]:
    # A block: comments, then the statements they describe (their indices in body).
    # Its comments go when every one of its statements has gone.
    blocks: list[tuple[list[int], list[int]]] = []
    for k, statement in enumerate(body):
        comment = isinstance(statement, ir.Comment)
        if not blocks or (comment and blocks[-1][1]):
            blocks.append(([], []))
        blocks[-1][0 if comment else 1].append(k)
    kept: list[int] = []
    for comments, statements in blocks:
        live = [k for k in statements if (*at, k) not in dropped]
        kept += (comments if live or not statements else []) + live
    out: list[ir.Statement] = []
    for k in kept:
        statement = body[k]
        if isinstance(statement, ir.Loop):
            statement = replace(statement, body=_keep(statement.body, (*at, k), dropped))
        out.append(statement)
    return tuple(out)


__all__ = ["prune", "reads", "statements"]
