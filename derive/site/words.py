"""The words the figures and diagrams draw, in the language being drawn, and its font.

The code that draws a figure marks each English word with ``_("...")``; babel.cfg extracts
these into the pages' catalogue, so one catalogue holds every translation.  Outside
``drawing`` the words are the English ones, unchanged.  Inside ``drawing(language, root)``,
``_`` returns the language's words and matplotlib can draw them: the CJK font of the npm
packages (Noto Sans SC, which `npm ci` installs; no font of the machine is used, so the
bytes are the same everywhere) comes after DejaVu Sans, which keeps drawing every Latin
letter, digit and formula as in the English figures.  The hand-drawn diagrams turn their
translated words into outlines of that font (``derive.site.outlines``), so that no font has
to reach the reader.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
from collections.abc import Iterator
from pathlib import Path

# The font's file in the checkout, from package.json's devDependencies.
FONT = Path("node_modules/@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf")
FAMILY = "Noto Sans SC"

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_font: Path | None = None


class MissingFont(FileNotFoundError):
    """The CJK font the translated figures are drawn with is not installed."""


def _(message: str) -> str:
    """``message`` in the language being drawn (itself outside ``drawing``)."""
    return _translations.gettext(message)


def N_(message: str) -> str:
    """Marks an English word kept in a constant, for extraction: ``_`` translates it where drawn."""
    return message


def language() -> str:
    return _language


def font() -> Path:
    """The file of the font the language's words are drawn in (only inside ``drawing``)."""
    assert _font is not None, "font() is for the words drawn inside drawing()"
    return _font


def font_file(root: Path) -> Path:
    path = root / FONT
    if not path.is_file():
        raise MissingFont(f"the Chinese figures need the font {FONT}, which is not installed: run `npm ci`")
    return path


@functools.cache
def _registered(path: Path) -> None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))


def _cjk(character: str) -> bool:
    """A character of the CJK blocks or of the full-width forms, which DejaVu Sans lacks."""
    code = ord(character)
    return 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


@contextlib.contextmanager
def _mathtext_with(path: Path) -> Iterator[None]:
    """Mathtext's DejaVu Sans fonts taking a CJK character from ``path``: a label that mixes
    words and a formula is one mathtext string, whose words matplotlib draws with the
    formula's fonts, which have no CJK characters (and would draw boxes).  Every other
    character is found as before."""
    from matplotlib import mathtext
    from matplotlib.font_manager import get_font

    base = mathtext.MathTextParser._font_type_mapping["dejavusans"]

    class WithCJK(base):  # type: ignore[valid-type, misc]
        def _get_glyph(self, fontname, font_class, sym):
            if len(sym) == 1 and _cjk(sym):
                return get_font(path), ord(sym), False
            return super()._get_glyph(fontname, font_class, sym)

    mapping = mathtext.MathTextParser._font_type_mapping
    mapping["dejavusans"] = WithCJK
    try:
        yield
    finally:
        mapping["dejavusans"] = base


@contextlib.contextmanager
def drawing(language: str, root: Path) -> Iterator[None]:
    """Draw in ``language``: ``_`` gives its words from its catalogue, and matplotlib
    finds their characters in the npm font (MissingFont if it is not installed)."""
    global _translations, _language, _font
    import matplotlib

    from .i18n import translations

    path = font_file(root)
    _registered(path)
    before = (_translations, _language, _font)
    _translations, _language, _font = translations(language), language, path
    try:
        with matplotlib.rc_context({"font.family": ["DejaVu Sans", FAMILY]}), _mathtext_with(path):
            yield
    finally:
        _translations, _language, _font = before
