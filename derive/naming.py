"""Every name the project makes from another name, in one place.

A variable ``v`` of the step at time t is ``v``; the same variable one step
earlier is ``v_prev``.  The adjoint ∂L/∂v is ``d_v``.  For a state ``v``,
``d_v_prev`` is what the backward step hands back to the step before it, the
part of ∂L/∂v_{t-1} that passes through step t (the printers write it δ̄v_{t-1},
the carried adjoint, apart from the whole δv_{t-1}), and ``d_v_in`` is what
enters the step from outside: the loss at time t plus what step t+1 handed back.
The pre-activation (the argument of the outer elementwise function) of equation
``v`` is ``z_v``; a second named sub-expression of it is ``z2_v`` (printed z⁽²⁾).

The generated code makes a few more (``v_seq``, ``weights_v``); the names it
binds for itself start with ``_`` (:func:`own`); a cell may use none of them,
nor the names of the modules' interface (:data:`INTERFACE`), which
:func:`refusal` checks.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from typing import TypedDict

from .elementwise import SPELLINGS

PREV = "_prev"
ADJOINT = "d_"
INCOMING = "_in"
PREACTIVATION = "z_"


def prev(name: str) -> str:
    return name + PREV


def adjoint(name: str) -> str:
    return ADJOINT + name


def incoming(name: str) -> str:
    return ADJOINT + name + INCOMING


def preactivation(name: str, index: int = 1) -> str:
    """``z_v`` for the first named sub-expression of equation ``v``, then ``z2_v``, ..."""
    return ("z" if index == 1 else f"z{index}") + "_" + name


_PARTS = re.compile(r"^(?P<adjoint>d_)?(?P<base>.+?)(?P<prev>_prev)?(?P<incoming>_in)?$")


class Parts(TypedDict):
    """A name's base and which decorations it has."""

    adjoint: bool
    base: str
    prev: bool
    incoming: bool


def parse(name: str) -> Parts:
    """Split a name into its base and its decorations.

    >>> parse("d_s_prev") == {"adjoint": True, "base": "s", "prev": True, "incoming": False}
    True
    """
    m = _PARTS.match(name)
    if m is None:  # the empty name, or one that holds a line break
        raise ValueError(f"{name!r} is not a name")
    return {
        "adjoint": bool(m["adjoint"]),
        "base": m["base"],
        "prev": bool(m["prev"]),
        "incoming": bool(m["incoming"]),
    }


def subexpression(name: str) -> tuple[int, str] | None:
    """``(index, equation)`` for the name of a named sub-expression (``z2_s`` is
    ``(2, "s")``), ``None`` for any other name."""
    m = re.fullmatch(r"z(\d*)_(.+)", name)
    if not m:
        return None
    return int(m[1] or 1), m[2]


def reserved(name: str) -> bool:
    """Whether ``name`` has the form of a name the derivation makes from others."""
    parts = parse(name)
    return parts["adjoint"] or parts["prev"] or parts["incoming"] or subexpression(name) is not None


# The generated code's own names.  Every name a generated module binds for itself
# (its sizes, loop indices, arrays of blocks, helpers and the locals of its frame)
# starts with OWN, which no name of a cell may (refusal): so a cell may call its
# quantities n, z, t, T, B or anything else its paper does, in every backend.  The
# names it makes from a cell's (d_v, v_prev, v_seq, weights_v, ...) have forms a cell
# may not take either, and the few it makes fresh (one, minus_two, ...) avoid the
# cell's names.
OWN = "_"


def own(name: str) -> str:
    """The generated code's own name for ``name``: ``own("n")`` is ``_n``, the hidden size."""
    return OWN + name


# What the generated code cannot rename: the interface of every backend's module (its
# module-level names, and the parameters of forward and backward) and the libraries
# it calls by their usual names.  A cell may use none of them.  x, the input, is one
# too, but the cell names it itself (derive.cell refuses it as already defined).
INTERFACE = frozenset(
    {
        # the module's names, the same in every backend
        "PARAMETERS",
        "STATES",
        "init_params",
        "forward",
        "backward",
        "Layer",
        # the parameters of forward and backward
        "params",
        "state",
        "cache",
        "d_outputs",
        "ctx",
        # the libraries
        "np",
        "math",
        "torch",
        "nn",
    }
)

# Names the generated code makes from other names: the (T, B, n) array that
# keeps v for every step, and the stacked weights of the products with operand v.
_MADE_BY_CODE = re.compile(r".+_seq|weights_.+")


_BUILTINS = frozenset(dir(builtins))


def normal(name: str) -> str:
    """The name as Python reads it in source (NFKC: ``ﬁ`` is ``fi``, ``ｇ`` is ``g``)."""
    return unicodedata.normalize("NFKC", name)


def refusal(name: object) -> str | None:
    """Why ``name`` cannot name a parameter, an input, a state or an equation,
    with what to do instead; ``None`` if it can.  ``name`` is compared as
    :func:`normal` leaves it, since that is how the equations' text reads it."""
    if not isinstance(name, str):
        return f"a name is a string, not {type(name).__name__}; use an identifier such as 'g'"
    name = normal(name)
    if not name.isidentifier():
        return "it is not a Python identifier; use letters, digits and _, not starting with a digit"
    if keyword.iskeyword(name):
        return f"it is a Python keyword; use another name, such as {name + '_'!r}"
    if name in SPELLINGS:
        return "it is an elementwise function; use another name"
    if name in _BUILTINS:
        return (
            "it is a Python builtin, which the generated code may use; "
            f"use another name, such as {name + '_'!r}"
        )
    if name.startswith(OWN):
        return "names starting with _ are the generated code's own; start it with a letter"
    if name in INTERFACE:
        return (
            "the generated module's interface or a library it calls has this name; "
            f"use another name, such as {name + '_'!r}"
        )
    if reserved(name) or _MADE_BY_CODE.fullmatch(name):
        return (
            "it has the form of a name the derivation or the generated code makes "
            "(d_*, z_*, z2_*, *_prev, *_in, *_seq, weights_*); use a name of another form"
        )
    return None
