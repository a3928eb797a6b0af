"""A cell may use the names of its paper: z, n, t, T, B and the other names the generated
code once bound for itself are the cell's own, in every backend; what stays reserved is
refused in one line that names the line of the cell file."""

from __future__ import annotations

from pathlib import Path

import pytest
from javascript import run as run_javascript

from derive import CellError, generate, module_source, naming
from derive.cellfile import load, loads
from derive.codegen.fused import OWN
from derive.verification.numeric import random_problem, relative_error

CELL = load(Path(__file__).parent / "cellfiles" / "papers_names.toml")
TOLERANCE = 1e-12


def run(module, problem):
    params, x, state, d_outputs = problem
    outputs, cache = module.forward(params, x, state)
    return outputs, *module.backward(cache, d_outputs)


def worst(got, want):
    errors = [relative_error(got[0][s], want[0][s]) for s in want[0]]
    errors += [relative_error(got[1][k], want[1][k]) for k in want[1]]
    errors.append(relative_error(got[2], want[2]))
    errors += [relative_error(got[3][s], want[3][s]) for s in want[3]]
    return max(errors)


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
    assert worst(run(module, problem), torch_reference.run_literal(CELL, problem)) <= TOLERANCE


def test_the_torch_layer_of_such_a_cell_agrees_with_its_numpy_module():
    torch_reference = pytest.importorskip("torch_reference")
    layer = generate(CELL, backend="torch")
    numpy_module = generate(CELL)
    problem = random_problem(numpy_module, 3, 4, 5, 2, seed=2)
    assert worst(torch_reference.run_layer(layer, problem), run(numpy_module, problem)) <= TOLERANCE


def test_the_javascript_of_such_a_cell_agrees_with_its_numpy_module():
    source = module_source(CELL, backend="javascript")
    assert "const let$ = " in source  # a JavaScript keyword: renamed there alone
    module = generate(CELL)
    params, x, state, d_outputs = random_problem(module, 3, 4, 6, 1, seed=3)
    outputs, d_params, d_x, d_state = run(module, (params, x, state, d_outputs))
    got = run_javascript(
        source,
        params,
        x[:, 0],
        {s: v[0] for s, v in state.items()},
        {s: v[:, 0] for s, v in d_outputs.items()},
    )
    errors = [relative_error(got["outputs"][s], outputs[s][:, 0]) for s in module.STATES]
    errors += [relative_error(got["d_params"][p], d_params[p]) for p in module.PARAMETERS]
    errors += [relative_error(got["d_x"], d_x[:, 0])]
    errors += [relative_error(got["d_state"][s], d_state[s][0]) for s in module.STATES]
    assert max(errors) <= TOLERANCE


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
