"""The Chromium that the site tests drive, found or unpacked with nothing installed by hand.

In this order: the path in $DERIVE_CHROMIUM; a Chromium or Chrome on PATH; else the one that
`npm ci` installed with the npm package @sparticuz/chromium (a Chromium build that needs no
system libraries), unpacked once into node_modules/.cache/chromium/ by the package's own code
(tests/chromium.mjs) and started with the fonts it ships (and the system's, if it has any).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@sparticuz" / "chromium"
UNPACKED = ROOT / "node_modules" / ".cache" / "chromium"
SYSTEM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Font folders a Linux system may have, listed for the npm package's Chromium when they exist.
SYSTEM_FONTS = ("/usr/share/fonts", "/usr/local/share/fonts")
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
        fontconfig = _fontconfig()
    return Browser(
        str(UNPACKED / "chromium"),
        f"@sparticuz/chromium {version} from npm",
        version,
        {"FONTCONFIG_FILE": str(fontconfig)},
    )


def _fontconfig() -> Path:
    """A fontconfig file of our own for the unpacked Chromium, written when it would change.

    The package's fonts/fonts.conf lists the folders of the serverless platform it was made for
    (/tmp/fonts, /opt/fonts, /var/task/fonts) and caches in /tmp: its fonts, unpacked here, are
    found only where something once unpacked them to /tmp/fonts, and with no font the browser
    draws no text. Ours lists the folder they were unpacked to (fontconfig looks into its
    subfolders) and the system's font folders that exist, and keeps the cache beside them, so
    nothing is written to /tmp or $HOME. It is made on every call, not only when unpacking, so
    that a checkout unpacked before it existed, or a system whose fonts changed, gets it too.
    """
    folder = UNPACKED / "fontconfig"
    config = ElementTree.Element("fontconfig")
    for fonts in (UNPACKED / "fonts", *map(Path, SYSTEM_FONTS)):
        if fonts.is_dir():
            ElementTree.SubElement(config, "dir").text = str(fonts)
    ElementTree.SubElement(config, "cachedir").text = str(folder / "cache")
    ElementTree.indent(config)
    text = ElementTree.tostring(config, encoding="unicode", xml_declaration=True) + "\n"
    path = folder / "fonts.conf"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        folder.mkdir(exist_ok=True)
        # Written whole and then renamed: a Chromium that another test worker starts reads the
        # old file or the new one, never half of one.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False) as new:
            new.write(text)
        os.replace(new.name, path)
    return path


def _version() -> str:
    import json

    return json.loads((PACKAGE / "package.json").read_text())["version"]
