"""benchmarks/onnx_latency.py in quick mode: both backends timed, the figures consistent with each other."""

import pytest

from benchmarks import onnx_latency


def test_quick_run_times_pytorch_and_onnxruntime_side_by_side():
    result = onnx_latency.run("cpu", quick=True, repeats=2, threads=1)
    rows = result["results"]
    assert [(tuple(r["size"]), r["backend"]) for r in rows] == [
        (s, b) for s in onnx_latency.QUICK_SIZES for b in ("pytorch", "onnxruntime")
    ]
    for r in rows:
        assert r["device"] == "cpu" and r["repeats"] == 2
        assert 0 < r["median_ms"] <= r["p90_ms"] and r["images_per_s"] == pytest.approx(1000 / r["median_ms"])
    assert result["ratio"] == pytest.approx(rows[1]["median_ms"] / rows[0]["median_ms"])
    assert set(result["ratios"]) == {"cpu 64x128", "cpu 96x192"} and result["machine"]["threads"] == 1
