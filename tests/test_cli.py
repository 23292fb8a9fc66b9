"""The CLI contract, through click's CliRunner and once as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from fsa_edge.cli import build_cli

ROOT = Path(__file__).resolve().parents[1]

BAD_LINES = [
    b'{"id": "a", "text": "The food was great."}',
    b'{"id": "b", "text": ',                       # invalid JSON
    b'{"id": "c"}',                                # missing text
    b'{"id": "d", "text": "   "}',                 # empty text
    b'{"id": "e", "text": "caf\xe9 food"}',        # invalid UTF-8
    b'',                                           # blank line
    b'[1, 2]',                                     # not an object
    b'{"id": "f", "text": 5}',                     # text not a string
    b'{"id": "g", "text": "' + b"food " * 2_000_000 + b'"}',   # a 10 MB line
    b'{"text": "service was slow"}',               # no id: the line number stands in
]


def run(args, input_bytes=None):
    return CliRunner().invoke(build_cli(), args, input=input_bytes, catch_exceptions=False)


def test_analyze_one_output_line_per_input_line(keyword_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(BAD_LINES) + b"\n")
    out = tmp_path / "out.jsonl"
    result = run(["analyze", str(source), "--model", str(keyword_model), "-o", str(out),
                  "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(BAD_LINES)
    assert [r["id"] for r in rows] == ["a", "2", "c", "d", "5", "6", "7", "f", "g", "10"]
    errors = [r["error"] for r in rows]
    assert errors[0] is None and errors[8] is None and errors[9] is None
    # each error names the file, the line and (where there is one) the field
    assert errors[1].startswith(f"{source}, line 2: invalid JSON")
    assert f"{source}, line 3: field 'text' is missing" == errors[2]
    assert f"{source}, line 4: field 'text' is empty" == errors[3]
    assert all(e.startswith(f"{source}, line {n}: ") for n, e in enumerate(errors, 1) if e)
    assert "UTF-8" in errors[4] and "empty line" in errors[5] and "object" in errors[6]
    assert "must be a string" in errors[7]
    assert rows[0]["elements"][0]["aspect"] == "food"
    assert set(rows[0]) == {"id", "text", "task", "elements", "model", "error", "parts"}


def test_strict_stops_at_first_bad_line(keyword_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id": 1, "text": "food"}\n{oops\n{"id": 3, "text": "food"}\n')
    result = run(["analyze", str(source), "--model", str(keyword_model), "--strict"])
    assert result.exit_code == 2
    assert len([l for l in result.stdout.splitlines() if l.startswith("{")]) == 1
    assert result.stderr.startswith(f"Error: {source}, line 2: invalid JSON")


def test_stdin_text_format_and_task(keyword_model):
    result = run(["analyze", "-", "--model", str(keyword_model), "--format", "text"],
                 b"good food\n\nbad service\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["error"] == "<stdin>, line 2: empty line"


def test_user_errors_are_one_line_exit_2(keyword_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    result = run(["analyze", str(source), "--model", "nope"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().startswith("Error: no model directory or alias 'nope'")
    result = run(["analyze", str(source), "--model", str(keyword_model), "--task", "bogus"])
    assert result.exit_code == 2 and "unknown task 'bogus'" in result.stderr
    for engine in ("local", "ray"):  # INPUT is checked before Ray is needed
        result = run(["analyze", str(tmp_path), "--model", str(keyword_model),
                      "--engine", engine])
        assert result.exit_code == 2 and f"{tmp_path} is a directory, not a file" in result.stderr
        result = run(["analyze", str(tmp_path / "absent.jsonl"), "--model", str(keyword_model),
                      "--engine", engine])
        assert result.exit_code == 2 and "no such file: " in result.stderr


def _gold_as_predictions(data_dir: Path, tmp_path: Path, relative: str) -> Path:
    from fsa_edge import AnalysisResult
    from fsa_edge.readers import read_dataset

    dataset = read_dataset(data_dir / relative)
    pred = tmp_path / "pred.jsonl"
    with pred.open("w") as handle:
        for ex in dataset.examples:
            row = AnalysisResult(ex.review.id, ex.review.text, "atsa", ex.elements, "gold")
            handle.write(json.dumps(row.to_dict()) + "\n")
    return pred


@pytest.mark.data
def test_evaluate_gold_against_itself_prints_100(data_dir, tmp_path):
    gold = data_dir / "fsa-benchmark/atsa/rest14/test.json"
    pred = _gold_as_predictions(data_dir, tmp_path, "fsa-benchmark/atsa/rest14/test.json")
    out = tmp_path / "scores.json"
    result = run(["evaluate", "--task", "atsa", "--gold", str(gold), "--pred", str(pred),
                  "--json", str(out)])
    assert result.exit_code == 0
    assert "100.00" in result.stdout.splitlines()[2]
    assert json.loads(out.read_text())["f1"] == 100.0


def test_evaluate_missing_prediction_counts_as_empty(tmp_path):
    gold = tmp_path / "test.json"
    gold.write_text(json.dumps([
        {"ID": "1", "sentence": "good food", "aspects": [
            {"from": 5, "to": 9, "target": "food", "category": None, "polarity": "positive"}]},
        {"ID": "2", "sentence": "bad tea", "aspects": [
            {"from": 4, "to": 7, "target": "tea", "category": None, "polarity": "negative"}]}]))
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"id": "1", "text": "good food", "task": "atsa", "elements": [
        {"aspect": "food", "polarity": "positive"}], "error": None}) + "\n")
    out = tmp_path / "s.json"
    result = run(["evaluate", "-t", "atsa", "--gold", str(gold), "--pred", str(pred), "--json", str(out)])
    scores = json.loads(out.read_text())
    assert (scores["precision"], scores["recall"], scores["missing_predictions"]) == (100.0, 50.0, 1)
    assert result.exit_code == 0


def test_evaluate_counting_rules_differ_on_a_repeated_gold_pair(tmp_path):
    gold = tmp_path / "test.json"
    pair = {"from": "0", "to": "0", "target": None, "category": "FOOD#QUALITY", "polarity": "positive"}
    gold.write_text(json.dumps([{"ID": "1", "sentence": "good pasta, good pizza",
                                 "aspects": [pair, pair]}]))
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"id": "1", "text": "good pasta, good pizza", "task": "acsa",
                                "elements": [{"category": "FOOD#QUALITY", "polarity": "positive"}],
                                "error": None}) + "\n")
    recalls = {}
    for counting in ("paper", "multiset"):
        out = tmp_path / f"{counting}.json"
        result = run(["evaluate", "-t", "acsa", "--gold", str(gold), "--pred", str(pred),
                      "--counting", counting, "--json", str(out)])
        assert result.exit_code == 0 and f"{counting} counting" in result.stdout
        recalls[counting] = json.loads(out.read_text())["recall"]
    assert recalls == {"paper": 100.0, "multiset": 50.0}


def test_evaluate_bad_prediction_file_names_line(tmp_path):
    gold = tmp_path / "test.json"
    gold.write_text("[]")
    pred = tmp_path / "pred.jsonl"
    pred.write_text('{"id": "1", "task": "atsa", "elements": []}\n{"id": 2}\n')
    result = run(["evaluate", "-t", "atsa", "--gold", str(gold), "--pred", str(pred)])
    assert result.exit_code == 2 and f"{pred}, line 2, field 'task'" in result.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=60),
                          st.builds(lambda t: json.dumps({"id": t, "text": t}).encode(), st.text(max_size=20))),
                max_size=12))
def test_fuzzed_lines_each_give_one_output_line(keyword_model, lines):
    data = b"".join(line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for line in lines)
    result = run(["analyze", "-", "--model", str(keyword_model), "--batch-size", "3"], data)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == len(lines)


def _env(**extra):
    env = dict(os.environ)
    env.pop("FSA_EDGE_LOAD_PLUGINS", None)
    env.update(extra)
    return env


def test_real_subprocess_analyze_and_plugins(tmp_path):
    """The installed console script, end to end, with the example third-party plugin."""
    exe = Path(sys.executable).with_name("fsa-edge")
    out = subprocess.run([str(exe), "analyze", str(ROOT / "examples/reviews.jsonl"),
                          "--model", "lexicon-demo"], capture_output=True, text=True, env=_env())
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == sum(1 for _ in open(ROOT / "examples/reviews.jsonl"))
    assert any(row["elements"] for row in rows)
    listed = subprocess.run([str(exe), "plugins"], capture_output=True, text=True, env=_env())
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert {"core_models", "lexicon"} <= names


def test_cpu_threads_reaches_the_default_models_backend(monkeypatch):
    from fsa_edge_tagger.backend import TaggerBackend

    seen = []
    init = TaggerBackend.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("cpu_threads"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(TaggerBackend, "__init__", spy)
    result = CliRunner().invoke(build_cli(), ["analyze", "-", "--cpu-threads", "1"],
                                input='{"text": "The pizza was great."}\n')
    assert result.exit_code == 0, result.output
    assert seen == [1] and json.loads(result.stdout)["error"] is None
    refused = CliRunner().invoke(build_cli(), ["analyze", "-", "--cpu-threads", "0"], input="")
    assert refused.exit_code == 2


def test_engine_ray_without_ray_names_the_install(tmp_path, monkeypatch):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "Great pizza."}\n')
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra has
    result = CliRunner().invoke(build_cli(), ["analyze", str(source), "--engine", "ray"])
    assert result.exit_code == 2
    assert "Error: the Ray engine needs Ray Data: pip install 'fsa-edge[ray]'" in result.output


def test_a_slow_stream_is_answered_line_by_line_with_batch_size_one():
    import select

    process = subprocess.Popen([sys.executable, "-m", "fsa_edge.cli", "analyze", "-",
                                "--batch-size", "1", "--cpu-threads", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        for review_id in ("a", "b"):  # each answered while the input stays open
            process.stdin.write(json.dumps({"id": review_id, "text": "The soup was great."})
                                .encode() + b"\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 120)
            assert ready, f"no answer to line {review_id!r} before the end of the input"
            assert json.loads(process.stdout.readline())["id"] == review_id
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0
