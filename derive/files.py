"""The one place that writes to the file system: generated files, atomically.

A file is written to a temporary neighbour and renamed over the target, so an
interrupted run never leaves a half-written file.  ``check`` compares instead
of writing, to catch committed files that no longer match their sources.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def stale(files: dict[Path, str | bytes]) -> list[Path]:
    """The files whose content on disk differs from what they should be."""
    out = []
    for path, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        if not path.exists() or path.read_bytes() != data:
            out.append(path)
    return out


def write(files: dict[Path, str | bytes]) -> list[Path]:
    """Write the files that changed; return them."""
    changed = stale(files)
    for path in changed:
        content = files[path]
        data = content.encode() if isinstance(content, str) else content
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    return changed
