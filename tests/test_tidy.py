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


def test_every_template_lives_in_the_top_level_templates_folder() -> None:
    """The design card's layout: Jinja templates in templates/, none inside the package."""
    from derive import render

    assert render.TEMPLATES == ROOT / "templates"
    assert sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "derive").rglob("*.j2")) == []
    assert {p.parent.name for p in render.TEMPLATES.rglob("*.j2")} == {"code", "cell", "pages"}


def test_the_wheels_package_list_names_every_package() -> None:
    """pyproject.toml lists the packages (derive.templates lives outside derive/): a new
    sub-package left off the list would be missing from the wheel."""
    import tomllib

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "derive").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert sorted(listed) == sorted(found | {"derive.templates"})
