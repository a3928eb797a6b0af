"""Committed generated files are current, and regeneration is byte for byte."""

import hashlib
import os
import subprocess
import sys

from derive import cli, files


def test_committed_modules_are_current():
    assert files.stale(cli._generated_code()) == []


def test_check_names_stale_files_and_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("derive.render.ROOT", tmp_path)
    current, old = tmp_path / "current.py", tmp_path / "old.py"
    current.write_text("same\n")
    old.write_text("before\n")
    assert cli._sync({current: "same\n"}, check=True, what="modules", command="x") == 0
    wanted = {current: "same\n", old: "after\n", tmp_path / "missing.py": "new\n"}
    assert cli._sync(wanted, check=True, what="modules", command="regenerate") == 1
    err = capsys.readouterr().err
    assert "stale: old.py" in err and "stale: missing.py" in err and "current.py" not in err
    assert "run `regenerate`" in err
    assert old.read_text() == "before\n" and not (tmp_path / "missing.py").exists()


def test_check_command_fails_on_an_edited_module(tmp_path):
    """`python -m derive code --check` on a copy of the package with one module edited."""
    import shutil

    from derive.render import ROOT

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "derive", copy / "derive", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", copy / "templates")
    target = copy / "derive" / "generated" / "gru.py"
    target.write_text(target.read_text() + "# edited\n")
    env = dict(os.environ, PYTHONPATH=str(copy))
    out = subprocess.run(
        [sys.executable, "-m", "derive", "code", "--check"], cwd=copy, env=env, capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "stale: derive/generated/gru.py" in out.stderr
    assert "lstm.py" not in out.stderr
    fixed = subprocess.run(
        [sys.executable, "-m", "derive", "code"], cwd=copy, env=env, capture_output=True, text=True
    )
    assert fixed.returncode == 0 and "wrote derive/generated/gru.py" in fixed.stdout
    assert not list((copy / "derive" / "generated").glob(".*.tmp"))


def test_regeneration_is_identical_under_different_hash_seeds():
    code = (
        "import hashlib; from derive import cli; "
        "print(hashlib.sha256(b''.join(v.encode() for v in cli._generated_code().values())).hexdigest())"
    )
    digests = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    committed = hashlib.sha256(b"".join(v.encode() for v in cli._generated_code().values())).hexdigest()
    assert digests == {committed}
