"""The pass that leaves out what nothing reads: over the statements of :mod:`.ir`,
shared by every backend.

An assignment to a name that nothing else in its function reads (a previous
state that a cell without that recurrence never reads, the adjoint of a value
nothing reads, an array only such statements read) is left out, until none is
left, with the comments that stand for it alone.  The function's results
(:attr:`.Code.forward_results`, :attr:`.Code.backward_results`) are read.
A loop stays, with what is left of its body, unless nothing is left (a cell
whose every equation reads no state is computed before its loop).

:func:`apart` splits one function's statements in two: those some of its results
need, then those that only the others need, so that a backend can skip the
second part when those results are not wanted (torch's
``ctx.needs_input_grad``).
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
    return _keep(body, (), _dropped(body, results))


def apart(
    body: Sequence[ir.Statement], results: Iterable[ir.Node]
) -> tuple[tuple[ir.Statement, ...], tuple[ir.Statement, ...]] | None:
    """``body`` (already without what nothing reads) as the statements that ``results``
    need, then the others, which only the function's other results need, each part
    in its order and with the comments that stand for it.  ``None`` where there are
    no others, or where running them after the first part would not compute the
    same: one sits in a loop, changes a name the first part uses, or reads a name
    that a later statement of the first part changes.
    """
    results = tuple(results)
    dropped = _dropped(body, results)
    if not dropped or any(len(place) > 1 for place in dropped):
        return None
    kept_names = set().union(*(ir.reads(s) | _writes(s) for k, s in enumerate(body) if (k,) not in dropped))
    if any(_writes(body[k]) & kept_names for (k,) in dropped):
        return None
    later_writes: set[str] = set()
    for k in reversed(range(len(body))):
        statement = body[k]
        if (k,) in dropped:
            if ir.reads(statement) & later_writes:
                return None
            continue
        later_writes |= _writes(statement)
    # The second part keeps a comment where it stands for that part alone.
    others = [
        k
        for comments, statements in _blocks(body)
        for k in (comments if all((j,) in dropped for j in statements) else []) + statements
        if k in comments or (k,) in dropped
    ]
    return _keep(body, (), dropped), tuple(body[k] for k in others)


def _writes(statement: ir.Statement) -> set[str]:
    """The names ``statement`` assigns to or changes in place (a loop, those its body does)."""
    if isinstance(statement, ir.Loop):
        return {statement.index}.union(*(_writes(s) for s in statement.body))
    if isinstance(statement, ir.Quiet):
        return set().union(*(_writes(s) for s in statement.body))
    target = getattr(statement, "target", getattr(statement, "out", None))
    while target is not None and not isinstance(target, str):
        target = getattr(target, "array", getattr(target, "view", None))
    return {target} if isinstance(target, str) else set()


def _dropped(body: Sequence[ir.Statement], results: Iterable[ir.Node]) -> set[Place]:
    """The places of the assignments in ``body`` that neither another statement nor ``results`` reads."""
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
    return dropped


def reads(body: Sequence[ir.Statement], results: Iterable[ir.Node] = ()) -> set[ir.Read]:
    """Every name and frame value that ``body`` and ``results`` read: what the
    function's frame must bind (a parameter, ``N``, ``DTYPE``, ...)."""
    return set().union(*(ir.reads(s) for s in body), *(ir.reads(r) for r in results))


def _places(body: Sequence[ir.Statement], at: Place) -> Iterable[tuple[Place, ir.Statement]]:
    for k, statement in enumerate(body):
        yield (*at, k), statement
        if isinstance(statement, (ir.Loop, ir.Quiet)):
            yield from _places(statement.body, (*at, k))


def _own_reads(statement: ir.Statement) -> set[ir.Read]:
    """What a statement reads itself: a loop, its bounds (its body's statements have places of their own)."""
    if isinstance(statement, ir.Loop):
        return ir.reads(ir.Slice(statement.start, statement.stop)) | ir.reads(statement.step)
    if isinstance(statement, ir.Quiet):
        return set()
    return ir.reads(statement)


def _blocks(body: Sequence[ir.Statement]) -> list[tuple[list[int], list[int]]]:
    """``body`` as blocks: comments, then the statements they describe (their indices in body)."""
    blocks: list[tuple[list[int], list[int]]] = []
    for k, statement in enumerate(body):
        comment = isinstance(statement, ir.Comment)
        if not blocks or (comment and blocks[-1][1]):
            blocks.append(([], []))
        blocks[-1][0 if comment else 1].append(k)
    return blocks


def _keep(body: Sequence[ir.Statement], at: Place, dropped: set[Place]) -> tuple[ir.Statement, ...]:
    # Its comments go when every one of its statements has gone.
    kept: list[int] = []
    for comments, statements in _blocks(body):
        live = [k for k in statements if (*at, k) not in dropped]
        kept += (comments if live or not statements else []) + live
    out: list[ir.Statement] = []
    for k in kept:
        statement = body[k]
        if isinstance(statement, (ir.Loop, ir.Quiet)):
            statement = replace(statement, body=_keep(statement.body, (*at, k), dropped))
            if not any(not isinstance(s, ir.Comment) for s in statement.body):
                continue  # nothing left to run: every step's work was done outside it
        out.append(statement)
    return tuple(out)


__all__ = ["apart", "prune", "reads", "statements"]
