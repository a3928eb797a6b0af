"""The derived equations, pinned against derivations done by hand."""

import pytest
from cells import ALL_CELLS
from sympy import MatrixSymbol, ZeroMatrix

from derive import Cell, Equation, Role, affine, derive
from derive.catalogue import CATALOGUE
from derive.cell import N_HIDDEN, N_INPUT
from derive.printing.text import text


def lines(cell_name):
    cell = ALL_CELLS[cell_name]
    d = derive(cell)

    def show(e):
        return text(e, [p.name for p in cell.parameters])

    return d, {show(a.target): show(a.value) for a in (*d.intermediates, *d.backward)}, show


def test_rnn_by_hand():
    d, eq, show = lines("rnn")
    assert eq == {
        "z_s,t": "W s_{t-1} + U x_t + b",
        "δs_t": "δs_t^in",
        "δz_s,t": "δs_t ⊙ (1 - s_t²)",
        "δx_t": "Uᵀ δz_s,t",
        "δ̄s_{t-1}": "Wᵀ δz_s,t",
        "δW": "δz_s,t s_{t-1}ᵀ",
        "δU": "δz_s,t x_tᵀ",
        "δb": "δz_s,t",
    }
    [j] = d.jacobians
    assert show(j.value) == "diag(1 - s_t²) W"


def test_lstm_by_hand():
    d, eq, show = lines("lstm")
    assert eq["δs_t"] == "δs_t^in + δh_t ⊙ o_t ⊙ (1 - tanh(s_t)²)"
    assert eq["δo_t"] == "δh_t ⊙ tanh(s_t)"
    assert eq["δf_t"] == "δs_t ⊙ s_{t-1}"
    assert eq["δi_t"] == "δs_t ⊙ s̃_t"
    assert eq["δs̃_t"] == "δs_t ⊙ i_t"
    assert eq["δz_f,t"] == "δf_t ⊙ f_t ⊙ (1 - f_t)"
    assert eq["δz_s̃,t"] == "δs̃_t ⊙ (1 - s̃_t²)"
    assert eq["δ̄s_{t-1}"] == "δs_t ⊙ f_t"
    assert eq["δ̄h_{t-1}"] == "W_oᵀ δz_o,t + W_iᵀ δz_i,t + W_fᵀ δz_f,t + Wᵀ δz_s̃,t"
    assert eq["δx_t"] == "U_oᵀ δz_o,t + U_iᵀ δz_i,t + U_fᵀ δz_f,t + Uᵀ δz_s̃,t"
    assert eq["δW_f"] == "δz_f,t h_{t-1}ᵀ"
    jac = {(j.of.name, j.wrt.name): show(j.value) for j in d.jacobians}
    # The forget gate is the whole of the direct path from s_{t-1} to s_t.
    assert jac["s", "s_prev"] == "diag(f_t)"
    assert jac["h", "s_prev"] == "diag(o_t ⊙ (1 - tanh(s_t)²) ⊙ f_t)"
    assert jac["s", "h_prev"] == (
        "diag(s_{t-1} ⊙ f_t ⊙ (1 - f_t)) W_f + diag(s̃_t ⊙ i_t ⊙ (1 - i_t)) W_i + diag(i_t ⊙ (1 - s̃_t²)) W"
    )


def test_gru_by_hand():
    d, eq, show = lines("gru")
    assert eq["δi_t"] == "δs_t ⊙ (s̃_t - s_{t-1})"
    assert eq["z⁽²⁾_s̃,t"] == "o_t ⊙ s_{t-1}"
    assert eq["δz⁽²⁾_s̃,t"] == "Wᵀ δz_s̃,t"
    assert eq["δo_t"] == "δz⁽²⁾_s̃,t ⊙ s_{t-1}"
    assert eq["δ̄s_{t-1}"] == "W_oᵀ δz_o,t + W_iᵀ δz_i,t + δz⁽²⁾_s̃,t ⊙ o_t + δs_t ⊙ (1 - i_t)"
    assert eq["δW"] == "δz_s̃,t (o_t ⊙ s_{t-1})ᵀ"
    [j] = d.jacobians
    assert show(j.value).startswith("diag(1 - i_t) + diag((s̃_t - s_{t-1}) ⊙ i_t ⊙ (1 - i_t)) W_i")


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_every_leaf_has_an_adjoint(name):
    cell = ALL_CELLS[name]
    d = derive(cell)
    targets = {a.target.name for a in d.backward}
    for symbol in (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols, *cell.state_symbols):
        assert "d_" + symbol.name in targets
    assert {g.target.name for g in d.gradients} == {"d_" + p.name for p in cell.parameters}
    assert [c.state.name for c in d.carries] == list(cell.states)
    assert len(d.jacobians) == len(cell.states) ** 2


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_backward_reads_only_what_is_defined_before(name):
    cell = ALL_CELLS[name]
    d = derive(cell)
    known = {s.name for s in (*cell.parameter_symbols, *cell.input_symbols, *cell.prev_symbols)}
    known |= {e.name for e in cell.equations} | {c.incoming.name for c in d.carries}
    for a in d.backward:
        assert {s.name for s in a.value.free_symbols if hasattr(s, "shape")} <= known, a
        known.add(a.target.name)


def test_derivation_is_deterministic():
    a, b = derive(CATALOGUE["lstm"]), derive(CATALOGUE["lstm"])
    assert a == b


@pytest.mark.parametrize("text", ["s", "1 * s", "2 * s"])
def test_an_output_that_is_another_equation_is_derived(text):
    from derive import Cell, Equation, Role, affine
    from derive.verification.proof import prove_bptt

    cell = Cell(
        name="c",
        title="test",
        parameters=affine(),
        states=("s", "h"),
        equations=(
            Equation("s", "tanh(W @ h_prev + U @ x + b)", Role.STATE, "new state"),
            Equation("h", text, Role.OUTPUT, "the state as output"),
        ),
    )
    d = derive(cell)
    assert prove_bptt(d, 2, 3, 2).holds


def test_a_hundred_named_sub_expressions_are_numbered_on():
    from derive import Cell, Equation, Role, affine

    text = "tanh(W @ s_prev + U @ x + b" + "".join(f" + tanh({k} * s_prev)" for k in range(1, 101)) + ")"
    cell = Cell(
        name="c",
        title="test",
        parameters=affine(),
        states=("s",),
        equations=(Equation("s", text, Role.STATE, ""),),
    )
    names = [a.target.name for a in derive(cell).intermediates]
    assert len(names) == 100 and names[-1] == "z100_s"


def test_terms_that_repeat_or_cancel_are_summed_not_left_as_sums_of_ones():
    from derive import Parameter

    twice = Cell(
        name="c",
        title="t",
        parameters=(Parameter("U", "hidden", "input"),),
        states=("s",),
        equations=(Equation("s", "σ(U @ x + U @ x)", Role.STATE, ""),),
    )
    assert str(derive(twice).adjoint(MatrixSymbol("x", N_INPUT, 1))) == "2*(U.T*d_z_s)"
    gone = Cell(
        name="c",
        title="t",
        parameters=affine(),
        states=("s",),
        equations=(
            Equation(
                "s",
                "σ(W @ s_prev + U @ x + b) * s_prev - σ(W @ s_prev + U @ x + b) * s_prev + tanh(U @ x)",
                Role.STATE,
                "",
            ),
        ),
    )
    (jacobian,) = derive(gone).jacobians
    assert jacobian.value == ZeroMatrix(N_HIDDEN, N_HIDDEN)
