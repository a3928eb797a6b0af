"""The benchmark's bookkeeping, on sizes small enough for a test (no timings asserted)."""

import json

import pytest

from derive import bench


@pytest.mark.slow
def test_run_records_every_cell_size_and_dtype():
    record = bench.run(
        cells=("rnn", "gru"),
        sizes=((3, 2, 2, 3),),
        dtypes=("float64", "float32"),
        rounds=1,
        torch_ratio=False,
    )
    rows = record["rows"]
    assert {(r["cell"], r["dtype"]) for r in rows} == {
        (c, d) for c in ("rnn", "gru") for d in ("float64", "float32")
    }
    for r in rows:
        assert r["seconds"] > 0 and r["gflops"] > 0 and r["speedup_over_literal"] > 0
        # one ratio, the two ways up, from the same rounds (a median of inverses is the inverse of the median
        # for an odd number of rounds)
        assert abs(r["fused_over_literal"] * r["speedup_over_literal"] - 1) < 1e-9
        assert r["ratio_to_torch"] is None
        # 3 passes × 2·T·B·(inputs + hidden)·k·hidden, k = 3 stacked blocks for the GRU, 1 for the RNN
        k = 3 if r["cell"] == "gru" else 1
        assert abs(r["gflops"] * r["seconds"] * 1e9 - 3 * 2 * 3 * 2 * (2 + 3) * k * 3) < 1e-6
    assert record["generated_by"].startswith("python -m derive bench")
    assert json.loads(bench.dumps(record)) == json.loads(json.dumps(record))
    assert "gru" in bench.table(record) and "fused/literal" in bench.table(record)


@pytest.mark.slow
def test_kernels_time_each_piece_in_both_dtypes():
    rows = bench.kernels(batch=2, hidden=4, repeat=1)
    assert [dtype for _, dtype, _, _ in rows] == ["float64"] * 3 + ["float32"] * 3
    assert all(ours > 0 for _, _, ours, _ in rows)
    assert "feature-major" in bench.kernels_table(rows)


def test_the_floor_of_the_lstm_is_the_hand_count_of_its_products():
    T, B, n_in, n = 5, 3, 2, 7
    products = bench.floor_products("lstm", T, B, n_in, n)
    # (shape_a, shape_b, repeats): forward x [U_o U_i U_f U]ᵀ over all T·B rows, then
    # h_{t-1} [W_o W_i W_f W]ᵀ at each step; backward δz [W_o W_i W_f W] at each step;
    # after the loop the two stacked weight gradients and the input's gradient.
    assert [(a, b, repeats) for a, b, repeats, _ in products] == [
        ((T * B, n_in), (n_in, 4 * n), 1),
        ((B, n), (n, 4 * n), T),
        ((B, 4 * n), (4 * n, n), T),
        ((4 * n, T * B), (T * B, n), 1),
        ((4 * n, T * B), (T * B, n_in), 1),
        ((T * B, 4 * n), (4 * n, n_in), 1),
    ]
    assert "forward" in products[0][3] and "backward step" in products[2][3]
    # The same work the bench counts for its GFLOP/s: 3 passes × 2·T·B·(inputs + hidden)·4·hidden.
    flops = sum(2 * a[0] * a[1] * b[1] * repeats for a, b, repeats, _ in products)
    assert flops == 3 * 2 * T * B * (n_in + n) * 4 * n


def test_the_floor_follows_each_cells_plan():
    from derive import CATALOGUE

    gru = bench.floor_products(CATALOGUE["gru"], 4, 2, 3, 5)
    # Two recurrent stacked products (s_{t-1} by [W_o W_i], o ⊙ s_{t-1} by W), each
    # forward and backward at every step; the input's product is hoisted.
    assert sorted((a, b) for a, b, repeats, _ in gru if repeats == 4) == [
        ((2, 5), (5, 5)),
        ((2, 5), (5, 5)),
        ((2, 5), (5, 10)),
        ((2, 10), (10, 5)),
    ]
    # A cell with no recurrent product (IndRNN: u ⊙ s_{t-1}) has none in the loop.
    assert all(repeats == 1 for _, _, repeats, _ in bench.floor_products("indrnn", 4, 2, 3, 5))


def test_quick_times_only_the_smallest_size(monkeypatch, capsys):
    from derive import cli

    assert (100, 64, 256, 512) in bench.SIZES
    smallest = min(bench.SIZES, key=lambda size: size[0] * size[1] * (size[2] + size[3]) * size[3])
    seen = []

    def run(**kwargs):
        seen.append(kwargs["sizes"])
        return {"rows": [], "machine": {"gemm_gflops": {}, "numpy": "-", "torch": None}}

    monkeypatch.setattr(bench, "run", run)
    assert cli.main(["bench", "lstm", "--quick", "--no-torch"]) == 0
    assert seen == [(smallest,)]


def test_the_floor_is_recorded_and_printed():
    record = bench.run(
        cells=("rnn",), sizes=((2, 1, 2, 3),), dtypes=("float32",), rounds=1, torch_ratio=False
    )
    (row,) = record["rows"]
    assert row["floor_seconds"] > 0 and row["multiple_of_floor"] > 0 and row["seconds"] > 0
    # one round: the multiple is the generated module's CPU time over the floor's
    assert abs(row["multiple_of_floor"] - row["seconds"] / row["floor_seconds"]) < 1e-9
    text = bench.table(record)
    assert "× floor" in text and f"{row['multiple_of_floor']:.2f}" in text


def test_the_floor_counts_a_product_inside_a_term_the_plan_does_not_stack():
    T, B, n_in, n = 4, 2, 3, 5
    products = bench.floor_products("gru_torch", T, B, n_in, n)
    # s̃ = tanh(o ⊙ (W s_{t-1} + c) + U x + b): W s_{t-1} forward and backward at each
    # step, and W's gradient once, beside the spans [W_o W_i] and [U_o U_i U].
    through_w = [(a, b, r) for a, b, r, what in products if "W s_{t-1}" in what or "through W" in what]
    assert through_w == [((B, n), (n, n), T), ((B, n), (n, n), T)]
    assert [(a, b, r) for a, b, r, what in products if what.startswith("gradient of W,")] == [
        ((n, T * B), (T * B, n), 1)
    ]
    # the same work as the GRU's: three blocks of n forward, backward and in the gradients
    flops = sum(2 * a[0] * a[1] * b[1] * r for a, b, r, _ in products)
    assert flops == 3 * 2 * T * B * (n_in + n) * 3 * n


def test_the_exp_floor_counts_each_sigma_and_tanh_value_once():
    T, B, n_in, n = 5, 3, 2, 7
    lstm = bench.floor_exps("lstm", T, B, n_in, n)
    # o, i, f (σ), s̃ (tanh) and tanh(s_t) in h_t = o_t ⊙ tanh(s_t): five values of n per row
    assert [entries for entries, _ in lstm] == [T * B * n] * 5
    assert lstm[-1][1] == "tanh(s_t)"
    # The GRU's σ(o), σ(i), tanh(s̃); IndRNN's relu needs no exponential at all.
    assert [entries for entries, _ in bench.floor_exps("gru", T, B, n_in, n)] == [T * B * n] * 3
    assert bench.floor_exps("indrnn", T, B, n_in, n) == []


def test_the_exp_floor_and_the_kernel_share_are_recorded_and_printed():
    record = bench.run(
        cells=("rnn", "indrnn"), sizes=((2, 1, 2, 3),), dtypes=("float64",), rounds=1, torch_ratio=False
    )
    rnn, indrnn = record["rows"]
    assert rnn["exp_seconds"] > 0 and indrnn["exp_seconds"] == 0
    # one round: the multiple is the generated time over the floor plus the exps
    expected = rnn["seconds"] / (rnn["floor_seconds"] + rnn["exp_seconds"])
    assert abs(rnn["multiple_of_floor_and_exp"] - expected) < 1e-9
    assert rnn["kernel_share"] is None or 0 <= rnn["kernel_share"] <= 1
    text = bench.table(record)
    assert "× f+exp" in text and f"{rnn['multiple_of_floor_and_exp']:.2f}" in text


def test_the_code_page_shows_each_recorded_row_with_its_floor_ratios():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    record = json.loads((root / "records" / "benchmark.json").read_text(encoding="utf-8"))
    page = (root / "docs" / "code.md").read_text(encoding="utf-8")
    assert record["machine"]["processor"] in page and record["machine"]["blas"] in page
    for r in record["rows"]:
        row = (
            f"| `{r['cell']}` | {r['T']}, {r['B']}, {r['inputs']}, {r['hidden']} | `{r['dtype']}` "
            f"| {r['seconds'] * 1000:.2f} | {r['multiple_of_floor']:.2f} "
            f"| {r['multiple_of_floor_and_exp']:.2f} |"
        )
        assert row in page, row


def test_the_floor_splits_into_the_products_of_each_pass():
    T, B, n_in, n = 5, 3, 2, 7
    forward, backward = bench.floor_by_pass("lstm", T, B, n_in, n)
    assert forward + backward == bench.floor_products("lstm", T, B, n_in, n)
    # forward: the hoisted input product and the step product; the rest is backward's
    assert [(a, b, r) for a, b, r, _ in forward] == [
        ((T * B, n_in), (n_in, 4 * n), 1),
        ((B, n), (n, 4 * n), T),
    ]
    assert len(backward) == 4


def test_by_pass_times_forward_and_backward_against_their_own_floors():
    (row,) = bench.by_pass(cells=("rnn",), sizes=((2, 1, 2, 3),), dtypes=("float64",), rounds=1)
    for k in ("forward", "backward"):
        assert row[f"{k}_seconds"] > 0 and row[f"{k}_floor_seconds"] > 0
        # one round: the multiple is the pass's CPU time over its own products' time
        assert abs(row[f"{k}_multiple_of_floor"] - row[f"{k}_seconds"] / row[f"{k}_floor_seconds"]) < 1e-9
    assert row["exp_seconds"] > 0
    text = bench.by_pass_table([row])
    assert "bwd ms" in text and f"{row['backward_multiple_of_floor']:.2f}" in text


@pytest.mark.slow
def test_a_cell_file_is_timed_like_a_catalogue_cell_but_never_against_pytorch(tmp_path, capsys):
    from derive import cli
    from derive.catalogue import FOLDER, resolve

    # The MGU's equations in a file named like the catalogue's LSTM: PyTorch's LSTM is
    # not the same cell, so it is not timed against it.
    path = tmp_path / "lstm.toml"
    path.write_text((FOLDER / "mgu.toml").read_text(encoding="utf-8"), encoding="utf-8")
    size = (3, 2, 2, 3)
    record = bench.run(cells=(str(path),), sizes=(size,), dtypes=("float64",), rounds=1)
    (row,) = record["rows"]
    assert row["ratio_to_torch"] is None and row["multiple_of_floor"] > 0
    # the GFLOP/s count the floor's products: the MGU's two stacked spans and W (f ⊙ s_{t-1})
    products = bench.floor_products(resolve(str(path)), *size)
    flops = sum(2 * a[0] * a[1] * b[1] * r for a, b, r, _ in products)
    assert abs(row["gflops"] * row["seconds"] * 1e9 - flops) < 1e-6
    (split,) = bench.by_pass(cells=(str(path),), sizes=(size,), dtypes=("float64",), rounds=1)
    assert split["forward_floor_seconds"] > 0
    assert cli.main(["bench", str(path), "--quick", "--rounds", "1", "--no-torch"]) == 0
    assert capsys.readouterr().out.startswith("cell")


def test_the_code_page_says_how_much_longer_float64s_exp_took_from_the_record():
    from pathlib import Path

    from derive.site.pages import _exp_ratio

    root = Path(__file__).resolve().parents[1]
    record = json.loads((root / "records" / "benchmark.json").read_text(encoding="utf-8"))
    lo, hi = _exp_ratio(record)
    by = {(r["cell"], r["T"], r["dtype"]): r["exp_seconds"] for r in record["rows"]}
    ratios = [v / by[c, T, "float32"] for (c, T, d), v in by.items() if d == "float64"]
    assert (lo, hi) == (min(ratios), max(ratios))
    page = (root / "docs" / "code.md").read_text(encoding="utf-8")
    assert f"took {lo:.1f} to {hi:.1f} times as long as its float32 one" in page
    assert _exp_ratio({"rows": []}) is None and _exp_ratio(None) is None
