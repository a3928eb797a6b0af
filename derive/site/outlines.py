"""Words drawn as outlines: a line of a hand-drawn diagram as one SVG path, from a font's glyphs.

A diagram's translated words cannot be left to the reader's fonts (a machine without a CJK
font draws boxes), so they are drawn as the outlines of the font that ``words.drawing``
chose, placed by the font's own advances; no font reaches the browser.  A line may hold
symbols in italic (``{t}`` in the message, given as runs such as ``[("s", "i"), ("0", "sub")]``),
taken from DejaVu Sans Oblique, matplotlib's own font, as the diagrams' formulas are italic.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.pens.transformPen import TransformPen
from fontTools.ttLib import TTFont

from . import words

SUB = 0.8, 3.0  # a subscript's size (a share of the line's) and how far below the baseline, px
# A run's style: "" upright, "i" italic, "sub" an upright subscript, "isub" an italic one.
Runs = list[tuple[str, str]]


@functools.cache
def _font(path: Path) -> TTFont:
    return TTFont(path, lazy=True)


@functools.cache
def _glyph_set(font: TTFont):
    return font.getGlyphSet()


@functools.cache
def _dejavu(style: str) -> Path:
    import matplotlib

    name = "DejaVuSans-Oblique.ttf" if style == "i" else "DejaVuSans.ttf"
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def _glyph_font(character: str, italic: bool) -> TTFont:
    """The words' font, or DejaVu Sans (Oblique for an italic symbol, or for a character the
    words' font lacks)."""
    if italic:
        return _font(_dejavu("i"))
    font = _font(words.font())
    if ord(character) in font.getBestCmap():
        return font
    return _font(_dejavu(""))


def _glyphs(runs: Runs, size: float):
    """(font, glyph name, x, dy, scale) for each character, x from the line's start; and the width."""
    x, out = 0.0, []
    for text, style in runs:
        scale = size * (SUB[0] if "sub" in style else 1)
        dy = SUB[1] if "sub" in style else 0.0
        for character in text:
            font = _glyph_font(character, style.startswith("i"))
            name = font.getBestCmap()[ord(character)]
            per_unit = scale / font["head"].unitsPerEm
            out.append((font, name, x, dy, per_unit))
            x += font["hmtx"][name][0] * per_unit
    return out, x


def width(runs: Runs, size: float) -> float:
    return _glyphs(runs, size)[1]


def _number(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def line(runs: Runs, x: float, y: float, size: float, anchor: str = "start", attributes: str = "") -> str:
    """The runs as one ``<path>`` whose baseline starts at (x, y) ("start"), is centred on x
    ("middle") or ends at x ("end"), as ``<text text-anchor=...>`` places a line; preceded by
    the text as a comment, as matplotlib marks its outlined text.  ``attributes`` are the
    path's own (a class, a fill)."""
    glyphs, total = _glyphs(runs, size)
    start = x - {"start": 0.0, "middle": total / 2, "end": total}[anchor]
    pen = SVGPathPen(None, ntos=_number)
    for font, name, dx, dy, per_unit in glyphs:
        glyph = _glyph_set(font)[name]
        glyph.draw(TransformPen(pen, (per_unit, 0, 0, -per_unit, start + dx, y + dy)))
    text = "".join(t for t, _ in runs)
    return f'<!-- {text} -->\n<path{attributes} d="{pen.getCommands()}"/>'


@functools.cache
def _vertical_forms(font: TTFont) -> dict[str, str]:
    """Glyph name -> its form in a column, from the font's 'vert' feature (the full-width
    comma set in the top right of its square, as a column of Chinese places it)."""
    if "GSUB" not in font:
        return {}
    table = font["GSUB"].table
    forms: dict[str, str] = {}
    for record in table.FeatureList.FeatureRecord:
        if record.FeatureTag == "vert":
            for index in record.Feature.LookupListIndex:
                for sub in table.LookupList.Lookup[index].SubTable:
                    forms.update(getattr(getattr(sub, "ExtSubTable", sub), "mapping", None) or {})
    return forms


def column(runs: Runs, x: float, y: float, size: float, attributes: str = "") -> str:
    """The runs' characters upright, one under another, as Chinese is set in a column (a
    line turned on its side would lay each character down): centred on x, the column's
    middle at y, each character in a square of ``size`` and in its vertical form where
    the font has one.  For words alone: a symbol's style is not kept."""
    pen = SVGPathPen(None, ntos=_number)
    characters = "".join(t for t, _ in runs)
    top = y - size * len(characters) / 2
    for k, character in enumerate(characters):
        font = _glyph_font(character, False)
        name = font.getBestCmap()[ord(character)]
        name = _vertical_forms(font).get(name, name)
        per_unit = size / font["head"].unitsPerEm
        # the square's top at the font's ascender, its middle on x
        left = x - font["hmtx"][name][0] * per_unit / 2
        baseline = top + k * size + font["OS/2"].sTypoAscender * per_unit
        _glyph_set(font)[name].draw(TransformPen(pen, (per_unit, 0, 0, -per_unit, left, baseline)))
    return f'<!-- {characters} -->\n<path{attributes} d="{pen.getCommands()}"/>'


def runs(message: str, symbols: dict[str, Runs] | None = None) -> Runs:
    """A translated message as runs: its words upright, each ``{name}`` the symbol's runs."""
    out: Runs = []
    for k, part in enumerate(re.split(r"\{(\w+)\}", message)):
        if k % 2:
            out.extend((symbols or {})[part])
        elif part:
            out.append((part, ""))
    return out
