"""Committed generated files are current, and regeneration is byte for byte."""

import hashlib
import os
import subprocess
import sys

import pytest

from derive import build
from derive.cli import main


def test_committed_modules_are_current():
    assert build.stale(build.generated_code()) == []


def test_stale_and_write(tmp_path):
    current, old, missing = tmp_path / "current.py", tmp_path / "old.py", tmp_path / "sub" / "missing.py"
    current.write_text("same\n")
    old.write_text("before\n")
    wanted = {current: "same\n", old: "after\n", missing: b"new\n"}
    assert build.stale(wanted) == [old, missing]
    assert build.write(wanted) == [old, missing]
    assert old.read_text() == "after\n" and missing.read_text() == "new\n"
    assert build.stale(wanted) == [] and not list(tmp_path.rglob(".*.tmp"))


def test_one_cells_module_written_and_checked(tmp_path, capsys):
    target = tmp_path / "rnn.py"
    assert main(["code", "rnn", "--out", str(target)]) == 0
    assert target.read_text() == build.generated_code()[build.GENERATED / "rnn.py"]
    assert main(["code", "rnn", "--out", str(target), "--check"]) == 0
    target.write_text(target.read_text() + "# edited\n")
    capsys.readouterr()
    assert main(["code", "rnn", "--out", str(target), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"stale: {target}" in err and f"run `python -m derive code rnn --out {target}`" in err
    assert target.read_text().endswith("# edited\n")


@pytest.mark.slow
def test_check_command_fails_on_an_edited_module(tmp_path):
    """`python -m derive code --check` on a copy of the package with one module edited."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(build.ROOT / "derive", copy / "derive", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(build.ROOT / "templates", copy / "templates")
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


@pytest.mark.slow
def test_regeneration_is_identical_under_different_hash_seeds():
    code = (
        "import hashlib; from derive import build; "
        "print(hashlib.sha256(b''.join(v.encode() for v in build.generated_code().values())).hexdigest())"
    )
    digests = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    committed = hashlib.sha256(b"".join(v.encode() for v in build.generated_code().values())).hexdigest()
    assert digests == {committed}
