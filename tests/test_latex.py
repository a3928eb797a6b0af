"""The LaTeX printer, pinned on exact strings."""

from sympy import MatrixSymbol

from derive.catalogue import CATALOGUE
from derive.derivation import derive
from derive.printing.latex import latex

LSTM = CATALOGUE["lstm"]
PARAMS = [p.name for p in LSTM.parameters]


def show(e):
    return latex(e, PARAMS)


def test_gate_equation():
    eq = LSTM.equation("f")
    assert f"{show(eq.symbol)} = {show(eq.rhs)}" == (
        r"\mathbf{f}_{t} = \sigma(W_{f} \mathbf{h}_{t-1} + U_{f} \mathbf{x}_{t} + \mathbf{b}_{f})"
    )


def test_state_and_candidate_use_odot_and_tilde():
    assert show(LSTM.equation("s").rhs) == (
        r"\mathbf{f}_{t} \odot \mathbf{s}_{t-1} + \mathbf{i}_{t} \odot \tilde{\mathbf{s}}_{t}"
    )
    assert show(LSTM.equation("s_tilde").symbol) == r"\tilde{\mathbf{s}}_{t}"
    gru = CATALOGUE["gru"]
    assert latex(gru.equation("s").rhs, [p.name for p in gru.parameters]) == (
        r"(\mathbf{1} - \mathbf{i}_{t}) \odot \mathbf{s}_{t-1} + \mathbf{i}_{t} \odot \tilde{\mathbf{s}}_{t}"
    )


def test_adjoints_transposes_and_powers():
    d = derive(LSTM)
    lines = {a.target.name: f"{show(a.target)} = {show(a.value)}" for a in d.backward}
    assert lines["d_s"] == (
        r"\delta \mathbf{s}_{t} = \delta \mathbf{s}_{t}^{\mathrm{in}}"
        r" + \delta \mathbf{h}_{t} \odot \mathbf{o}_{t} \odot (\mathbf{1} - \tanh^{2}(\mathbf{s}_{t}))"
    )
    assert lines["d_z_s_tilde"] == (
        r"\delta \mathbf{z}_{\tilde{s},t} = \delta \tilde{\mathbf{s}}_{t} \odot "
        r"(\mathbf{1} - {\tilde{\mathbf{s}}_{t}}^{2})"
    )
    assert lines["d_h_prev"].startswith(
        r"\bar{\delta}\mathbf{h}_{t-1} = {W_{o}}^{\top} \delta \mathbf{z}_{o,t} + "
    )
    assert lines["d_W_f"] == r"\delta W_{f} = \delta \mathbf{z}_{f,t} {\mathbf{h}_{t-1}}^{\top}"
    assert lines["d_b"] == r"\delta \mathbf{b} = \delta \mathbf{z}_{\tilde{s},t}"


def test_jacobian_uses_diag():
    d = derive(LSTM)
    jac = {(j.of.name, j.wrt.name): show(j.value) for j in d.jacobians}
    assert jac["s", "s_prev"] == r"\operatorname{diag}(\mathbf{f}_{t})"


def test_second_named_subexpression_is_numbered_not_primed():
    # A prime would read as a derivative.
    assert latex(MatrixSymbol("z2_s_tilde", 3, 1)) == r"\mathbf{z}^{(2)}_{\tilde{s},t}"
    assert latex(MatrixSymbol("d_z3_s", 3, 1)) == r"\delta \mathbf{z}^{(3)}_{s,t}"
    assert latex(MatrixSymbol("d_z_o", 3, 1)) == r"\delta \mathbf{z}_{o,t}"


def test_quotients_accents_and_the_new_functions():
    """minLSTM's normalised gate and sLSTM's output in every printer of the mathematics;
    the quotient's rule hands -δy ⊙ (y ⊘ b) to the divisor, through the saved output."""
    from derive.backends.javascript.printer import code as js
    from derive.backends.numpy.printer import code as numpy
    from derive.printing.text import text

    minlstm, slstm = CATALOGUE["minlstm"], CATALOGUE["slstm"]
    f_hat = minlstm.equation("f_hat")
    params = [p.name for p in minlstm.parameters]
    assert latex(f_hat.symbol, params) + " = " + latex(f_hat.rhs, params) == (
        r"\hat{\mathbf{f}}_{t} = \mathbf{f}_{t} \oslash (\mathbf{f}_{t} + \mathbf{i}_{t})"
    )
    assert text(f_hat.symbol, params) + " = " + text(f_hat.rhs, params) == "f̂_t = f_t ⊘ (f_t + i_t)"
    assert numpy(f_hat.rhs) == "f / (f + i)"
    assert js(f_hat.rhs) == "_div(f, _add(f, i))"
    d = derive(minlstm)
    assert text(d.adjoint(MatrixSymbol("z_f_hat", *f_hat.symbol.shape)), params) == (
        "-δf̂_t ⊙ (f̂_t ⊘ (f_t + i_t))"
    )
    params = [p.name for p in slstm.parameters]
    assert latex(slstm.equation("i").rhs, params) == (
        r"\exp(W_{i} \mathbf{h}_{t-1} + U_{i} \mathbf{x}_{t} + \mathbf{b}_{i})"
    )
    assert text(derive(slstm).adjoint(MatrixSymbol("z_i", *f_hat.symbol.shape)), params) == "δi_t ⊙ i_t"
