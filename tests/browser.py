"""The Chromium that the site tests drive, found or unpacked with nothing installed by hand.

In this order: the path in $DERIVE_CHROMIUM; a Chromium or Chrome on PATH; else the one that
`npm ci` installed with the npm package @sparticuz/chromium (a Chromium build that needs no
system libraries), unpacked once into node_modules/.cache/chromium/ by the package's own code
(tests/chromium.mjs) and started with the fonts it ships.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@sparticuz" / "chromium"
UNPACKED = ROOT / "node_modules" / ".cache" / "chromium"
SYSTEM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless as root on a machine with no network: no sandbox, no GPU, and none of the
# background connections whose refusals would otherwise fill the log.
ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserMissing(RuntimeError):
    """No browser could be found or unpacked; the message says what to run."""


@dataclass(frozen=True)
class Browser:
    path: str
    origin: str  # where it came from, for messages
    version: str = ""  # the npm package's, when it came from there
    env: dict[str, str] = field(default_factory=dict)  # added to the environment it starts in

    def launch(self, playwright):
        env = {**os.environ, **self.env} if self.env else None
        return playwright.chromium.launch(executable_path=self.path, args=list(ARGS), env=env, headless=True)


def find() -> Browser:
    """The browser to use: $DERIVE_CHROMIUM, else the system's, else the npm package's."""
    if chosen := os.environ.get("DERIVE_CHROMIUM"):
        if not os.access(chosen, os.X_OK):
            raise BrowserMissing(f"DERIVE_CHROMIUM={chosen} is not an executable file")
        return Browser(chosen, "DERIVE_CHROMIUM")
    for name in SYSTEM:
        if path := shutil.which(name):
            return Browser(path, f"the system's {name}")
    return bundled()


def bundled() -> Browser:
    """The npm package's Chromium, unpacked on first use (about 200 MB, a few seconds)."""
    if not PACKAGE.is_dir():
        raise BrowserMissing(
            "no Chromium on PATH and no node_modules/@sparticuz/chromium: run `npm ci` in the checkout"
        )
    UNPACKED.mkdir(parents=True, exist_ok=True)
    ready = UNPACKED / "ready"  # written last: a half-unpacked folder is unpacked again
    with open(UNPACKED.parent / "chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers unpack it once between them
        version = _version()
        if not ready.exists() or ready.read_text() != version:
            shutil.rmtree(UNPACKED)
            UNPACKED.mkdir()
            node = shutil.which("node")
            if node is None:
                raise BrowserMissing("no Chromium on PATH and no `node` to unpack the npm package's one")
            out = subprocess.run(
                [node, str(Path(__file__).with_name("chromium.mjs"))],
                cwd=ROOT,
                env={**os.environ, "TMPDIR": str(UNPACKED)},
                capture_output=True,
                text=True,
                timeout=300,
            )
            if out.returncode != 0:
                raise BrowserMissing(f"unpacking @sparticuz/chromium failed:\n{out.stderr.strip()}")
            ready.write_text(version)
    return Browser(
        str(UNPACKED / "chromium"),
        f"@sparticuz/chromium {version} from npm",
        version,
        {"FONTCONFIG_PATH": str(UNPACKED / "fonts")},
    )


def _version() -> str:
    import json

    return json.loads((PACKAGE / "package.json").read_text())["version"]
