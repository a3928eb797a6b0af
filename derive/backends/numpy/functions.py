"""The NumPy backend's spellings of the elementwise functions: one stable helper
each, which every generated module that computes the function defines.

A helper is the source of ``def <name>(z, out=None): ...``: a numerically stable
evaluation with NumPy (``np``) that writes into ``out`` when it is given and
returns the result.  The printer calls it by its name (``_sigmoid(z)``,
``_sigmoid(z, out=z)``).  A function of :data:`derive.elementwise.FUNCTIONS`
that has no helper here cannot be printed in NumPy: :func:`define` adds one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from ... import elementwise


@dataclass(frozen=True)
class Helper:
    """How generated NumPy computes the elementwise function ``function``.

    ``name``     the helper's name in the generated module (``_sigmoid``), starting with ``_``
    ``source``   its source, ``def <name>(z, out=None): ...``
    ``in_every_module``  whether every generated module defines it, whether or not its
                 cell uses the function (σ and tanh, as the modules always have);
                 otherwise only the modules of cells that compute it do, so that
                 adding a function changes no generated module
    """

    function: str
    name: str
    source: str
    in_every_module: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", self.source.strip("\n"))


# The helpers by function, in the order the generated modules define them.
HELPERS: dict[str, Helper] = {}


def define(helper: Helper) -> Helper:
    """Add ``helper`` to :data:`HELPERS`, so that NumPy computes its function; returns it.

    Checked first, with :class:`ValueError` naming what is wrong: its function is one
    of :data:`derive.elementwise.FUNCTIONS` with no helper yet, and its source
    defines exactly the function ``helper.name``, a name no other helper uses.

    >>> from sympy import tanh
    >>> from derive.elementwise import Elementwise, register, unregister, z
    >>> _ = register(Elementwise("double_tanh", 2 * tanh(z)))
    >>> _ = define(Helper("double_tanh", "_double_tanh",
    ...     "def _double_tanh(z, out=None):\\n    return np.multiply(np.tanh(z), 2, out=out)"))
    >>> undefine("double_tanh").name, unregister("double_tanh").name
    ('_double_tanh', 'double_tanh')
    """
    where = f"the NumPy helper of {helper.function!r}"
    if helper.function not in elementwise.FUNCTIONS:
        raise ValueError(f"{where}: no elementwise function has that name; register it first")
    if helper.function in HELPERS:
        raise ValueError(f"{where}: it has one, {HELPERS[helper.function].name}")
    if not (helper.name.isidentifier() and helper.name.startswith("_")):
        raise ValueError(f"{where}: the helper's name {helper.name!r} must be an identifier starting with _")
    if any(h.name == helper.name for h in HELPERS.values()):
        raise ValueError(f"{where}: the helper name {helper.name!r} is taken")
    try:
        tree = ast.parse(helper.source)
    except SyntaxError as e:
        raise ValueError(f"{where}: the helper is not Python: {e}") from None
    defined = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    if defined != [helper.name] or len(tree.body) != 1:
        raise ValueError(f"{where}: the helper must define the one function {helper.name} and nothing else")
    HELPERS[helper.function] = helper
    return helper


def undefine(function: str) -> Helper:
    """Remove the helper of ``function`` (as a test does with one it defined); returns it."""
    return HELPERS.pop(function)


def helper(function: str) -> Helper:
    """The helper of ``function``; a :class:`ValueError` that says how to add one."""
    if function not in HELPERS:
        raise ValueError(
            f"the elementwise function {function!r} has no NumPy helper; define one with "
            f"derive.backends.numpy.functions.define(Helper({function!r}, '_{function}', source))"
        )
    return HELPERS[function]


def helpers(used: Iterable[str]) -> list[str]:
    """The sources of the helpers a generated module defines, in table order: those of
    the functions named in ``used``, of the functions their derivatives apply (relu's
    backward pass computes step) and those every module has."""
    needed = elementwise.closure(used)
    for name in needed:
        helper(name)  # each has one
    return [h.source for h in HELPERS.values() if h.in_every_module or h.function in needed]


# The table: one helper per function of derive.elementwise's table.

SIGMOID = define(
    Helper(
        "sigma",
        "_sigmoid",
        '''
def _sigmoid(z, out=None):
    """σ(z) = 1 / (1 + exp(-z)), in place in ``out`` when given.  Where exp(-z)
    overflows to inf (callers silence the warning), 1 / (1 + inf) is exactly 0."""
    out = np.negative(z, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)
''',
        in_every_module=True,
    )
)

TANH = define(
    Helper(
        "tanh",
        "_tanh",
        '''
def _tanh(z, out=None):
    """tanh(z).  NumPy's own tanh is fast in float32 and on small arrays; for larger
    float64 arrays 1 - 2 / (1 + exp(2z)), with one exp, is several times faster, with
    an error of a few units in the last place of 1.  Where exp(2z) overflows to inf
    (callers silence the warning), that formula gives exactly 1."""
    if z.size < 256 or z.dtype == np.float32:
        return np.tanh(z, out=out)
    out = np.multiply(z, 2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(-2, out, out=out)
    out += 1
    return out
''',
        in_every_module=True,
    )
)

STEP = define(
    Helper(
        "step",
        "_step",
        '''
def _step(z, out=None):
    """The unit step of z: 1 where z > 0, else 0 (at 0 and at NaN too), in z's
    float dtype, exactly; in place in ``out`` when given."""
    if out is None:
        return (z > 0).astype(z.dtype)
    return np.greater(z, 0, out=out)
''',
    )
)

RELU = define(
    Helper(
        "relu",
        "_relu",
        '''
def _relu(z, out=None):
    """max(z, 0), exactly; in place in ``out`` when given."""
    return np.maximum(z, 0, out=out)
''',
    )
)

EXP = define(
    Helper(
        "exp",
        "_exp",
        '''
def _exp(z, out=None):
    """exp(z), in place in ``out`` when given.  It overflows to inf for z above 709.78
    in float64 and 88.72 in float32 (callers silence the warning); the cell's own
    docstring says which of its arguments can get there."""
    return np.exp(z, out=out)
''',
    )
)

LOG = define(
    Helper(
        "log",
        "_log",
        '''
def _log(z, out=None):
    """log(z), in place in ``out`` when given: -inf at 0 and NaN below it, as NumPy's
    log gives (with its warning), where the mathematics has no value."""
    return np.log(z, out=out)
''',
    )
)

SOFTPLUS = define(
    Helper(
        "softplus",
        "_softplus",
        '''
def _softplus(z, out=None):
    """log(1 + exp(z)), stable for every z: max(z, 0) + log1p(exp(-|z|)), which never
    overflows (log(1 + exp(z)) is inf for z above 709.78) and keeps full relative
    precision where the value is tiny (z below -37, where 1 + exp(z) is 1);
    in place in ``out`` when given."""
    tail = np.negative(np.abs(z))
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    out = np.maximum(z, 0, out=out)
    out += tail
    return out
''',
    )
)

__all__ = [
    "EXP",
    "HELPERS",
    "LOG",
    "RELU",
    "SIGMOID",
    "SOFTPLUS",
    "STEP",
    "TANH",
    "Helper",
    "define",
    "helper",
    "helpers",
    "undefine",
]
