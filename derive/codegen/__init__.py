"""From a derivation to the statements of a NumPy module.

Two lowerings share one template: :func:`lower`, fused by a frozen plan
(:mod:`.plan`), and :func:`lower_literal`, every equation as it stands.
Neither knows any cell by name.  Python syntax comes from
:mod:`derive.printing.numpy` and the module's frame from the Jinja template.
"""

from .code import Code
from .fused import lower
from .literal import lower_literal

__all__ = ["Code", "lower", "lower_literal"]
