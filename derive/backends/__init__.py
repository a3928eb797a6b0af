"""The code backends, behind one seam: a registry of :class:`Backend` by name, and the
functions that make a cell's module in any of them.

A backend is one folder here: its printer of the statement IR (``printer``),
its spellings of the elementwise functions (``functions``) and its
:class:`Backend` entry (in its ``__init__``, with its template's variables);
its template lives in the top-level ``templates/code/``.  The derivation, the
plan, the lowerings and the pass that leaves out unused statements
(:mod:`derive.codegen`) belong to no backend and import none.

>>> sorted(BACKENDS)
['javascript', 'numpy', 'torch']
"""

from __future__ import annotations

import types
from collections.abc import Iterable

from .. import codegen
from ..algebra import Apply, Divide, walk
from ..catalogue import FOLDER
from ..cell import Cell
from ..cellfile import SUFFIX, header
from ..codegen.modules import generated, in_catalogue, load, quick_check
from ..derivation import derive
from ..printing.text import equation, text
from ..render import render
from .backend import Backend
from .javascript import BACKEND as JAVASCRIPT
from .numpy import BACKEND as NUMPY
from .torch import BACKEND as TORCH

BACKENDS: dict[str, Backend] = {b.name: b for b in (NUMPY, JAVASCRIPT, TORCH)}


class UnknownBackend(ValueError):
    """A backend name that is not in :data:`BACKENDS`."""


def find(name: str) -> Backend:
    """The backend called ``name``; :class:`UnknownBackend` lists the known ones."""
    if name not in BACKENDS:
        raise UnknownBackend(f"unknown backend {name!r}; the backends are {', '.join(BACKENDS)}")
    return BACKENDS[name]


def module_source(
    cell: Cell, literal: bool = False, check: bool | None = None, *, backend: str = "numpy"
) -> str:
    """The source of ``cell``'s module in ``backend`` (fused, or the literal baseline;
    a backend that prints only the literal lowering prints it whatever ``literal`` says).

    A Python module for a cell outside the catalogue is checked before it is returned
    (``check=None``): run on a small random problem, its outputs and gradients must
    agree with the derivation evaluated at 30 digits and with finite differences, or
    :class:`~derive.codegen.modules.GenerationError` is raised.  This takes a fraction
    of a second; ``check=False`` skips it, ``check=True`` forces it (and is refused for
    a backend whose modules Python cannot load).
    """
    chosen = find(backend)
    derivation = derive(cell)
    catalogued = in_catalogue(cell)
    literal = literal or not chosen.fused
    if literal:
        code = codegen.lower_literal(derivation)
    else:
        code = codegen.lower(derivation, options=chosen.options)
    names = [p.name for p in cell.parameters]
    source = render(
        chosen.template,
        name=cell.name,
        title=cell.title,
        command=chosen.command if catalogued else "derive.module_source",
        origin=f" of derive/catalogue/{cell.name}.toml" if catalogued else "",
        about=header(FOLDER / f"{cell.name}{SUFFIX}") if catalogued else "",
        equations=[equation(text(eq.symbol, names), text(eq.rhs, names)) for eq in cell.equations],
        **ranges(cell),
        **chosen.context(cell, derivation, codegen.prune(code), literal),
    )
    if check and not chosen.importable:
        raise ValueError(
            f"the {chosen.name} backend writes {chosen.language}, which Python cannot load to check"
        )
    if chosen.importable and (check or (check is None and not catalogued)):
        (chosen.check or quick_check)(load(source, cell.name), derivation, literal)
    return source


def ranges(cell: Cell) -> dict[str, list[str]]:
    """What a module's docstring says about where its numbers leave the range of
    floating point: ``divisors``, the columns the cell divides by, and ``exponentials``,
    the arguments it applies exp to, each as text once, in the order of the equations."""
    names = [p.name for p in cell.parameters]
    nodes = [node for eq in cell.equations for node in walk(eq.rhs)]
    divisors = [text(node.divisor, names) for node in nodes if isinstance(node, Divide)]
    exponentials = [
        text(node.arg, names) for node in nodes if isinstance(node, Apply) and node.function == "exp"
    ]
    return {"divisors": list(dict.fromkeys(divisors)), "exponentials": list(dict.fromkeys(exponentials))}


def generate(cell: Cell, literal: bool = False, *, backend: str = "numpy") -> types.ModuleType:
    """The generated module of ``cell``, loaded (checked as :func:`module_source` says).

    It follows the contract of ``derive.generated.lstm``: ``PARAMETERS``,
    ``STATES``, ``init_params``, ``forward`` and ``backward``.  Only a backend
    that writes Python can be loaded; for another, :func:`module_source` gives
    the source.

    >>> from derive import CATALOGUE, generate
    >>> rnn = generate(CATALOGUE["rnn"])
    >>> outputs, cache = rnn.forward(rnn.init_params(2, 3, rng=0), [[[1.0, 0.0]]])
    >>> outputs["s"].shape
    (1, 1, 3)
    """
    chosen = find(backend)
    if not chosen.importable:
        raise ValueError(
            f"the {chosen.name} backend writes {chosen.language}, which Python cannot load; "
            f"module_source(cell, backend={chosen.name!r}) gives its source"
        )
    return load(module_source(cell, literal, backend=backend), cell.name + ("_literal" if literal else ""))


def fused_module(name: str) -> types.ModuleType:
    """The fused NumPy module of ``name``: a catalogue cell's committed one, or a cell
    file's generated in memory (checked as :func:`module_source` says)."""
    from ..catalogue import CATALOGUE, resolve

    return generated(name) if name in CATALOGUE else generate(resolve(name))


# The template of the __init__ of each package of generated modules, by backend.
_INDEX = {"numpy": "code/generated_init.py.j2", "torch": "code/generated_torch_init.py.j2"}


def module_index(cells: Iterable[Cell], backend: str = "numpy") -> str:
    """The ``__init__`` of a package of generated modules of ``backend``, one per cell."""
    return render(_INDEX[find(backend).name], cells=list(cells))


__all__ = [
    "BACKENDS",
    "Backend",
    "UnknownBackend",
    "find",
    "fused_module",
    "generate",
    "module_index",
    "module_source",
]
