"""The command line, as a user runs it."""

import subprocess
import sys

import pytest
from sympy import Lambda

from derive import cli
from derive.elementwise import y


def run(*args):
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True)


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    assert "equations" in out.stdout and "verify" in out.stdout


def test_unknown_cell_is_a_clear_error():
    out = run("equations", "transformer")
    assert out.returncode == 2
    assert "invalid choice: 'transformer'" in out.stderr and "lstm" in out.stderr
    assert "Traceback" not in out.stderr


def test_equations_prints_forward_backward_bptt_and_jacobians(capsys):
    assert cli.main(["equations", "lstm"]) == 0
    out = capsys.readouterr().out
    assert "f_t = σ(W_f h_{t-1} + U_f x_t + b_f)" in out
    assert "forget gate (selective forget)" in out
    assert "δs_{t-1} = δs_t ⊙ f_t" in out
    assert "∂L/∂W_f = Σ_t δz_f,t h_{t-1}ᵀ" in out
    assert "∂s_t/∂s_{t-1} = diag(f_t)" in out


def test_verify_prints_a_table_and_succeeds(capsys):
    assert cli.main(["verify", "rnn", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "rnn   BPTT over 3 steps (1 in, 1 hidden)" in out
    assert "rnn   generated NumPy = finite differences" in out
    assert "5 of 5 checks hold" in out


def test_verify_fails_when_a_rule_is_wrong(capsys, monkeypatch):
    import derive.derivation

    real = derive.derivation.derive
    monkeypatch.setattr(
        derive.derivation, "derive", lambda cell: real(cell, derivatives={"tanh": Lambda(y, 1 - y)})
    )
    assert cli.main(["verify", "rnn", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "1 of 5 checks hold" in out


def test_counts_must_be_positive():
    out = run("verify", "--jobs", "0")
    assert out.returncode == 2 and "--jobs: expected a positive integer, got '0'" in out.stderr


def test_missing_docs_dependencies_say_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    with pytest.raises(SystemExit, match=r"matplotlib not installed: run `pip install -e '\.\[docs\]'`"):
        cli.main(["docs", "--check"])


def test_help_of_every_command():
    for command in ("equations", "verify", "code", "docs", "build", "bench"):
        out = run(command, "--help")
        assert out.returncode == 0 and "usage: python -m derive " + command in out.stdout


def test_build_without_katex_says_to_run_npm_ci(tmp_path, monkeypatch):
    from derive import build

    (tmp_path / "mkdocs.yml").write_text("site_name: x\n")
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setattr(build, "ROOT", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"KaTeX is not installed: run `npm ci`"):
        build.katex_assets()


def test_site_commands_outside_a_checkout_say_so(tmp_path, monkeypatch, capsys):
    from derive import build

    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert cli.main(["docs", "--check"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "works in a checkout of the project" in err


def test_equations_in_latex(capsys):
    assert cli.main(["equations", "lstm", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\mathbf{f}_{t} &= \sigma(W_{f} \mathbf{h}_{t-1} + U_{f} \mathbf{x}_{t} + \mathbf{b}_{f})" in out
    assert r"\delta \mathbf{s}_{t-1} &= \delta \mathbf{s}_{t} \odot \mathbf{f}_{t}" in out
    assert out.count(r"\begin{aligned}") == out.count(r"\end{aligned}") >= 5
