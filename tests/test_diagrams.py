"""Cell diagrams drawn from the equations (derive/site/diagrams.py), read back from their SVG."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from sympy import MatrixSymbol

from derive import naming
from derive.catalogue import CATALOGUE
from derive.cellfile import loads
from derive.site.diagrams import belt_frames, describe, diagram, graph

SVG = "{http://www.w3.org/2000/svg}"

USER_CELL = """
title = "A two-gate toy"
states = ["s"]
affine = ["a", "g"]

[[equations]]
equation = "a = σ(W_a @ s_prev + U_a @ x + b_a)"
role = "gate"
meaning = "first gate"

[[equations]]
equation = "g = relu(W_g @ (a * s_prev) + U_g @ x + b_g)"
role = "gate"
meaning = "second gate"

[[equations]]
equation = "s = (1 - a) * s_prev + a * g"
role = "state"
meaning = "new state"
"""


def read(svg: str) -> ET.Element:
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(svg.split("\n", 1)[1])


def drawn_nodes(root) -> set[str]:
    return {e.get("data-node") for e in root.iter() if e.get("data-node")}


def drawn_edges(root) -> set[tuple[str, str]]:
    """Every edge of the graph that some line carries (lines to where a state leaves left out)."""
    out = set()
    for path in root.iter(SVG + "path"):
        for edge in (path.get("data-edges") or "").split():
            u, v = edge.split(">")
            if v != "exit":
                out.add((u, v))
    return out


def reads(root, cell) -> dict[str, set[str]]:
    """For each equation, the named values that reach its node through its own operations."""
    edges = drawn_edges(root)
    into: dict[str, set[str]] = {}
    for u, v in edges:
        into.setdefault(v, set()).add(u)
    named = {eq.name for eq in cell.equations} | {s.name for s in cell.prev_symbols} | set(cell.inputs)

    def sources(node):
        found = set()
        for u in into.get(node, ()):
            found |= {u} if u in named else sources(u)
        return found

    return {eq.name: sources(eq.name) for eq in cell.equations}


def dependencies(cell) -> dict[str, set[str]]:
    parameters = {p.name for p in cell.parameters}
    return {
        eq.name: {s.name for s in eq.rhs.free_symbols if isinstance(s, MatrixSymbol)} - parameters
        for eq in cell.equations
    }


def user_cell():
    return loads(USER_CELL, "toy")


CELLS = {**CATALOGUE, "toy": None}


def cell_named(name):
    return user_cell() if name == "toy" else CATALOGUE[name]


@pytest.mark.parametrize("name", CELLS)
def test_nodes_are_the_equations_inputs_and_previous_states(name):
    cell = cell_named(name)
    root = read(diagram(cell))
    named = {n for n in drawn_nodes(root) if "." not in n}
    expected = {eq.name for eq in cell.equations} | {naming.prev(s) for s in cell.states} | set(cell.inputs)
    assert named == expected
    # Every other node is an operation inside one equation: <equation>.<k>.
    assert all(n.split(".")[0] in {eq.name for eq in cell.equations} for n in drawn_nodes(root) - named)
    # The new states leave on the right, labelled.
    assert {e.get("data-out") for e in root.iter() if e.get("data-out")} == set(cell.states)


@pytest.mark.parametrize("name", CELLS)
def test_edges_follow_the_equations(name):
    cell = cell_named(name)
    root = read(diagram(cell))
    assert reads(root, cell) == dependencies(cell)
    # The lines carry exactly the graph's edges.
    assert drawn_edges(root) == set(graph(cell).edges)


def test_gates_fold_their_matrix_products():
    """A gate is one σ node whose incoming edges are what its affine map reads."""
    g = graph(CATALOGUE["lstm"])
    f = g.node("f")
    assert (f.kind, f.label, f.role) == ("function", "σ", "gate")
    assert [u for u, v in g.edges if v == "f"] == ["h_prev", "x"]
    s = graph(CATALOGUE["gru"])
    complement = [n for n in s.nodes if n.kind == "complement"]
    assert [n.label for n in complement] == ["1 −"]
    assert [u for u, v in s.edges if v == complement[0].id] == ["i"]


def changed(plain: str, lit: str) -> set[str]:
    """The keys (node, lines' edges, state label) of the elements that differ."""

    def elements(svg):
        root = read(svg)
        out = {}
        for e in root.iter():
            out_key = e.get("data-out") and "out:" + e.get("data-out")
            key = e.get("data-node") or e.get("data-line") or out_key
            if key:
                assert key not in out
                out[key] = ET.tostring(e)
        return out

    a, b = elements(plain), elements(lit)
    assert a.keys() == b.keys()
    return {k for k in a if a[k] != b[k]}


@pytest.mark.parametrize("name", ["lstm", "gru", "toy"])
def test_highlighting_changes_only_the_highlighted_elements(name):
    cell = cell_named(name)
    plain = diagram(cell)
    g = graph(cell)
    owner = {n.id: n.equation for n in g.nodes}
    for eq in cell.equations:
        lit = diagram(cell, (eq.name,))
        assert lit != plain
        expected = {n for n, e in owner.items() if e == eq.name and g.node(n).kind != "input"}
        for path in read(plain).iter(SVG + "path"):
            edges = [tuple(e.split(">")) for e in (path.get("data-edges") or "").split()]
            if any(owner.get(v) == eq.name or u == eq.name for u, v in edges):
                expected.add(path.get("data-line"))
        if eq.name in cell.states:
            expected.add("out:" + eq.name)  # its label where it leaves
        assert changed(plain, lit) == expected
        # The other elements are the same bytes, in the same order.
        strip = lambda svg: sorted(line for line in svg.splitlines() if " hl" not in line)  # noqa: E731
        assert set(strip(lit)) <= set(plain.splitlines())


def test_unknown_highlight_is_refused():
    with pytest.raises(KeyError, match="no equation q"):
        diagram(CATALOGUE["lstm"], ("q",))


def test_the_same_cell_gives_the_same_bytes():
    for cell in CATALOGUE.values():
        assert diagram(cell) == diagram(cell)
    assert diagram(user_cell(), ("a",)) == diagram(user_cell(), ("a",))


def _digest(seed: str) -> str:
    code = (
        "import hashlib; from derive.catalogue import CATALOGUE; from derive.site.diagrams import diagram;"
        "print(hashlib.sha256(''.join(diagram(c) + diagram(c, (c.equations[0].name,))"
        " for c in CATALOGUE.values()).encode()).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED=seed)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return run.stdout


@pytest.mark.slow
def test_bytes_do_not_depend_on_the_hash_seed():
    digests = {_digest(seed) for seed in ("0", "1", "12345")}
    assert len(digests) == 1
    here = "".join(diagram(c) + diagram(c, (c.equations[0].name,)) for c in CATALOGUE.values())
    assert digests == {hashlib.sha256(here.encode()).hexdigest() + "\n"}


def test_a_users_cell_gets_a_diagram_and_words():
    cell = user_cell()
    svg = diagram(cell, ("g",))
    root = read(svg)
    functions = {e.get("data-node"): e for e in root.iter(SVG + "g") if "n" in (e.get("class") or "").split()}
    assert {"a", "g", "s"} <= functions.keys()
    assert "relu" in ET.tostring(functions["g"], encoding="unicode")
    text = describe(cell, ("g",))
    assert "g = relu((a ⊙ previous s), x)" in text
    assert "s = ((1 − a) ⊙ previous s) + (a ⊙ g)" in text


def test_the_svg_is_self_contained_and_follows_no_link():
    for cell in CATALOGUE.values():
        svg = diagram(cell)
        assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "@import" not in svg and "url(#" in svg and "href" not in svg
        root = read(svg)
        assert float(root.get("width")) <= 560  # scales to a phone's width without shrinking much


def _drawing(svg: str) -> str:
    """The picture without its title (the cell's name, which differs between any two cells)."""
    root = ET.fromstring(svg.split("\n", 2)[2])
    for title in root.findall(f"{SVG}title"):
        root.remove(title)
    return ET.tostring(root, encoding="unicode")


def test_no_two_cells_that_differ_get_the_same_picture():
    drawn: dict[str, str] = {}
    for name, cell in CATALOGUE.items():
        picture = _drawing(diagram(cell))
        same = [other for other, p in drawn.items() if p == picture]
        assert not same, f"{name} is drawn exactly as {same[0]}, but their equations differ"
        drawn[name] = picture


def test_a_gate_applied_after_the_product_is_drawn_after_it():
    # PyTorch's GRU: o ⊙ (W s_prev + c); Cho's: W (o ⊙ s_prev). The product's node feeds the
    # reset gate's ⊙ in the first, and nothing of the kind is drawn in the second.
    def into_product(name):
        g = graph(CATALOGUE[name])
        products = {n.id for n in g.nodes if n.kind == "product"}
        return sorted(g.node(u).label for u, v in g.edges if v in products and g.node(u).kind == "linear")

    assert into_product("gru_torch") == ["W"]
    assert into_product("gru") == []


PHONE_COLUMN = 350  # the article's width on a 390 px screen, less the theme's margins


@pytest.mark.parametrize("name", CATALOGUE)
def test_the_tall_form_draws_the_same_graph_and_fits_a_phone(name):
    cell = CATALOGUE[name]
    wide, tall = read(diagram(cell)), read(diagram(cell, tall=True))
    assert drawn_nodes(tall) == drawn_nodes(wide)
    assert drawn_edges(tall) == drawn_edges(wide)
    assert float(tall.get("width")) <= PHONE_COLUMN
    assert float(tall.get("height")) > float(tall.get("width")) or float(tall.get("width")) < 200


def test_a_users_cell_gets_a_tall_form_too():
    cell = loads(USER_CELL, name="toy")
    assert float(read(diagram(cell, tall=True)).get("width")) <= PHONE_COLUMN


@pytest.mark.parametrize("tall", [False, True])
@pytest.mark.parametrize("name", CATALOGUE)
def test_each_function_names_the_matrices_it_applies(name, tall):
    # W multiplies what is carried over, U the input: under the LSTM's output gate, W_o U_o.
    cell = CATALOGUE[name]
    root = read(diagram(cell, tall=tall))

    def label(g):
        return "".join("".join(e.itertext()) for e in g if e.get("class") == "m").replace(" ", "")

    shown = {g.get("data-node"): label(g) for g in root.iter(SVG + "g") if g.get("data-node")}
    for n in graph(cell).nodes:
        if n.kind == "function":
            assert shown[n.id] == "".join(m.replace("_", "") for m in n.matrices)
    if name == "lstm":
        assert graph(cell).node("o").matrices == ("W_o", "U_o")
        assert shown["o"] == "WoUo" and shown["s_tilde"] == "WU"


def test_a_small_diagram_is_shown_larger():
    root = read(diagram(CATALOGUE["rnn"]))
    drawn = float(root.get("viewBox").split()[2])
    assert float(root.get("width")) == pytest.approx(1.5 * drawn, abs=0.1)


# --- the conveyor belt (the LSTM page's frames) ------------------------------------


def test_the_lstm_belt_takes_the_gates_in_the_order_the_state_meets_them():
    # By hand from s = f ⊙ s_prev + i ⊙ s̃, h = o ⊙ tanh(s): the state meets f's product, then
    # the sum that adds i ⊙ s̃; then h reads it through o.
    cell = CATALOGUE["lstm"]
    named = [{id for id in frame if id in {eq.name for eq in cell.equations}} for frame in belt_frames(cell)]
    assert named == [{"f"}, {"i", "s_tilde", "s"}, {"o", "h"}]
    # Every frame is its own picture, and the three emphasise disjoint nodes.
    pictures = [diagram(cell, nodes=frame, belt=True) for frame in belt_frames(cell)]
    assert len(set(pictures)) == 3
    frames = belt_frames(cell)
    assert all(not set(a) & set(b) for a, b in itertools.combinations(frames, 2))


@pytest.mark.parametrize("tall", [False, True])
def test_the_belt_lies_on_the_states_line_and_only_there(tall):
    cell = CATALOGUE["lstm"]
    frame = belt_frames(cell)[0]
    root = read(diagram(cell, nodes=frame, belt=True, tall=tall))
    bands = [p.get("d") for p in root.iter(SVG + "path") if p.get("class") == "belt"]
    assert bands
    # Each band is straight, at the one position across the step where s_prev's line runs.
    across = {float(re.findall(r"[-\d.]+", d)[0 if tall else 1]) for d in bands}
    assert len(across) == 1
    line = next(p for p in root.iter(SVG + "path") if (p.get("data-edges") or "").startswith("s_prev>"))
    start = re.findall(r"[-\d.]+", line.get("d"))
    assert across == {float(start[0 if tall else 1])}
    # The node drawn on it is the product of the forget gate with s_prev, emphasised.
    lit = {g.get("data-node") for g in root.iter(SVG + "g") if "hl" in (g.get("class") or "").split()}
    assert lit == set(frame) and "f" in lit
    assert "belt" not in diagram(cell)  # the other diagrams have no band


def test_unknown_nodes_are_refused():
    with pytest.raises(KeyError, match="no node q"):
        diagram(CATALOGUE["lstm"], nodes=("q",))


def _horizontal_runs(root):
    """Every horizontal straight piece of the lines, as (y, x_from, x_to): a straight piece
    (L) starts where the piece before it (M, or a rounded corner's Q) ends."""
    for path in root.iter(SVG + "path"):
        if path.get("class") != "e":
            continue
        last = None
        for op, numbers in re.findall(r"([MLQ])([\d. ]+)", path.get("d")):
            x, y = (float(v) for v in numbers.split()[-2:])
            if op == "L" and last is not None and last[1] == y:
                yield y, min(last[0], x), max(last[0], x)
            last = (x, y)


@pytest.mark.parametrize("tall", [False, True])
@pytest.mark.parametrize("name", CATALOGUE)
def test_no_line_runs_through_a_label(name, tall):
    # Tall, the labels under a node (its matrices, its name) sit where the lines leaving it
    # would turn: the lines' runs across keep below them.
    root = read(diagram(CATALOGUE[name], tall=tall))
    labels = []
    for text in root.iter(SVG + "text"):
        if text.get("class") not in ("m", "v"):
            continue
        x, y, words = float(text.get("x")), float(text.get("y")), "".join(text.itertext())
        width = 0.62 * 13 * len(words.replace(" ", "")) + 3 * words.count(" ")
        left = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor") or "start"]
        labels.append((words, left, left + width, y - 11, y + 7))  # subscripts reach 7 below
    for y, a, b in _horizontal_runs(root):
        for words, left, right, top, bottom in labels:
            crossed = top < y < bottom and a < right and left < b
            assert not crossed, f"{name}: a line at y = {y} runs through {words!r}"
