"""The generated modules of every cell, the test-only ones generated in memory."""

from functools import cache

from cells import ALL_CELLS

from derive.backends import module_source
from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated, load
from derive.derivation import derive


def cell(name: str):
    """The tests' own cells first (their MGU is defined in Python), then the catalogue's."""
    return ALL_CELLS.get(name) or CATALOGUE[name]


@cache
def module(name: str, literal: bool = False):
    if name in CATALOGUE and CATALOGUE[name] == cell(name) and not literal:
        return generated(name)
    return load(module_source(cell(name), literal=literal), f"{name}_{'literal' if literal else 'fused'}")


@cache
def derivation(name: str):
    return derive(cell(name))
