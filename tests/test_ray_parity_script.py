"""benchmarks/ray_parity.py: its comparison of plain and Ray output lines."""

from __future__ import annotations

import json

import pytest

from benchmark_scripts import benchmark_script


def line(score: float, polarity: str = "positive") -> str:
    return json.dumps({"id": "1", "answers": {"atsa": [
        {"aspect": "soup", "polarity": polarity, "score": score}], "sentence": []}})


def test_compare_counts_lines_elements_and_the_largest_score_move():
    compare = benchmark_script("ray_parity").compare
    same = compare([line(0.5), line(0.7)], [line(0.5), line(0.7)])
    assert same == {"lines": 2, "lines_differing": 0, "decoded_differently": 0,
                    "reviews_with_a_score_moved_over_1e-5": 0, "max_score_delta": 0.0}
    moved = compare([line(0.5), line(0.7), line(0.2)],
                    [line(0.5), line(0.75), line(0.2, "negative")])
    assert moved == {"lines": 3, "lines_differing": 2, "decoded_differently": 1,
                     "reviews_with_a_score_moved_over_1e-5": 1, "max_score_delta": 0.05}
    with pytest.raises(SystemExit):
        compare([line(0.5)], [])
