"""MkDocs hooks of the site's editions (mkdocs.yml, `hooks:`), beside the i18n plugin.

The plugin builds one edition per language from docs/ (page.md in English, page.zh.md
in Chinese).  A page an edition has not translated yet is its English page: these hooks
put a note in the edition's language under its title.  The plugin links the language
switch to the same page in the other edition, or else to the other edition's home with a
path from the site's root (``/index.html``): that one is made relative to the page, so
that the switch works wherever the site is served, in a folder or from files.  The
theme reads each edition's sitemap.xml, which the plugin writes for the English one only:
the other editions get a copy (it lists the pages of both).
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.plugins import event_priority

# jieba, which cuts the Chinese pages into words for the search index, says on stderr at
# DEBUG level that it loads its dictionary: not a message for the build's reader.
logging.getLogger("jieba").setLevel(logging.INFO)

# The note over an English page in another edition, by language.
UNTRANSLATED = {
    "zh": '!!! note "尚未翻译"\n\n    本页还没有译成中文，下面是英文原文。\n',
}


def _editions(config):
    """The i18n plugin, or None when the site is built without it."""
    return config.plugins.get("i18n")


def on_page_markdown(markdown: str, page, config, files) -> str:
    plugin = _editions(config)
    language = plugin and plugin.current_language
    shown = getattr(page.file, "locale", language)
    if not language or shown == language or language not in UNTRANSLATED:
        return markdown
    # Under the page's title (the first "# " line), else at its top.
    title = re.search(r"^# .*\n", markdown, re.M)
    at = title.end() if title else 0
    return f"{markdown[:at]}\n{UNTRANSLATED[language]}\n{markdown[at:]}"


# The theme's language switch: <a href="/index.html" hreflang="en" ...>.
SWITCH = re.compile(r'(<a href=")(/[^"]*)(" hreflang=")')


# A figure in a page's own HTML (<img src>, <source srcset>): docs/figures/ is built once, at
# the site's root, and the pages of every edition show the same files, but for a figure drawn
# in the edition's language (figures/<name>.<lang>.svg), which the plugin's suffix structure
# copies into the edition's folder under the English name (zh/figures/<name>.svg).
FIGURE = re.compile(r'((?:src|srcset)=")figures/([^"]+)')


@event_priority(-100)  # after the plugin and the theme have written the page
def on_post_page(output: str, page, config) -> str:
    """A link of the language switch from the site's root, made relative to the page (the
    plugin sets the links in its page context, after hooks that would change them there);
    and in another edition's folder, the figures taken from the root's figures/ (the page's
    HTML is left as written, so ``figures/`` would point into zh/), but those the edition
    has drawn in its own language."""
    folder = posixpath.dirname(f"/{page.url}")  # the page's URL from the site's root: zh/notation.html
    output = SWITCH.sub(lambda m: m[1] + posixpath.relpath(m[2], folder) + m[3], output)
    plugin = _editions(config)
    if folder != "/" and plugin:
        own = Path(config.docs_dir) / "figures"

        def shared(m: re.Match) -> str:
            name = Path(m[2])
            if (own / f"{name.stem}.{plugin.current_language}{name.suffix}").is_file():
                return m[0]
            return f"{m[1]}{posixpath.relpath('/', folder)}/figures/{m[2]}"

        output = FIGURE.sub(shared, output)
    return output


@event_priority(-100)
def on_post_build(config) -> None:
    plugin = _editions(config)
    if not plugin:
        return
    # The plugin runs this after each edition, with the site's root as site_dir.
    root = Path(config.site_dir)
    for language in plugin.config.languages:
        folder = root / language.link.strip("/")
        if folder != root and folder.is_dir() and (root / "sitemap.xml").is_file():
            (folder / "sitemap.xml").write_bytes((root / "sitemap.xml").read_bytes())
