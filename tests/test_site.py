"""The built site, read in a real browser (Chromium through Playwright; tests/browser.py finds it).

The site is built once per test session with `python -m derive build`, in a
temporary copy of the sources so that the checkout's docs/ and site/ are left
alone; under pytest-xdist the first worker builds while holding a file lock and
the others reuse its result.  The site is served on 127.0.0.1 and every page is
checked: it loads with no errors, its math is typeset by the KaTeX the site
serves itself, its figures load, and nothing is fetched from anywhere else.
Full-page screenshots go to artifacts/.

DERIVE_TEST_SITE=path/to/site runs the same checks on an already built site
instead (no build), e.g. `DERIVE_TEST_SITE=site python -m pytest tests/test_site.py`.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import browser
import numpy as np
import pytest
from PIL import Image

from derive.site import i18n
from derive.site.pages import PAGES  # every page the site has

# The pages each other edition has in its own words, by their path in the site (zh/notation).
EDITIONS = [f"{language}/{page}" for language in i18n.LANGUAGES for page in i18n.pages(language)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
# Pages with figures, SVGs under figures/.
FIGURES = {"rnn", "lstm", "gru", "gradients", "training", "variants", "recurrences", "compare"}
# The cell diagrams (derive/site/diagrams.py) each page shows, under figures/.
DIAGRAMS = {
    "rnn": {"diagram_rnn"},
    "lstm": {"diagram_lstm", "diagram_lstm_o", "diagram_lstm_i", "diagram_lstm_f", "diagram_lstm_s_tilde"}
    | {f"diagram_lstm_belt{k}" for k in (1, 2, 3)},
    "gru": {"diagram_gru", "diagram_gru_o", "diagram_gru_i", "diagram_gru_s_tilde"},
    "variants": {
        f"diagram_{name}"
        for name in ("lstm_without_forget_gate", "lstm_peephole", "lstm_coupled", "gru_torch", "mgu")
    }
    | {"diagram_indrnn"},
}
FEW_FORMULAS = {"code", "references"}  # pages with few formulas; every other page has many
UNTYPESET = ("\\(", "\\[", "$$", "\\mathbf")

pytestmark = pytest.mark.slow


# --- building -----------------------------------------------------------------


def _not_katex(directory, names):
    """docs/assets/katex is a copy from node_modules that the build makes again."""
    return ["katex"] if Path(directory) == ROOT / "docs" / "assets" else []


def _copy_sources(dest: Path) -> None:
    """What `python -m derive build` reads, copied; node_modules linked."""
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "derive", dest / "derive", ignore=skip)
    shutil.copytree(ROOT / "templates", dest / "templates")
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=_not_katex)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    shutil.copy2(ROOT / "babel.cfg", dest / "babel.cfg")
    if (ROOT / "records").is_dir():
        shutil.copytree(ROOT / "records", dest / "records")
    if (ROOT / "node_modules").is_dir():
        (dest / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)


def _build(shared: Path) -> dict:
    """Build the site once for the whole session; returns {"ok", "site", "output"}."""
    done = shared / "site-build.json"
    with open(shared / "site-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return json.loads(done.read_text())
        copy = Path(tempfile.mkdtemp(prefix="site-", dir=shared))
        _copy_sources(copy)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")]))
        )
        out = subprocess.run(
            [sys.executable, "-m", "derive", "build"], cwd=copy, env=env, capture_output=True, text=True
        )
        result = {
            "ok": out.returncode == 0 and (copy / "site" / "index.html").exists(),
            "site": str(copy / "site"),
            "output": out.stdout + out.stderr,
        }
        done.write_text(json.dumps(result))
        return result


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@dataclass
class Site:
    """The served site and a browser, or why there are none."""

    problem: str | None = None
    base: str = ""
    browser: object = None

    def require(self):
        if self.problem:
            pytest.fail(self.problem, pytrace=False)
        return self


@pytest.fixture(scope="session")
def playwright():
    """One Playwright per worker: its sync API cannot be started twice in one thread."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def site(tmp_path_factory, playwright):
    try:
        chromium = browser.find()
    except browser.BrowserMissing as missing:
        yield Site(str(missing))
        return
    if os.environ.get("DERIVE_TEST_SITE"):
        built = {"ok": True, "site": str(Path(os.environ["DERIVE_TEST_SITE"]).resolve())}
    else:
        base = tmp_path_factory.getbasetemp()
        built = _build(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    if not built["ok"]:
        yield Site(f"`python -m derive build` failed:\n{built['output']}")
        return
    if not (Path(built["site"]) / "index.html").exists():
        yield Site(f"no site to test: {built['site']} has no index.html")
        return

    handler = functools.partial(_QuietHandler, directory=built["site"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    started = chromium.launch(playwright)
    try:
        yield Site(base=f"http://127.0.0.1:{server.server_address[1]}/", browser=started)
    finally:
        started.close()
        server.shutdown()
        server.server_close()


# --- visiting -----------------------------------------------------------------


@dataclass
class Visit:
    page: object
    status: int | None
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def visit(site):
    """visit(name) opens site/name.html in a fresh context and records what happens."""
    contexts = []

    def open_page(name: str, **context_options) -> Visit:
        site.require()
        context = site.browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
        contexts.append(context)
        page = context.new_page()
        record = Visit(page, None)
        page.on("request", lambda r: record.requests.append(r.url))
        page.on("requestfailed", lambda r: record.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and record.failed.append(f"{r.url}: HTTP {r.status}"))
        page.on("console", lambda m: m.type == "error" and record.console_errors.append(m.text))
        page.on("pageerror", lambda e: record.page_errors.append(str(e)))
        # Nothing leaves this machine: requests elsewhere are recorded (above) and refused.
        context.route(
            lambda url: not url.startswith(site.base) and not url.startswith("data:"),
            lambda route: route.abort(),
        )
        response = page.goto(site.base + f"{name}.html", wait_until="networkidle")
        record.status = response.status if response else None
        return record

    yield open_page
    for context in contexts:
        context.close()


def _failed(v: Visit) -> list[str]:
    """The page's requests that failed. Chromium aborts a request it no longer needs (a
    <picture> source it dropped once the layout settled, say): such a request counts only
    if the site does not serve it when asked again."""
    aborted = ": net::ERR_ABORTED"
    return [
        f
        for f in v.failed
        if not (f.endswith(aborted) and v.page.request.get(f.removesuffix(aborted)).status == 200)
    ]


def _untypeset(page) -> list[str]:
    """Raw TeX a reader would see, each with some text around it."""
    text = page.evaluate("document.body.innerText")
    found = []
    for mark in UNTYPESET:
        at = text.find(mark)
        if at >= 0:
            found.append(f"{mark!r} in ...{' '.join(text[max(0, at - 60) : at + 80].split())}...")
    return found


# --- tests --------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PAGES, *EDITIONS])
def test_page_loads_offline_with_math_and_figures(visit, site, name):
    v = visit(name)
    page = v.page
    own = name.split("/")[-1]  # the page, in whichever edition (zh/compare is compare)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '-')}.png"), full_page=True)

    assert v.status == 200
    elsewhere = [u for u in v.requests if not (u.startswith(site.base) or u.startswith("data:"))]
    assert elsewhere == [], "requests to other hosts"
    assert _failed(v) == []
    assert v.console_errors == []
    assert v.page_errors == []

    assert page.locator("form[data-md-component=palette] input[name=__palette]").count() == 2
    assert page.locator("input.md-search__input").count() == 1

    katex = page.locator(".katex").count()
    assert katex >= (1 if own in FEW_FORMULAS else 5), f"{katex} typeset formulas"
    assert page.locator(".katex-error").count() == 0
    left = _untypeset(page)
    assert not left, "untypeset TeX in the visible text:\n" + "\n".join(left)

    # An image still loading (the full-page screenshot re-lays the page out) is waited for;
    # one that failed is complete with no width, and is reported below.
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15000)
    images = page.evaluate("""Array.from(document.images).map(i => ({
        src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 }))""")
    assert [i["src"] for i in images if not i["ok"]] == [], "images that did not load"
    # An edition's page is a folder down: its figures are ../figures/.
    figures = [i["src"] for i in images if "figures/" in i["src"] and i["src"].endswith(".svg")]
    assert len(figures) >= (1 if own in FIGURES else 0)
    shown = {src.split("figures/")[-1].removesuffix(".svg") for src in figures}
    assert DIAGRAMS.get(own, set()) <= shown, "cell diagrams missing"
    alts = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.alt])")
    if own == name:
        assert all(alt.startswith("Data flow of one step") for src, alt in alts if "/diagram_" in src)
    else:  # another edition describes a figure in its own words: the caption it translated
        assert all(_cjk_share(alt) > 0 for src, alt in alts if "figures/" in src), alts


PHONE = {"width": 390, "height": 844}
# Blocks that may scroll sideways inside a page (docs/javascripts/scroll.js marks them).
SCROLLERS = "div.arithmatex, .md-typeset__scrollwrap, figure.diagram > p"

# Each drawing on the page: its rendered width, and from its SVG the drawn width and the
# smallest text (a diagram's style sheet, a figure's data-smallest-text), in the SVG's units.
DRAWINGS = """async () => {
  const out = [];
  for (const img of document.querySelectorAll("figure img")) {
    const src = img.currentSrc || img.src;
    if (!src.endsWith(".svg")) continue;
    const svg = await (await fetch(src)).text();
    const box = svg.match(/viewBox="0 0 ([0-9.]+) /);
    const sizes = [...svg.matchAll(/font-size:\\s*([0-9.]+)px/g)].map(m => parseFloat(m[1]));
    const marked = svg.match(/data-smallest-text="([0-9.]+)"/);
    if (marked) sizes.push(parseFloat(marked[1]));
    out.push({src: src.split("/").pop(), shown: img.getBoundingClientRect().width,
              drawn: parseFloat(box[1]), smallest: Math.min(...sizes)});
  }
  return out;
}"""


def _small_text(drawings) -> list[str]:
    return [
        f"{d['src']}: {d['smallest'] * d['shown'] / d['drawn']:.1f} px"
        for d in drawings
        if d["smallest"] * d["shown"] / d["drawn"] < 11.95  # rounding of the rendered width
    ]


@pytest.mark.parametrize("name", [*PAGES, *EDITIONS])
def test_a_phone_sees_every_page_whole_with_text_of_12_px(visit, name):
    v = visit(name, viewport=PHONE)
    page = v.page
    page.wait_for_timeout(100)  # scroll.js runs on the frame after typesetting
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], "the page scrolls sideways"
    unmarked = page.evaluate(
        """s => [...document.querySelectorAll(s)]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .filter(e => !e.classList.contains("scrolls")
                         || !(e.nextElementSibling && e.nextElementSibling.classList.contains("scroll-hint")))
            .map(e => e.className + ": " + e.innerText.slice(0, 60))""",
        SCROLLERS,
    )
    assert unmarked == [], "blocks that scroll sideways with no cue"
    drawings = page.evaluate(DRAWINGS)
    assert _small_text(drawings) == [], "text under 12 px at 390 px wide"
    if name == "bptt":  # the unrolled diagrams switch to their tall form
        assert {d["src"] for d in drawings} >= {f"unrolled_{c}_tall.svg" for c in ("rnn", "lstm", "gru")}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '-')}-390.png"), full_page=True)


# Every picture in the article: where it is drawn, and whether it needs scrolling to be seen.
PICTURES = """w => [...document.querySelectorAll(
    "article img, article svg, article picture, article figure, article figure > p")]
  .filter(e => !e.closest(".katex"))
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0
                      && (r.left < -0.5 || r.right > w + 0.5 || e.scrollWidth > e.clientWidth + 1))
  .map(([e, r]) => `${e.tagName} ${e.currentSrc || e.getAttribute("src") || e.className}:`
                   + ` ${r.left.toFixed(0)}..${r.right.toFixed(0)},`
                   + ` scrolls ${e.scrollWidth}/${e.clientWidth}`)"""


@pytest.mark.parametrize("name", [*PAGES, *EDITIONS])
def test_no_picture_in_an_article_is_wider_than_a_phone(visit, name):
    # Cell diagrams and unrolled steps switch to their tall forms; figures stack their panels.
    # (Equations, tables and code wider than the screen scroll inside themselves, with a cue.)
    page = visit(name, viewport=PHONE).page
    page.wait_for_timeout(100)
    assert page.evaluate("document.querySelector('article').scrollWidth") <= PHONE["width"]
    assert page.evaluate(PICTURES, PHONE["width"]) == []
    shown = page.evaluate("[...document.querySelectorAll('figure.diagram img')].map(i => i.currentSrc)")
    assert all(src.endswith("_tall.svg") for src in shown), "a diagram in its wide form on a phone"


# The glyphs of each formula with a matrix in it, as boxes: no two of them may overlap.
COLLISIONS = """() => {
  const out = [];
  let checked = 0;
  for (const math of document.querySelectorAll("div.arithmatex")) {
    const tex = math.querySelector("annotation");
    if (!tex || !["{pmatrix}", "{bmatrix}"].some(m => tex.textContent.includes(m))) continue;
    checked += 1;
    const boxes = [...math.querySelectorAll(".katex-html .mord, .katex-html .frac-line")]
      .filter(e => !e.querySelector(".mord, .frac-line"))
      .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
    for (let a = 0; a < boxes.length; a++)
      for (let b = a + 1; b < boxes.length; b++) {
        const p = boxes[a], q = boxes[b];
        const x = Math.min(p.right, q.right) - Math.max(p.left, q.left);
        const y = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        if (x > 1 && y > 1) out.push(math.innerText.slice(0, 40));
      }
  }
  return [checked, [...new Set(out)]];
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_lstm_block_jacobian_has_rows_that_do_not_collide(visit, width):
    page = visit("lstm", viewport={"width": width, "height": 900}).page
    checked, collisions = page.evaluate(COLLISIONS)
    assert checked >= 1 and collisions == []


WITH_DRAWINGS = ["rnn", "lstm", "gru", "bptt", "gradients", "variants", "recurrences"]


@pytest.mark.parametrize(
    "name", [*WITH_DRAWINGS, *(f"{lang}/{p}" for lang in i18n.LANGUAGES for p in WITH_DRAWINGS)]
)
def test_a_wide_screen_shows_figures_and_diagrams_with_text_of_12_px(visit, name):
    page = visit(name).page
    name = name.rsplit("/", 1)[-1]  # an edition's page shows its own drawings under the same names
    drawings = page.evaluate(DRAWINGS)
    assert drawings
    assert _small_text(drawings) == []
    if name == "recurrences":
        wanted = {"recurrences-1.svg", "recurrences-2.svg", "scan.svg", "recurrences_race.svg"}
        assert {d["src"] for d in drawings} >= wanted
    if name == "bptt":
        assert {d["src"] for d in drawings} >= {f"unrolled_{c}.svg" for c in ("rnn", "lstm", "gru")}
    if name == "rnn":
        assert "unrolled_rnn_weights.svg" in {d["src"] for d in drawings}
    if name == "lstm":  # a figure's two panels side by side
        tops = page.evaluate(
            "[...document.querySelectorAll('figure.derived')[0].querySelectorAll('img')]"
            ".map(i => i.getBoundingClientRect().top)"
        )
        assert len(tops) == 2 and tops[0] == tops[1]


def test_dark_palette_turns_diagrams_light_and_keeps_figures_on_white(visit):
    page = visit("bptt", color_scheme="dark").page
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    filters = page.evaluate(
        "[...document.querySelectorAll('figure.diagram img')].map(i => getComputedStyle(i).filter)"
    )
    assert filters and all("invert(1)" in f for f in filters)
    page = visit("lstm", color_scheme="dark").page
    backgrounds = page.evaluate(
        "[...document.querySelectorAll('figure.derived img')].map(i => getComputedStyle(i).backgroundColor)"
    )
    assert backgrounds and set(backgrounds) == {"rgb(255, 255, 255)"}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lstm-dark-figures.png"), full_page=True)


@pytest.mark.parametrize("name", [*PAGES, *EDITIONS])
def test_how_a_page_is_checked_is_one_folded_note_at_its_end(visit, name):
    """The build notes are out of the lessons: at most one "How this page is checked" note,
    closed until opened, and nothing of the article after it."""
    found = visit(name, viewport=PHONE).page.evaluate("""() => {
      const notes = [...document.querySelectorAll("article details")].filter(d =>
        /^(How this page is checked|本页如何检验)$/.test(d.querySelector("summary").innerText.trim()));
      const blocks = [...document.querySelectorAll("article > *")].filter(e =>
        !e.matches("footer, aside, nav, script, .md-source-file, a.md-content__button"));
      return {count: notes.length, open: notes.map(n => n.open),
              last: notes.length ? blocks[blocks.length - 1] === notes[0] : null};
    }""")
    assert found["count"] <= 1
    if found["count"]:
        assert found["open"] == [False] and found["last"], found


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_worked_example_shows_the_modules_numbers(visit, cell):
    """The worked page, read in the browser, holds the numbers the generated module computes
    for the same problem, here redone in the test: the last state and every parameter's
    gradient, as the page rounds them."""
    from derive.codegen.modules import generated
    from derive.site import worked

    params, x, state, d_outputs = worked.problem(cell)
    module = generated(cell)
    outputs, cache = module.forward(params, x, state)
    d_params, _, _ = module.backward(cache, d_outputs)
    text = visit("worked", viewport=PHONE).page.evaluate("document.body.innerText")
    cells = set(text.split())
    wanted = [worked.number(float(v)) for v in outputs[worked.LOSS[cell]][-1].ravel()]
    wanted += [worked.number(float(v)) for v in d_params["b"].ravel()]
    assert [w for w in wanted if w not in cells] == []


def test_the_rnn_page_shows_the_unrolled_rnn_with_w_and_u_whole_on_a_phone(visit):
    page = visit("rnn", viewport=PHONE).page
    shown = page.evaluate(
        """[...document.querySelectorAll('figure.diagram img')].map(i => {
             const r = i.getBoundingClientRect();
             return {src: i.currentSrc.split('/').pop(), left: r.left, right: r.right, alt: i.alt};
           })"""
    )
    (figure,) = [s for s in shown if s["src"].startswith("unrolled_rnn_weights")]
    assert figure["src"] == "unrolled_rnn_weights_tall.svg"
    assert 0 <= figure["left"] and figure["right"] <= PHONE["width"]
    svg = page.request.get(page.url.rsplit("/", 1)[0] + "/figures/unrolled_rnn_weights_tall.svg").text()
    labels = ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")
    assert sorted(t.text for t in labels if t.text in ("W", "U")) == ["U"] * 3 + ["W"] * 3


def test_the_bptt_page_shows_the_one_unit_example_as_a_plain_loop_computes_it(visit):
    """The scalar example's forward values, δ's and gradients, redone here with math.tanh and
    the chain rule written out by hand, as the page rounds them."""
    import math

    from derive.site import scaffold

    w, u, b = scaffold.W, scaffold.U, scaffold.B
    s = [scaffold.S0]
    for x in scaffold.XS:
        s.append(math.tanh(w * s[-1] + u * x + b))
    d_s = s[-1] - scaffold.TARGET
    wanted = [s[1], s[2], s[3], d_s]
    d_w = d_u = d_b = 0.0
    for t in range(len(scaffold.XS), 0, -1):
        d_z = d_s * (1 - s[t] ** 2)
        d_w, d_u, d_b = d_w + d_z * s[t - 1], d_u + d_z * scaffold.XS[t - 1], d_b + d_z
        d_s = w * d_z
        wanted += [d_z, w * (1 - s[t] ** 2), d_s]
    wanted += [d_w, d_u, d_b]
    text = visit("bptt", viewport=PHONE).page.evaluate("document.querySelector('article').innerText")
    found = set(re.findall(r"\d+\.\d{4}", text))  # unsigned: KaTeX writes − for minus
    assert [f"{abs(v):.4f}" for v in wanted if f"{abs(v):.4f}" not in found] == []


def test_palette_toggle_switches_to_dark_and_back(visit):
    page = visit("lstm", color_scheme="light").page
    scheme = lambda: page.evaluate("document.body.getAttribute('data-md-color-scheme')")  # noqa: E731
    assert scheme() == "default"
    toggle = page.locator("form[data-md-component=palette] label:visible")
    assert toggle.count() == 1
    toggle.click()
    assert scheme() == "slate"
    page.wait_for_timeout(300)  # the theme's colour transition
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lstm-dark.png"), full_page=True)
    page.locator("form[data-md-component=palette] label:visible").click()
    assert scheme() == "default"


def test_search_box_finds_pages_offline(visit, site):
    v = visit("index")
    page = v.page
    box = page.locator("input.md-search__input")
    assert box.count() == 1
    box.click()
    box.press_sequentially("forget")  # the theme searches on key events
    results = page.locator(".md-search-result__item a[href*='lstm.html']")
    results.first.wait_for(timeout=10_000)
    assert v.console_errors == [] and v.page_errors == []
    assert all(u.startswith(site.base) or u.startswith("data:") for u in v.requests)


# --- the gate explorer -----------------------------------------------------------


def _expected(name, biases, scale):
    """The explorer's two plots as the NumPy module computes them for these sliders: the
    first state at every step (T, n) and ‖∂L/∂s_{T-k}‖ for k = 1..T, L = gᵀ(last output)."""
    from derive.codegen.modules import generated
    from derive.site.explorer import problem

    m = generated(name)
    params, x, g = problem(name)
    params = {k: v * scale if k == "W" or k.startswith("W_") else v for k, v in params.items()}
    params |= {k: np.full_like(params[k], v) for k, v in biases.items()}
    outputs, _ = m.forward(params, x)
    norms = []
    for k in range(1, len(x) + 1):  # the state after step T-k is where a run of k steps starts
        start = {s: outputs[s][len(x) - k - 1] for s in m.STATES} if k < len(x) else None
        _, cache = m.forward(params, x[len(x) - k :], start)
        d = np.zeros((k, *g.shape))
        d[-1] = g
        _, _, d_state = m.backward(cache, {m.STATES[-1]: d})
        norms.append(np.linalg.norm(d_state[m.STATES[0]]))
    return outputs[m.STATES[0]][:, 0], np.array(norms)


def _plotted(page):
    """What the explorer's plots draw, read from their lines: (T, n) states and the norms."""
    units = page.locator("svg[data-plot=state] path.gate-explorer__unit")
    states = np.array([json.loads(units.nth(j).get_attribute("data-values")) for j in range(units.count())]).T
    norms = page.locator("svg[data-plot=gradient] path.gate-explorer__norm").get_attribute("data-values")
    return states, np.array(json.loads(norms))


def _agrees(page, name, biases, scale):
    from derive.verification.numeric import relative_error

    states, norms = _plotted(page)
    want_states, want_norms = _expected(name, biases, scale)
    assert relative_error(states, want_states) <= 1e-12
    # Relative to each norm: they span ten orders of magnitude.
    assert np.max(np.abs(norms / want_norms - 1)) <= 1e-9
    return norms


# The explorer in each edition: one script, the words the page's (the Chinese edition's own).
EXPLORERS = ["explorer", *(f"{language}/explorer" for language in i18n.LANGUAGES)]


def _caption_norm(page, k: int) -> float:
    """The norm the lower plot's caption prints for k steps back (the first, the shown line)."""
    caption = page.locator("svg[data-plot=gradient] + figcaption").inner_text()
    return float(re.search(rf"k = {k}: ([-+0-9.e]+\d)", caption)[1])


@pytest.mark.parametrize("edition", EXPLORERS)
def test_explorer_sliders_recompute_the_plots_as_numpy_says(visit, edition):
    v = visit(edition)
    page = v.page
    assert page.locator("div.gate-explorer[data-cell=lstm]").count() == 1
    start = _agrees(page, "lstm", {"b_o": 0.0, "b_i": 0.0, "b_f": 0.0}, 1.0)
    page.locator("input[data-name=b_f]").fill("3")
    held = _agrees(page, "lstm", {"b_o": 0.0, "b_i": 0.0, "b_f": 3.0}, 1.0)
    # The forget gate held near σ(3) carries the gradient 50 steps back a million times better.
    assert held[-1] > 1e6 * start[-1]
    assert page.locator("label:has(input[data-name=b_f]) output").text_content() == "3.00 (σ = 0.95)"
    page.locator("input[data-name=scale]").fill("2")
    _agrees(page, "lstm", {"b_o": 0.0, "b_i": 0.0, "b_f": 3.0}, 2.0)

    page.locator("input[name=gate-explorer-cell][value=gru]").check()
    assert page.locator("input[data-name=b_f]").count() == 0  # the GRU has no forget gate
    gru_start = _agrees(page, "gru", {"b_o": 0.0, "b_i": 0.0}, 1.0)
    page.locator("input[data-name=b_i]").fill("-3")
    gru_kept = _agrees(page, "gru", {"b_o": 0.0, "b_i": -3.0}, 1.0)
    assert gru_kept[-1] > 1e6 * gru_start[-1]
    # Each cell keeps its own sliders.
    page.locator("input[name=gate-explorer-cell][value=lstm]").check()
    norms = _agrees(page, "lstm", {"b_o": 0.0, "b_i": 0.0, "b_f": 3.0}, 2.0)
    # The caption prints the last norm with two digits.
    assert abs(_caption_norm(page, 50) / norms[-1] - 1) < 0.05
    page.locator("button.gate-explorer__reset").click()
    assert page.locator("input[data-name=b_f]").input_value() == "0"
    assert np.array_equal(_agrees(page, "lstm", {"b_o": 0.0, "b_i": 0.0, "b_f": 0.0}, 1.0), start)
    assert v.console_errors == [] and v.page_errors == []


def _luminance(css: str) -> float:
    r, g, b = (int(c) for c in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("edition", EXPLORERS)
def test_explorer_in_the_dark_palette_at_390_pixels(visit, edition):
    v = visit(edition, color_scheme="dark")
    page = v.page
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("document.querySelector('svg[data-plot=state]').getAttribute('width') < 390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("div.gate-explorer").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    for plot in ("state", "gradient"):
        svg = page.locator(f"svg[data-plot={plot}]").bounding_box()
        assert svg["x"] >= box["x"] and svg["x"] + svg["width"] <= box["x"] + box["width"] + 0.5
    for slider in page.locator("input[type=range]").all():
        r = slider.bounding_box()
        assert r["x"] + r["width"] <= 390
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.querySelector('svg[data-plot=state] text')).fill")
    unit = page.evaluate("getComputedStyle(document.querySelector('path.gate-explorer__unit')).stroke")
    assert _luminance(background) < 0.25 and _luminance(text) > 0.6 and _luminance(unit) > 0.4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{edition.replace('/', '-')}-dark-390.png"), full_page=True)
    assert v.console_errors == [] and v.page_errors == []


def test_code_blocks_have_a_copy_button(visit):
    page = visit("code").page
    blocks = page.locator("pre > code").count()
    assert blocks >= 1
    # mkdocs-material adds the buttons in the browser (content.code.copy); older releases call them
    # .md-clipboard, current ones .md-code__button[data-md-type=copy].
    buttons = page.locator("button.md-clipboard, button.md-code__button[data-md-type=copy]").count()
    assert buttons == blocks


# The site's own search worker (lunr, as mkdocs-material configures it) run by Node on the
# built search_index.json: the ranking the search box shows, without a browser.
SEARCH = """
const fs = require("fs"), path = require("path"), vm = require("vm");
const [site, ...queries] = process.argv.slice(2);
const dir = path.join(site, "assets/javascripts/workers");
const worker = fs.readdirSync(dir).find(f => /^search\\..*\\.js$/.test(f));
let handler; const out = [];
const scope = { console, addEventListener: (type, f) => { handler = f; }, postMessage: m => out.push(m) };
scope.self = scope;
// The worker loads lunr's languages (the site indexes English and Chinese) with importScripts,
// from paths relative to its own file.
scope.importScripts = (...urls) =>
  urls.forEach(url => vm.runInContext(fs.readFileSync(path.join(dir, url), "utf8"), scope));
vm.createContext(scope);
vm.runInContext(fs.readFileSync(path.join(dir, worker), "utf8"), scope);
const index = JSON.parse(fs.readFileSync(path.join(site, "search/search_index.json"), "utf8"));
(async () => {
  await handler({ data: { type: 0, data: { ...index, options: { suggest: false } } } });  // SETUP
  const pages = {};
  for (const query of queries) {
    await handler({ data: { type: 2, data: query } });  // QUERY
    pages[query] = out.pop().data.items.map(group => group[0].location.split("#")[0]);
  }
  console.log(JSON.stringify(pages));
})();
"""


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The built site's folder (the same build the browser tests serve)."""
    if os.environ.get("DERIVE_TEST_SITE"):
        return Path(os.environ["DERIVE_TEST_SITE"]).resolve()
    base = tmp_path_factory.getbasetemp()
    built = _build(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    if not built["ok"]:
        pytest.fail(f"`python -m derive build` failed:\n{built['output']}", pytrace=False)
    return Path(built["site"])


def _search(site: Path, queries, tmp_path) -> dict[str, list[str]]:
    """{query: the pages the search box lists for it, best first}."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("no `node` on PATH (the one `npm ci` uses runs the site's search worker)", pytrace=False)
    script = tmp_path / "search.js"
    script.write_text(SEARCH)
    out = subprocess.run([node, str(script), str(site), *queries], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_search_finds_the_page_that_defines_a_word_first(built_site, tmp_path):
    gates = ["forget gate", "input gate", "output gate"]
    found = _search(
        built_site, ["peephole", "reset gate", "update gate", "rnn", "truncated", *gates], tmp_path
    )
    assert all(found[gate][0] == "lstm.html" for gate in gates), found
    assert found["peephole"][0] == "variants.html", found
    assert found["reset gate"][0] == "gru.html", found
    assert found["update gate"][0] == "gru.html", found
    assert found["rnn"][0] == "rnn.html", found
    assert found["truncated"][0] == "compare.html", found


def test_search_previews_show_no_raw_tex(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    raw = [
        f"{entry['location']}: ...{text[max(0, text.find(mark) - 40) : text.find(mark) + 60]}..."
        for entry in index["docs"]
        for text in (entry["title"], entry["text"])
        for mark in UNTYPESET
        if mark in text
    ]
    assert raw == [], "raw TeX in search previews:\n" + "\n".join(raw)
    # inline math is there as text: the GRU's reset gate is r_t
    assert any("reset gate, r_t" in entry["text"] for entry in index["docs"])


def test_the_npm_packages_chromium_renders_a_page(playwright):
    """The browser a machine without one gets from `npm ci`, started as the site tests start it."""
    chromium = browser.bundled()
    started = chromium.launch(playwright)
    try:
        page = started.new_page(viewport={"width": 200, "height": 100})
        page.set_content(
            "<p id=out style='font: 60px sans-serif; margin: 0'>static</p>"
            "<script>out.textContent = 6 * 7</script>"
        )
        assert page.text_content("#out") == "42"
        assert started.version.split(".")[0] == chromium.version.split(".")[0]
        # The text is drawn (the package's fonts are found): dark pixels on the white page.
        shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
        assert sum(shot.histogram()[:128]) > 200
    finally:
        started.close()


def _fontconfig_file(env: dict[str, str]) -> Path:
    """The configuration file fontconfig reads in a process started with `env`."""
    if env.get("FONTCONFIG_FILE"):
        return Path(env["FONTCONFIG_FILE"])
    return Path(env.get("FONTCONFIG_PATH", "/etc/fonts")) / "fonts.conf"


def test_the_npm_packages_chromium_reads_a_fontconfig_that_lists_its_fonts():
    """The package's own fonts.conf names folders of the platform it was made for (/tmp/fonts,
    /opt/fonts, ...), where nothing was unpacked; the file the browser reads must list the folder
    its fonts were unpacked to and keep fontconfig's cache in node_modules/.cache."""
    chromium = browser.bundled()
    config = ElementTree.parse(_fontconfig_file({**os.environ, **chromium.env})).getroot()
    listed = [Path(entry.text or "") for entry in config.iter("dir")]
    fonts = [path for path in browser.UNPACKED.rglob("*") if path.suffix.lower() in {".ttf", ".otf"}]
    assert fonts, f"no .ttf or .otf file under {browser.UNPACKED}"
    assert [font for font in fonts if not any(font.is_relative_to(folder) for folder in listed)] == []
    assert [folder for folder in listed if not folder.is_dir()] == []
    caches = [Path(entry.text or "") for entry in config.iter("cachedir")]
    assert caches and all(cache.is_relative_to(ROOT / "node_modules" / ".cache") for cache in caches)
    assert list(config.iter("include")) == []  # nothing else is read, nor its cache folders


# --- order, glossary, distinct pictures, fixed axes (issue 20) ------------------------


def test_the_nav_follows_the_derivation_path(visit):
    page = visit("index").page
    hrefs = page.evaluate(
        """() => [...document.querySelectorAll("nav.md-nav--primary > ul > li > a.md-nav__link")]
                  .map(a => a.getAttribute("href"))"""
    )
    order = [h.split("/")[-1].removesuffix(".html") for h in hrefs]
    order = ["index" if o in ("", ".", "index") else o for o in order]
    assert order == list(PAGES)
    assert order.index("notation") < order.index("rnn")
    assert order.index("bptt") < order.index("gradients")
    assert order.index("gradients") < min(order.index("worked"), order.index("exercises"))
    # Home offers both paths
    text = page.locator("article").inner_text()
    assert "The story" in text and "The derivation" in text


@pytest.mark.parametrize("name", [p for p in PAGES if p not in ("glossary",)])
def test_every_page_links_terms_to_the_glossary_entries_that_exist(visit, name):
    page = visit(name).page
    targets = page.evaluate(
        """() => [...document.querySelectorAll("article a[href^='glossary.html#']")]
                  .map(a => a.getAttribute("href").split("#")[1])"""
    )
    assert targets, "no term linked to the glossary"
    assert len(targets) == len(set(targets)), "a term linked twice on one page"
    glossary = visit("glossary").page
    anchors = set(glossary.evaluate("() => [...document.querySelectorAll('article [id]')].map(e => e.id)"))
    assert set(targets) <= anchors
    assert "constant-error-carousel" in anchors


def test_cells_that_differ_show_different_diagrams(visit):
    page = visit("variants").page
    drawn = page.evaluate(
        """async () => {
            const out = {};
            for (const img of document.querySelectorAll("figure.diagram img")) {
                const svg = await (await fetch(img.currentSrc || img.src)).text();
                out[img.getAttribute("src")] = svg.replace(/<title>[\\s\\S]*?<\\/title>/, "");
            }
            return out;
        }"""
    )
    assert len(drawn) >= 6 and len(set(drawn.values())) == len(drawn)


@pytest.mark.parametrize("edition", EXPLORERS)
def test_the_explorer_keeps_its_axes_when_a_slider_moves(visit, edition):
    page = visit(edition).page

    def ticks():
        return page.locator("svg[data-plot=gradient] text").all_inner_texts()

    before = ticks()
    faint = page.locator("svg[data-plot=gradient] path.gate-explorer__baseline")
    baseline = faint.get_attribute("data-values")
    page.locator("input[data-name=b_f]").fill("3")
    assert ticks() == before
    assert faint.get_attribute("data-values") == baseline
    page.locator("input[data-name=scale]").fill("3")
    assert ticks() == before


# --- the editions -----------------------------------------------------------------------


def _cjk_share(text: str) -> float:
    """CJK characters as a share of the letters of ``text`` (CJK and Latin)."""
    import re

    cjk = len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return cjk / max(cjk + latin, 1)


# The article's text without its formulas and code, as a reader sees it.
ARTICLE_TEXT = """() => {
  const article = document.querySelector("article").cloneNode(true);
  article.querySelectorAll(".katex, .arithmatex, pre, code, .headerlink").forEach(e => e.remove());
  return article.innerText;
}"""


@pytest.mark.parametrize("page", i18n.TRANSLATED["zh"])
def test_the_language_switch_lands_on_the_same_page_in_the_other_edition(visit, site, page):
    v = visit(page)
    assert v.page.evaluate("document.documentElement.lang") == "en"
    chinese = v.page.evaluate("document.querySelector('a[hreflang=zh]').href")
    assert chinese == f"{site.base}zh/{page}.html"
    back = visit(f"zh/{page}").page
    assert back.evaluate("document.documentElement.lang") == "zh"
    assert back.evaluate("document.querySelector('a[hreflang=en]').href") == f"{site.base}{page}.html"
    # The theme's menu: hover the language button, click the other language.
    back.locator(".md-header__option .md-select").first.hover()
    back.locator("a[hreflang=en]").click()
    back.wait_for_url(f"{site.base}{page}.html")
    assert back.evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize("name", EDITIONS)
def test_a_translated_page_reads_in_chinese_in_the_browser(visit, name):
    page = visit(name).page
    assert page.evaluate("document.documentElement.lang") == name.split("/")[0]
    if name.endswith("/references"):
        # Works are cited as they were published, in English in every edition: each entry
        # up to its line break, before what the site uses it for, is left out.
        page.evaluate("""document.querySelectorAll("article p").forEach(p => {
          const br = p.querySelector(":scope > br");
          while (br && br.previousSibling) br.previousSibling.remove();
        })""")
    text = page.evaluate(ARTICLE_TEXT)
    assert _cjk_share(text) > 0.5, text[:300]
    # The theme's own words are Chinese too (mkdocs-material's language: zh).
    assert page.locator("input.md-search__input").get_attribute("placeholder") == "搜索"


# Each figure on a page: the file the browser chose (a <picture>'s source on a phone), its
# bytes as served, whether it rendered, and whether it fits the page's width.
SHOWN_FIGURES = """async () => {
  const out = [];
  for (const img of document.querySelectorAll("article img")) {
    const src = img.currentSrc || img.src;
    if (!src.includes("/figures/")) continue;
    out.push({src, text: await (await fetch(src)).text(), width: img.naturalWidth,
              right: img.getBoundingClientRect().right});
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page", ["lstm", "bptt", "recurrences", "training"])
def test_a_chinese_page_shows_the_figures_drawn_in_chinese(visit, site, page, width):
    """Each figure with words on a page of the Chinese edition is its figures/<name>.zh.svg
    (the i18n plugin serves it from zh/figures/ under the English name), rendered and within
    the page; a figure of symbols only is the shared one; the English page keeps its own.
    The screenshots (artifacts/figures-zh-<page>-<width>.png) are for a reader to look at."""
    from derive.build import ROOT as CHECKOUT

    figures = CHECKOUT / "docs" / "figures"
    viewport = {"width": width, "height": 900}
    for edition in ("zh", "en"):
        v = visit(f"zh/{page}" if edition == "zh" else page, viewport=viewport)
        v.page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15000)
        shown = v.page.evaluate(SHOWN_FIGURES)
        assert shown and all(f["width"] > 0 and f["right"] <= width + 1 for f in shown), [
            (f["src"], f["width"], f["right"]) for f in shown
        ]
        twins = 0
        for f in shown:
            name = f["src"].rsplit("/", 1)[-1]
            twin = figures / name.replace(".svg", ".zh.svg")
            own = edition == "zh" and twin.exists()
            twins += own
            folder, drawn = ("zh/figures/", twin) if own else ("figures/", figures / name)
            assert f["src"].startswith(f"{site.base}{folder}") and f["text"] == drawn.read_text(), name
        assert twins > 0 if edition == "zh" else twins == 0
        if edition == "zh":
            ARTIFACTS.mkdir(exist_ok=True)
            v.page.screenshot(path=str(ARTIFACTS / f"figures-zh-{page}-{width}.png"), full_page=True)


def test_a_page_not_yet_translated_says_so_in_the_chinese_edition(built_site):
    """Its English shows under the Chinese edition's header, below a note in Chinese."""
    untranslated = [p for p in PAGES if p not in i18n.TRANSLATED["zh"]]
    for page in untranslated:
        html = (built_site / "zh" / f"{page}.html").read_text()
        assert '<html lang="zh"' in html and "尚未翻译" in html, page
    for page in i18n.TRANSLATED["zh"]:
        assert "尚未翻译" not in (built_site / "zh" / f"{page}.html").read_text()


def test_search_finds_a_chinese_term_on_the_page_that_explains_it(built_site, tmp_path):
    """Chinese is cut into words by jieba when the index is built; a query of one term finds
    the translated page that explains it first (the LSTM page once it is translated)."""
    found = _search(built_site, ["遗忘门", "重置门", "时间反向传播", "梯度消失"], tmp_path)
    where = {
        "遗忘门": "lstm",
        "重置门": "gru",
        "时间反向传播": "bptt",
        "梯度消失": "gradients",
    }
    for query, page in where.items():
        # Until the page is translated, the glossary, the table of terms, the notation page or
        # the variants (the LSTM's and GRU's kin, ranked above the pages that only mention a
        # gate, below the cells' own pages), which use the term.
        wanted = [f"zh/{page}.html"]
        if page not in i18n.TRANSLATED["zh"]:
            wanted += ["zh/glossary.html", "zh/terms.html", "zh/notation.html", "zh/variants.html"]
        assert found[query] and found[query][0] in wanted, (query, found[query])
        assert all(location.startswith("zh/") for location in found[query]), found[query]


@pytest.mark.parametrize("edition", EXPLORERS)
def test_the_explorer_plots_gates_and_the_output_and_runs_an_rnn_beside(visit, edition):
    from derive.codegen.modules import generated
    from derive.site.explorer import problem

    v = visit(edition)
    page = v.page
    values = page.locator("input[name=gate-explorer-value]")
    assert [values.nth(j).get_attribute("value") for j in range(values.count())] == [
        "s", "h", "o", "i", "f", "s_tilde",
    ]  # fmt: skip
    page.locator("input[data-name=b_f]").fill("3")
    params, x, _ = problem("lstm")
    params |= {k: np.full_like(params[k], v) for k, v in {"b_o": 0.0, "b_i": 0.0, "b_f": 3.0}.items()}
    _, cache = generated("lstm").forward(params, x)
    for name in ("f", "h"):
        page.locator(f"input[name=gate-explorer-value][value={name}]").check()
        assert page.locator("svg[data-plot=state]").get_attribute("data-value") == name
        units = page.locator("svg[data-plot=state] path.gate-explorer__unit")
        drawn = np.array(
            [json.loads(units.nth(j).get_attribute("data-values")) for j in range(units.count())]
        ).T
        assert np.max(np.abs(drawn - cache["values"][name][:, 0])) <= 1e-12
    page.locator("input[name=gate-explorer-value][value=f]").check()
    ticks = page.evaluate(
        "[...document.querySelectorAll('svg[data-plot=state] text')].map(e => e.textContent)"
    )
    assert "0" in ticks and "1" in ticks and "-1" not in ticks  # a gate's axis: 0 to 1

    page.locator("input[name=gate-explorer-cell][value=rnn]").check()
    assert page.locator("input[data-name^=b_]").count() == 0  # no gate, no bias slider
    _agrees(page, "rnn", {}, 1.0)
    page.locator("input[data-name=scale]").fill("3")
    _agrees(page, "rnn", {}, 3.0)
    assert v.console_errors == [] and v.page_errors == []


# --- the conveyor belt and the state-path switch ------------------------------------------


@pytest.mark.parametrize("width", [1280, 390])
def test_the_conveyor_belt_shows_three_distinct_frames_in_order_that_fit(visit, width):
    page = visit("lstm", viewport={"width": width, "height": 900}).page
    frames = page.evaluate(
        """async () => {
            const out = [];
            for (const img of document.querySelectorAll("figure.diagram img[src*='diagram_lstm_belt']")) {
                const src = img.currentSrc || img.src;
                const svg = await (await fetch(src)).text();
                const lit = [...svg.matchAll(/<g class="[^"]*\\bhl\\b[^"]*" data-node="([^"]+)"/g)]
                    .map(m => m[1]);
                out.push({src: src.split("/").pop(), lit, belt: svg.includes('class="belt"'),
                          right: img.getBoundingClientRect().right,
                          caption: img.closest("figure").querySelector("figcaption").innerText});
            }
            return out;
        }"""
    )
    suffix = "_tall.svg" if width == 390 else ".svg"
    assert [f["src"] for f in frames] == [f"diagram_lstm_belt{k}{suffix}" for k in (1, 2, 3)]
    assert all(f["belt"] for f in frames)
    # Forget, then read in, then write out: each frame emphasises its own gates.
    assert [set(f["lit"]) & {"f", "i", "s_tilde", "o", "h"} for f in frames] == [
        {"f"}, {"i", "s_tilde"}, {"o", "h"},
    ]  # fmt: skip
    assert [f["caption"].split(",")[0] for f in frames] == ["Step 1", "Step 2", "Step 3"]
    assert all(f["right"] <= width for f in frames)


def _switched(page):
    line = page.locator("svg[data-plot=gradient] path.gate-explorer__norm")
    whole = page.locator("svg[data-plot=gradient] path.gate-explorer__whole")
    return line.get_attribute("data-path"), np.array(json.loads(line.get_attribute("data-values"))), whole


@pytest.mark.parametrize("edition", EXPLORERS)
def test_the_state_path_switch_plots_what_the_gradients_pages_split_gives(visit, edition):
    from derive.site.explorer import gradient_norms, problem, settle, state_path_norms

    v = visit(edition)
    page = v.page
    page.locator("input[data-name=b_f]").fill("3")
    params, x, g = problem("lstm")
    settled = settle("lstm", params, {"b_o": 0.0, "b_i": 0.0, "b_f": 3.0}, 1.0)
    whole, alone = gradient_norms("lstm", settled, x, g), state_path_norms("lstm", settled, x, g)
    assert np.all(alone[1:] < whole[1:])  # one step back the only path is the state; then they part

    kind, drawn, thin = _switched(page)
    assert kind == "all" and thin.count() == 0
    assert np.max(np.abs(drawn / whole - 1)) <= 1e-9
    page.locator("input[name=gate-explorer-state-path]").check()
    kind, drawn, thin = _switched(page)
    assert kind == "state"
    assert np.max(np.abs(drawn / alone - 1)) <= 1e-9
    assert np.max(np.abs(np.array(json.loads(thin.get_attribute("data-values"))) / whole - 1)) <= 1e-9
    assert abs(_caption_norm(page, 50) / alone[-1] - 1) < 0.05

    # The RNN has no path back that avoids its matrix: the state path is exactly zero.
    page.locator("input[name=gate-explorer-cell][value=rnn]").check()
    kind, drawn, _ = _switched(page)
    assert kind == "state" and np.all(drawn == 0)
    assert np.all(state_path_norms("rnn", *problem("rnn")) == 0)
    page.locator("input[name=gate-explorer-state-path]").uncheck()
    assert _switched(page)[0] == "all"
    assert v.console_errors == [] and v.page_errors == []


# Every word the explorer writes, as text nodes (a subscript is its own node) and labels.
EXPLORER_WORDS = """() => {
  const root = document.querySelector("div.gate-explorer");
  const out = [];
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) out.push(walk.currentNode.textContent);
  for (const e of root.querySelectorAll("[aria-label], [title]")) {
    out.push(e.getAttribute("aria-label") || "", e.getAttribute("title") || "");
  }
  return out;
}"""


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_explorer_writes_only_its_editions_words(visit, language):
    """Whatever the reader sets (each cell, each value plotted, the state-path switch), the
    explorer of another edition writes no English: a word of two Latin letters or more is a
    cell's name; the rest is symbols (s, t, W, k) and numbers."""
    v = visit(f"{language}/explorer")
    page = v.page
    seen = set()
    for cell in ("lstm", "gru", "rnn"):
        page.locator(f"input[name=gate-explorer-cell][value={cell}]").check()
        for switched in (False, True):
            page.locator("input[name=gate-explorer-state-path]").set_checked(switched)
            for value in page.locator("input[name=gate-explorer-value]").all():
                value.check()
                seen.update(page.evaluate(EXPLORER_WORDS))
    words = {w for text in seen for w in re.findall(r"[A-Za-z]{2,}", text)}
    assert words <= {"LSTM", "GRU", "RNN"}, sorted(words)
    assert _cjk_share(" ".join(seen)) > 0.5
    assert v.console_errors == [] and v.page_errors == []
