"""A cell may use the names of its paper: z, n, t, T, B and the other names the generated
code once bound for itself are the cell's own, in every backend; what stays reserved is
refused in one line that names the line of the cell file."""

from __future__ import annotations

from pathlib import Path

import pytest
from generated import results, worst
from javascript import worst_against_numpy

from derive import CellError, generate, module_source, naming
from derive.cellfile import load, loads
from derive.codegen.fused import OWN
from derive.verification.numeric import random_problem

CELL = load(Path(__file__).parent / "cellfiles" / "papers_names.toml")
TOLERANCE = 1e-12


def test_the_generated_codes_own_names_are_names_no_cell_may_take():
    for name in OWN | {"_T", "_B", "_n", "_dtype", "_t"}:
        assert name.startswith(naming.OWN) and naming.refusal(name), name
    for name in naming.INTERFACE:
        assert naming.refusal(name), name


def test_the_papers_names_are_the_cells_own():
    assert {"z", "n", "T", "values", "outputs"} <= {e.name for e in CELL.equations}
    assert {"B", "t", "m", "act", "dz", "first", "chunk", "dtype", "let"} <= {p.name for p in CELL.parameters}
    for name in ("z", "n", "t", "T", "B", "m", "act", "dz", "first", "chunk", "dtype", "values", "outputs"):
        assert naming.refusal(name) is None, name


@pytest.mark.parametrize("literal", [False, True])
def test_numpy_modules_of_such_a_cell_agree_with_torch_autograd_of_its_equations(literal):
    torch_reference = pytest.importorskip("torch_reference")
    # checked on the way against the derivation at 30 digits and finite differences
    module = generate(CELL, literal=literal)
    problem = random_problem(module, 3, 4, 5, 2, seed=1)
    assert worst(results(module, problem), torch_reference.run_literal(CELL, problem)) <= TOLERANCE


def test_the_torch_layer_of_such_a_cell_agrees_with_its_numpy_module():
    torch_reference = pytest.importorskip("torch_reference")
    layer = generate(CELL, backend="torch")
    numpy_module = generate(CELL)
    problem = random_problem(numpy_module, 3, 4, 5, 2, seed=2)
    assert worst(torch_reference.run_layer(layer, problem), results(numpy_module, problem)) <= TOLERANCE


def test_the_javascript_of_such_a_cell_agrees_with_its_numpy_module():
    source = module_source(CELL, backend="javascript")
    assert "const let$ = " in source  # a JavaScript keyword: renamed there alone
    module = generate(CELL)
    problem = random_problem(module, 3, 4, 6, 1, seed=3)
    assert worst_against_numpy(source, module, problem) <= TOLERANCE


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('let = "hidden"', 'lambda = "hidden"'), r"^names\.toml:23: .*parameter 'lambda'.*a Python keyword"),
        (('let = "hidden"', 'np = "hidden"'), r"^names\.toml:23: .*parameter 'np'.*a library it calls"),
        (('let = "hidden"', '_let = "hidden"'), r"^names\.toml:23: .*'_let'.*the generated code's own"),
        (
            ('"h", "T", "outputs"', '"h", "T", "outputs", "state"'),
            r"^names\.toml:8: .*state 'state'.*interface",
        ),
    ],
)
def test_a_name_that_stays_reserved_is_refused_in_one_line_naming_the_line(edit, message):
    text = (Path(__file__).parent / "cellfiles" / "papers_names.toml").read_text()
    old, new = edit
    assert old in text
    with pytest.raises(CellError, match=message) as caught:
        loads(text.replace(old, new, 1), "names", "names.toml")
    assert "\n" not in str(caught.value)
