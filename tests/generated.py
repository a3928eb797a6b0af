"""The generated modules of every cell, the test-only ones generated in memory."""

from functools import cache

from cells import ALL_CELLS

from derive.backends import module_source
from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated, load
from derive.derivation import derive
from derive.verification.numeric import relative_error


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


def results(module, problem):
    """(outputs, d_params, d_x, d_state) of a NumPy module on a problem of
    :func:`derive.verification.numeric.random_problem`."""
    params, x, state, d_outputs = problem
    outputs, cache_ = module.forward(params, x, state)
    return outputs, *module.backward(cache_, d_outputs)


def worst(got, want):
    """The largest relative difference between two results of (outputs, d_params, d_x, d_state)."""
    errors = [relative_error(got[0][s], want[0][s]) for s in want[0]]
    errors += [relative_error(got[1][k], want[1][k]) for k in want[1]]
    errors.append(relative_error(got[2], want[2]))
    errors += [relative_error(got[3][s], want[3][s]) for s in want[3]]
    return max(errors)
