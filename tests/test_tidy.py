"""The tree stays tidy: ruff's lint and format are clean, and mypy passes on the
modules pyproject.toml lists.  Each tool runs as the developer runs it, from the
checkout's root with this interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from derive.build import ROOT


def _run(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    )


def test_ruff_check_is_clean() -> None:
    _run("ruff", "check", ".")


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    _run("ruff", "format", "--check", ".")


@pytest.mark.slow
def test_mypy_passes_on_the_typed_modules() -> None:
    _run("mypy")
