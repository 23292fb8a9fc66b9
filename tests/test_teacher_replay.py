"""The replay teacher, the ``distill`` command, and a run killed with SIGKILL then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsa_edge.cli import build_cli
from fsa_edge.teaching import DistillItem, distill, iter_corpus_rows, load_prompt

from fsa_edge_replay import ReplayTeacher, classify

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MIXTRAL = DATA / "teacher-samples" / "mixtral_500.jsonl"
needs_data = pytest.mark.skipif(not MIXTRAL.is_file(), reason=f"{MIXTRAL} is absent")

ANALYSIS = ("Opinion Target 1: the {w}\nAspect: quality\nSentiment: positive\n"
            "Reasoning: the review calls the {w} good.")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))  # not the user's cache


def write_samples(folder: Path, n: int) -> tuple[Path, Path]:
    """An input JSONL of ``n`` reviews and a paper-layout replay file answering them."""
    reviews, answers = folder / "reviews.jsonl", folder / "answers.jsonl"
    with reviews.open("w") as r, answers.open("w") as a:
        for i in range(n):
            text = f"The dish number {i} was good."
            r.write(json.dumps({"id": 1000 + i, "text": text, "Overall": i % 5 + 1}) + "\n")
            a.write(json.dumps({"ID": 1000 + i, "Text": text, "Overall": i % 5 + 1,
                                "tiny_response": ANALYSIS.format(w=f"dish {i}")}) + "\n")
    return reviews, answers


def run_cli(*args):
    return CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)


def test_classify():
    assert classify(ANALYSIS.format(w="soup")) == "analysis"
    assert classify("I loved the soup. Sentiment: I was happy.") == "rewriting"


def test_replay_by_id_then_text_and_never_across_prompts(tmp_path):
    _, answers = write_samples(tmp_path, 3)
    teacher = ReplayTeacher(answers)
    assert teacher.label == "tiny"
    items = [DistillItem("1000", "whatever"),                      # by id
             DistillItem("zzz", "The dish number 1 was good."),   # by text
             DistillItem("nope", "unknown text")]
    distill(items, teacher, load_prompt("analysis"), tmp_path / "c.jsonl", retries=0)
    rows = {r["id"]: r for r in iter_corpus_rows(tmp_path / "c.jsonl")}
    assert rows["1000"]["response"] == ANALYSIS.format(w="dish 0")
    assert rows["zzz"]["response"] == ANALYSIS.format(w="dish 1")
    assert rows["nope"]["response"] is None and "no recorded" in rows["nope"]["error"]
    assert rows["1000"]["tokens_out"] > 0
    assert rows["1000"]["teacher_extra"]["tokens"].startswith("estimated")
    distill(items, teacher, load_prompt("rewriting"), tmp_path / "r.jsonl", retries=0)
    assert all(r["error"] for r in iter_corpus_rows(tmp_path / "r.jsonl"))


def test_replay_of_an_fsa_edge_corpus_keeps_recorded_tokens(tmp_path):
    reviews, answers = write_samples(tmp_path, 4)
    first = tmp_path / "first.jsonl"
    distill([DistillItem(str(1000 + i), f"The dish number {i} was good.") for i in range(4)],
            ReplayTeacher(answers), load_prompt("analysis"), first)
    second = tmp_path / "second.jsonl"
    distill([DistillItem(str(1000 + i), "x") for i in range(4)], ReplayTeacher(first),
            load_prompt("analysis"), second)
    a, b = list(iter_corpus_rows(first)), list(iter_corpus_rows(second))
    assert [r["response"] for r in a] == [r["response"] for r in b]
    assert [r["tokens_out"] for r in a] == [r["tokens_out"] for r in b]
    assert "teacher_extra" not in b[0]


def test_distill_command_end_to_end(tmp_path):
    reviews, answers = write_samples(tmp_path, 5)
    with reviews.open("a") as handle:
        handle.write('{"id": 2000, "text": ""}\n{broken\n')
    out = tmp_path / "corpus.jsonl"
    result = run_cli("distill", str(reviews), "--teacher", str(answers), "-o", str(out),
                     "--price-in", "1", "--price-out", "2", "--export", "paper")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["written"] == 7 and summary["errors"] == 2 and summary["teacher"] == "replay"
    assert summary["api_cost"] == pytest.approx(
        (summary["tokens_in"] * 1 + summary["tokens_out"] * 2) / 1e6)
    assert "API cost of the same tokens" in result.stderr
    rows = list(iter_corpus_rows(out))
    assert [r["id"] for r in rows] == [str(1000 + i) for i in range(5)] + ["2000", "7"]
    assert rows[0]["metadata"] == {"Overall": 1}
    assert rows[-1]["error"].startswith(f"{reviews}, line 7: invalid JSON")  # file, line
    paper = [json.loads(l) for l in (tmp_path / "corpus.paper.jsonl").read_text().splitlines()]
    assert len(paper) == 5 and set(paper[0]) == {"ID", "Text", "Overall", "tiny_response"}
    again = run_cli("distill", str(reviews), "--teacher", str(answers), "-o", str(out))
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == 7


def test_distill_command_errors_are_one_line(tmp_path):
    reviews, answers = write_samples(tmp_path, 1)
    result = run_cli("distill", str(reviews), "--teacher", str(answers), "-o",
                     str(tmp_path / "c.jsonl"), "--teacher-name", "nosuch")
    assert result.exit_code == 2 and "unknown teacher 'nosuch'" in result.output
    result = run_cli("distill", str(reviews), "--teacher", str(answers), "-o",
                     str(tmp_path / "c.jsonl"), "--prompt", "nosuch")
    assert result.exit_code == 2 and "built-in prompts" in result.output
    for folder in (tmp_path, tmp_path / "reviews.txt"):  # a folder, whatever its name
        folder.mkdir(exist_ok=True)
        result = run_cli("distill", str(folder), "--teacher", str(answers), "-o",
                         str(tmp_path / "c.jsonl"))
        assert result.exit_code == 2 and f"{folder} is a directory, not a file" in result.output


def test_plugins_lists_both_teachers():
    records = json.loads(run_cli("plugins").stdout)
    teachers = {t["name"]: t for r in records for t in r.get("teachers", [])}
    assert teachers["replay"]["requires"] == []
    assert teachers["llamacpp"]["requires"] == ["llama_cpp"]
    assert teachers["llamacpp"]["extra"] == "teacher"


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    n = 60
    reviews, answers = write_samples(tmp_path, n)
    out = tmp_path / "corpus.jsonl"
    command = [sys.executable, "-c", "from fsa_edge.cli import main; main()", "distill",
               str(reviews), "--teacher", str(answers), "-o", str(out), "--sync-every", "3"]
    process = subprocess.Popen(command + ["-O", "delay=0.05"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 10:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = out.read_bytes().count(b"\n")
    assert 10 <= written < n, "the run must be killed mid-way"
    with out.open("ab") as handle:  # what a kill during a write leaves: a torn last line
        handle.write(b'{"format": 1, "id": "1059", "prompt": "anal')
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == written and summary["written"] == n - written
    rows = list(iter_corpus_rows(out))
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(str(1000 + i) for i in range(n)) and len(set(ids)) == n
    assert all(r["response"] == ANALYSIS.format(w=f"dish {int(r['id']) - 1000}") for r in rows)
    assert out.read_bytes().endswith(b"\n")


@needs_data
@pytest.mark.data
def test_replay_over_the_500_mixtral_samples(tmp_path):
    teacher = ReplayTeacher(MIXTRAL)
    assert teacher.label == "mixtral"
    records = [json.loads(l) for l in MIXTRAL.read_text(encoding="utf-8-sig").splitlines()]
    assert sum(classify(r["mixtral_response"]) == "analysis" for r in records) == 234
    out = tmp_path / "c.jsonl"
    result = run_cli("distill", str(MIXTRAL), "--teacher", str(MIXTRAL), "--text-field",
                     "Text", "--id-field", "ID", "-o", str(out), "--retries", "0")
    assert result.exit_code == 0, result.output
    result = run_cli("distill", str(MIXTRAL), "--teacher", str(MIXTRAL), "--text-field",
                     "Text", "--id-field", "ID", "-o", str(out), "--retries", "0",
                     "--prompt", "rewriting", "--export", "paper")
    assert result.exit_code == 0, result.output
    rows = list(iter_corpus_rows(out))
    for prompt in ("analysis", "rewriting"):
        keys = [(r["id"], r["occurrence"]) for r in rows if r["prompt"] == prompt]
        assert len(keys) == 500 and len(set(keys)) == 500       # input ids = output ids
    answered = [r for r in rows if r["error"] is None]
    # 234 analysis + 266 rewriting answers; review 1898262 occurs twice in the input, once
    # with each kind of answer, so each prompt answers both of its occurrences.
    assert len(answered) == 502
    recorded = {(str(r["ID"]), classify(r["mixtral_response"])): r["mixtral_response"]
                for r in records}
    assert all(recorded[(r["id"], r["prompt"])] == r["response"] for r in answered)
    paper = [json.loads(l) for l in (tmp_path / "c.paper.jsonl").read_text().splitlines()]
    assert len(paper) == 502 and all(isinstance(p["ID"], int) for p in paper)
    originals = {(r["ID"], r["mixtral_response"]) for r in records}
    assert all((p["ID"], p["mixtral_response"]) in originals for p in paper)
