"""``benchmarks/soup.py``'s greedy rule, the recipe runs replaced by canned step rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_scripts import benchmark_script


def _row(step: Path, ingredients: list[Path], dev_mean: float) -> dict:
    return {"step": step.name, "ingredients": [str(p) for p in ingredients],
            "dev_mean": dev_mean, "dev": {"rest14": dev_mean}, "test": {"rest14": 0.0},
            "model": str(step / "ct2-int8")}


def test_a_refused_average_is_left_out_and_the_greedy_soup_goes_on(tmp_path, monkeypatch):
    soup = benchmark_script("soup")
    outcomes = {"greedy_1": 60.0, "greedy_2": "Error: parity gate failed … (aste)",
                "greedy_3": 61.0, "greedy_4": 60.5}

    def evaluate(step, ingredients, args):
        outcome = outcomes[step.name]
        if isinstance(outcome, str):
            return {"step": step.name, "ingredients": [str(p) for p in ingredients],
                    "failed": outcome}
        return _row(step, ingredients, outcome)

    monkeypatch.setattr(soup, "evaluate", evaluate)
    record = tmp_path / "soup.json"
    argv = ["--out", str(tmp_path / "run"), "--no-uniform", "--record", str(record)]
    for name in ("a", "b", "c", "d"):
        argv += ["--ingredient", str(tmp_path / name / "hf")]
    assert soup.main(argv) == 0
    summary = json.loads(record.read_text())
    assert [row["kept"] for row in summary["steps"]] == ["start", "no (refused)", "yes", "no"]
    assert [Path(p).parent.name for p in summary["greedy_soup"]] == ["a", "c"]
    assert summary["chosen"]["step"] == "greedy_3"
    assert "parity gate failed" in record.with_suffix(".md").read_text()


def test_a_first_ingredient_the_recipe_refuses_stops_the_soup(tmp_path, monkeypatch):
    soup = benchmark_script("soup")
    monkeypatch.setattr(soup, "evaluate", lambda step, ingredients, args: {
        "step": step.name, "ingredients": [], "failed": "Error: parity gate failed"})
    argv = ["--out", str(tmp_path / "run"), "--ingredient", str(tmp_path / "a"),
            "--ingredient", str(tmp_path / "b")]
    with pytest.raises(SystemExit, match="first ingredient alone: Error: parity gate failed"):
        soup.main(argv)


def test_blind_keeps_test_f1_off_the_terminal_and_in_the_record(tmp_path, monkeypatch, capsys):
    soup = benchmark_script("soup")
    monkeypatch.setattr(soup, "evaluate", lambda step, ingredients, args: _row(
        step, ingredients, {"greedy_1": 60.0, "greedy_2": 61.0}[step.name]))
    record = tmp_path / "soup.json"
    argv = ["--out", str(tmp_path / "run"), "--no-uniform", "--blind", "--record", str(record),
            "--ingredient", str(tmp_path / "a"), "--ingredient", str(tmp_path / "b")]
    assert soup.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["chosen"]["step"] == "greedy_2" and "test" not in printed["chosen"]
    assert all("test" not in row and "dev" in row for row in printed["steps"])
    kept = json.loads(record.read_text())
    assert kept["chosen"]["test"] == {"rest14": 0.0}
    assert all(row["test"] == {"rest14": 0.0} for row in kept["steps"])


def test_relay_passes_progress_through_and_blind_leaves_the_test_lines_out(capsys):
    soup = benchmark_script("soup")
    score_line = benchmark_script("train_default").score_line  # what the recipe prints
    recipe = ["fsa-edge convert: parity gate on 32 samples\n",
              score_line("rest14", "atsa", "test", 73.41) + "\n",
              score_line("rest14", "atsa", "dev", 63.1) + "\n",
              "Error: parity gate failed (aste)\n"]
    assert soup.relay(recipe) == "Error: parity gate failed (aste)"
    assert capsys.readouterr().err == "".join(recipe)
    assert soup.relay(recipe, blind=True) == "Error: parity gate failed (aste)"
    shown = capsys.readouterr().err
    assert "test F1" not in shown and "dev F1 63.10" in shown and "parity gate on" in shown
