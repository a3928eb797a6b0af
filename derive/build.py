"""What the project generates into its own tree, and the one place that writes it.

The file lists (the catalogue's modules, the site's pages and figures, KaTeX's
assets), the freshness check that compares them with what is committed, and the
site's build.  A file is written to a temporary neighbour and renamed over the
target, so an interrupted run never leaves a half-written file; the site is built
into a temporary folder and swapped in, so an interrupted build leaves the
previous ``site/`` as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = Path(__file__).resolve().parent / "generated"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")


class NotACheckout(RuntimeError):
    """The command writes into the project's tree, and there is none (e.g. installed from a wheel)."""


def checkout() -> Path:
    """The project's checkout that holds this package, or NotACheckout."""
    if not (ROOT / "mkdocs.yml").is_file() or not (ROOT / "pyproject.toml").is_file():
        raise NotACheckout(
            "this command works in a checkout of the project (with mkdocs.yml beside derive/); "
            f"derive is installed at {Path(__file__).resolve().parent} without one"
        )
    return ROOT


def generated_code() -> dict[Path, str]:
    """derive/generated/: one module per catalogue cell and the package's __init__."""
    from .catalogue import CATALOGUE
    from .codegen.modules import module_index, module_source

    files = {GENERATED / f"{name}.py": module_source(cell) for name, cell in CATALOGUE.items()}
    files[GENERATED / "__init__.py"] = module_index(CATALOGUE.values())
    return files


def pages() -> dict[Path, str | bytes]:
    """docs/: every page and figure of the site."""
    from .site.pages import pages

    return pages(checkout())


def katex_assets() -> dict[Path, bytes]:
    """KaTeX, installed by `npm ci`, copied under docs/ so that the site serves it itself."""
    root = checkout()
    source = root / "node_modules" / "katex" / "dist"
    if not (source / "katex.min.js").exists():
        raise FileNotFoundError("KaTeX is not installed: run `npm ci` in the checkout first")
    wanted = [*KATEX_FILES, *(str(p.relative_to(source)) for p in sorted((source / "fonts").glob("*.woff2")))]
    return {root / "docs" / "assets" / "katex" / name: (source / name).read_bytes() for name in wanted}


def stale(files: dict[Path, str | bytes]) -> list[Path]:
    """The files whose content on disk differs from what they should be."""
    return [
        path for path, content in files.items() if not path.exists() or path.read_bytes() != _bytes(content)
    ]


def write(files: dict[Path, str | bytes]) -> list[Path]:
    """Write the files that changed, each atomically; return them."""
    changed = stale(files)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_bytes(files[path]))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    return changed


def site() -> Path:
    """`mkdocs build --strict` into a fresh folder beside site/, then swapped in; returns site/."""
    root = checkout()
    final = root / "site"
    fresh = Path(tempfile.mkdtemp(prefix=".site-", dir=root))
    try:
        env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(fresh)]
        built = subprocess.run(command, cwd=root, env=env)
        if built.returncode:
            raise RuntimeError("mkdocs build --strict failed (its messages are above)")
        old = root / f".site-old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        fresh.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return final


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content
