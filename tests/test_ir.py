"""The statement IR of the lowerings, printed as NumPy: exact strings."""

from sympy import MatrixSymbol, Symbol

from derive import algebra as A
from derive.codegen import Code, ir
from derive.printing.numpy import StatementPrinter, statements

show = StatementPrinter()
n = Symbol("n")


def test_blocks_print_as_column_slices_and_the_whole_width_as_the_array():
    assert show(ir.Block("act", ("t", ":"), 1, 3, 4)) == "act[t, :, n:3 * n]"
    assert show(ir.Block("act", ("t", ":"), 0, 4, 4)) == "act[t]"
    assert show(ir.Block("z", (":",), 0, 2, 2)) == "z"
    assert show(ir.RowRange("d_biases", 2, 3)) == "d_biases[2 * n:3 * n]"


def test_statements():
    assert show(ir.Assign(ir.Everything("s"), "s_prev", "=")) == "s[...] = s_prev"
    assert show(ir.MatMulInto("h_prev", "weights", "z_h")) == "np.matmul(h_prev, weights, out=z_h)"
    assert show(ir.ApplyInto("sigma", "z", "z")) == "_sigmoid(z, out=z)"
    assert (
        show(ir.Assign("dz", ir.Empty(ir.shape("T", "B", ir.Width(3)))))
        == "dz = np.empty((T, B, 3 * n), dtype)"
    )
    assert show(ir.Assign("d_x", ir.Zeros(ir.shape_of("x")))) == "d_x = np.zeros(x.shape, dtype)"
    assert (
        show(ir.Steps(ir.MatMul(ir.Rows("x"), "w"), None)) == "(x.reshape(T * B, -1) @ w).reshape(T, B, -1)"
    )


def test_math_reads_its_symbols_from_the_nodes_that_hold_them():
    g, s = MatrixSymbol("d_s", n, 1), MatrixSymbol("s", n, 1)
    math = ir.Math(A.hadamard(g, s), (("s", ir.at("s_seq", "t")),))
    assert show(math) == "d_s * s_seq[t]"
    assert show(ir.BatchSum(math)) == "(d_s * s_seq[t]).sum(axis=0)"
    assert show(ir.BatchSum("d_s")) == "d_s.sum(axis=0)"


def test_chains_of_products_print_by_their_factors_shapes():
    W, U = MatrixSymbol("W", n, n), MatrixSymbol("U", n, Symbol("m"))
    x, g = MatrixSymbol("x", Symbol("m"), 1), MatrixSymbol("g", n, 1)
    assert show(ir.Math(A.matmul(W, U, x))) == "x @ U.T @ W.T"
    assert show(ir.Math(A.matmul(A.transpose(U), A.transpose(W), g))) == "g @ W @ U"
    assert show(ir.Math(A.matmul(g, A.transpose(x), A.transpose(U)))) == "(g.T @ x) @ U.T"
    assert show(ir.Math(A.matmul(A.transpose(W), g, A.transpose(g)))) == "W.T @ (g.T @ g)"


def test_statements_leave_out_assignments_nothing_reads_with_their_comments():
    code = Code(
        forward_setup=[ir.Assign("s_prev", ir.at("state", ir.Key("s")))],
        forward_loop=[
            ir.Assign("z", ir.at("act", "t")),
            ir.ApplyInto("tanh", "z", "z"),
            ir.Assign("s", "z"),
            ir.Assign("s_prev", "s"),  # read by nothing: the cell does not recur
        ],
        backward_setup=[
            ir.Assign("d_out_s", ir.at("d_out", ir.Key("s"))),
            ir.Assign("s_prev_seq", ir.PreviousAll(ir.at("state", ir.Key("s")), "act")),
            ir.Assign("d_s_prev", ir.Zeros(ir.BATCH)),
        ],
        backward_loop=[
            ir.Assign("d_s_in", ir.add(ir.at("d_out_s", "t"), "d_s_prev")),
            ir.Comment("δg_t = 0"),
            ir.Assign("d_g", "0"),  # the adjoint of a value nothing reads
            ir.Comment("δs_{t-1} = 0"),
            ir.Assign("d_s_prev", ir.Zeros(ir.BATCH)),
        ],
        cache=["act"],
        outputs={"s": "act"},
        values={"s": "act"},
        d_state={"s": "d_s_prev"},
        d_x="d_x",
    )
    printed = statements(code)
    assert printed.forward_loop == ["z = act[t]", "_tanh(z, out=z)"]
    assert printed.forward_setup == []
    assert printed.backward_setup == ["d_s_prev = np.zeros((B, n), dtype)"]
    assert printed.backward_loop == ["# δs_{t-1} = 0", "d_s_prev = np.zeros((B, n), dtype)"]
    assert "dtype" not in printed.forward_reads and "dtype" in printed.backward_reads
    assert "d_out" not in printed.backward_reads and printed.backward_cache == []
    assert printed.step == {"forward_loop": "t", "backward_loop": "_"}
