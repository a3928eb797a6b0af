"""A linear recurrence as a scan: the operator, the rounds of recursive doubling, and their SVG.

The recurrence s_t = a_t ⊙ s_{t-1} + b_t maps s_{t-1} to s_t by the pair (a_t, b_t). Two
steps in a row are one such map: first (a, b), then (a', b'), gives
s ↦ a' ⊙ (a ⊙ s + b) + b' = (a a') ⊙ s + (a' b + b'), so

    (a, b) ∘ (a', b') = (a a', a' b + b').

The operator is associative (composition of maps is), which is all a parallel scan needs
(Blelloch 1990 treats first-order recurrences this way). ``doubling`` runs the simplest
scan: in round r every position j combines with the one 2^r before it, and after
log2(T) rounds position j holds the map from s_0 to s_j. ``figure`` draws those rounds
for 8 steps, each box naming the steps its map covers.
"""

from __future__ import annotations

import numpy as np

from . import outlines
from .diagrams import SANS, _num
from .words import _, language

STEPS = 8


def combine(first, then):
    """(a, b) ∘ (a', b'): the map of ``first`` followed by ``then``, each a pair (a, b)."""
    (a, b), (a2, b2) = first, then
    return a * a2, a2 * b + b2


def sequential(a: np.ndarray, b: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """s_t = a_t ⊙ s_{t-1} + b_t for t = 1, ..., T, one step after another: (T, ...)."""
    out, s = [], s0
    for a_t, b_t in zip(a, b, strict=True):
        s = a_t * s + b_t
        out.append(s)
    return np.array(out)


def doubling(steps: int) -> list[list[tuple[int, int]]]:
    """The rounds of recursive doubling over ``steps`` steps, as the span of steps each
    position's map covers after each round: rounds[r][j] = (first step, last step), steps
    counted from 1. Round 0 is the steps themselves."""
    spans = [(t, t) for t in range(1, steps + 1)]
    rounds = [spans]
    d = 1
    while d < steps:
        spans = [(spans[j - d][0], spans[j][1]) if j >= d else spans[j] for j in range(steps)]
        rounds.append(spans)
        d *= 2
    return rounds


def scanned(a: np.ndarray, b: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """The states s_1, ..., s_T by recursive doubling with ``combine``, each round computing
    every position from the previous round's (which a machine with T processors does at
    once), then applying each position's map (A, B) to s_0: A s_0 + B."""
    maps = list(zip(a, b, strict=True))
    d = 1
    while d < len(maps):
        maps = [combine(maps[j - d], maps[j]) if j >= d else maps[j] for j in range(len(maps))]
        d *= 2
    return np.array([A * s0 + B for A, B in maps])


# --- the figure --------------------------------------------------------------------

COLUMN, BOX_W, BOX_H, ROUND = 42, 34, 24, 74  # px: a phone's column (358 px) holds all 8 steps
LEFT, TOP = 10, 30
INK = "#263238"  # the colour of the words
STYLE = (
    "text{font-family:" + SANS + f";fill:{INK};font-size:13px}}"
    ".n{font-size:12px}.r{font-size:12px;fill:#455a64;paint-order:stroke;stroke:#fff;stroke-width:4px}"
    ".i{font-style:italic}"
    ".box{fill:#e8eaf6;stroke:#3949ab;stroke-width:1.4}.kept{fill:#eceff1;stroke:#90a4ae;stroke-width:1.2}"
    ".done{fill:#e0f2f1;stroke:#00897b;stroke-width:1.6}"
    ".down{fill:none;stroke:#546e7a;stroke-width:1.4}.in{fill:none;stroke:#d81b60;stroke-width:1.6}"
)


def describe(steps: int = STEPS) -> str:
    rounds = len(doubling(steps)) - 1
    return (
        f"A parallel scan over {steps} steps in {rounds} rounds: in round r every position combines "
        "its map with the map of the position 2 to the power r − 1 before it, so that after the last "
        "round position t holds the map from the initial state to the state at step t."
    )


def figure(steps: int = STEPS) -> str:
    """The SVG text of the doubling scan's rounds over ``steps`` steps."""
    rounds = doubling(steps)
    width = LEFT * 2 + COLUMN * steps
    height = TOP + ROUND * (len(rounds) - 1) + BOX_H + 30

    def centre(j: int) -> float:
        return LEFT + COLUMN * j + COLUMN / 2

    def top(r: int) -> float:
        return TOP + ROUND * r

    out: list[str] = []
    notes: list[str] = []  # drawn last, over the lines, each on a halo of the background
    for r, spans in enumerate(rounds):
        if r:
            d = 2 ** (r - 1)
            note = _("round {r}: combine with the box {d} to the left").format(r=r, d=d)
            if language() == "en":
                notes.append(f'<text class="r" x="{LEFT}" y="{_num(top(r) - 10)}">{note}</text>')
            else:
                notes.append(outlines.line(outlines.runs(note), LEFT, top(r) - 10, 12, "start", ' class="r"'))
        for j, (first, last) in enumerate(spans):
            x, y = centre(j), top(r)
            if r:  # what flows in: the position's own map, and the one d before it
                out.append(f'<path class="down" d="M{_num(x)} {_num(top(r - 1) + BOX_H)}V{_num(y)}"/>')
                if j >= d:
                    out.append(
                        f'<path class="in" d="M{_num(centre(j - d))} {_num(top(r - 1) + BOX_H)}'
                        f'L{_num(x)} {_num(y)}"/>'
                    )
            changed = r == 0 or j >= 2 ** (r - 1)
            cls = "done" if r == len(rounds) - 1 else "box" if changed else "kept"
            out.append(
                f'<rect class="{cls}" x="{_num(x - BOX_W / 2)}" y="{_num(y)}" width="{BOX_W}" '
                f'height="{BOX_H}" rx="4"/>'
            )
            label = str(first) if first == last else f"{first}–{last}"
            out.append(
                f'<text class="n" x="{_num(x)}" y="{_num(y + 16.5)}" text-anchor="middle">{label}</text>'
            )
    out += notes
    last = top(len(rounds) - 1) + BOX_H + 20
    if language() == "en":
        out.insert(
            0,
            f'<text x="{LEFT}" y="18">the steps: each box is one map '
            '(<tspan class="i">a</tspan>, <tspan class="i">b</tspan>)</text>',
        )
        out.append(
            f'<text x="{LEFT}" y="{_num(last)}">box 1–<tspan class="i">t</tspan> maps '
            '<tspan class="i">s</tspan><tspan dy="3" font-size="12">0</tspan><tspan dy="-3"> to </tspan>'
            '<tspan class="i">s</tspan><tspan dy="3" class="i" font-size="12">t</tspan></text>'
        )
    else:  # the same words, translated, with the same symbols in italic
        symbols = {
            "a": [("a", "i")],
            "b": [("b", "i")],
            "t": [("t", "i")],
            "s0": [("s", "i"), ("0", "sub")],
            "st": [("s", "i"), ("t", "isub")],
        }
        first = outlines.runs(_("the steps: each box is one map ({a}, {b})"), symbols)
        out.insert(0, outlines.line(first, LEFT, 18, 13, "start", f' fill="{INK}"'))
        maps = outlines.runs(_("box 1–{t} maps {s0} to {st}"), symbols)
        out.append(outlines.line(maps, LEFT, last, 13, "start", f' fill="{INK}"'))
    title = describe(steps) if language() == "en" else _("A parallel scan in rounds")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Generated by `python -m derive docs` (derive/site/scan.py). Do not edit. -->\n"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}"'
        f' viewBox="0 0 {_num(width)} {_num(height)}" role="img">\n'
        f"<title>{title}</title>\n"
        f"<style>{STYLE}</style>\n" + "\n".join(out) + "\n</svg>\n"
    )
