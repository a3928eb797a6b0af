"""Cells as TOML files: read like the Python definitions, every mistake named by file and line."""

from __future__ import annotations

import pytest

from derive import CATALOGUE, CellError
from derive.cellfile import load, loads

GOOD = """\
title = "Minimal gated unit"
states = ["s"]
affine = ["f", ""]

[parameters]
p = "hidden"
V = ["hidden", "input"]

[[equations]]
equation = "f = σ(W_f @ s_prev + U_f @ x + b_f)"
role = "gate"
meaning = "forget gate"

[[equations]]
equation = "s_tilde = tanh(W @ (f * s_prev) + U @ x + V @ x + p * s_prev + b)"
role = "candidate"
meaning = "candidate"

[[equations]]
equation = "s = (1 - f) * s_prev + f * s_tilde"
role = "state"
meaning = "new state"
"""


def test_a_file_reads_as_the_python_definition(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    cell = load(path)
    assert cell.name == "mine" and cell.title == "Minimal gated unit" and cell.states == ("s",)
    assert [p.name for p in cell.parameters] == ["W_f", "U_f", "b_f", "W", "U", "b", "p", "V"]
    assert [(p.rows, p.cols) for p in cell.parameters[-2:]] == [("hidden", "1"), ("hidden", "input")]
    assert [e.name for e in cell.equations] == ["f", "s_tilde", "s"]
    assert [e.role.value for e in cell.equations] == ["gate", "candidate", "state"]
    assert cell.equations[2].text == "(1 - f) * s_prev + f * s_tilde"


def test_a_file_may_divide_and_use_exp_log_and_softplus(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        GOOD.replace(
            "σ(W_f @ s_prev + U_f @ x + b_f)", "exp(W_f @ s_prev) / (1 + exp(U_f @ x + b_f))"
        ).replace("(1 - f) * s_prev", "log(1 + softplus(s_prev)) / 2 - f * s_prev")
    )
    cell = load(path)
    assert cell.equations[0].text == "exp(W_f @ s_prev) / (1 + exp(U_f @ x + b_f))"
    assert str(cell.equations[0].rhs).startswith("Divide(Apply(exp, ")
    assert str(cell.equations[2].rhs).startswith("(1/2)*Apply(log, Apply(softplus, s_prev) + 1)")


def test_the_catalogue_is_its_files_in_order():
    from derive.catalogue import CORE, FOLDER, VARIANTS

    assert tuple(CATALOGUE) == (*CORE, *VARIANTS)
    assert sorted(p.stem for p in FOLDER.glob("*.toml")) == sorted(CATALOGUE)
    assert all(cell.name == name for name, cell in CATALOGUE.items())


def test_a_name_or_a_path_resolves(tmp_path):
    from derive.catalogue import resolve

    assert resolve("lstm") is CATALOGUE["lstm"]
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert resolve(str(path)) == load(path)
    with pytest.raises(CellError, match=r"no cell 'lstn': name one of the catalogue \(rnn, lstm, gru, "):
        resolve("lstn")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # A mistake in an equation: the parser's message, at the equation's line.
        (
            ("U @ x + V @ x", "U @ x + V @ s_prev"),
            r"^mine\.toml:15: cell 'mine', equation 's_tilde': .*V @ s_prev",
        ),
        (("f = σ(", "f = sigmoid("), r"^mine\.toml:10: cell 'mine', equation 'f': .*sigmoid"),
        (('role = "gate"', 'role = "gait"'), r"^mine\.toml:11: .*'gait' is not a role"),
        (('p = "hidden"', 'p = "hiden"'), r"^mine\.toml:6: parameter 'p': the shape \['hiden', '1'\]"),
        (('states = ["s"]', 'states = "s"'), r"^mine\.toml:2: states must be a list of names"),
        (('affine = ["f", ""]', 'affine = ["f", "f"]'), r"^mine\.toml:3: .*parameter 'W_f'.*already defined"),
        (
            ('[[equations]]\nequation = "f', '[[equations]]\nequatoin = "f'),
            r"^mine\.toml:10: equation 1: unknown key 'equatoin'",
        ),
        (('title = "Minimal', 'titel = "Minimal'), r"^mine\.toml:1: the file: unknown key 'titel'"),
        (('meaning = "forget gate"', "meaning = forget gate"), r"^mine\.toml:12: not valid TOML: .*line 12"),
        # A reserved or repeated state, or one no equation defines: the line of states.
        (('states = ["s"]', 'states = ["np"]'), r"^mine\.toml:2: cell 'mine', state 'np': 'np' cannot name"),
        (('states = ["s"]', 'states = ["s", "s"]'), r"^mine\.toml:2: .*state 's': the state is listed twice"),
        (('states = ["s"]', 'states = ["s", "h"]'), r"^mine\.toml:2: cell 'mine': state 'h' has no equation"),
        (('states = ["s"]', 'states = ["s"]\ninputs = ["u"]'), r"^mine\.toml:3: .*one input x"),
        (('title = "Minimal gated unit"', 'title = "Minimal\\u0007"'), r"^mine\.toml:1: .*the title"),
        (('meaning = "new state"', 'meaning = "new\\u0007"'), r"^mine\.toml:22: .*equation 's': the meaning"),
        (('p = "hidden"', 'p = "hidden"\nQ = "hidden"'), r"^mine\.toml:7: .*'Q' is not used"),
        (("[parameters]", "[parameter]"), r"^mine\.toml:5: the file: unknown key 'parameter'"),
        (('equation = "s = (1', 'equation = "(1'), r"^mine\.toml:20: equation 3: write it as"),
        # Division and exp, log and softplus are read; what is not, is named.
        (("(1 - f) * s_prev", "(1 - f) * s_prev // 2"), r"^mine\.toml:20: .*// is not supported; / divides"),
        (("(1 - f) * s_prev", "(1 - f) * s_prev / 0"), r"^mine\.toml:20: .*divides by zero"),
        (("(1 - f) * s_prev", "(1 - f) * s_prev / x"), r"^mine\.toml:20: .*sizes in .* do not agree"),
        (("f = σ(", "f = expm1("), r"^mine\.toml:10: .*the functions are exp, log, relu, sigma, .*softplus"),
        (("f = σ(", "f = log(2, "), r"^mine\.toml:10: .*of one argument"),
    ],
)
def test_a_mistake_names_the_file_and_line(edit, message):
    old, new = edit
    assert old in GOOD
    with pytest.raises(CellError, match=message):
        loads(GOOD.replace(old, new, 1), "mine", "mine.toml")


def test_a_missing_or_unreadable_file_is_a_cell_error(tmp_path):
    with pytest.raises(CellError, match=r"nothing\.toml: no such cell file"):
        load(tmp_path / "nothing.toml")
    (tmp_path / "latin.toml").write_bytes(b'states = ["s"]\ntitle = "\xe9"\n')
    with pytest.raises(CellError, match=r"latin\.toml:2: not UTF-8"):
        load(tmp_path / "latin.toml")


@pytest.mark.parametrize(
    "text",
    [
        "",
        'title = "t"',
        'states = ["s"]\naffine = [""]',
        'states = ["s"]\n[parameters]\np = "hidden"\n[[equations]]\nequation = "s = q"\nrole = "state"',
        'states = ["s"]\nequations = 3',
        'states = ["s"]\naffine = [""]\nequations = [1]',
        'states = ["s"]\naffine = []\n[[equations]]\nequation = "s = s_prev"\nrole = "state"',
        'states = ["s"]\naffine = [""]\n[[equations]]\nequation = "s = tanh(W @ s_prev + U @ x + b)"',
        'states = ["s"]\naffine = [""]\nparameters = 1\n[[equations]]\nequation = "s = s_prev"',
        'states = []\naffine = [""]\n[[equations]]\nequation = "s = s_prev"\nrole = "state"',
    ],
)
def test_every_mistake_names_a_line(text):
    """Whatever is wrong, the message names a line of the file: for a key the file lacks,
    where it goes."""
    with pytest.raises(CellError, match=r"^mine\.toml:\d+: "):
        loads(text, "mine", "mine.toml")


def test_only_a_bad_file_name_names_no_line():
    with pytest.raises(CellError, match=r"^3x\.toml: cell '3x': a cell's name names its generated module"):
        loads(GOOD, "3x", "3x.toml")


def test_new_writes_a_starter_that_every_command_takes(tmp_path, monkeypatch, capsys):
    import importlib.util

    from derive.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["new", "my_cell"]) == 0
    assert load(tmp_path / "my_cell.toml").title == "My cell"
    assert main(["equations", "my_cell.toml"]) == 0
    assert main(["equations", "my_cell.toml", "--latex"]) == 0
    assert main(["code", "my_cell.toml", "--out", "my_cell.py"]) == 0
    spec = importlib.util.spec_from_file_location("my_cell", tmp_path / "my_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PARAMETERS == ("W_f", "U_f", "b_f", "W", "U", "b")
    capsys.readouterr()
    assert main(["new", "my_cell"]) == 1  # a file in the way: the work fails, the command line is right
    assert "python -m derive new: my_cell.toml exists" in capsys.readouterr().err


@pytest.mark.slow
def test_verify_proves_a_starter(tmp_path, monkeypatch, capsys):
    from derive.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["new", "mine"]) == 0
    assert main(["verify", "mine.toml", "--jobs", "1"]) == 0
    assert "5 of 5 checks hold" in capsys.readouterr().out


def test_page_renders_a_cell_file_as_markdown(tmp_path, monkeypatch, capsys):
    from derive.cli import main
    from derive.printing.context import cell_context

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text("# A cell of my own.\n" + GOOD)
    assert main(["page", "mine.toml", "--out", "mine.md"]) == 0
    page = (tmp_path / "mine.md").read_text()
    context = cell_context(load(tmp_path / "mine.toml"))
    assert page.startswith("<!-- Generated by `python -m derive page mine.toml`")
    assert "# Minimal gated unit\n\nA cell of my own.\n" in page
    for line in context["forward"] + context["backward"] + context["gradients"]:
        assert line in page
    assert all(line in page for j in context["jacobians"] for line in j["lines"])
    assert page.count("\\begin{aligned}") == page.count("\\end{aligned}") == 3 + len(context["jacobians"])


def test_the_starter_says_an_output_not_fed_back_is_declared_a_state():
    """Where the starter explains states, it says how to write an output that no equation
    reads at the next step; a cell written so is accepted and proved."""
    from derive import derive
    from derive.cellfile import starter
    from derive.verification.proof import prove_bptt

    text = starter("mine")
    comment = " ".join(line.lstrip("# ") for line in text.split("\nstates =")[0].splitlines()[-8:])
    assert "An output that no equation reads at the next step" in comment
    assert "is declared a state all the same" in comment and 'states = ["s", "h"]' in comment
    read_out = '[[equations]]\nequation = "h = tanh(s)"\nrole = "output"\nmeaning = "read-out"\n'
    cell = loads(text.replace('states = ["s"]', 'states = ["s", "h"]') + "\n" + read_out, "mine")
    assert cell.states == ("s", "h") and "h_prev" not in " ".join(e.text for e in cell.equations)
    assert prove_bptt(derive(cell), n_input=2, n_hidden=3, steps=3).holds
