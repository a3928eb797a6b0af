"""The generated modules pass the project's lint, whatever the cell: no unused
variable, no line past the line length, and the rest of the rules in
pyproject.toml.  The modules of every catalogue cell and of every cell of the
fuzz corpus that derives, fused and literal, are written to a temporary folder
and checked by ``ruff check`` with the project's configuration.  The wrapping
of long lines (:mod:`derive.printing.layout`) is checked on its own below."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from corpus import CORPUS

from derive import CATALOGUE, CellError
from derive.backends import module_source
from derive.build import ROOT
from derive.cell import Cell, Equation, Parameter, Role
from derive.printing.layout import LINE_LENGTH, python, width, words

CONFIG = ROOT / "pyproject.toml"

CELLS = [pytest.param("catalogue", name, id=f"catalogue: {name}") for name in CATALOGUE]
CELLS += [
    pytest.param("corpus", k, id=entry.id) for k, entry in enumerate(CORPUS) if entry.expect != "refused"
]


def ruff_check(*paths) -> subprocess.CompletedProcess:
    """``ruff check`` of files outside the checkout, with the project's rules."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(CONFIG), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("source", "key"), CELLS)
def test_generated_modules_pass_the_lint(source, key, tmp_path):
    if source == "catalogue":
        cell = CATALOGUE[key]
    else:
        try:
            cell = CORPUS[key].spec.build()
        except CellError as error:
            pytest.skip(f"the cell is refused: {error}")
    paths = []
    for literal in (False, True):
        path = tmp_path / f"{cell.name}_{'literal' if literal else 'fused'}.py"
        path.write_text(module_source(cell, literal=literal, check=False), encoding="utf-8")
        paths.append(path)
    done = ruff_check(*paths)
    assert done.returncode == 0, f"ruff check exited with {done.returncode}:\n{done.stdout}{done.stderr}"


def long_cell() -> Cell:
    """A cell with a long name and title, long parameter names, many parameters and a long equation."""
    gates = [f"gate_with_a_rather_long_name_{k}" for k in range(6)]
    weights = [(f"W_{g}", f"U_{g}", f"b_{g}") for g in gates]
    parameters = [Parameter(name, *shape) for w in weights for name, shape in zip(w, SHAPES, strict=True)]
    equations = [
        Equation(g, f"σ({w} @ state_of_the_cell_prev + {u} @ x + {b})", Role.GATE, "a gate")
        for g, (w, u, b) in zip(gates, weights, strict=True)
    ]
    total = " + ".join(f"{g} * tanh({g})" for g in gates)
    equations.append(Equation("state_of_the_cell", total, Role.STATE, "the state"))
    return Cell(
        name="a_cell_whose_name_is_long_enough_to_push_every_line_that_names_it_past_the_limit",
        title=" ".join(["A cell with a title long enough to fill the first line of its docstring"] * 2),
        parameters=tuple(parameters),
        states=("state_of_the_cell",),
        equations=tuple(equations),
    )


SHAPES = (("hidden", "hidden"), ("hidden", "input"), ("hidden", "1"))


def test_a_cell_with_long_names_and_many_parameters_passes_the_lint(tmp_path):
    cell = long_cell()
    paths = []
    for literal in (False, True):
        path = tmp_path / f"long_{'literal' if literal else 'fused'}.py"
        path.write_text(module_source(cell, literal=literal), encoding="utf-8")
        paths.append(path)
    done = ruff_check(*paths)
    assert done.returncode == 0, f"ruff check exited with {done.returncode}:\n{done.stdout}{done.stderr}"


def test_ruff_sees_a_long_line_and_an_unused_variable(tmp_path):
    """The check above can fail: the configuration is read, and a finding fails it."""
    path = tmp_path / "bad.py"
    path.write_text("def f(x):\n    unused = x\n    return '" + "a " * 60 + "'\n", encoding="utf-8")
    done = ruff_check(path)
    assert done.returncode == 1
    assert "F841" in done.stdout and "E501" in done.stdout


def lines_of(wrapped: str, indent: int) -> list[str]:
    return (" " * indent + wrapped).split("\n")


LONG = [
    # the literal lowering's adjoints: a sum whose term is a long product
    "d_s_prev = d_z_s @ W1 + d_s * (1 + _sigmoid(s_prev_seq[t] @ W1.T + x[t] @ U1.T + x[t] @ U2.T)"
    " - _sigmoid(s_prev_seq[t] @ W1.T + x[t] @ U1.T + x[t] @ U2.T)) + d_z2_s @ W1",
    "d_z_s = -(d_s * s_prev_seq[t] * _sigmoid(s_prev_seq[t] @ W1.T + x[t] @ U1.T)"
    " * (1 - _sigmoid(s_prev_seq[t] @ W1.T + x[t] @ U1.T + x[t] @ U2.T)))",
    "d_z_s = -2 * (d_s * _sigmoid(s_prev_seq[t] @ W.T + x[t] @ U.T + b)"
    " * (1 - _sigmoid(s_prev_seq[t] @ W.T + x[t] @ U.T + b + x[t] @ U2.T)))",
    "d_z = d_y * (1 - _tanh(s2_prev_seq[t] @ W2.T + s2_prev_seq[t] @ W3.T + v1 * y_prev_seq[t]"
    " + s2_prev_seq[t] + x[t] @ U7.T)**2)",
    # a product into a buffer, a reshape, an entry of a dict, a tuple of names
    "np.matmul(dz_t[:, 0:2 * n], weights_h_prev_and_more.T, out=d_h_prev_of_a_long_state_name_here)",
    "d_x = (dz_rows[:, 0:n] @ U_first_gate + dz_rows[:, n:2 * n] @ U_second_gate"
    " + dz_rows[:, 2 * n:3 * n] @ U_third).reshape(T, B, -1)",
    "'W_o': d_weights_h_prev[0:n] + d_weights_s_prev_long[0:n] + d_weights_other_operand[n:2 * n],",
    "CELLS = ('rnn', 'lstm', 'gru', 'lstm_without_forget_gate', 'lstm_peephole', 'lstm_coupled', 'mgu')",
    # a long string: an equation in the tag of the cache
    "'s_t = (1 - σ(W1 s_{t-1} + U1 x_t + U2 x_t)) ⊙ s_{t-1} + σ(W1 s_{t-1} + U1 x_t + U2 x_t) ⊙ s_{t-1}',",
]


def tree(text: str) -> str:
    try:
        return ast.dump(ast.parse(text))
    except SyntaxError:
        return ast.dump(ast.parse("{" + text + "}"))


@pytest.mark.parametrize("line", LONG)
@pytest.mark.parametrize("indent", [0, 4, 8, 12])
def test_a_long_line_of_code_is_wrapped_into_the_same_statement(line, indent):
    wrapped = python(line, indent)
    assert all(width(part) <= LINE_LENGTH for part in lines_of(wrapped, indent)), wrapped
    assert tree(wrapped) == tree(line)
    assert all(part == part.rstrip() for part in lines_of(wrapped, indent))
    # Continuation lines are indented further than the first.
    assert all(
        part.startswith(" " * (indent + 1)) or part.strip()[0] in ")]}" for part in wrapped.split("\n")[1:]
    )


def test_a_line_that_fits_is_left_as_it_is():
    assert python("z += u * s_prev", 12) == "z += u * s_prev"
    line = "x = " + "a" * (LINE_LENGTH - 4)
    assert python(line, 0) == line


def test_a_sum_breaks_before_its_terms_and_a_product_inside_its_last_bracket():
    assert python("total = first_term + second_term * factor", 4, 32).split("\n") == [
        "total = (",
        "        first_term",
        "        + second_term * factor",
        "    )",
    ]
    assert python("z = d_s * (1 - s_tilde**2 + something_long)", 0, 40).split("\n") == [
        "z = d_s * (",
        "    1 - s_tilde**2 + something_long",
        ")",
    ]


def test_a_comment_breaks_between_words_at_its_loosest_operator():
    comment = (
        "# δs_{t-1} = W1ᵀ δz_s,t + δs_t ⊙ (1 + σ(W1 s_{t-1} + U1 x_t) - σ(W1 s_{t-1} + U1 x_t)) + W1ᵀ δz2_s,t"
    )
    wrapped = python(comment, 8, 100)
    assert wrapped.split("\n") == [
        "# δs_{t-1} = W1ᵀ δz_s,t + δs_t ⊙ (1 + σ(W1 s_{t-1} + U1 x_t) - σ(W1 s_{t-1} + U1 x_t))",
        "        #     + W1ᵀ δz2_s,t",
    ]


def test_prose_breaks_after_a_colon_when_it_can():
    title = (
        '"""GRU as in PyTorch and cuDNN (reset after the product): '
        "forward pass and backpropagation through time, in NumPy."
    )
    assert words(title, 0).split("\n") == [
        '"""GRU as in PyTorch and cuDNN (reset after the product):',
        "forward pass and backpropagation through time, in NumPy.",
    ]


def test_width_counts_combining_marks_as_nothing_and_wide_characters_as_two():
    assert width("δs̃_t") == 4
    assert width("σ⊙ᵀ") == 3
    assert width("漢字") == 4
