"""Every name the project makes from another name, in one place.

A variable ``v`` of the step at time t is ``v``; the same variable one step
earlier is ``v_prev``.  The adjoint ∂L/∂v is ``d_v``.  For a state ``v``,
``d_v_prev`` is what the backward step hands back to the step before it, the
part of ∂L/∂v_{t-1} that passes through step t (the printers write it δ̄v_{t-1},
the carried adjoint, apart from the whole δv_{t-1}), and ``d_v_in`` is what
enters the step from outside: the loss at time t plus what step t+1 handed back.
The pre-activation (the argument of the outer elementwise function) of equation
``v`` is ``z_v``; a second named sub-expression of it is ``z2_v`` (printed z⁽²⁾).

The generated NumPy module makes a few more (``v_seq``, ``weights_v``) and
binds some names of its own (:data:`GENERATED`); a cell may use none of them,
which :func:`refusal` checks.
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


# Names the generated module binds for itself (the reserved names of each Python
# backend's template, derive/backends/<name>/, and the fused lowering's own,
# derive/codegen/fused.OWN; tests/test_backends.py checks both are here): its
# module-level names and the locals of forward() and backward(), where parameters
# and equations are locals too.
# Names starting with _ (_sigmoid, _tanh, _check_*, ...) are refused as a form.
# x is the input, which every cell has, so it is not among them.
GENERATED = frozenset(
    {
        # module level
        "np",
        "PARAMETERS",
        "STATES",
        "init_params",
        "forward",
        "backward",
        # the sizes, as init_params and the shapes in the mathematics name them
        "n_input",
        "n_hidden",
        # forward
        "params",
        "state",
        "T",
        "B",
        "n",
        "dtype",
        "t",
        "outputs",
        "values",
        "cache",
        "act",
        "z",
        # backward
        "d_outputs",
        "d_out",
        "d_params",
        "d_x",
        "d_state",
        "dz",
        "dz_t",
        "dz_rows",
        "d_biases",
        "chunk",
        "steps",
        "first",
        # the checks
        "reference",
        "checked",
        # the torch modules: their module-level names and their Function's frame
        "math",
        "torch",
        "nn",
        "Layer",
        "ctx",
        "tensors",
        "initial",
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
    if name.startswith("_"):
        return "names starting with _ are kept for the generated module's helpers; start it with a letter"
    if name in GENERATED:
        return f"the generated module uses it for itself; use another name, such as {name + '_'!r}"
    if reserved(name) or _MADE_BY_CODE.fullmatch(name):
        return (
            "it has the form of a name the derivation or the generated code makes "
            "(d_*, z_*, z2_*, *_prev, *_in, *_seq, weights_*); use a name of another form"
        )
    return None
