"""The glossary's terms, and the link from each page's first use of a term to its entry.

The terms and their other forms are read from the rendered glossary page (each entry a
``## Term { #anchor }`` heading, then an optional ``*Also:* form, form`` line), so that a
translated glossary brings its own words.  ``link(page, terms)`` links the first use of each
term in a page's prose: never inside a heading, a link, code, mathematics, an HTML tag, a
figure or the front matter, and never a term inside another term's link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENTRY = re.compile(r"^## (?P<term>.+?) \{ #(?P<anchor>[\w-]+) \}\n(?:\n?\*Also:\* (?P<also>.+)\n)?", re.M)

# What is never prose: front matter, fenced code, display and inline mathematics, inline code,
# links and images, raw HTML blocks of figures and equations, any other tag, headings,
# attribute lists and Jinja's leftovers.
PROTECTED = re.compile(
    r"\A---\n.*?\n---\n"
    r"|```.*?```"
    r"|\$\$.*?\$\$"
    r"|\\\(.*?\\\)"
    r"|`[^`\n]*`"
    r"|!?\[[^\]\n]*\]\([^)\n]*\)"
    r"|<figure\b.*?</figure>"
    r"|<div\b.*?</div>"
    r"|<picture\b.*?</picture>"
    r"|<script\b.*?</script>|<noscript\b.*?</noscript>"
    r"|<details\b[^>]*>|<summary\b.*?</summary>"
    r"|<!--.*?-->"
    r"|<[^>\n]+>"
    r"|^#[^\n]*"
    r"|^\?\?\?[^\n]*|^!!![^\n]*"
    r"|\{[:#.][^}\n]*\}",
    re.S | re.M,
)


@dataclass(frozen=True)
class Term:
    anchor: str
    forms: tuple[str, ...]  # longest first

    @property
    def pattern(self) -> re.Pattern:
        # a form's words may be split between lines of the page's source
        words = "|".join(r"\s+".join(re.escape(w) for w in f.split()) for f in self.forms)
        return re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.I)


def terms(glossary: str) -> list[Term]:
    """The entries of the rendered glossary page, in its order."""
    out = []
    for m in ENTRY.finditer(glossary):
        forms = [m["term"]] + [f.strip() for f in (m["also"] or "").split(",") if f.strip()]
        out.append(Term(m["anchor"], tuple(sorted(dict.fromkeys(forms), key=len, reverse=True))))
    return out


def _free(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` that are prose."""
    spans, at = [], 0
    for m in PROTECTED.finditer(text):
        if m.start() > at:
            spans.append((at, m.start()))
        at = max(at, m.end())
    spans.append((at, len(text)))
    return spans


def link(page: str, found: list[Term], target: str = "glossary.md") -> str:
    """``page`` with the first use of each term in its prose linked to its glossary entry.
    A longer term is linked before a shorter one it contains ("output gate" before "output")."""
    for term in sorted(found, key=lambda t: -len(t.forms[0])):
        pattern = term.pattern
        for start, end in _free(page):
            m = pattern.search(page, start, end)
            if m:
                linked = f"[{m[0]}]({target}#{term.anchor})"
                page = page[: m.start()] + linked + page[m.end() :]
                break
    return page
