"""Each pass of the fused lowering's plan, alone, on cells that show what it decides."""

from derive import CATALOGUE, Cell, Equation, Parameter, Role, affine, derive
from derive.codegen import ir, lower, prune
from derive.codegen.fused import STEP
from derive.codegen.plan import Namer, Options, Piece, plan, shared

G, S = Role.GATE, Role.STATE


def cell(*equations, parameters, states=("s",)):
    return Cell(
        name="c",
        title="test",
        parameters=tuple(parameters),
        states=states,
        equations=tuple(Equation(n, t, r, "") for n, t, r in equations),
    )


def lstm_plan():
    return plan(derive(CATALOGUE["lstm"]), set())


def test_preactivations_split_each_gate_into_products_biases_and_the_rest():
    pres = lstm_plan().pres
    assert [p.equation.name for p in pres] == ["o", "i", "f", "s_tilde"]
    assert [(w.name, operand.name) for w, operand in pres[0].linear] == [("W_o", "h_prev"), ("U_o", "x")]
    assert [b.name for b in pres[0].biases] == ["b_o"] and pres[0].rest == ()
    assert pres[3].adjoint.name == "d_z_s_tilde"


def test_products_of_one_operand_are_stacked_and_the_input_is_hoisted():
    spans = {s.name: s for s in lstm_plan().spans}
    assert [w.name for w, _ in spans["h_prev"].members] == ["W_o", "W_i", "W_f", "W"]
    assert not spans["h_prev"].hoisted and spans["x"].hoisted
    assert (spans["x"].start, spans["x"].stop) == (0, 4)


def test_gates_with_one_function_are_one_run_forward_and_backward():
    p = lstm_plan()
    # forward, σ and tanh together: both are a + b / (1 + exp(c z)), computed with one exp
    assert p.forward_runs == ((0, 1, 2, 3),)
    assert p.scales == (-1, -1, -1, 2)
    assert p.backward_runs == ((0, 1, 2),)


def test_the_blocks_of_each_product_in_the_loop_are_an_array_of_their_own():
    # The GRU: W_o, W_i multiply s_{t-1}, W multiplies o ⊙ s_{t-1}: two arrays of blocks,
    # and the input's product is cut in two, one for each.
    p = plan(derive(CATALOGUE["gru"]), set())
    assert p.groups == ((0, 2), (2, 3))
    spans = {s.name: (s.start, s.stop) for s in p.spans}
    assert spans == {"s_prev": (0, 2), "z2_s_tilde": (2, 3), "x": (0, 2), "x_2": (2, 3)}
    # The LSTM's four gates all multiply h_{t-1}: one array, the input's product whole.
    assert lstm_plan().groups == ((0, 4),)


def gapped_cell():
    """a and e multiply s_prev, c between them does not; a, c, e are one σ run."""
    return cell(
        ("a", "σ(W_a @ s_prev + U_a @ x + b_a)", G),
        ("c", "σ(U_c @ x + b_c)", G),
        ("e", "σ(W_e @ s_prev + U_e @ x + b_e)", G),
        ("s", "a * s_prev + c * e", S),
        parameters=(
            *affine("a"),
            Parameter("U_c", "hidden", "input"),
            Parameter("b_c", "hidden", "1"),
            *affine("e"),
        ),
    )


def test_blocks_that_one_call_computes_are_not_cut_apart():
    # a and e multiply s_prev apart, but a, c, e are one σ run: one array, strided products.
    c = gapped_cell()
    p = plan(derive(c), set())
    assert p.forward_runs == ((0, 1, 2),) and p.groups == ((0, 3),)


def test_every_weight_bias_and_input_gradient_of_the_lstm_is_summed_after_the_loop():
    p = lstm_plan()
    assert all(value is None for _, value in p.remainder)
    after = dict(p.after)
    assert after["d_W_f"] == (Piece(span="h_prev", member=2),)
    assert after["d_b_f"] == (Piece(block=2),)
    assert len(after["d_x"]) == 4


def test_spans_of_one_operand_that_are_not_adjacent_get_their_own_names_and_arrays():
    c = gapped_cell()
    spans = [s for s in plan(derive(c), set()).spans if not s.hoisted]
    assert [s.name for s in spans] == ["s_prev", "s_prev_2"]
    assert len({s.weights for s in spans}) == len({s.gradient for s in spans}) == 2


def test_a_parameter_used_twice_has_both_uses_summed():
    c = cell(
        ("a", "σ(W @ s_prev + b)", G),
        ("s", "a * tanh(W @ s_prev + U @ x + b)", S),
        parameters=affine(),
    )
    after = dict(plan(derive(c), set()).after)
    # a is a pre-activation; tanh(...) inside s is not, so its uses stay in the loop.
    assert after["d_W"] == (Piece(span="s_prev", member=0),)
    assert after["d_b"] == (Piece(block=0),)
    remainder = dict(plan(derive(c), set()).remainder)
    assert remainder["d_W"] is not None and remainder["d_b"] is not None


def test_a_gated_residual_keeps_the_input_terms_the_block_does_not_hold():
    c = cell(
        ("g", "σ(W_g @ s_prev + U_g @ x + b_g)", G),
        ("s", "g * tanh(W @ s_prev + U @ x + b) + (1 - g) * s_prev", S),
        parameters=(*affine("g"), *affine()),
    )
    p = plan(derive(c), set())
    assert dict(p.after)["d_x"] == (Piece(span="x", member=0),)
    assert dict(p.remainder)["d_x"] is not None  # Uᵀ(...) through the inner tanh
    # ... which no carried adjoint reads: computed after the backward loop, for every step.
    assert "d_x" in p.unlooped.backward
    # tanh(...) is kept for the backward pass; its input terms U x + b read no state: one
    # product for every step before the loop.
    kept = {symbol.name: str(expr) for expr, symbol in p.kept}
    assert kept == {"tanh_s": "Apply(tanh, U*x + W*s_prev + b)", "s_part": "U*x + b"}


def test_equations_that_read_each_other_are_not_one_run():
    c = cell(
        ("a", "σ(W_a @ s_prev + b_a)", G),
        ("e", "σ(W_e @ a + b_e)", G),
        ("s", "tanh(W @ (e * s_prev) + U @ x + b)", S),
        parameters=(
            Parameter("W_a", "hidden", "hidden"),
            Parameter("b_a", "hidden", "1"),
            Parameter("W_e", "hidden", "hidden"),
            Parameter("b_e", "hidden", "1"),
            *affine(),
        ),
    )
    assert plan(derive(c), set()).forward_runs == ((0,), (1,), (2,))


def test_names_the_plan_makes_avoid_every_name_taken():
    namer = Namer({"tanh_s", "tanh_s_2"})
    assert [namer("tanh_s"), namer("tanh_s"), namer("act")] == ["tanh_s_3", "tanh_s_4", "act"]
    c = cell(("s", "tanh(W @ s_prev + U @ x + b)", S), parameters=affine())
    p = plan(derive(c), {"weights_s_prev", "z_s_prev"})
    (span,) = [s for s in p.spans if not s.hoisted]
    assert (span.weights, span.product) == ("weights_s_prev_2", "z_s_prev_2")


def test_a_parameter_in_two_gates_has_one_piece_per_gate():
    c = cell(
        ("a", "σ(W @ s_prev + b)", G),
        ("e", "tanh(W @ s_prev + U @ x + b)", Role.CANDIDATE),
        ("s", "a * e", S),
        parameters=affine(),
    )
    p = plan(derive(c), set())
    after, remainder = dict(p.after), dict(p.remainder)
    assert after["d_W"] == (Piece(span="s_prev", member=0), Piece(span="s_prev", member=1))
    assert after["d_b"] == (Piece(block=0), Piece(block=1))
    assert remainder["d_W"] is None and remainder["d_b"] is None


def test_a_product_inside_an_elementwise_product_is_kept_when_asked():
    d = derive(CATALOGUE["gru_torch"])
    kept = dict(plan(d, set(), Options(keep_products=True)).kept)
    wanted = [(str(expr), symbol.name) for expr, symbol in kept.items()]
    assert wanted == [("W*s_prev + c", "product_s_tilde")]
    assert ("product_s_tilde", "product_s_tilde_seq") in plan(d, set(), Options(keep_products=True)).sequences
    assert dict(plan(d, set()).kept) == {}  # by default the backward pass computes it again
    # A cell with no such product keeps what it kept before.
    lstm = derive(CATALOGUE["lstm"])
    assert plan(lstm, set(), Options(keep_products=True)).kept == plan(lstm, set()).kept


# State-free work out of the loops (state_free, free_parts) --------------------


def test_mingru_computes_its_gate_candidate_and_update_terms_before_the_loop():
    p = plan(derive(CATALOGUE["mingru"]), set())
    free = p.unlooped
    assert free.before == ("i", "s_tilde")  # read the input alone
    # s = (1 - i) ⊙ s_prev + i ⊙ s̃: the loop keeps a_t ⊙ s_{t-1} + b_t
    parts = {str(expr) for expr, symbol in p.kept if symbol in free.parts}
    assert parts == {"HadamardProduct(i, s_tilde)", "-i + 1"}
    # backward: the loop keeps δs_t = δs_t^in and δ̄s_{t-1} = δs_t ⊙ (1 - i_t) alone
    assert "d_s" not in free.backward and "d_s_prev" not in free.backward
    assert {"d_s_tilde", "d_i", "d_z_i", "d_x", "d_U"} <= set(free.backward)
    assert [name for name, _ in free.saved] == ["d_s"]


def test_parts_are_held_for_a_chunk_unless_the_backward_pass_reads_a_product_of_them():
    # mingru: backward reads 1 - i (δ̄s_{t-1} = δs_t ⊙ (1 - i_t)), which it computes again
    # from i; it reads no i ⊙ s̃.  lru: U x + b holds a product, but backward reads none.
    for name in ("mingru", "minlstm", "lru"):
        free = plan(derive(CATALOGUE[name]), set()).unlooped
        assert free.scratch == free.parts and free.parts, name
    assert plan(derive(CATALOGUE["mingru"]), set(), Options(chunk_arrays=False)).unlooped.scratch == ()
    # A part with a product that the backward pass reads keeps its (T, B, n) array.
    kept = cell(
        ("s", "(U @ x + b) * s_prev + tanh(s_prev)", S),
        parameters=(Parameter("U", "hidden", "input"), Parameter("b", "hidden", "1")),
    )
    free = plan(derive(kept), set()).unlooped
    assert free.parts and free.scratch == ()


def test_common_subexpressions_are_the_largest_elementwise_ones_that_occur_twice():
    d = derive(CATALOGUE["minlstm"])
    c = d.cell
    readable = {*c.parameter_symbols, *c.input_symbols, *c.prev_symbols, *(eq.symbol for eq in c.equations)}
    normalised = [c.equation(name).rhs for name in ("f_hat", "i_hat")]
    assert [str(e) for e in shared(normalised, readable)] == ["f + i"]
    # backward: f + i four times over; what reads an adjoint is not readable here
    assert [str(e) for e in shared([a.value for a in d.backward], readable)] == ["f + i"]
    # the LSTM's equations share nothing elementwise; a matrix product is never shared
    lstm = derive(CATALOGUE["lstm"]).cell
    everything = {*lstm.parameter_symbols, *lstm.input_symbols, *lstm.prev_symbols}
    assert shared([eq.rhs for eq in lstm.equations], everything | {eq.symbol for eq in lstm.equations}) == ()
    # nested: (a + s_prev) ⊙ a twice and a + s_prev once more: the sum first, then the
    # product that holds it
    kept = cell(
        ("a", "σ(U_a @ x + b_a)", G),
        ("p", "(a + s_prev) * a", G),
        ("q", "(a + s_prev) * a + s_prev", G),
        ("s", "(a + s_prev) * s_prev + p + q", S),
        parameters=(*affine("a")[1:],),
    )
    syms = {
        *kept.parameter_symbols,
        *kept.input_symbols,
        *kept.prev_symbols,
        *(e.symbol for e in kept.equations),
    }
    assert [str(e) for e in shared([e.rhs for e in kept.equations], syms)] == [
        "a + s_prev",
        "HadamardProduct(a + s_prev, a)",
    ]


def test_an_output_no_step_reads_back_is_computed_after_the_loop():
    free = plan(derive(CATALOGUE["lru"]), set()).unlooped
    assert free.before == () and free.after == ("y",)  # y = W_y s: y_prev is read by nothing


def test_a_cell_whose_gates_read_the_state_keeps_everything_in_its_loops():
    free = plan(derive(CATALOGUE["gru"]), set()).unlooped
    assert free.before == free.after == free.parts == ()


def test_a_state_free_gate_inside_a_run_stays_in_the_loop_and_the_option_turns_the_pass_off():
    # c reads no state, but taking it out of the run a, c, e would cut one call in two.
    assert plan(derive(gapped_cell()), set()).unlooped.before == ()
    off = plan(derive(CATALOGUE["mingru"]), set(), Options(state_free=False)).unlooped
    assert off.before == off.parts == off.backward == ()


def _step_loops(statements):
    """The innermost loops over the steps, in order."""
    for s in statements:
        if isinstance(s, ir.Loop) and s.index == STEP:
            yield s
        elif isinstance(s, (ir.Loop, ir.Quiet)):
            yield from _step_loops(s.body)


def test_the_step_loops_of_minimal_recurrences_hold_the_recurrence_alone():
    # s_t = a_t ⊙ s_{t-1} + b_t: one product and one sum a step forward; backward, the
    # incoming adjoint, written straight into the array the work after the steps reads,
    # and one product.
    for name in ("mingru", "minlstm"):
        code = prune(lower(derive(CATALOGUE[name])))
        work = [
            [s for s in loop.body if not isinstance(s, ir.Comment) and not _binding(s)]
            for loop in (*_step_loops(code.forward), *_step_loops(code.backward))
        ]
        assert [len(w) for w in work] == [2, 2], (name, work)


def _binding(statement) -> bool:
    """``name = array[t]`` or ``name = other``: a name bound, no arithmetic."""
    return (
        isinstance(statement, ir.Assign)
        and statement.op == "="
        and isinstance(statement.target, str)
        and (isinstance(statement.value, (str, ir.At, ir.Block)) or _alias(statement.value))
    )


def _alias(value) -> bool:
    from sympy import MatrixSymbol

    return isinstance(value, ir.Math) and isinstance(value.expr, MatrixSymbol)
