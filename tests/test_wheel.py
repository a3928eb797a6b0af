"""The package as a user gets it: built as a wheel and installed in a fresh virtual environment.

The wheel is built offline from a copy of the sources with the setuptools of the test
environment, and installed without its dependencies; the new environment reads those
(SymPy, NumPy, Jinja...) from this one through a path file, so nothing is downloaded.
Every command runs from an empty folder, so nothing is imported from the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from derive import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of the new environment, an empty working folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(build.ROOT / "derive", source / "derive", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(build.ROOT / "templates", source / "templates")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(build.ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist")])
    (wheel,) = (tmp / "dist").glob("derive-*.whl")
    venv.create(tmp / "env", with_pip=False)
    python = tmp / "env" / "bin" / "python"
    run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]))
    dependencies = sysconfig.get_path("purelib")
    (site_packages / "dependencies-of-the-test-environment.pth").write_text(dependencies + "\n")
    work = tmp / "work"
    work.mkdir()
    return python, work


def run(command, cwd=None, check=True) -> str:
    out = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, env=_clean_env())
    if check and out.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip() if check else out


def _clean_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_installed_package_is_the_wheels(installed):
    python, work = installed
    where = Path(run([python, "-c", "import derive; print(derive.__file__)"], cwd=work))
    assert where.is_relative_to(python.parent.parent), where


def test_equations_in_latex(installed):
    python, work = installed
    out = run([python, "-m", "derive", "equations", "lstm", "--latex"], cwd=work)
    assert r"\mathbf{f}_{t} &= \sigma(W_{f} \mathbf{h}_{t-1}" in out
    assert out.count(r"\begin{aligned}") == out.count(r"\end{aligned}") >= 5


def test_one_cells_module_written_and_run(installed):
    python, work = installed
    target = work / "gru.py"
    run([python, "-m", "derive", "code", "gru", "--out", target], cwd=work)
    assert target.read_text() == (build.GENERATED / "gru.py").read_text()
    script = (
        "import numpy as np, gru; p = gru.init_params(3, 4, rng=0); "
        "o, c = gru.forward(p, np.ones((5, 2, 3))); d = gru.backward(c, {'s': np.ones((5, 2, 4))}); "
        "print(o['s'].shape, d[1].shape)"
    )
    assert run([python, "-c", script], cwd=work) == "(5, 2, 4) (5, 2, 3)"


def test_verify_proves_every_cell(installed):
    python, work = installed
    out = run([python, "-m", "derive", "verify"], cwd=work)
    held, total = out.splitlines()[-1].split(" checks hold")[0].split(" of ")
    assert held == total and int(total) >= 15


def test_site_commands_say_they_need_a_checkout(installed):
    python, work = installed
    out = run([python, "-m", "derive", "docs"], cwd=work, check=False)
    assert out.returncode == 1 and "works in a checkout of the project" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_users_cell_file_to_a_module(installed):
    python, work = installed
    run([python, "-m", "derive", "new", "my_cell"], cwd=work)
    run([python, "-m", "derive", "code", "my_cell.toml", "--out", "my_cell.py"], cwd=work)
    assert run([python, "-c", "import my_cell; print(my_cell.STATES)"], cwd=work) == "('s',)"
    out = run(
        [python, "-m", "derive", "bench", "my_cell.toml", "--quick", "--rounds", "1", "--no-torch"], cwd=work
    )
    assert out.splitlines()[1].startswith("my_cell ") and "× floor" in out
    out = run([python, "-m", "derive", "equations", "indrnn", "--latex"], cwd=work)
    assert r"\operatorname{relu}" in out
