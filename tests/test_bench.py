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
        assert r["ratio_to_torch"] is None
        # 3 passes × 2·T·B·(inputs + hidden)·k·hidden, k = 3 stacked blocks for the GRU, 1 for the RNN
        k = 3 if r["cell"] == "gru" else 1
        assert abs(r["gflops"] * r["seconds"] * 1e9 - 3 * 2 * 3 * 2 * (2 + 3) * k * 3) < 1e-6
    assert record["generated_by"].startswith("python -m derive bench")
    assert json.loads(bench.dumps(record)) == json.loads(json.dumps(record))
    assert "gru" in bench.table(record)


@pytest.mark.slow
def test_kernels_time_each_piece_in_both_dtypes():
    rows = bench.kernels(batch=2, hidden=4, repeat=1)
    assert [dtype for _, dtype, _, _ in rows] == ["float64"] * 3 + ["float32"] * 3
    assert all(ours > 0 for _, _, ours, _ in rows)
    assert "feature-major" in bench.kernels_table(rows)
