"""Jinja rendering: the one environment every generated file goes through."""

from __future__ import annotations

import gettext
import re
import textwrap
from pathlib import Path

import jinja2

from .printing import layout

# Every template lives in the checkout's top-level templates/ (code/, cell/, pages/); a wheel
# carries the same tree as derive/templates/ (pyproject.toml maps it there).
HERE = Path(__file__).resolve().parent
TEMPLATES = next(
    (p for p in (HERE / "templates", HERE.parent / "templates") if p.is_dir()), HERE / "templates"
)


def _pytuple(values) -> str:
    return repr(tuple(values))


def _pydoc(text) -> str:
    """``text`` as it reads inside a triple-quoted docstring: a backslash or a quote
    escaped, so that no text can end the docstring and be run as code."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _pyline(line, indent: int) -> str:
    """One line of Python written at column ``indent``, wrapped to fit (:func:`layout.python`).
    A printed line with a ``depth`` (a statement inside a loop) is indented by four
    columns for each level, after the ``indent`` the template writes."""
    depth = getattr(line, "depth", 0)
    return " " * (4 * depth) + layout.python(str(line), indent + 4 * depth)


def _jsline(line) -> str:
    """One line of JavaScript, indented by two columns for each level of its ``depth``
    after the indentation the template writes."""
    return "  " * getattr(line, "depth", 0) + str(line)


def _prose(text, indent: int = 0, hanging: int = 0) -> str:
    """A line of a docstring at column ``indent``, wrapped between words to fit; the
    lines it continues on are indented ``hanging`` columns more."""
    return layout.words(str(text), indent, then=" " * hanging)


def _paragraph(text, width: int = 88) -> str:
    """A paragraph of plain prose broken between words into lines of ``width`` columns,
    as a docstring's hand-written paragraphs are."""
    return textwrap.fill(" ".join(str(text).split()), width, break_long_words=False, break_on_hyphens=False)


def environment(translations: gettext.NullTranslations | None = None) -> jinja2.Environment:
    """The templates' environment.  ``{% trans %}`` blocks and ``_("...")`` in a template go
    through ``translations`` (derive.site.i18n reads them from a language's catalogue); with
    none, they print the English they are written in.  A block is trimmed (its lines joined
    by single spaces), so that rewrapping the English changes no message; babel.cfg extracts
    the messages with the same settings."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations or gettext.NullTranslations(), newstyle=True)
    env.globals["language"] = "en"  # the language a page is written in; another edition's page says its own
    env.filters["pytuple"] = _pytuple
    env.filters["pyrepr"] = repr
    env.filters["pydoc"] = _pydoc
    env.filters["pyline"] = _pyline
    env.filters["jsline"] = _jsline
    env.filters["prose"] = _prose
    env.filters["paragraph"] = _paragraph
    env.filters["sentences"] = _sentences
    env.filters["plain"] = _plain
    return env


# A full-width stop, comma, colon or semicolon carries its own space in Chinese typesetting.
_FULL_WIDTH_STOP = re.compile(r"(?<=[，。：；！？、]) +")


def _sentences(text) -> str:
    """A caption put together from sentences and clauses (each a message, joined by spaces
    as English joins them), with no space after a full-width stop: a translation's
    sentences run on as its language writes them."""
    return _FULL_WIDTH_STOP.sub("", str(text))


_INLINE_MATH = re.compile(r"\\\((.*?)\\\)")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+ ?|[{}]")


def _plain(text) -> str:
    """A caption as an attribute's text (an image's alt): no tags, and each inline formula
    as its bare letters (\\(\\mathbf{s}_t\\) is s_t), since the Markdown's maths
    extension would typeset a formula inside the attribute and break the tag."""
    text = re.sub(r"<[^>]+>", "", str(text))
    text = _INLINE_MATH.sub(lambda m: _TEX_COMMAND.sub("", m.group(1)), text)
    return " ".join(text.split())


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
