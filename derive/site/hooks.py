"""MkDocs hooks of the site (mkdocs.yml, `hooks:`): search previews without raw TeX.

The search plugin indexes the HTML of each page, where KaTeX has not run yet, so its
previews would show ``\\(\\mathbf{s}_t\\)``.  After it has written
``search/search_index.json`` this hook rewrites the titles and texts there: inline math
becomes plain text (``s_t``, ``σ``, ``⊙``, ``s̃``), and what display math the templates
did not already mark ``data-search-exclude`` is dropped.  The pages are unchanged.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from mkdocs.plugins import event_priority

SYMBOLS = {
    "odot": "⊙",
    "cdot": "·",
    "cdots": "⋯",
    "dots": "…",
    "ldots": "…",
    "partial": "∂",
    "ell": "ℓ",
    "sum": "Σ",
    "prod": "Π",
    "pm": "±",
    "times": "×",
    "lVert": "‖",
    "rVert": "‖",
    "infty": "∞",
    "approx": "≈",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "to": "→",
    "top": "ᵀ",
    "in": "∈",
}
SUPERSCRIPTS = dict(zip("0123456789+-T", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ᵀ", strict=True))
INLINE = re.compile(r"\\\((.*?)\\\)", re.DOTALL)
DISPLAY = re.compile(r"\s*\\\[.*?\\\]\s*", re.DOTALL)
FONTS = re.compile(r"\\(?:mathbf|mathrm|mathit|boldsymbol|operatorname|text)\s*\{([^{}]*)\}")
MATRIX = re.compile(r"\\begin\{[bp]?matrix\}(.*?)\\end\{[bp]?matrix\}", re.DOTALL)
COMMAND = re.compile(r"\\([A-Za-z]+)(\s*)")
KEEP = {"mathbf", "mathrm", "mathit", "boldsymbol", "operatorname", "text", "tilde", "sqrt", "frac"}


def _command(match: re.Match) -> str:
    """A control word as text; a letter (δ, ∂, ℓ) joins what follows, as TeX sets it."""
    name, space = match.groups()
    if name in KEEP:
        return match.group(0)
    if name in SYMBOLS:
        return SYMBOLS[name] + ("" if name in ("partial", "ell") else space)
    try:
        return unicodedata.lookup(f"GREEK SMALL LETTER {name}")
    except KeyError:
        return name + space  # \\tanh, \\log and anything unknown: the word itself


def _superscript(match: re.Match) -> str:
    body = match.group(1) or match.group(2)
    if all(c in SUPERSCRIPTS for c in body):
        return "".join(SUPERSCRIPTS[c] for c in body)
    return "^" + (body if len(body) == 1 else f"({body})")


def plain(tex: str) -> str:
    """Inline TeX as the text a reader would type: ``\\tilde{\\mathbf{s}}_{t-1}`` -> ``s̃_{t-1}``."""
    text = MATRIX.sub(
        lambda m: (
            "["
            + "; ".join(", ".join(c.strip() for c in row.split("&amp;")) for row in m.group(1).split(r"\\"))
            + "]"
        ),
        tex,
    )
    text = text.replace(r"\mathrel{+}=", "+=").replace(r"\left", "").replace(r"\right", "")
    text = re.sub(r"\\[,;:!]|~", " ", text)
    text = re.sub(r"\^\{?\\top\}?", "ᵀ", text)
    text = COMMAND.sub(_command, text)  # symbols first: \\delta\\mathbf{v} is δ then v
    for _ in range(3):  # nested: \\tilde{\\mathbf{s}}
        text = FONTS.sub(r"\1", text)
        text = re.sub(r"\\tilde\s*\{([^{}]*)\}", lambda m: m.group(1) + "\u0303", text)
    text = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\1/\2", text)
    text = re.sub(
        r"\\sqrt\s*\{([^{}]*)\}",
        lambda m: "√" + (m.group(1) if len(m.group(1)) == 1 else f"({m.group(1)})"),
        text,
    )
    text = re.sub(r"\^(?:\{([^{}]*)\}|([0-9A-Za-z]))", _superscript, text)
    text = re.sub(r"_\{([^{}\\])\}", r"_\1", text)  # s_{t} -> s_t; s_{t-1} keeps its braces
    text = text.replace("\\", "")
    return unicodedata.normalize("NFC", " ".join(text.split()))


def searchable(html: str) -> str:
    """A search entry's title or text with display math dropped and inline math as plain text."""
    return INLINE.sub(lambda m: plain(m.group(1)), DISPLAY.sub(" ", html))


@event_priority(-100)  # after the search plugin has written the index
def on_post_build(config, **kwargs) -> None:
    path = Path(config.site_dir) / "search" / "search_index.json"
    if not path.exists():
        return
    index = json.loads(path.read_text(encoding="utf-8"))
    for entry in index["docs"]:
        entry["title"] = searchable(entry["title"])
        entry["text"] = searchable(entry["text"])
    path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
