"""Every name the project makes from another name, in one place.

A variable ``v`` of the step at time t is ``v``; the same variable one step
earlier is ``v_prev``.  The adjoint ∂L/∂v is ``d_v``.  For a state output,
``d_v_in`` is the part of its adjoint that enters the step from outside: the
loss at time t plus what flows back from step t+1.  The pre-activation (the
argument of the outer elementwise function) of equation ``v`` is ``z_v``.
"""

from __future__ import annotations

import re

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


def parse(name: str) -> dict[str, str | bool]:
    """Split a name into its base and its decorations.

    >>> parse("d_s_prev") == {"adjoint": True, "base": "s", "prev": True, "incoming": False}
    True
    """
    m = _PARTS.match(name)
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
