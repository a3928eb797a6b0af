"""The cell pages' backward pass through the gates, written once: the generic lines are the
derivation's lines of every gate, and the pages no longer repeat them gate by gate."""

from __future__ import annotations

import re

import pytest

from derive.catalogue import CATALOGUE
from derive.printing.context import cell_context
from derive.site import gates

CELLS = ("lstm", "gru")


@pytest.mark.parametrize("name", CELLS)
def test_each_gate_is_the_generic_pattern_with_its_own_names(name):
    """Putting a gate's names into the generic lines gives the derivation's own lines of it."""
    p = gates.pattern(name)
    c = cell_context(CATALOGUE[name])
    for row in p["rows"]:
        if row["role"] != "gate":
            continue
        g = row["name"]

        def own(line, g=g):
            line = line.replace(r"\mathbf{g}_{t}", rf"\mathbf{{{g}}}_{{t}}").replace("{g,t}", f"{{{g},t}}")
            return line.replace("_{g}", f"_{{{g}}}")  # W_g, U_g, b_g

        assert own(p["adjoint"]) in c["equation"][g]["adjoints"]
        assert [own(line) for line in p["gradients"]] == c["equation"][g]["gradients"]
        assert row["reaches"].replace(" = ", " &= ") in c["equation"][g]["adjoints"]
    slope = r"\mathbf{g}_{t} \odot (\mathbf{1} - \mathbf{g}_{t})"
    assert p["adjoint"] == rf"\delta \mathbf{{z}}_{{g,t}} &= \delta \mathbf{{g}}_{{t}} \odot {slope}"
    recurrent = {"lstm": r"\mathbf{h}_{t-1}", "gru": r"\mathbf{s}_{t-1}"}[name]
    assert p["gradients"][0].endswith(rf"\delta \mathbf{{z}}_{{g,t}} {{{recurrent}}}^{{\top}}")
    # The candidate's row: tanh's slope, and in the GRU W multiplies the reset state.
    (candidate,) = [r for r in p["rows"] if r["role"] == "candidate"]
    assert r"(\mathbf{1} - {\tilde{\mathbf{s}}_{t}}^{2})" in candidate["argument"]
    assert (
        candidate["multiplies"] == {"lstm": recurrent, "gru": r"\mathbf{o}_{t} \odot \mathbf{s}_{t-1}"}[name]
    )


def test_gates_that_differ_are_not_written_as_one_pattern():
    """The peephole LSTM's output gate reads the new state, its other gates the old one: no
    single 'for each gate' holds, and the pattern says so instead of printing one."""
    with pytest.raises(gates.GatePatternBroken, match="lstm_peephole gate"):
        gates.pattern("lstm_peephole")


@pytest.fixture(scope="module")
def generated():
    from derive import build

    return build.pages()


@pytest.mark.slow
@pytest.mark.parametrize("name", CELLS)
def test_the_cell_page_writes_the_gate_gradients_once(generated, name):
    from derive.build import ROOT

    text = generated[ROOT / "docs" / f"{name}.md"]
    # The parameters' gradient sums appear once, generically (W_g, U_g, b_g), not once per gate.
    sums = re.findall(r"\\partial ([^ ]*?)\} &= \\sum_\{t=1\}\^\{T\}", text)
    assert sums == ["W_{g}", "U_{g}", r"\mathbf{b}_{g}"]
    assert "What flows back through it, in one step" not in text
    assert text.count("## What flows back through the gates") == 1
    p = gates.pattern(name)
    for row in p["rows"]:
        assert rf"\({row['reaches']}\)" in text
