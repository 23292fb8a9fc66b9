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
    assert same == {"lines": 2, "lines_differing": 0, "lines_with_other_elements": 0,
                    "max_score_delta": 0.0}
    moved = compare([line(0.5), line(0.7)], [line(0.5), line(0.75, "negative")])
    assert moved == {"lines": 2, "lines_differing": 1, "lines_with_other_elements": 1,
                     "max_score_delta": 0.05}
    with pytest.raises(SystemExit):
        compare([line(0.5)], [])
