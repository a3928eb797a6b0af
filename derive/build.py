"""What the project generates into its own tree, and the one place that writes it.

The file lists (the catalogue's modules, the site's pages and figures, KaTeX's
assets), the freshness check that compares them with what is committed, and the
site's build.  A file is written to a temporary neighbour and renamed over the
target, so an interrupted run never leaves a half-written file; the site is built
into a temporary folder and swapped in, so an interrupted build leaves the
previous ``site/`` as it was.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = Path(__file__).resolve().parent / "generated"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")


class NotACheckout(RuntimeError):
    """The command writes into the project's tree, and there is none (e.g. installed from a wheel)."""


class CannotWrite(OSError):
    """A file that cannot be written; the message names it, what is in the way, and the fix."""


class BrokenModule(RuntimeError):
    """A generated module that cannot be imported; the message names it and how to regenerate it."""


def shown(path: Path) -> Path:
    """``path`` as a user reads it: relative to the checkout when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def obstacle(path: Path) -> str | None:
    """What stops ``path`` from being written as a file, with the fix, if the tree shows it
    now: a folder at ``path``, a file where one of its folders should be, or a folder
    without write permission (which does not stop root)."""
    if path.is_dir():
        return f"{shown(path)} is a folder, not a file; move it away or name another file"
    for folder in path.parents:
        if not folder.exists():
            continue
        if not folder.is_dir():
            return f"{shown(folder)} is a file where a folder should be; move it away"
        if not os.access(folder, os.W_OK):
            return f"{shown(folder)} is not writable; make it writable (chmod u+w) or work in a copy you own"
        return None
    return None


def writable(folder: Path) -> None:
    """Raise :class:`CannotWrite` now if files cannot be written into ``folder`` (so that a
    command stops before its work, not after it)."""
    problem = obstacle(folder / ".probe")
    if problem:
        raise CannotWrite(f"cannot write into {shown(folder)}: {problem}")


def checkout() -> Path:
    """The project's checkout that holds this package, or NotACheckout."""
    if not (ROOT / "mkdocs.yml").is_file() or not (ROOT / "pyproject.toml").is_file():
        raise NotACheckout(
            "this command works in a checkout of the project (with mkdocs.yml beside derive/); "
            f"derive is installed at {Path(__file__).resolve().parent} without one"
        )
    return ROOT


def generated_code() -> dict[Path, str]:
    """derive/generated/: one NumPy module per catalogue cell and the package's __init__,
    and the same in torch under derive/generated/torch/."""
    from .backends import module_index, module_source
    from .catalogue import CATALOGUE

    files = {GENERATED / f"{name}.py": module_source(cell) for name, cell in CATALOGUE.items()}
    files[GENERATED / "__init__.py"] = module_index(CATALOGUE.values())
    torch = GENERATED / "torch"
    files |= {torch / f"{name}.py": module_source(cell, backend="torch") for name, cell in CATALOGUE.items()}
    files[torch / "__init__.py"] = module_index(CATALOGUE.values(), backend="torch")
    return files


def pages() -> dict[Path, str]:
    """docs/: every page and figure of the site, computed on one BLAS thread: how a product is
    split between threads may change its last bits, and the figures must be the same bytes."""
    from threadpoolctl import threadpool_limits

    from .site.pages import pages

    with threadpool_limits(limits=1, user_api="blas"):
        return pages(checkout())


def catalogues() -> dict[Path, bytes]:
    """templates/locale/: each language's catalogue updated to the messages the page
    templates mark now (`pybabel extract -F babel.cfg` then `pybabel update`)."""
    from .site import i18n

    root = checkout()
    return {i18n.catalogue_path(language): i18n.updated(root, language) for language in i18n.LANGUAGES}


def stale_catalogues() -> list[str]:
    """The catalogues that lack a message the templates mark, or keep one they no longer
    do, each as one line saying how many."""
    from .site import i18n

    root = checkout()
    found = [i18n.staleness(root, language) for language in i18n.LANGUAGES]
    return [f"{shown(s.path)} ({s.new} new messages, {s.gone} gone)" for s in found if s]


def katex_assets() -> dict[Path, bytes]:
    """KaTeX, installed by `npm ci`, copied under docs/ so that the site serves it itself."""
    root = checkout()
    source = root / "node_modules" / "katex" / "dist"
    if not (source / "katex.min.js").exists():
        raise FileNotFoundError("KaTeX is not installed: run `npm ci` in the checkout first")
    wanted = [*KATEX_FILES, *(str(p.relative_to(source)) for p in sorted((source / "fonts").glob("*.woff2")))]
    return {root / "docs" / "assets" / "katex" / name: (source / name).read_bytes() for name in wanted}


def stale(files: Mapping[Path, str | bytes]) -> list[Path]:
    """The files whose content on disk differs from what they should be (a folder in
    a file's place, or a file under a file, counts as differing)."""
    return [
        path for path, content in files.items() if not path.is_file() or path.read_bytes() != _bytes(content)
    ]


def write(files: Mapping[Path, str | bytes]) -> list[Path]:
    """Write the files that changed, each atomically; return them.  A file that cannot
    be written raises :class:`CannotWrite`, naming it and what is in the way."""
    changed = stale(files)
    for path in changed:
        try:
            _write(path, _bytes(files[path]))
        except OSError as error:
            why = obstacle(path) or error.strerror or str(error)
            raise CannotWrite(f"cannot write {shown(path)}: {why}") from error
    return changed


def _write(path: Path, content: bytes) -> None:
    """Write to a temporary neighbour, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def import_generated(names: Iterable[str]) -> None:
    """Import derive.generated and the named modules, or raise :class:`BrokenModule`
    naming the file that fails (a syntax error, an error at import, a missing file)
    and the command that regenerates it."""
    package = f"{__package__}.generated"
    modules = [(package, GENERATED / "__init__.py")]
    modules += [(f"{package}.{name}", GENERATED / f"{name}.py") for name in names]
    for module, path in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            if isinstance(error, ModuleNotFoundError) and error.name == module:
                what = f"{shown(path)} is missing"
            else:
                what = f"{shown(path)} is broken ({type(error).__name__}: {' '.join(str(error).split())})"
            fix = "run `python -m derive code` to regenerate it" if _in_checkout() else "reinstall derive"
            raise BrokenModule(f"{what}; {fix}") from error


def _in_checkout() -> bool:
    try:
        checkout()
    except NotACheckout:
        return False
    return True


def site() -> Path:
    """`mkdocs build --strict` into a fresh folder beside site/, then swapped in; returns site/.

    If mkdocs fails or the build is interrupted, site/ is left as it was and the
    fresh folder is removed.  A build killed too hard to clean up (SIGKILL, power)
    leaves its folders behind: the next build removes them first."""
    root = checkout()
    final = root / "site"
    _remove_leftovers(root)
    old = root / f".site-old-{os.getpid()}"
    fresh = Path(tempfile.mkdtemp(prefix=f".site-new-{os.getpid()}-", dir=root))
    try:
        env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(fresh)]
        built = subprocess.run(command, cwd=root, env=env)
        if built.returncode:
            kept = "site/ is unchanged" if final.exists() else "no site/ was written"
            raise RuntimeError(f"mkdocs build --strict failed (its messages are above); {kept}")
        if final.exists():
            final.rename(old)
        fresh.rename(final)
    finally:
        # Interrupted between the two renames: the previous site/ goes back.
        if old.exists() and not final.exists():
            old.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
    return final


# The folders a build makes beside site/, named by its process: .site-new-PID-XXXX and
# .site-old-PID; any other .site-* folder is from a build older than this naming.
_BUILD_FOLDER = re.compile(r"\.site-(?:new|old)-(\d+)(?:-|$)")


def _remove_leftovers(root: Path) -> None:
    """Remove the .site-* folders of builds that are no longer running.  A build killed
    between its two renames left the previous site in .site-old-PID and none in site/:
    that one goes back to site/."""
    for folder in sorted(root.glob(".site-*")):
        found = _BUILD_FOLDER.match(folder.name)
        pid = int(found[1]) if found else None
        if not folder.is_dir() or (pid is not None and pid != os.getpid() and _running(pid)):
            continue
        if folder.name.startswith(".site-old-") and not (root / "site").exists():
            folder.rename(root / "site")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists.  On Windows, where ``os.kill`` ends a process
    instead of probing it, every earlier build counts as gone."""
    if sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content
