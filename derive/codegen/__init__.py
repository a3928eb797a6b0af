"""From a derivation to the statements of a generated module, for any backend.

Two lowerings: :func:`lower`, fused by a frozen plan (:mod:`.plan`), and
:func:`lower_literal`, every equation as it stands.  Neither knows any cell by
name, and neither writes text: both emit the statements of :mod:`.ir`, and
:func:`prune` (:mod:`.unused`) leaves out what nothing reads.  Nothing here
imports a backend: each backend (:mod:`derive.backends`) prints the IR in its
language, inside the frame of its template.
"""

from .code import Code
from .fused import lower
from .literal import lower_literal
from .plan import Options
from .unused import prune

__all__ = ["Code", "Options", "lower", "lower_literal", "prune"]
