"""The command line, as a user runs it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sympy import Lambda

from derive import cellfile, cli
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
    assert out.stderr == (
        "python -m derive equations: argument CELL: no cell 'transformer': name one of the catalogue "
        "(rnn, lstm, gru, lstm_without_forget_gate, lstm_peephole, lstm_coupled, gru_torch, mgu, indrnn, "
        "mingru, minlstm, slstm, lru) "
        "or a cell file such as my_cell.toml (`python -m derive new my_cell` writes one) "
        "(see `python -m derive equations --help`)\n"
    )


def test_equations_prints_forward_backward_bptt_and_jacobians(capsys):
    assert cli.main(["equations", "lstm"]) == 0
    out = capsys.readouterr().out
    assert "f_t = σ(W_f h_{t-1} + U_f x_t + b_f)" in out
    assert "forget gate (selective forget)" in out
    assert "δ̄s_{t-1} = δs_t ⊙ f_t" in out
    # What arrives at a step is the loss there plus what the step after it hands back.
    assert "δs_t^in = ∂ℓ_t/∂s_t + δ̄s_t (from step t+1; 0 at t = T)" in out
    assert "∂L/∂h_0 = δ̄h_0 (from step 1)" in out
    assert "∂L/∂W_f = Σ_t δz_f,t h_{t-1}ᵀ" in out
    assert "∂s_t/∂s_{t-1} = diag(f_t)" in out


def test_verify_prints_a_table_and_succeeds(capsys):
    assert cli.main(["verify", "rnn", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "rnn   BPTT over 3 steps (2 in, 3 hidden)" in out
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


def test_help_of_every_command(capsys):
    for command in ("equations", "verify", "code", "docs", "build", "bench"):
        with pytest.raises(SystemExit) as exit:
            cli.main([command, "--help"])
        assert exit.value.code == 0 and "usage: python -m derive " + command in capsys.readouterr().out


def test_code_help_names_every_backend_and_where_the_modules_go(capsys):
    from derive.backends import BACKENDS

    with pytest.raises(SystemExit):
        cli.main(["code", "--help"])
    help = " ".join(capsys.readouterr().out.split())
    assert all(name in help for name in BACKENDS)
    assert "derive/generated/torch/<cell>.py" in help


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
    assert r"\bar{\delta}\mathbf{s}_{t-1} &= \delta \mathbf{s}_{t} \odot \mathbf{f}_{t}" in out
    assert out.count(r"\begin{aligned}") == out.count(r"\end{aligned}") >= 5


# --- Every mistake and failure in one line on stderr, never a traceback --------

ROOT = Path(__file__).resolve().parent.parent


def one_line(out) -> str:
    """The one line a failed command printed on stderr (of a subprocess, or captured)."""
    err = out.stderr if hasattr(out, "stderr") else out.err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def usage_mistake(capsys, *args) -> str:
    """The one line on stderr of a command line that argparse (or the command) refuses."""
    with pytest.raises(SystemExit) as exit:
        cli.main(list(args))
    out = capsys.readouterr()
    assert exit.value.code == 2 and out.out == ""
    return one_line(out)


@pytest.mark.parametrize(
    "args, says",
    [
        (
            ["verify", "nosuchcell"],
            "python -m derive verify: argument CELL: no cell 'nosuchcell': name one of the catalogue ",
        ),
        (["bench", "transformer"], "no cell 'transformer': name one of the catalogue (rnn, lstm, gru, "),
        (["code", "nosuch"], "no cell 'nosuch'"),
        (["equations"], "python -m derive equations: the following arguments are required: CELL"),
        ([], "python -m derive: the following arguments are required: COMMAND"),
        (["code", "--out", "x.py"], "--out writes one cell's module: name the cell, e.g. "),
        (["code", "lstm", "--check"], "with a CELL, name the file with --out PATH"),
        (
            ["bench", "--kernels", "lstm", "--record", "k.json"],
            "--kernels times the pieces of one LSTM step ",
        ),
        (["bench", "--kernels", "--by-pass"], "on --threads only; drop --by-pass"),
        (["bench", "--by-pass", "--record", "b.json"], "--by-pass prints its table only; drop --record"),
        (["verify", "--jobs", "x"], "argument --jobs: expected a positive integer, got 'x'"),
        (["bench", "--size", "1024,8,32"], "argument --size: expected T,B,I,H as four positive integers"),
    ],
)
def test_usage_mistakes_are_one_line(capsys, args, says):
    line = usage_mistake(capsys, *args)
    assert says in line and "--help`)" in line
    assert "[]" not in line


def cannot_work(capsys, *args) -> str:
    """The one line on stderr of a command line that reads well but names a file the
    command cannot use: the work fails, exit 1, before any of it is done."""
    assert cli.main(list(args)) == 1
    out = capsys.readouterr()
    assert out.out == ""
    line = one_line(out)
    assert line.startswith(f"python -m derive {args[0]}: ") and "--help" not in line
    return line


@pytest.mark.parametrize("command", ["verify", "bench"])
def test_record_into_a_folder_is_refused_before_the_work(capsys, command, tmp_path):
    example = {"verify": "records/verify.json", "bench": "records/benchmark.json"}[command]
    line = cannot_work(capsys, command, "rnn", "--record", str(tmp_path))
    assert f"{tmp_path} is a folder; name the file to write, e.g. {example}" in line


def test_record_under_a_file_is_refused_before_the_work(capsys, tmp_path):
    (tmp_path / "records").write_text("")
    line = cannot_work(capsys, "verify", "rnn", "--record", str(tmp_path / "records" / "verify.json"))
    assert f"{tmp_path / 'records'} is a file where a folder should be; move it away" in line


@pytest.mark.parametrize(
    "command", ["equations", "verify", "code", "page", "train adding --cell", "bench", "verify rnn"]
)
def test_a_cell_file_the_command_cannot_use_fails_with_exit_1(capsys, tmp_path, monkeypatch, command):
    """A wrong cell file is work the command cannot do (exit 1, the file and line named);
    a name that is neither a catalogue cell nor a file is a mistake in the command line (exit 2)."""
    monkeypatch.chdir(tmp_path)
    text = cellfile.starter("x2").replace('states = ["s"]', 'states = ["np"]')
    (tmp_path / "x2.toml").write_text(text)
    states = text.splitlines().index('states = ["np"]') + 1
    line = cannot_work(capsys, *command.split(), "x2.toml")
    assert f"x2.toml:{states}: cell 'x2', state 'np': 'np' cannot name a state" in line
    assert "no such cell file" in cannot_work(capsys, *command.split(), "missing.toml")
    assert "no cell 'lstn'" in usage_mistake(capsys, *command.split(), "lstn")


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly():
    with subprocess.Popen(
        [sys.executable, "-m", "derive", "equations", "lstm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        process.stdout.close()  # as `| head` does, before the first line is written
        err = process.stderr.read()
    assert err == "" and process.returncode == 1


def test_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    from derive import build

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "generated_code", interrupted)
    assert cli.main(["code", "--check"]) == 130
    assert capsys.readouterr().err == "python -m derive code: interrupted\n"


@pytest.mark.slow
def test_ctrl_c_stops_verify_and_its_workers():
    """Ctrl-C reaches the whole process group, the workers of verify --jobs 2 too."""
    # As a terminal starts it: SIGINT raises KeyboardInterrupt (a test runner may ignore it).
    as_from_a_terminal = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['derive', 'verify', '--jobs', '2']; runpy.run_module('derive', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", as_from_a_terminal],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4)  # the proofs of all three cells take longer than this
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (130, "python -m derive verify: interrupted\n")
    for _ in range(50):  # the workers were stopped and reaped
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a worker of verify outlived it")


def test_a_generation_error_is_reported_as_a_bug(monkeypatch, capsys):
    from derive import backends
    from derive.codegen import modules

    def wrong(cell, backend):
        raise modules.GenerationError("the fused module of 'lstm' differs from its derivation by 1.0e-03")

    monkeypatch.setattr(backends, "module_source", wrong)
    assert cli.main(["code", "lstm"]) == 1
    assert capsys.readouterr().err == (
        "python -m derive code: the fused module of 'lstm' differs from its derivation by 1.0e-03; "
        "this is a bug in derive, please report it\n"
    )


# --- In a copy of the tree that a test breaks ------------------------------------


def copy_of_the_tree(tmp_path: Path, *also: str) -> Path:
    """The package, its templates, mkdocs.yml and pyproject.toml (a checkout, as far as the commands
    can tell) copied under tmp_path; run in it, `python -m derive` imports the copy."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "derive", tree / "derive", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("templates", "babel.cfg", "mkdocs.yml", "pyproject.toml", *also):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, tree / name)
    return tree


def run_in(tree: Path, *args: str):
    return subprocess.run(
        [sys.executable, "-m", "derive", *args], cwd=tree, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_code_into_a_file_where_its_folder_should_be(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    shutil.rmtree(tree / "derive" / "generated")
    (tree / "derive" / "generated").write_text("")
    out = run_in(tree, "code")
    assert out.returncode == 1
    assert one_line(out) == (
        "python -m derive code: cannot write into derive/generated: "
        "derive/generated is a file where a folder should be; move it away"
    )


@pytest.mark.slow
def test_code_over_a_folder_where_a_module_should_be(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    (tree / "derive" / "generated" / "lstm.py").unlink()
    (tree / "derive" / "generated" / "lstm.py").mkdir()
    out = run_in(tree, "code")
    assert out.returncode == 1
    assert (
        "cannot write derive/generated/lstm.py: derive/generated/lstm.py is a folder, not a file"
        in one_line(out)
    )


def test_code_into_a_read_only_folder(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    generated = tree / "derive" / "generated"
    (generated / "lstm.py").write_text("# stale\n")
    generated.chmod(0o555)
    try:
        try:
            (generated / "probe").write_text("")
        except PermissionError:
            pass
        else:
            pytest.skip(
                "chmod does not stop writes here (root); the tests above put a file in the way instead"
            )
        out = run_in(tree, "code")
    finally:
        generated.chmod(0o755)
    assert out.returncode == 1
    assert one_line(out) == (
        "python -m derive code: cannot write into derive/generated: derive/generated is not writable; "
        "make it writable (chmod u+w) or work in a copy you own"
    )


@pytest.mark.slow
def test_docs_into_a_file_where_docs_should_be(tmp_path):
    pytest.importorskip("matplotlib")
    tree = copy_of_the_tree(tmp_path, "records")
    (tree / "docs").write_text("")
    out = run_in(tree, "docs")
    assert out.returncode == 1
    assert one_line(out) == (
        "python -m derive docs: cannot write into docs: docs is a file where a folder should be; move it away"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "template, args",
    [
        ("templates/code/numpy.py.j2", ["code"]),
        ("templates/cell/equations.tex.j2", ["equations", "lstm", "--latex"]),
    ],
)
def test_a_missing_template_says_the_install_is_broken(tmp_path, template, args):
    tree = copy_of_the_tree(tmp_path)
    (tree / template).unlink()
    out = run_in(tree, *args)
    assert out.returncode == 1
    line = one_line(out)
    name = template.removeprefix("templates/")
    assert line.startswith(f"python -m derive {args[0]}: template {name} is missing")
    assert "this install of derive is broken; reinstall it" in line


BREAKAGES = {
    "a syntax error": ("def (\n", "derive/generated/lstm.py is broken (SyntaxError: invalid syntax"),
    "an error at import": (
        "raise ValueError('half-written')\n",
        "derive/generated/lstm.py is broken (ValueError: half-written)",
    ),
    "no file": (None, "derive/generated/lstm.py is missing"),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, breakage",
    [
        (["verify", "lstm", "--jobs", "1"], "a syntax error"),
        (["bench", "lstm", "--quick", "--no-torch"], "an error at import"),
        (["docs", "--check"], "no file"),
    ],
)
def test_a_broken_generated_module_names_its_file_and_the_fix(tmp_path, args, breakage):
    if args[0] == "docs":
        pytest.importorskip("matplotlib")
    tree = copy_of_the_tree(tmp_path)
    module = tree / "derive" / "generated" / "lstm.py"
    appended, says = BREAKAGES[breakage]
    if appended is None:
        module.unlink()
    else:
        module.write_text(module.read_text() + appended)
    out = run_in(tree, *args)
    assert out.returncode == 1 and out.stdout == ""
    line = one_line(out)
    assert line.startswith(f"python -m derive {args[0]}: {says}")
    assert line.endswith("; run `python -m derive code` to regenerate it")


@pytest.mark.slow
def test_a_failed_build_leaves_the_previous_site(tmp_path):
    """code, docs and KaTeX as usual, then mkdocs fails."""
    for module in ("mkdocs", "material", "pymdownx", "matplotlib"):
        pytest.importorskip(module)
    if not (ROOT / "node_modules" / "katex" / "dist").is_dir():
        pytest.skip("KaTeX is not installed: run `npm ci`")
    tree = copy_of_the_tree(tmp_path, "docs", "records")
    (tree / "node_modules").symlink_to(ROOT / "node_modules")
    (tree / "site").mkdir()
    (tree / "site" / "index.html").write_text("the previous site")
    with (tree / "mkdocs.yml").open("a") as config:
        config.write("nav: [\n")  # YAML that does not parse: mkdocs fails
    out = run_in(tree, "build")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.splitlines()[-1] == (
        "python -m derive build: mkdocs build --strict failed (its messages are above); site/ is unchanged"
    )
    assert [p.name for p in (tree / "site").iterdir()] == ["index.html"]
    assert (tree / "site" / "index.html").read_text() == "the previous site"
    assert not list(tree.glob(".site-*"))


def fake_checkout(tmp_path, monkeypatch):
    from derive import build

    (tmp_path / "mkdocs.yml").write_text("site_name: x\n")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("the previous site")
    monkeypatch.setattr(build, "ROOT", tmp_path)
    return build


def test_an_interrupted_mkdocs_leaves_the_previous_site(tmp_path, monkeypatch):
    build = fake_checkout(tmp_path, monkeypatch)

    def mkdocs(command, **kwargs):
        fresh = Path(command[command.index("--site-dir") + 1])
        (fresh / "index.html").write_text("half a new site")
        raise KeyboardInterrupt

    monkeypatch.setattr(build.subprocess, "run", mkdocs)
    with pytest.raises(KeyboardInterrupt):
        build.site()
    assert (tmp_path / "site" / "index.html").read_text() == "the previous site"
    assert not list(tmp_path.glob(".site-*"))


def test_an_interrupted_swap_puts_the_previous_site_back(tmp_path, monkeypatch):
    build = fake_checkout(tmp_path, monkeypatch)

    def mkdocs(command, **kwargs):
        fresh = Path(command[command.index("--site-dir") + 1])
        (fresh / "index.html").write_text("the new site")
        return subprocess.CompletedProcess(command, 0)

    real_rename = Path.rename

    def rename(self, target):
        if self.name.startswith(".site-") and not self.name.startswith(".site-old-"):
            raise KeyboardInterrupt  # after site/ was moved aside, before the new one is in place
        return real_rename(self, target)

    monkeypatch.setattr(build.subprocess, "run", mkdocs)
    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        build.site()
    assert (tmp_path / "site" / "index.html").read_text() == "the previous site"
    assert not list(tmp_path.glob(".site-*"))


# A process number no system hands out: the build that made a folder so named is gone.
GONE = 2**31 - 1


def test_the_next_build_removes_what_a_killed_build_left(tmp_path, monkeypatch):
    """Folders of builds killed too hard to clean up (and of builds older than the naming by
    process) are removed; those of a build still running, and other files, are not."""
    build = fake_checkout(tmp_path, monkeypatch)
    running = os.getppid()
    for name in (f".site-new-{GONE}-x1y2", f".site-old-{GONE}", ".site-k2j3h4z9", f".site-new-{running}-a1"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("left behind")
    (tmp_path / ".site-notes").write_text("a file, not a build's folder")

    def mkdocs(command, **kwargs):
        fresh = Path(command[command.index("--site-dir") + 1])
        (fresh / "index.html").write_text("the new site")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(build.subprocess, "run", mkdocs)
    build.site()
    assert (tmp_path / "site" / "index.html").read_text() == "the new site"
    assert sorted(p.name for p in tmp_path.glob(".site-*")) == [f".site-new-{running}-a1", ".site-notes"]


def test_the_next_build_puts_back_the_site_a_killed_swap_held(tmp_path, monkeypatch):
    """Killed after site/ was moved aside and before the new one was in place: the previous
    site goes back to site/, even when the next build's mkdocs fails."""
    build = fake_checkout(tmp_path, monkeypatch)
    (tmp_path / "site").rename(tmp_path / f".site-old-{GONE}")
    (tmp_path / f".site-new-{GONE}-x1y2").mkdir()
    monkeypatch.setattr(
        build.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1)
    )
    with pytest.raises(RuntimeError, match="site/ is unchanged"):
        build.site()
    assert (tmp_path / "site" / "index.html").read_text() == "the previous site"
    assert not list(tmp_path.glob(".site-*"))


@pytest.mark.parametrize("command", ["equations", "verify", "code", "page", "train adding", "bench"])
def test_every_cell_argument_says_how_to_start_a_cell_file(command, capsys):
    # A mistake in a cell file ends with "see `python -m derive COMMAND --help`": the help
    # must then say how to write one.
    with pytest.raises(SystemExit):
        cli.main([*command.split(), "--help"])
    assert "`python -m derive new NAME` writes one" in " ".join(capsys.readouterr().out.split())
