"""Recurrent cells as SymPy equations, with their BPTT gradients derived and proved.

>>> from derive import CATALOGUE, derive
>>> d = derive(CATALOGUE["rnn"])
>>> [a.target.name for a in d.backward][:3]
['d_s', 'd_z_s', 'd_x']
"""

from .cell import Cell, CellError, Equation, Parameter, Role, affine
from .cells import CATALOGUE
from .derivation import Derivation, derive

__all__ = ["CATALOGUE", "Cell", "CellError", "Derivation", "Equation", "Parameter", "Role", "affine", "derive"]
