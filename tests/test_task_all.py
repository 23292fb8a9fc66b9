"""``task="all"``: every task the model serves from one encoder pass, in one result per review."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import fsa_edge
from fsa_edge.cli import build_cli
from fsa_edge.model import AnalysisResult

TEXTS = ["The soup was wonderful but the waiter was rude.",
         "Battery life is great, the screen is dim.",
         "Great pizza, slow delivery, friendly staff and cheap wine."]


@pytest.fixture(scope="module")
def analyzer():
    with fsa_edge.load("default", cpu_threads=1) as loaded:
        yield loaded


def test_all_equals_each_task_alone(analyzer):
    results = analyzer.analyze(TEXTS, task="all")
    served = set(analyzer.backend.tasks)
    assert {"atsa", "acsa"} <= served
    for task in served:
        alone = analyzer.analyze(TEXTS, task=task)
        for one, single in zip(results, alone):
            assert one.task == "all" and one.elements == () and set(one.answers) == served
            assert one.answers[task] == single.elements == one.elements_for(task)


def test_all_is_one_encoder_pass(analyzer):
    runtime = analyzer.backend.runtime
    calls = []
    encode = runtime.encode
    runtime.encode = lambda tokens: calls.append(len(tokens)) or encode(tokens)
    try:
        analyzer.analyze(TEXTS, task="all")
        assert calls == [len(TEXTS)]
        calls.clear()
        for task in analyzer.backend.tasks:
            analyzer.analyze(TEXTS, task=task)
        assert calls == [len(TEXTS)] * len(analyzer.backend.tasks)
    finally:
        runtime.encode = encode


def test_all_result_json_round_trip(analyzer):
    result = analyzer.analyze(TEXTS[0], task="all")
    record = json.loads(json.dumps(result.to_dict()))
    assert set(record["answers"]) == set(analyzer.backend.tasks) and record["elements"] == []
    assert AnalysisResult.from_dict(record) == result
    assert "answers" not in analyzer.analyze(TEXTS[0]).to_dict()  # the per-task form unchanged


def test_cli_task_all_one_line_per_input_line_and_evaluate(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": TEXTS[0]}) + "\nnot json\n\n"
                      + json.dumps({"id": "b"}) + "\n" + json.dumps({"id": "c", "text": TEXTS[2]})
                      + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(build_cli(), ["analyze", str(source), "--task", "all", "-o",
                                              str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "2", "3", "b", "c"]
    assert [r["error"] is None for r in rows] == [True, False, False, False, True]
    assert all(r["task"] == "all" for r in rows) and {"atsa", "acsa"} <= set(rows[0]["answers"])
    gold = tmp_path / "gold.json"  # fsa-benchmark layout: the element 'waiter negative'
    gold.write_text(json.dumps([{"ID": "a", "sentence": TEXTS[0], "aspects": [
        {"target": "waiter", "polarity": "negative", "from": "31", "to": "37"}]}]),
        encoding="utf-8")
    scored = CliRunner().invoke(build_cli(), ["evaluate", "--task", "atsa", "--gold", str(gold),
                                              "--pred", str(out), "--json",
                                              str(tmp_path / "s.json")])
    assert scored.exit_code == 0, scored.output
    assert json.loads((tmp_path / "s.json").read_text())["recall"] == 100.0


def test_a_backend_without_one_pass_answers_each_task(keyword_model):
    result = fsa_edge.load(keyword_model).analyze("The food was great.", task="all")
    assert set(result.answers) == {"atsa"} and result.answers["atsa"][0].aspect == "food"
