"""The padding count of benchmarks/batch_padding.py: positions the encoder runs per batch size."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402


class SortingBackend:
    """Batches like a tagger: the chunk sorted by length, at most two reviews an encoder call."""

    def run_batched(self, texts, run):
        ordered = sorted(texts, key=len)
        for first in range(0, len(ordered), 2):
            run(ordered[first:first + 2])


def test_padding_counts_the_longest_review_of_each_encoder_call():
    padding = benchmark_script("batch_padding").padding
    texts = ["a", "bbbbbbbbbb", "c", "dddddddddd"]
    pieces = {text: len(text) for text in texts}
    # two lines at a time: each call pairs a short review with a long one
    assert padding(SortingBackend(), texts, pieces, 2) == {
        "batch_size": 2, "encoder_calls": 2, "positions": 40, "pieces": 22,
        "positions_per_piece": round(40 / 22, 3)}
    # four lines at a time: sorted, the short ones meet and so do the long ones
    assert padding(SortingBackend(), texts, pieces, 4)["positions"] == 2 + 20


def test_script_counts_the_default_models_batches(tmp_path):
    out = tmp_path / "padding"
    assert benchmark_script("batch_padding").main([
        "--limit", "40", "--batch-size", "4", "--batch-size", "40", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    small, large = record["rows"]
    assert (small["batch_size"], large["batch_size"]) == (4, 40)
    assert small["pieces"] == large["pieces"] > 0
    assert small["encoder_calls"] == 10 and large["encoder_calls"] >= 1
    assert large["positions"] <= small["positions"] * 2 and small["positions"] >= small["pieces"]
    assert "| lines per batch |" in out.with_suffix(".md").read_text()
