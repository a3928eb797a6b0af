"""The statement IR of the lowerings: what each node reads, the pass that leaves out
what nothing reads, and the NumPy printer's exact strings."""

from sympy import MatrixSymbol, Symbol

from derive import algebra as A
from derive.backends.numpy.printer import StatementPrinter
from derive.codegen import Code, ir, prune
from derive.codegen.unused import apart, reads, statements

show = StatementPrinter()
n = Symbol("n")


def test_blocks_print_as_column_slices_and_the_whole_width_as_the_array():
    assert show(ir.Block("act", ("t", ir.ALL), 1, 3, 4)) == "act[t, :, _n:3 * _n]"
    assert show(ir.Block("act", ("t", ir.ALL), 0, 4, 4)) == "act[t]"
    assert show(ir.Block("z", (ir.ALL,), 0, 2, 2)) == "z"
    assert show(ir.RowRange("d_biases", 2, 3)) == "d_biases[2 * _n:3 * _n]"


def test_indices_are_expressions_printed_with_their_precedence():
    chunk = ir.Slice("first", ir.Plus("first", "chunk"))
    assert show(ir.Block("act", (chunk, ir.ALL), 1, 2, 4)) == "act[first:first + chunk, :, _n:2 * _n]"
    assert show(ir.at("factor_seq", ir.Minus("t", "first"))) == "factor_seq[t - first]"
    assert show(ir.at("s_steps", ir.Slice(1))) == "s_steps[1:]"
    assert show(ir.at("s_steps", ir.Slice(None, -1))) == "s_steps[:-1]"
    assert show(ir.Greatest(1, ir.Quotient(16384, ir.Times(ir.B, ir.N)))) == "max(1, 16384 // (_B * _n))"
    entry = ir.Times(ir.Times(ir.B, ir.N), ir.Itemsize())
    assert show(ir.Quotient(65536, entry)) == "65536 // (_B * _n * _dtype.itemsize)"
    assert ir.DTYPE in ir.reads(entry)  # the frame binds _dtype for it
    assert show(ir.Minus("a", ir.Minus("b", "c"))) == "a - (b - c)"
    assert show(ir.Times(ir.Plus(ir.T, 1), ir.B)) == "(_T + 1) * _B"


def test_statements():
    assert show(ir.Assign(ir.Everything("s"), "s_prev", "=")) == "s[...] = s_prev"
    assert show(ir.MatMulInto("h_prev", "weights", "z_h")) == "np.matmul(h_prev, weights, out=z_h)"
    assert show(ir.ApplyInto("sigma", "z", "z")) == "_sigmoid(z, out=z)"
    assert show(ir.OpInto("reciprocal", ("z",), "z")) == "np.reciprocal(z, out=z)"
    assert show(ir.OpInto("divide", ("f", "shared"), "f_hat")) == "np.divide(f, shared, out=f_hat)"
    assert (
        show(ir.Assign("dz", ir.Empty(ir.shape(ir.T, ir.B, ir.Width(3)))))
        == "dz = np.empty((_T, _B, 3 * _n), _dtype)"
    )
    assert show(ir.Assign("d_x", ir.Zeros(ir.shape_of("x")))) == "d_x = np.zeros(x.shape, _dtype)"
    assert (
        show(ir.Steps(ir.MatMul(ir.Rows("x"), "w"), None))
        == "(x.reshape(_T * _B, -1) @ w).reshape(_T, _B, -1)"
    )


def test_loops_print_as_their_header_and_their_body_a_level_deeper():
    body = (ir.Assign("z", ir.at("act", "t")),)
    lines = show.lines([ir.Loop("t", ir.T, body, overflows=True)])
    assert [(line.depth, line.text) for line in lines][2:] == [
        (0, 'with np.errstate(over="ignore"):'),
        (1, "for t in range(_T):"),
        (2, "z = act[t]"),
    ]
    inner = ir.Loop("t", ir.Least(ir.Plus("first", "chunk"), ir.T), body, start="first", reverse=True)
    lines = show.lines([ir.Loop("first", ir.T, (inner,), step="chunk", reverse=True)])
    assert [line.text for line in lines] == [
        "for first in reversed(range(0, _T, chunk)):",
        "for t in reversed(range(first, min(first + chunk, _T))):",
        "z = act[t]",
    ]
    # A loop whose body does not read its index names it _.
    assert show.lines([ir.Loop("t", ir.T, (ir.Assign("s", "s_prev"),))])[0].text == "for _ in range(_T):"


def test_math_reads_its_symbols_from_the_nodes_that_hold_them():
    g, s = MatrixSymbol("d_s", n, 1), MatrixSymbol("s", n, 1)
    math = ir.Math(A.hadamard(g, s), (("s", ir.at("s_seq", "t")),))
    assert show(math) == "d_s * s_seq[t]"
    assert ir.reads(math) == {"d_s", "s_seq", "t"}
    assert show(ir.BatchSum(math)) == "(d_s * s_seq[t]).sum(axis=0)"
    assert show(ir.BatchSum("d_s")) == "d_s.sum(axis=0)"


def test_chains_of_products_print_by_their_factors_shapes():
    W, U = MatrixSymbol("W", n, n), MatrixSymbol("U", n, Symbol("m"))
    x, g = MatrixSymbol("x", Symbol("m"), 1), MatrixSymbol("g", n, 1)
    assert show(ir.Math(A.matmul(W, U, x))) == "x @ U.T @ W.T"
    assert show(ir.Math(A.matmul(A.transpose(U), A.transpose(W), g))) == "g @ W @ U"
    assert show(ir.Math(A.matmul(g, A.transpose(x), A.transpose(U)))) == "(g.T @ x) @ U.T"
    assert show(ir.Math(A.matmul(A.transpose(W), g, A.transpose(g)))) == "W.T @ (g.T @ g)"


def test_what_a_node_reads_and_binds():
    assert ir.reads(ir.Assign("s", "s_prev")) == {"s_prev"} and ir.binds(ir.Assign("s", "s_prev")) == "s"
    assert ir.reads(ir.Assign("z", "b", "+=")) == {"z", "b"} and ir.binds(ir.Assign("z", "b", "+=")) is None
    assert ir.reads(ir.Assign(ir.at("s_seq", "t"), "s")) == {"s_seq", "t", "s"}
    assert ir.reads(ir.Empty(ir.shape(ir.T, ir.B, ir.Width(2)))) == {ir.T, ir.B, ir.N, ir.DTYPE}
    assert ir.reads(ir.Assign("d", ir.at("d_out", ir.Key("s")))) == {"d_out"}  # a key is no name
    assert ir.reads(ir.Comment("s = t")) == set()
    assert ir.reads(ir.ApplyInto("tanh", "z", "z")) == {"z"}  # the function is no name
    loop = ir.Loop("t", ir.T, (ir.Assign("z", ir.at("act", "t")),))
    assert ir.reads(loop) == {ir.T, "act"}  # the index is the loop's own


# --- The pass that leaves out what nothing reads -------------------------------------


def test_an_assignment_nothing_reads_goes_with_its_comment():
    body = (
        ir.Comment("kept"),
        ir.Assign("a", "x"),
        ir.Comment("dropped"),
        ir.Assign("b", "a"),
        ir.Comment("dropped too: it reads only what goes"),
        ir.Assign("c", "b"),
    )
    assert statements(body, ["a"]) == body[:2]
    assert statements(body, ["c"]) == body


def test_a_name_read_only_by_the_statement_that_binds_it_goes():
    again = ir.Assign("total", ir.add("total", "x"))
    body = (ir.Assign("total", 0), again, ir.Assign("y", "x"))
    assert statements(body, ["y"]) == (ir.Assign("y", "x"),)  # then what only it read
    assert statements(body, ["total", "y"]) == body
    # An update in place binds nothing: it stays, and keeps what it reads.
    body = (ir.Assign("total", 0), ir.Assign("total", "x", "+="))
    assert statements(body, []) == body


def test_a_loop_keeps_what_is_left_of_its_body_and_a_comment_the_block_it_describes():
    g, s = ir.Assign("g", "x"), ir.Assign("s", "x")
    loop = ir.Loop("t", ir.T, (ir.Comment("about g"), g, ir.Comment("about s"), s))
    kept = statements((ir.Comment("a note"), loop), ["s"])
    assert kept == (ir.Comment("a note"), ir.Loop("t", ir.T, (ir.Comment("about s"), s)))
    # A comment stands for the statements up to the next comment: it stays while one does.
    assert statements((ir.Comment("g and s"), g, s), ["s"]) == (ir.Comment("g and s"), s)


def test_apart_moves_what_only_the_other_results_need_after_the_rest():
    rows = ir.Assign("rows", ir.StackRows(("U",)))
    gradient = ir.Assign("d_U", ir.MatMul(ir.Transpose("dz"), "x"))
    d_x = ir.Assign("d_x", ir.MatMul("dz", "rows"))
    body = (rows, ir.Comment("both gradients"), gradient, d_x)
    first, then = apart(body, ["d_U"])
    assert first == (ir.Comment("both gradients"), gradient)
    assert then == (rows, d_x)  # the comment stands for a statement of the first part too
    assert apart(body, ["d_U", "d_x"]) is None  # nothing left for a second part
    # A statement the first part changes later cannot move after it.
    body = (ir.Assign("d_x", ir.MatMul("dz", "U")), ir.Assign("dz", "U", "*="), ir.Assign("d_U", "dz"))
    assert apart(body, ["d_U"]) is None
    # Nor can one inside a loop.
    loop = ir.Loop("t", ir.T, (ir.Assign("d_U", "x", "+="), ir.Assign(ir.at("d_x", "t"), "x")))
    assert apart((ir.Assign("d_U", 0), ir.Assign("d_x", ir.Empty(ir.BATCH)), loop), ["d_U"]) is None


def test_the_pass_over_both_functions_and_what_the_frame_then_binds():
    code = Code(
        forward=(
            ir.Assign("s_prev", ir.at("state", ir.Key("s"))),
            ir.Loop(
                "t",
                ir.T,
                (
                    ir.Assign("z", ir.at("act", "t")),
                    ir.ApplyInto("tanh", "z", "z"),
                    ir.Assign("s", "z"),
                    ir.Assign("s_prev", "s"),  # read by nothing: the cell does not recur
                ),
            ),
        ),
        backward=(
            ir.Assign("d_out_s", ir.at("d_out", ir.Key("s"))),
            ir.Assign("s_prev_seq", ir.PreviousAll(ir.at("state", ir.Key("s")), "act")),
            ir.Assign("d_s_prev", ir.Zeros(ir.BATCH)),
            ir.Loop(
                "t",
                ir.T,
                (
                    ir.Assign("d_s_in", ir.add(ir.at("d_out_s", "t"), "d_s_prev")),
                    ir.Comment("δg_t = 0"),
                    ir.Assign("d_g", 0),  # the adjoint of a value nothing reads
                    ir.Comment("δs_{t-1} = 0"),
                    ir.Assign("d_s_prev", ir.Zeros(ir.BATCH)),
                ),
                reverse=True,
            ),
        ),
        cache=("act",),
        outputs={"s": "act"},
        values={"s": "act"},
        d_state={"s": "d_s_prev"},
        d_x="d_x",
    )
    pruned = prune(code)
    forward = [(line.depth, line.text) for line in show.lines(pruned.forward)]
    assert forward == [(0, "for t in range(_T):"), (1, "z = act[t]"), (1, "_tanh(z, out=z)")]
    backward = [line.text for line in show.lines(pruned.backward)]
    assert backward == [
        "d_s_prev = np.zeros((_B, _n), _dtype)",
        "for _ in reversed(range(_T)):",
        "# δs_{t-1} = 0",
        "d_s_prev = np.zeros((_B, _n), _dtype)",
    ]
    assert ir.DTYPE not in reads(pruned.forward, pruned.forward_results)
    assert ir.DTYPE in reads(pruned.backward, pruned.backward_results)
    assert "d_out" not in reads(pruned.backward, pruned.backward_results)
    assert prune(pruned) == pruned
