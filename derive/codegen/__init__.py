"""From a derivation to the statements of a NumPy module.

Two lowerings share one template: :func:`lower`, fused by a frozen plan
(:mod:`.plan`), and :func:`lower_literal`, every equation as it stands.
Neither knows any cell by name, and neither writes text: both emit the
statements of :mod:`.ir`, which :mod:`derive.printing.numpy` spells in
Python; the module's frame comes from the Jinja template.
"""

from .code import Code
from .fused import lower
from .literal import lower_literal

__all__ = ["Code", "lower", "lower_literal"]
