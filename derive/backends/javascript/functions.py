"""The JavaScript backend's spellings of the elementwise functions: how the
generated JavaScript computes each for one number, and the name of the small
function it defines for it.

A function with no entry here is spelled by SymPy's JavaScript printer of its
definition; where that cannot print it, :func:`spelling` refuses it by name
and :func:`spell` adds one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy.printing.jscode import JavascriptCodePrinter

from ... import elementwise


@dataclass(frozen=True)
class Spelling:
    """``function`` computed for one number ``z``: the JavaScript expression
    ``expression``, in a function the generated file defines as ``name``."""

    function: str
    expression: str
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or "_" + self.function)


# The spellings by function.
SPELLINGS: dict[str, Spelling] = {}


def spell(entry: Spelling) -> Spelling:
    """Add ``entry`` to :data:`SPELLINGS`; returns it.  The expression is one line."""
    if not isinstance(entry.expression, str) or "\n" in entry.expression:
        raise ValueError(
            f"the JavaScript spelling of {entry.function!r} must be one line of text, an expression in z"
        )
    if not (entry.name.isidentifier() and entry.name.startswith("_")):
        raise ValueError(f"the JavaScript name {entry.name!r} must be an identifier starting with _")
    SPELLINGS[entry.function] = entry
    return entry


def unspell(function: str) -> Spelling:
    """Remove the spelling of ``function``; returns it."""
    return SPELLINGS.pop(function)


def name(function: str) -> str:
    """The name of the function the generated JavaScript defines for ``function``."""
    return SPELLINGS[function].name if function in SPELLINGS else "_" + function


def spelling(function: str) -> str:
    """How JavaScript computes ``function`` for one number ``z``: its spelling here,
    else SymPy's JavaScript printer of its definition; a :class:`ValueError` that
    names the function and the fix where there is none."""
    if function in SPELLINGS:
        return SPELLINGS[function].expression
    definition = elementwise.FUNCTIONS[function].definition
    try:
        return str(JavascriptCodePrinter({"strict": True}).doprint(definition))
    except Exception as e:  # SymPy's refusal names what it cannot print
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"the elementwise function {function!r} has no JavaScript spelling, and SymPy cannot "
            f"print its definition {definition} in JavaScript ({first}); give it one with "
            f"derive.backends.javascript.functions.spell(Spelling({function!r}, expression)), "
            "an expression in z such as 'Math.tanh(z)'"
        ) from None


def helper(function: str) -> str:
    """The function the generated JavaScript applies entry by entry."""
    return f"function {name(function)}(z) {{\n  return {spelling(function)};\n}}"


# The table.
spell(Spelling("sigma", "1 / (1 + Math.exp(-z))", "_sigmoid"))
spell(Spelling("tanh", "Math.tanh(z)", "_tanh"))
spell(Spelling("step", "z > 0 ? 1 : 0", "_step"))
spell(Spelling("relu", "Math.max(z, 0)", "_relu"))
spell(Spelling("exp", "Math.exp(z)", "_exp"))
# Math.log, as NumPy's log: -Infinity at 0 and NaN below it.
spell(Spelling("log", "Math.log(z)", "_log"))
# Stable for every z: max(z, 0) + log1p(exp(-|z|)) never overflows and keeps the
# relative precision of tiny values.
spell(Spelling("softplus", "Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))", "_softplus"))

__all__ = ["SPELLINGS", "Spelling", "helper", "name", "spell", "spelling", "unspell"]
