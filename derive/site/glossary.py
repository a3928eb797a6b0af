"""The glossary's terms, and the link from each page's first use of a term to its entry.

The terms and their other forms are read from the rendered glossary page (each entry a
``## Term { #anchor }`` heading, then an optional ``*Also:* form, form`` line), so that a
translated glossary brings its own words: the line's label is any italic word ending in a
colon (``*又称：*`` in Chinese) and its forms may be parted by Chinese commas too.  A term is
matched as a whole word of a Latin script; in Chinese, written without spaces, it is matched
wherever it occurs.  ``link(page, terms)`` links the first use of each term in a page's
prose: never inside a heading, a link, code, mathematics, an HTML tag, a figure or the front
matter, and never a term inside another term's link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENTRY = re.compile(
    r"^## (?P<term>.+?) \{ #(?P<anchor>[\w-]+) \}\n"
    r"(?:\n?\*[^*\n]+[:：]\* (?P<also>.+)\n)?",  # "*Also:* forms", "*又称：* forms"
    re.M,
)
FORMS = re.compile(r"[,，、]")
# A letter that joins a term's word to the next: a word character that is not CJK (Chinese has
# no spaces between its words, so a Chinese term has no word boundary to wait for).
JOINED = r"[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|-"
SINGLE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

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
    def pattern(self) -> re.Pattern | None:
        """The forms as a page may write them, or None when none can be sought: a single
        Chinese character (门, gate) is not, as it is part of too many other words (门控循环单元)."""
        forms = [f for f in self.forms if not SINGLE.fullmatch(f)]
        if not forms:
            return None
        # a form's words may be split between lines of the page's source
        words = "|".join(r"\s+".join(re.escape(w) for w in f.split()) for f in forms)
        return re.compile(rf"(?<!{JOINED})(?:{words})(?!{JOINED})", re.I)


def terms(glossary: str) -> list[Term]:
    """The entries of the rendered glossary page, in its order."""
    out = []
    for m in ENTRY.finditer(glossary):
        forms = [m["term"]] + [f.strip() for f in FORMS.split(m["also"] or "") if f.strip()]
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
        for start, end in _free(page) if pattern else ():
            m = pattern.search(page, start, end)
            if m:
                linked = f"[{m[0]}]({target}#{term.anchor})"
                page = page[: m.start()] + linked + page[m.end() :]
                break
    return page
