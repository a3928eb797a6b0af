"""The PyTorch backend's spellings of the elementwise functions.

A spelling is how a generated torch module computes the function ``function``
of a tensor ``z``, into ``out`` when it is given: a call of torch's own kernel
with an ``out=`` argument (``torch.sigmoid``, ``torch.tanh``), or a small helper
that the module defines (``_step``).  A function of
:data:`derive.elementwise.FUNCTIONS` with no spelling here is computed by a
helper printed by SymPy's PyTorch printer from its definition; where SymPy
cannot print it, :func:`spelling` refuses it by name and :func:`spell` adds one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sympy.printing.pytorch import TorchPrinter

from ... import elementwise


@dataclass(frozen=True)
class Spelling:
    """``function`` in torch: ``call`` is called as ``call(z)`` or ``call(z, out=out)``;
    ``source``, when given, defines ``call`` in the generated module (a helper, whose
    name starts with ``_``); otherwise ``call`` is torch's own (``torch.tanh``)."""

    function: str
    call: str
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", self.source.strip("\n"))


# The spellings by function, in the order the generated modules define their helpers.
SPELLINGS: dict[str, Spelling] = {}


def spell(entry: Spelling) -> Spelling:
    """Add ``entry`` to :data:`SPELLINGS`; returns it."""
    if entry.function not in elementwise.FUNCTIONS:
        raise ValueError(f"the torch spelling of {entry.function!r}: no elementwise function has that name")
    SPELLINGS[entry.function] = entry
    return entry


def unspell(function: str) -> Spelling:
    """Remove the spelling of ``function``; returns it."""
    return SPELLINGS.pop(function)


def spelling(function: str) -> Spelling:
    """How torch computes ``function``: its entry in :data:`SPELLINGS`, else a helper
    that SymPy's PyTorch printer writes from the definition."""
    if function in SPELLINGS:
        return SPELLINGS[function]
    definition = elementwise.FUNCTIONS[function].definition
    try:
        value = str(TorchPrinter({"strict": True}).doprint(definition))
    except Exception as e:  # SymPy's refusal names what it cannot print
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"the elementwise function {function!r} has no torch spelling, and SymPy cannot print "
            f"its definition {definition} for torch ({first}); give it one with "
            f"derive.backends.torch.functions.spell(Spelling({function!r}, call, source))"
        ) from None
    name = "_" + function
    source = (
        f"def {name}(z, out=None):\n"
        f'    """{function}(z), from its definition."""\n'
        f"    value = {value}\n"
        "    return value if out is None else out.copy_(value)"
    )
    return Spelling(function, name, source)


def helpers(used: Iterable[str]) -> list[str]:
    """The sources of the helpers a module defines for the functions ``used`` and those
    their derivatives apply, in table order."""
    needed = elementwise.closure(used)
    found = [spelling(f) for f in (*(f for f in SPELLINGS if f in needed), *sorted(needed - set(SPELLINGS)))]
    return [s.source for s in found if s.source]


# The table: torch's fused kernels where it has one.
spell(Spelling("sigma", "torch.sigmoid"))
spell(Spelling("tanh", "torch.tanh"))
spell(
    Spelling(
        "step",
        "_step",
        '''
def _step(z, out=None):
    """The unit step of z: 1 where z > 0, else 0 (at 0 and at NaN too), in z's dtype."""
    if out is None:
        return (z > 0).to(z.dtype)
    return out.copy_(z > 0)
''',
    )
)
spell(
    Spelling(
        "relu",
        "_relu",
        '''
def _relu(z, out=None):
    """max(z, 0), exactly."""
    return torch.clamp_min(z, 0, out=out)
''',
    )
)

spell(Spelling("exp", "torch.exp"))
spell(Spelling("log", "torch.log"))
spell(
    Spelling(
        "softplus",
        "_softplus",
        '''
def _softplus(z, out=None):
    """log(1 + exp(z)) as logaddexp(z, 0): it never overflows, and is exact where
    torch.nn.functional.softplus turns linear (above its threshold of 20)."""
    return torch.logaddexp(z, z.new_zeros(()), out=out)
''',
    )
)

__all__ = ["SPELLINGS", "Spelling", "helpers", "spell", "spelling", "unspell"]
