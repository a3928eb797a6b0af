"""The site's languages: which pages each edition has translated, and its catalogue.

The pages are written in English in ``templates/pages/``; their prose is marked with
``{% trans %}`` blocks and ``_("...")``, extracted by Babel with the settings of
``babel.cfg``, and translated in ``templates/locale/<lang>/LC_MESSAGES/messages.po``.
The catalogue is compiled in memory when the pages are made (nothing binary is kept).

A page joins a language's edition when it is listed in ``TRANSLATED``: ``python -m
derive docs`` then writes ``docs/<page>.<lang>.md`` beside the English page, and the
tests hold it to the catalogue (no message left untranslated, its prose in the
language's script).  A page not listed yet is shown in English in that edition, under
a note that says so (``hooks.py``).  ``ONLY`` lists the pages an edition has on its own.
"""

from __future__ import annotations

import gettext
import io
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ..render import TEMPLATES

LOCALE = TEMPLATES / "locale"
DOMAIN = "messages"

# The pages each edition translates: every page of derive.site.pages.PAGES (a test holds the
# Chinese edition to all of them; a new page is written in English, then listed here once its
# messages are translated).
TRANSLATED: dict[str, tuple[str, ...]] = {
    "zh": (
        "notation",
        "glossary",
        "index",
        "bptt",
        "gradients",
        "variants",
        "compare",
        "training",
        "code",
        "references",
        "recurrences",
        "worked",
        "exercises",
        "lstm",
        "gru",
        "explorer",
        "rnn",
    )
}
# Pages an edition has that the English one has not: the Chinese table of terms, each with its
# English and its symbol.
ONLY: dict[str, tuple[str, ...]] = {"zh": ("terms",)}
LANGUAGES = tuple(TRANSLATED)


def pages(language: str) -> tuple[str, ...]:
    """The pages the language's edition has in its own words."""
    return (*TRANSLATED[language], *ONLY[language])


def catalogue_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalogue(language: str) -> Catalog:
    """The language's catalogue as its translators left it."""
    with catalogue_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def translations(language: str) -> gettext.GNUTranslations:
    """The catalogue compiled in memory, as `pybabel compile` would write it; a fuzzy
    message (its English changed since it was translated) counts as untranslated."""
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(language), use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def extracted(root: Path) -> Catalog:
    """The messages the templates mark now, as `pybabel extract -F babel.cfg` finds them
    (the template of every language's catalogue)."""
    with (root / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(root / "babel.cfg"))
    # Only the folders babel.cfg's patterns reach (not node_modules, site/, ...).
    wanted = [pattern.split("*")[0].rstrip("/") for pattern, _ in method_map]

    def reached(folder: str) -> bool:
        inside = Path(folder).relative_to(root).as_posix()
        return any(w == inside or w.startswith(f"{inside}/") or inside.startswith(f"{w}/") for w in wanted)

    template = Catalog(domain=DOMAIN, project="derive", fuzzy=False)
    found = extract_from_dir(root, method_map, options_map, directory_filter=reached)
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _ids(catalog: Catalog) -> set:
    return {(m.context, m.id) for m in catalog if m.id}


@dataclass(frozen=True)
class Staleness:
    """How a catalogue differs from what the templates mark: messages it lacks, and
    messages it has that no template marks any more."""

    path: Path
    new: int
    gone: int

    def __bool__(self) -> bool:
        return bool(self.new or self.gone)


def staleness(root: Path, language: str) -> Staleness:
    marked, kept = _ids(extracted(root)), _ids(catalogue(language))
    return Staleness(catalogue_path(language), len(marked - kept), len(kept - marked))


def updated(root: Path, language: str) -> bytes:
    """The language's catalogue updated to the templates' messages, as `pybabel update`
    does: new messages empty, a changed one kept as fuzzy with its old translation,
    vanished ones dropped.  Written without line numbers, so that moving a line in a
    template changes no catalogue; and its dates as they were, so that updating a
    current catalogue changes no byte."""
    template = extracted(root)
    if catalogue_path(language).exists():
        new = catalogue(language)
        template.creation_date = new.creation_date
    else:  # a new language, as `pybabel init` starts it
        new = Catalog(locale=language, domain=DOMAIN, project="derive", fuzzy=False)
    new.update(template, update_creation_date=False)
    new.obsolete.clear()
    out = io.BytesIO()
    write_po(out, new, width=100, include_lineno=False)
    return out.getvalue()


def untranslated(root: Path, language: str) -> list[str]:
    """The messages of the language's translated pages, and the words every figure draws
    (derive.site.words: the messages of Python files), that have no translation (none, or
    a fuzzy one), each with the files that use it."""
    templates = {f"templates/pages/{p}.md.j2" for p in pages(language)}
    translated = {(m.context, m.id) for m in catalogue(language) if m.id and m.string and not m.fuzzy}

    def needed(files: set[str]) -> bool:
        return bool(files & templates) or any(f.endswith(".py") for f in files)

    return [
        f"{m.id!r} ({', '.join(sorted({f for f, _ in m.locations}))})"
        for m in extracted(root)
        if m.id and (m.context, m.id) not in translated and needed({f for f, _ in m.locations})
    ]


def term(meaning: str) -> str:
    """The name an equation's meaning starts with, before its first colon, parenthesis or
    comma: "forget gate" of "forget gate (selective forget): how much ..."."""
    return re.split(r"[:(,]", meaning)[0].strip()


def extract_cells(fileobj, keywords, comment_tags, options):
    """Babel's extraction method for the catalogue's cell files (babel.cfg): the words the
    pages show of a cell that are not in a template, its title, the comment at the top of
    its file (derive.cellfile.header) and each gate's name (:func:`term`, the explorer's
    sliders), which a template passes to ``_()``."""
    import tomllib

    from ..cellfile import header

    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    table = tomllib.loads(text)
    title = table.get("title")
    if title:
        yield next(n for n, line in enumerate(lines, 1) if line.startswith("title")), "_", title, []
    about = header(fileobj.name)
    if about:
        yield 1, "_", about, []
    meanings = (n for n, line in enumerate(lines, 1) if line.lstrip().startswith("meaning"))
    for eq in table.get("equations", []):
        line = next(meanings, 1) if "meaning" in eq else 1
        if eq.get("role") == "gate" and eq.get("meaning"):
            yield line, "_", term(eq["meaning"]), []
