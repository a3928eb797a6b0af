"""Recurrent cells as SymPy equations, with their BPTT gradients derived and proved.

>>> from derive import CATALOGUE, derive
>>> d = derive(CATALOGUE["rnn"])
>>> [a.target.name for a in d.backward][:3]
['d_s', 'd_z_s', 'd_x']

The names below are imported on first use, so that ``derive.generated.lstm``
can be imported with NumPy alone.
"""

from importlib import import_module

_EXPORTS = {
    "Cell": ".cell",
    "CellError": ".cell",
    "Equation": ".cell",
    "Parameter": ".cell",
    "Role": ".cell",
    "affine": ".cell",
    "CATALOGUE": ".catalogue",
    "Derivation": ".derivation",
    "derive": ".derivation",
    "GenerationError": ".codegen.modules",
    "generate": ".backends",
    "module_source": ".backends",
    "Report": ".verification.report",
    "verify": ".verification.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
