"""The editions: catalogues current and complete, translated pages in their language.

A page joins the Chinese edition when derive.site.i18n.TRANSLATED lists it; from then on
every message of its template must be translated (none missing, none fuzzy), and its
generated page must read as Chinese: outside formulas, code and link targets, most of its
letters CJK, and no line or table cell left in English words alone.  The list is every page
of derive.site.pages.PAGES: the edition is complete.
"""

from __future__ import annotations

import re

import pytest
import yaml

from derive import build
from derive.build import ROOT
from derive.cli import main
from derive.site import i18n
from derive.site.pages import PAGES

DOCS = ROOT / "docs"
EDITIONS = [(language, page) for language in i18n.LANGUAGES for page in i18n.TRANSLATED[language]]
OWN = [(language, page) for language in i18n.LANGUAGES for page in i18n.pages(language)]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Names a Chinese text writes in Latin letters: libraries, authors, the cells' abbreviations.
NAMES = {"pytorch", "cudnn", "olah", "cho", "et", "al", "lstm", "gru", "rnn", "bptt", "derive"} | {
    "sigmoid",
    "tanh",
}


def _prose(markdown: str) -> str:
    """A generated page without what is not prose: its front matter, header comment, formulas,
    code, link targets, attribute lists and HTML tags."""
    text = re.sub(r"\A---\n.*?\n---\n", " ", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)", " ", text, flags=re.S)
    text = re.sub(r"```.*?```|`[^`\n]*`", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)|\{:? *[#.][^}]*\}|<[^>]+>", " ", text)
    return text


def _article(language: str, page: str) -> str:
    """A generated page of an edition, as its prose tests read it.  The references page's
    citations (each entry up to the line break before what the site uses it for) stay in
    English in every edition, as works are cited; only the prose around them is translated."""
    text = (DOCS / f"{page}.{language}.md").read_text()
    if page == "references":
        text = re.sub(r"(?m)^(?:[^\n]+\n)*?[^\n]*<br>$", "", text)
    return text


def _letters(text: str) -> tuple[int, int]:
    """(CJK characters, Latin letters) of the text."""
    return len(CJK.findall(text)), len(re.findall(r"[A-Za-z]", text))


# --- numbers ---------------------------------------------------------------------------

# What a message hides from the reader's prose: its values (%(name)s, the explorer's {name}),
# formulas, code, link targets, tags and heading ids.
_NOT_PROSE = re.compile(
    r"%\(\w+\)s|\{\w+\}|\\\(.*?\\\)|\\\[.*?\\\]|```.*?```|`[^`]*`|\]\([^)]*\)|<[^>]*>|\{\s*#[\w-]+\s*\}", re.S
)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)*")
# The numbers a page may type in its prose: each is definitional, not a setting or a
# measurement (those come from the page's context, so that the page states what was run).
DEFINITIONAL = {
    r"\b(?:19|20)\d\d\b": "a year, in a citation or a title",
    r"\b2×2\b": "the LSTM's Jacobian, a block matrix over its two states",
    r"\b64-bit\b": "float64, by its name",
    r"\b1, 2, 4\b": "the distances of a doubling scan, by definition",
    r"\bStep [23], (?:read in|write out)\b": "the conveyor belt's frames, in their order",
    r"\bfrom step 2 on\b|\bat step [23]\b": "the second and third step of a worked sequence, each "
    "named by its step in the template's values (f2, s3)",
    r"\bexercises? \d+(?:(?:, | and )\d+)*": "the exercises page's own section numbers",
    r"(?<![\w.,])[-−]?[01](?!\w|[.,]\d)": "0 and 1 (and −1): the ends of a gate's or a squash's range, "
    "the identity, a one-hot target",
}


def _numbers(text: str) -> list[str]:
    """The numbers of a message's prose."""
    return [n.rstrip(".,") for n in _NUMBER.findall(_NOT_PROSE.sub(" ", text))]


def _typed(text: str) -> list[str]:
    """The numbers a message's prose states itself, leaving out the definitional ones."""
    text = _NOT_PROSE.sub(" ", text)
    for pattern in DEFINITIONAL:
        text = re.sub(pattern, " ", text)
    return _numbers(text)


def _messages(language: str):
    """(English, translation) of every message of the language's pages, and of the cell
    files' words the pages show (a cell's title and description)."""
    templates = {f"templates/pages/{p}.md.j2" for p in i18n.pages(language)}
    translated = {m.id: m.string for m in i18n.catalogue(language) if m.id}
    for m in i18n.extracted(ROOT):
        files = {f for f, _ in m.locations}
        if m.id and (files & templates or any(f.startswith("derive/catalogue/") for f in files)):
            yield m.id, translated.get(m.id, "")


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_message_types_a_number_the_page_should_compute(language):
    """A setting or a measurement a page states is a value passed in from where it is
    computed (%(steps)s), in every language: the English types none, and no translation
    types a number its English does not."""
    typed = {}
    for english, translation in _messages(language):
        for one, other in (
            zip(english, translation, strict=True) if isinstance(english, tuple) else [(english, translation)]
        ):
            extra = _typed(one) + [n for n in _typed(other) if n not in _numbers(one)]
            if extra:
                typed[one[:80]] = extra
    assert typed == {}, "pass these in from the page's context, or explain them in DEFINITIONAL"


def test_a_typed_number_is_caught():
    assert _typed("a random sequence of 60 steps, near 0.95, at step 5 (T = 64)") == ["60", "0.95", "5", "64"]
    assert _typed("a sequence of %(steps)s steps, \\(T = 64\\), from 0 to 1 (1997)") == []


# --- the catalogues --------------------------------------------------------------------


def test_the_catalogues_hold_every_message_the_templates_mark():
    assert build.stale_catalogues() == [], "run `python -m derive translations`"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_of_a_translated_page_is_translated(language):
    assert i18n.untranslated(ROOT, language) == [], (
        f"translate these in {build.shown(i18n.catalogue_path(language))} (a fuzzy one: check it, "
        "then remove its `#, fuzzy` line)"
    )


def test_a_changed_template_makes_docs_check_fail(monkeypatch, capsys):
    """A message a template marks and the catalogue lacks: `docs --check` exits 1 naming the
    catalogue and the command that updates it (the pages themselves are left out here)."""
    marked = i18n.extracted(ROOT)
    marked.add("A sentence the catalogue has never seen.", locations=[("templates/pages/notation.md.j2", 1)])
    monkeypatch.setattr(i18n, "extracted", lambda root: marked)
    monkeypatch.setattr(build, "pages", dict)
    assert main(["docs", "--check"]) == 1
    err = capsys.readouterr().err
    assert "stale catalogue: templates/locale/zh/LC_MESSAGES/messages.po (1 new messages, 0 gone)" in err
    assert "python -m derive translations" in err
    assert main(["translations", "--check"]) == 1


def test_updating_a_catalogue_keeps_its_translations_and_marks_a_changed_one(monkeypatch):
    """As `pybabel update` does: a new message comes in empty, an edited one keeps the old
    translation marked fuzzy (shown in English until a translator clears the mark), and a
    current catalogue comes out byte for byte as it is."""
    path = i18n.catalogue_path("zh")
    assert i18n.updated(ROOT, "zh") == path.read_bytes()
    marked = i18n.extracted(ROOT)
    old = marked["Three differences matter:"]
    marked.delete(old.id)
    marked.add("Three differences matter here:", locations=old.locations)
    monkeypatch.setattr(i18n, "extracted", lambda root: marked)
    text = i18n.updated(ROOT, "zh").decode()
    changed = text[text.index('msgid "Three differences matter here:"') - 40 :]
    assert "#, fuzzy" in changed.split("msgid")[0] and 'msgstr "有三处差别需要留意：' in changed


def test_the_search_dictionary_has_every_term_of_the_glossary():
    """jieba keeps a term of the table of terms or of the glossary whole in the search index
    only if its dictionary lists it (mkdocs.yml: jieba_dict_user)."""
    from derive.site.glossary import ENTRY

    words = {line.split()[0] for line in (ROOT / "templates/locale/zh/jieba.txt").read_text().splitlines()}
    # the table without its links to the glossary
    table = re.sub(r"\[([^\]\n]*)\]\([^)\n]*\)", r"\1", (DOCS / "terms.zh.md").read_text())
    rows = [row for row in table.splitlines() if row.startswith("| ")]
    terms = {row.split("|")[1].strip() for row in rows}
    if "glossary" in i18n.TRANSLATED["zh"]:
        terms |= {m["term"] for m in ENTRY.finditer((DOCS / "glossary.zh.md").read_text())}
    terms = {t for t in terms if len(CJK.findall(t)) >= 3 and not re.search(r"[\s、]", t)} - {"术语"}
    assert terms - words == set()


# --- the generated pages ---------------------------------------------------------------


@pytest.mark.parametrize(("language", "page"), OWN)
def test_a_translated_page_is_generated_and_marked(language, page):
    text = (DOCS / f"{page}.{language}.md").read_text()
    first = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S).splitlines()[0]  # after any front matter
    assert first.startswith(f"<!-- Generated by `python -m derive docs` from templates/pages/{page}.md.j2")
    assert f"templates/locale/{language}/LC_MESSAGES/messages.po" in first and "Do not edit" in first


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_english_page_has_its_translation(language):
    missing = [page for page in PAGES if page not in i18n.TRANSLATED[language]]
    assert not missing, f"pages of the site not in the {language} edition: {missing}"
    assert all((DOCS / f"{page}.{language}.md").is_file() for page in PAGES)


@pytest.mark.parametrize(("language", "page"), EDITIONS)
def test_every_translated_page_has_its_english_page(language, page):
    assert page in PAGES and (DOCS / f"{page}.md").is_file()


@pytest.mark.parametrize(("language", "page"), OWN)
def test_a_translated_page_reads_in_chinese(language, page):
    cjk, latin = _letters(_prose(_article(language, page)))
    assert cjk > latin, f"{cjk} CJK characters against {latin} Latin letters"


@pytest.mark.parametrize(("language", "page"), OWN)
def test_no_line_of_a_translated_page_is_left_in_english(language, page):
    """Each line (each cell of a table) with a word of English has some Chinese too, unless
    its words are names; the English column of the table of terms is English on purpose."""
    left = []
    for line in _prose(_article(language, page)).splitlines():
        cells = line.strip().strip("|").split("|") if line.lstrip().startswith("|") else [line]
        if page == "terms" and len(cells) == 4:
            cells = [cells[0], *cells[2:]]
        for cell in cells:
            words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", cell)} - NAMES
            if words and not CJK.search(cell) and not cell.strip().startswith(("===", "!!!")):
                left.append(cell.strip())
    assert left == []


# A full-width stop, comma, colon or semicolon followed by a space, before more text (a space
# before a table's next cell is the Markdown's).
SPACED_STOP = re.compile(r"[，。：；！？、] +(?=[^\s|])")


@pytest.mark.parametrize(("language", "page"), OWN)
def test_no_space_follows_a_full_width_stop(language, page):
    """A template joins sentences and clauses with a space, as English writes them: a caption
    and the sentence that says what drew it, the clauses of a list, a label and its formula.
    Chinese puts none after a full-width stop (derive.render's `sentences` filter takes it out
    of a caption; a message that ends in one takes what follows as a variable)."""
    text = re.sub(r"```.*?```", " ", (DOCS / f"{page}.{language}.md").read_text(), flags=re.S)
    assert [text[m.start() - 20 : m.end() + 20] for m in SPACED_STOP.finditer(text)] == []


def test_a_caption_keeps_its_space_after_a_latin_full_stop():
    from derive.render import environment

    joined = environment().from_string("{{ (a ~ ' ' ~ b) | sentences }}")
    assert joined.render(a="One sentence.", b="Drawn.") == "One sentence. Drawn."
    assert joined.render(a="一句话。", b="运行模块绘制。") == "一句话。运行模块绘制。"
    assert joined.render(a="拆分：", b="\\(k\\)") == "拆分：\\(k\\)"


def test_an_image_described_by_its_caption_has_no_formula_or_tag_in_its_alt_text():
    """The Markdown's maths extension would typeset a formula inside an alt attribute and break
    the tag: a translated figure's alt text is its caption with each formula's bare letters."""
    from derive.render import environment

    alt = environment().from_string("{{ caption | plain }}")
    caption = '梯度 <span class="arithmatex">\\(\\mathbf{s}\\)</span> 与 \\(\\tilde{\\mathbf{s}}_t\\)'
    assert alt.render(caption=caption) == "梯度 s 与 s_t"
    for page in ("bptt", "variants", "compare"):
        for text in re.findall(r'alt="([^"]*)"', (DOCS / f"{page}.zh.md").read_text()):
            assert "\\(" not in text and "<" not in text and CJK.search(text), text


def test_an_untranslated_message_shows_and_is_caught(monkeypatch):
    """The test above would see a message the catalogue lacks: rendered with an empty
    catalogue, the notation page is English."""
    import gettext

    from derive.render import environment

    monkeypatch.setattr(i18n, "translations", lambda language: gettext.NullTranslations())
    text = (
        environment(i18n.translations("zh"))
        .get_template("pages/notation.md.j2")
        .render(page="notation", language="zh", **_notation_context())
    )
    cjk, latin = _letters(_prose(text))
    assert cjk == 0 and latin > 1000


def test_the_cells_titles_a_page_translates_are_the_catalogues():
    """The BPTT page gives each cell's title as a message (a translation has its own words
    for it): in English they are the titles of derive/catalogue/, as the cells have them."""
    from derive.catalogue import CATALOGUE

    headings = re.findall(r"^## (.+?) \{ #", (DOCS / "bptt.md").read_text(), re.M)
    after = headings.index("The recurrences") + 1  # the cells' sections follow the recurrences
    assert [CATALOGUE[name].title for name in ("rnn", "lstm", "gru")] == headings[after : after + 3]


def _notation_context() -> dict:
    from derive.catalogue import CATALOGUE
    from derive.printing.context import cell_context
    from derive.site import conventions

    return {"cells": {"gru": cell_context(CATALOGUE["gru"])}, "conventions": conventions.context()}


# --- the site's configuration -------------------------------------------------------------


def _mkdocs() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)


def _pages(nav) -> list[str]:
    return [next(iter(entry.values())).removesuffix(".md") for entry in nav]


def test_each_edition_lists_the_english_pages_in_their_order():
    """The Chinese nav is its own list (its titles are Chinese): it must keep the English
    pages and their order, with the Chinese edition's own pages added."""
    config = _mkdocs()
    english = _pages(config["nav"])
    assert english == list(PAGES) or set(english) == set(PAGES)
    plugin = next(p["i18n"] for p in config["plugins"] if isinstance(p, dict) and "i18n" in p)
    for language in plugin["languages"]:
        if language.get("default"):
            continue
        own = _pages(language["nav"])
        assert [p for p in own if p not in i18n.ONLY[language["locale"]]] == english, language["locale"]
        assert set(i18n.ONLY[language["locale"]]) <= set(own)
