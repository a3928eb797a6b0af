"""The generated modules of every cell, the test-only ones generated in memory."""

import importlib
from functools import cache

from cells import ALL_CELLS

from derive.catalogue import CATALOGUE
from derive.codegen.modules import load, module_source
from derive.derivation import derive


@cache
def module(name: str, literal: bool = False):
    if name in CATALOGUE and not literal:
        return importlib.import_module(f"derive.generated.{name}")
    return load(
        module_source(ALL_CELLS[name], literal=literal), f"{name}_{'literal' if literal else 'fused'}"
    )


@cache
def derivation(name: str):
    return derive(ALL_CELLS[name])
