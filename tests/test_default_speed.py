"""The end-to-end speed benchmark script (benchmarks/default_speed.py) on a few sentences."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402

from fsa_edge.readers.jsonl import DEFAULT_BATCH_SIZE  # noqa: E402


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
        assert row["agreement_with_first"] == 1.0  # the same model: the same answers
        assert row["compute_type"] == "int8" and row["device"] == "cpu"
        assert row["batch_size"] == DEFAULT_BATCH_SIZE  # the library's, unless asked
    table = out.with_suffix(".md").read_text()
    assert "| 1 |" in table and "| not limited |" in table
    record = json.loads(out.with_suffix(".json").read_text())
    records = benchmark_script("records")
    assert record["cpu_model"] == records.cpu_model()
    assert record["cpu_speed_features"] == records.speed_features()
    assert table.startswith("CPU: ") and "1 threads" in table.splitlines()[0]


def test_each_batch_size_asked_for_is_a_row_of_every_model(tmp_path):
    out = tmp_path / "speed"
    assert benchmark_script("default_speed").main([
        "--limit", "9", "--repeats", "1", "--threads", "1", "--task", "all",
        "--batch-size", "2", "--batch-size", "5", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["batch_size"] for r in rows] == [2, 5]
    for row in rows:  # the CLI batches as asked too: every line answered, bad ones none here
        assert row["errors"] == 0 and row["cli_output_lines"] == 9 and row["task"] == "all"
    assert rows[1]["agreement_with_first"] == 1.0  # other neighbours, the same answers
    assert "| batch |" in out.with_suffix(".md").read_text()


def test_reviews_from_a_file_are_measured_in_place(tmp_path):
    reviews = tmp_path / "reviews.json"
    long_review = "The soup was wonderful. " * 3 + "The waiter was rude."
    reviews.write_text(json.dumps([{"sentence": long_review, "label": "negative"},
                                   {"sentence": "Great pizza.", "label": "positive"}]))
    texts, source = benchmark_script("default_speed").inputs(None, reviews)
    assert texts == [long_review, "Great pizza."]
    assert source == str(reviews)


def test_compute_types_are_given_once_per_model_or_not_at_all(tmp_path, capsys):
    with pytest.raises(SystemExit):
        benchmark_script("default_speed").main([
            "--model", "default", "--model", "default", "--compute-type", "int8",
            "--out", str(tmp_path / "speed")])
    assert "--compute-type given 1 times for 2 models" in capsys.readouterr().err


def test_agreement_is_the_share_of_reviews_with_equal_answers():
    agreement = benchmark_script("default_speed").agreement
    reference = [{"atsa": [["pizza", "", "", "positive"]]}, {"atsa": []}]
    assert agreement(reference, reference) == 1.0
    assert agreement([{"atsa": [["pizza", "", "", "negative"]]}, {"atsa": []}], reference) == 0.5
    with pytest.raises(ValueError):
        agreement(reference[:1], reference)


def test_speed_features_keep_the_int8_and_bf16_features_in_a_fixed_order(monkeypatch):
    records = benchmark_script("records")
    monkeypatch.setattr(records, "cpu_flags",
                        lambda: {"amx_int8", "sse2", "avx2", "avx512_vnni", "fma"})
    assert records.speed_features() == ["avx2", "avx512_vnni", "amx_int8"]
    monkeypatch.setattr(records, "cpu_flags", lambda: set())
    assert records.speed_features() == []


def test_each_option_set_is_a_row_and_reaches_the_backend(tmp_path):
    out = tmp_path / "speed"
    script = benchmark_script("default_speed")
    assert script.main([
        "--limit", "6", "--repeats", "1", "--threads", "1", "--task", "atsa",
        "--option", "max_batch_tokens=4096", "--option", "max_batch_tokens=8,max_batch_size=2",
        "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["options"] for r in rows] == [{"max_batch_tokens": 4096},
                                            {"max_batch_tokens": 8, "max_batch_size": 2}]
    assert all(r["cli_exit_status"] == 0 and r["cli_output_lines"] == 6 for r in rows)
    assert rows[1]["agreement_with_first"] == 1.0  # smaller encoder batches, the same answers
    assert "max_batch_tokens=8, max_batch_size=2" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit, match="max_batch_token"):  # a misspelt option is not ignored
        script.main(["--limit", "2", "--repeats", "1", "--threads", "1",
                     "--option", "max_batch_token=8", "--out", str(out)])


def test_kernels_limited_by_the_environment_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CT2_FORCE_CPU_ISA", "AVX2")
    out = tmp_path / "speed"
    assert benchmark_script("default_speed").main([
        "--limit", "3", "--repeats", "1", "--threads", "1", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kernel_limits"] == {"CT2_FORCE_CPU_ISA": "AVX2"}
    assert "kernels limited by CT2_FORCE_CPU_ISA=AVX2" in out.with_suffix(".md").read_text()
