"""The end-to-end speed benchmark script (benchmarks/default_speed.py) on a few sentences."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402


def test_speed_script_measures_the_default_model_with_both_head_blas_settings(tmp_path):
    out = tmp_path / "speed"
    status = benchmark_script("default_speed").main([
        "--limit", "8", "--repeats", "1", "--threads", "1", "--task", "acsa",
        "--compare-head-blas", "--out", str(out)])
    assert status == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["head_blas_threads"] for r in rows] == ["1", "0"]
    for row in rows:
        assert row["reviews"] == 8 and row["errors"] == 0 and row["task"] == "acsa"
        assert row["cli_output_lines"] == 8 and row["cli_peak_rss_mb"] > 0
    table = out.with_suffix(".md").read_text()
    assert "| 1 |" in table and "| not limited |" in table
    record = json.loads(out.with_suffix(".json").read_text())
    records = benchmark_script("records")
    assert record["cpu_model"] == records.cpu_model()
    assert record["cpu_speed_features"] == records.speed_features()
    assert table.startswith("CPU: ") and "1 threads" in table.splitlines()[0]


def test_speed_features_keep_the_int8_and_bf16_features_in_a_fixed_order(monkeypatch):
    records = benchmark_script("records")
    monkeypatch.setattr(records, "cpu_flags",
                        lambda: {"amx_int8", "sse2", "avx2", "avx512_vnni", "fma"})
    assert records.speed_features() == ["avx2", "avx512_vnni", "amx_int8"]
    monkeypatch.setattr(records, "cpu_flags", lambda: set())
    assert records.speed_features() == []
