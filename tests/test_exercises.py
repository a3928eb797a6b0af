"""The exercises page: its computed answers, checked here another way, and the checks that guard them.

The cells are written out again in NumPy below (not the generated modules), and the
gradients are taken by central differences of them, so that a wrong claim on the page
and a wrong module that agreed with it would both be caught.
"""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pytest

from derive.catalogue import CATALOGUE
from derive.codegen.modules import generated
from derive.printing.context import cell_context
from derive.render import render
from derive.site import exercises, worked

CELLS = ("rnn", "lstm", "gru", "lstm_peephole", "lstm_coupled")


@pytest.fixture(scope="module")
def cells():
    return {name: cell_context(CATALOGUE[name]) for name in CELLS}


@pytest.fixture(scope="module")
def context(cells):
    return exercises.context(cells)


@pytest.fixture(scope="module")
def page(cells, context):
    return render("pages/exercises.md.j2", page="exercises", cells=cells, exercises=context)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def central(f, value, eps=1e-6):
    """Central differences of the scalar f at each entry of value."""
    out = np.zeros(value.shape)
    for k in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[k] += eps
        down[k] -= eps
        out[k] = (f(up) - f(down)) / (2 * eps)
    return out


# --- the cells by hand, one row of a batch at a time ------------------------------


def gru_step(p, s, x):
    o = sigmoid(p["W_o"] @ s + p["U_o"] @ x + p["b_o"])
    i = sigmoid(p["W_i"] @ s + p["U_i"] @ x + p["b_i"])
    s_tilde = np.tanh(p["W"] @ (o * s) + p["U"] @ x + p["b"])
    return (1 - i) * s + i * s_tilde, i


def peephole_run(p, s, h, xs):
    for x in xs:
        i = sigmoid(p["W_i"] @ h + p["U_i"] @ x + p["p_i"] * s + p["b_i"])
        f = sigmoid(p["W_f"] @ h + p["U_f"] @ x + p["p_f"] * s + p["b_f"])
        s = f * s + i * np.tanh(p["W"] @ h + p["U"] @ x + p["b"])
        o = sigmoid(p["W_o"] @ h + p["U_o"] @ x + p["p_o"] * s + p["b_o"])
        h = o * np.tanh(s)
        yield s, h


def coupled_step(p, s, h, x):
    i = sigmoid(p["W_i"] @ h + p["U_i"] @ x + p["b_i"])
    s_tilde = np.tanh(p["W"] @ h + p["U"] @ x + p["b"])
    return (1 - i) * s + i * s_tilde, i


def rnn_run(p, s, xs):
    for x in xs:
        s = np.tanh(p["W"] @ s + p["U"] @ x + p["b"])
        yield s


# --- the answers -----------------------------------------------------------------------


def test_peephole_answer_is_the_gradient_of_the_loss(context):
    """The hand-derived input-gate gradients, summed over the steps with δs_t from the
    derivation, are those of L = Σ_t g_tᵀ h_t by central differences of a hand-written cell."""
    params, x, state, d_outputs = exercises.peephole_problem()
    want = worked.from_derivation("lstm_peephole", params, x, state, d_outputs)["steps"]
    g = d_outputs["h"][:, 0]

    def loss(p):
        run = peephole_run(p, state["s"][0], state["h"][0], x[:, 0])
        return sum(float(g[t] @ h) for t, (_, h) in enumerate(run))

    sums = {"b_i": 0, "p_i": 0, "W_i": 0}
    for t, values in enumerate(want):
        s_prev = state["s"][0] if t == 0 else want[t - 1]["s"]
        h_prev = state["h"][0] if t == 0 else want[t - 1]["h"]
        hand = exercises.peephole_by_hand(params, values, s_prev, h_prev)
        for k in sums:
            sums[k] = sums[k] + hand[f"d_{k}"]
    for k, total in sums.items():
        numeric = central(lambda v, k=k: loss(dict(params, **{k: v})), params[k])
        np.testing.assert_allclose(total, numeric, rtol=0, atol=1e-8, err_msg=k)
    assert context["peephole"]["derivation"] <= 1e-14 and context["peephole"]["module"] <= 1e-14


def test_a_shut_gru_passes_the_gradient_unchanged(context):
    """With b_i = -30 the hand-written GRU's ∂(gᵀ s_T)/∂s_0, by central differences, is g."""
    params, x, s0, g = exercises.gru_problem()
    row = 0

    def loss(s):
        for t in range(len(x)):
            s, _ = gru_step(params, s, x[t, row])
        return float(g[row] @ s)

    numeric = central(loss, s0[row])
    np.testing.assert_allclose(numeric, g[row], rtol=0, atol=1e-8)
    s, i = s0[row], []
    for t in range(len(x)):
        s, gate = gru_step(params, s, x[t, row])
        i.append(gate)
    assert 0 < np.max(i) < 1e-11  # shut, but a sigmoid is never exactly 0
    ctx = context["gru"]
    assert ctx["all_steps"] <= exercises.GRU_TOLERANCE and ctx["one_step"] <= exercises.GRU_TOLERANCE
    assert ctx["all_steps"] > 0  # the measured difference is that of i, not a rounding of nothing
    assert ctx["open_ratio"] < 1e-3  # and the claim is not trivial: an open gate loses it


def test_coupled_jacobian_by_differences(context):
    measured, i = exercises.coupled_jacobian()
    p = exercises.COUPLED
    mod = generated("lstm_coupled")
    rng = np.random.default_rng(p["seed"])
    params = mod.init_params(p["inputs"], p["hidden"], rng=rng)
    x = rng.normal(size=p["inputs"])
    s0, h0 = (rng.normal(size=p["hidden"]) for _ in mod.STATES)
    jacobian = np.array(
        [central(lambda s, j=j: coupled_step(params, s, h0, x)[0][j], s0) for j in range(p["hidden"])]
    )
    _, gate = coupled_step(params, s0, h0, x)
    np.testing.assert_allclose(jacobian, np.diag(1 - gate), rtol=0, atol=1e-9)
    np.testing.assert_allclose(measured, jacobian, rtol=0, atol=1e-9)
    np.testing.assert_allclose(i, gate, rtol=0, atol=1e-15)
    assert context["coupled"]["difference"] <= 1e-15


def test_counts_by_hand_formulas(context):
    nx, nh = 128, 256
    block = nh * (nh + nx + 1)
    cells = context["counts"]["cells"]
    assert {name: cells[name]["value"] for name in cells} == {
        "rnn": block,
        "lstm": 4 * block,
        "gru": 3 * block,
    }
    # The smallest m with 3 m (m + nx + 1) >= 4 block, from the quadratic formula.
    m = math.ceil((-(nx + 1) + math.sqrt((nx + 1) ** 2 + 16 * block / 3)) / 2)
    assert 3 * m * (m + nx + 1) >= 4 * block > 3 * (m - 1) * (m + nx)
    assert context["counts"]["matching"] == m == 304
    assert context["counts"]["ratio"] == pytest.approx(4 / 3)


def test_rnn_jacobian_is_the_product_and_within_the_bound(context):
    params, x, s0 = exercises.rnn_problem()
    for k in (1, 10):
        measured, states = exercises.rnn_jacobian(params, x, s0, k)
        hand = list(rnn_run(params, s0[0], x[:k, 0]))
        np.testing.assert_allclose(states, hand, rtol=0, atol=1e-14)
        product = np.eye(s0.shape[1])
        for s in hand:
            product = (1 - s**2)[:, None] * params["W"] @ product
        np.testing.assert_allclose(measured, product, rtol=0, atol=1e-13)
    norm = np.linalg.norm(params["W"], 2)
    assert norm == pytest.approx(exercises.RNN_BOUND["norm"])
    for row in context["rnn"]["rows"]:
        assert row["measured"] <= row["bound"] <= row["plain"] == pytest.approx(norm ** row["k"])


def test_forget_bias_factors(context):
    for row in context["forget"]["rows"]:
        gate = 1 / (1 + math.exp(-row["bias"]))
        assert row["tenfold"] == pytest.approx(math.log(10) / -math.log(gate))
        for k, after in row["after"].items():
            assert after["measured"] == pytest.approx(gate**k, rel=1e-12)
    # By differences of the module's forward: the recurrent matrices really are zero.
    params, x, state, g = exercises.forget_problem(3.0, 5)
    mod = generated("lstm")

    def loss(s):
        outputs, _ = mod.forward(params, x, dict(state, s=s[None]))
        return float(g[0] @ outputs["s"][-1, 0])

    np.testing.assert_allclose(central(loss, state["s"][0]), g[0] * sigmoid(3.0) ** 5, rtol=0, atol=1e-9)


def test_page_has_folded_solutions(page, context):
    assert page.count('??? note "Solution"') >= 6
    for block in page.split('??? note "Solution"')[1:]:
        body = re.split(r"\n## |\n\?\?\? ", block)[0].strip("\n").splitlines()
        assert body and all(line.startswith("    ") or not line.strip() for line in body)
    assert "304" in page and "394,240" in page
    assert "\\(\\mathbf{b}_i = -30\\)" in page


# --- a failing check stops the page ---------------------------------------------------


def _wrong(monkeypatch, name):
    """The module's backward with every gradient 1% too large."""
    module = generated(name)
    backward = module.backward

    def wrong(cache, d_outputs):
        d_params, d_x, d_state = backward(cache, d_outputs)
        d_params = {k: v * 1.01 for k, v in d_params.items()}
        return d_params, d_x, {k: v * 1.01 for k, v in d_state.items()}

    monkeypatch.setattr(module, "backward", wrong)


@pytest.mark.parametrize(
    ("name", "number", "part"),
    [
        ("lstm_peephole", 1, exercises.peephole),
        ("gru", 2, lambda cells: exercises.gru_shut()),
        ("lstm_coupled", 3, exercises.coupled),
        ("rnn", 5, lambda cells: exercises.rnn_bound()),
        ("lstm", 6, exercises.forget_bias),
    ],
)
def test_a_wrong_module_stops_its_exercise(cells, monkeypatch, name, number, part):
    _wrong(monkeypatch, name)
    with pytest.raises(exercises.ExerciseCheckFailed, match=rf"^exercise {number} of the exercises page"):
        part(cells)


def test_a_wrong_module_stops_the_page(cells, monkeypatch):
    _wrong(monkeypatch, "gru")
    with pytest.raises(exercises.ExerciseCheckFailed, match=r"^exercise 2 .* no page was written"):
        exercises.context(cells)


def test_a_wrong_count_stops_the_page(cells, monkeypatch):
    module = generated("gru")
    init = module.init_params
    monkeypatch.setattr(module, "init_params", lambda *a, **k: dict(init(*a, **k), extra=np.zeros(1)))
    with pytest.raises(exercises.ExerciseCheckFailed, match=r"^exercise 4 .* gru parameter count"):
        exercises.counts(cells)


@pytest.mark.slow
def test_docs_fails_in_one_line_and_writes_nothing(monkeypatch, capsys):
    """`python -m derive docs` with a wrong peephole LSTM module (which only this page checks):
    exit 1, one line naming the exercise, and no file written."""
    from derive import build, cli

    _wrong(monkeypatch, "lstm_peephole")
    written = []
    monkeypatch.setattr(build, "write", lambda files: written.append(files) or [])
    assert cli.main(["docs"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "exercise 1 of the exercises page" in err and "no page was written" in err
    assert written == []


# --- the levels, and the coding exercise ------------------------------------------------

LEVELS = ("Warm-up", "Working", "Deeper")


def test_exercises_come_at_three_levels(page):
    headings = re.findall(r"^## (\d)\. .*\{ #([\w-]+) \}\n\n\*([\w-]+)\.\*", page, re.M)
    assert [int(n) for n, _, _ in headings] == list(range(1, 8))
    assert {level for _, _, level in headings} == set(LEVELS)
    table = page[page.index("| level |") : page.index("\n\n", page.index("| level |"))]
    for number, anchor, level in headings:
        row = next(r for r in table.splitlines() if r.startswith(f"| {level.lower()} |"))
        assert f"[{number}](#{anchor})" in row
    # the coding exercise is one of them
    assert ("7", "backward-step", "Working") in headings


def _code_blocks(text: str) -> list[str]:
    """The python blocks of a page, at the top level or indented in an admonition."""
    return [textwrap.dedent(m[2]) for m in re.finditer(r"^( *)```python\n(.*?)^\1```$", text, re.M | re.S)]


def _columns(tex: str) -> np.ndarray:
    rows = re.search(r"\\begin\{bmatrix\}(.*)\\end\{bmatrix\}", tex)[1].split(r"\\")
    return np.array([[float(v) for v in row.split("&")] for row in rows])


def test_the_coding_exercise_solution_reproduces_the_expected_numbers(page, context):
    """The page's own code, run: the problem block, then the folded solution's function."""
    start = page.index("{ #backward-step }")
    signature, problem, solution = _code_blocks(page[start:])[:3]
    assert signature.startswith("def lstm_backward_step(") and solution.lstrip().startswith("import numpy")
    namespace: dict = {}
    exec(solution, namespace)  # the derived step, as the page prints it
    exec(problem, namespace)  # the worked example's step, as the page gives it
    grads, d_x, d_h_prev, d_s_prev = (namespace[k] for k in ("grads", "d_x", "d_h_prev", "d_s_prev"))
    got = {
        "d_s_prev": d_s_prev,
        "d_h_prev": d_h_prev,
        "d_x": d_x,
        "d_b_f": grads["d_b_f"],
        "d_W_f": grads["d_W_f"],
    }
    raw = context["step"]["raw"]
    for k, v in got.items():
        np.testing.assert_allclose(np.reshape(v, np.shape(raw[k])), raw[k], rtol=0, atol=1e-14, err_msg=k)
        shown = _columns(context["step"]["expected"][k])
        np.testing.assert_allclose(shown.reshape(np.shape(raw[k])), raw[k], rtol=0, atol=5e-7, err_msg=k)
        assert context["step"]["expected"][k] in page
    # every parameter gets its term, shaped like the parameter
    assert {k[2:]: np.shape(v) for k, v in grads.items()} == {
        k: v.shape for k, v in worked.problem("lstm")[0].items()
    }


def lstm_step(p, s, h, x):
    """One LSTM step, columns, written here: (s_t, h_t)."""
    o = sigmoid(p["W_o"] @ h + p["U_o"] @ x + p["b_o"])
    i = sigmoid(p["W_i"] @ h + p["U_i"] @ x + p["b_i"])
    f = sigmoid(p["W_f"] @ h + p["U_f"] @ x + p["b_f"])
    s = f * s + i * np.tanh(p["W"] @ h + p["U"] @ x + p["b"])
    return s, o * np.tanh(s)


def test_the_coding_exercise_expected_numbers_are_finite_differences(context):
    """L = 1ᵀ h_3 from (s_2, h_2, x_3), one step of an LSTM written here, by central differences."""
    problem = exercises.step_problem()
    p = problem["params"]
    s0, h0, x = problem["s_prev"][0], problem["h_prev"][0], problem["x_t"][0]
    raw = context["step"]["raw"]

    def loss(p=p, s=s0, h=h0, x=x):
        return float(lstm_step(p, s, h, x)[1].sum())

    np.testing.assert_allclose(central(lambda v: loss(s=v), s0), raw["d_s_prev"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(central(lambda v: loss(h=v), h0), raw["d_h_prev"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(central(lambda v: loss(x=v), x), raw["d_x"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(central(lambda v: loss(p=dict(p, b_f=v)), p["b_f"]), raw["d_b_f"], atol=1e-8)
    np.testing.assert_allclose(central(lambda v: loss(p=dict(p, W_f=v)), p["W_f"]), raw["d_W_f"], atol=1e-8)
    # and they are the worked example's numbers at its last step, where its hand expansion ends
    example = worked.cell_example("lstm", cell_context(CATALOGUE["lstm"]))
    assert raw["d_b_f"][0] == pytest.approx(worked.by_hand(example["values"])["d_z_f"], abs=1e-15)


def test_a_coding_exercise_off_its_differences_stops_the_page(cells, monkeypatch):
    right = exercises.step_by_differences
    monkeypatch.setattr(
        exercises, "step_by_differences", lambda problem: {k: v + 1e-6 for k, v in right(problem).items()}
    )
    with pytest.raises(exercises.ExerciseCheckFailed, match=r"^exercise 7 of the exercises page"):
        exercises.backward_step(cells)
