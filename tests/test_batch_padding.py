"""The padding count of benchmarks/batch_padding.py: positions the encoder runs per batch size."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402


class SortingBackend:
    """Batches like a tagger: the chunk sorted by length, at most two reviews an encoder call."""

    max_batch_tokens = 99

    def run_batched(self, texts, run):
        ordered = sorted(texts, key=len)
        for first in range(0, len(ordered), 2):
            run(ordered[first:first + 2])


def test_padding_counts_the_longest_review_of_each_encoder_call():
    padding = benchmark_script("batch_padding").padding
    texts = ["a", "bbbbbbbbbb", "c", "dddddddddd"]
    pieces = {text: len(text) for text in texts}
    # two lines at a time: each call pairs a short review with a long one
    assert padding(SortingBackend(), [[t] for t in texts], pieces, 2) == {
        "batch_size": 2, "max_batch_tokens": 99, "encoder_calls": 2, "positions": 40,
        "widest_call_positions": 20, "pieces": 22, "positions_per_piece": round(40 / 22, 3)}
    # four lines at a time: sorted, the short ones meet and so do the long ones
    assert padding(SortingBackend(), [[t] for t in texts], pieces, 4)["positions"] == 2 + 20


def test_a_texts_parts_go_to_the_backend_with_its_line():
    padding = benchmark_script("batch_padding").padding
    parts = [["a", "bbbbbbbbbb"], ["c", "dddddddddd"]]  # two lines of two parts each
    pieces = {part: len(part) for text_parts in parts for part in text_parts}
    one_line = padding(SortingBackend(), parts, pieces, 1)  # each line's parts together
    assert (one_line["encoder_calls"], one_line["positions"]) == (2, 40)
    assert one_line["pieces"] == 22 and one_line["widest_call_positions"] == 20


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


def test_script_counts_long_reviews_in_parts_per_word_piece_budget(tmp_path):
    from fsa_edge.readers.jsonl import DEFAULT_BATCH_SIZE

    reviews = tmp_path / "reviews.json"
    long_review = " ".join(f"The dish number {i} was wonderful and the waiter was kind."
                           for i in range(40))
    reviews.write_text(json.dumps([{"sentence": long_review, "label": "positive"}] * 3))
    out = tmp_path / "padding"
    assert benchmark_script("batch_padding").main([
        "--reviews", str(reviews), "--batch-size", str(DEFAULT_BATCH_SIZE),
        "--max-batch-tokens", "4096", "--max-batch-tokens", "64", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["reviews"] == 3 and record["parts"] > 3  # each review cut into parts
    wide, narrow = record["rows"]
    assert (wide["max_batch_tokens"], narrow["max_batch_tokens"]) == (4096, 64)
    assert wide["pieces"] == narrow["pieces"]  # every part counted under both budgets
    assert narrow["encoder_calls"] > wide["encoder_calls"]
    assert narrow["widest_call_positions"] < wide["widest_call_positions"]
