"""The llamacpp teacher over a tiny random-weight llama GGUF made here (no download)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install 'fsa-edge[teacher]')")

from fsa_edge.teaching import (DistillItem, Sampling, distill, iter_corpus_rows,  # noqa: E402
                               load_prompt, parse_label)
from fsa_edge_llamacpp import LlamaCppTeacher  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from tiny_gguf import CHATML_TEMPLATE, write_llama_gguf  # noqa: E402

REVIEWS = ["The pizza was tasty but the waiter was rude.",
           "Battery life is great, the screen is dim.",
           "We waited forty minutes for cold soup.",
           "Nice place, cheap drinks!",
           "The keyboard feels solid."]


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    return write_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))


def items(texts=REVIEWS):
    return [DistillItem(str(i), t) for i, t in enumerate(texts)]


def test_teacher_loads_the_gguf_with_its_chat_template(gguf_path):
    with LlamaCppTeacher(gguf_path, n_ctx=512, n_threads=1,
                         sampling=Sampling(max_tokens=8)) as teacher:
        assert teacher.llm.metadata["tokenizer.chat_template"] == CHATML_TEMPLATE
        info = teacher.describe()
        assert info["file"] == "tiny-llama.gguf" and len(info["sha256"]) == 64
        expected_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
        assert info["n_gpu_layers"] == expected_layers and info["n_ctx"] == 512
        assert teacher.count_tokens("The pizza was tasty") > 0


def test_extra_buffer_types_probe_off_and_bad_value(gguf_path, monkeypatch):
    """``auto`` probes the GGUF in a child process (a crash there turns them off), ``off`` loads
    without them, prompt batches use n_threads, and an unknown choice is a teacher error."""
    from fsa_edge.errors import TeacherError
    from fsa_edge_llamacpp import buffers

    with LlamaCppTeacher(gguf_path, n_ctx=256, n_threads=1) as teacher:
        assert teacher.extra_buffers.startswith("on") and teacher.llm.n_threads_batch == 1
    monkeypatch.setattr(buffers, "extra_buffers_crash", lambda path: "killed by signal 11")
    with LlamaCppTeacher(gguf_path, n_ctx=256, n_threads=1) as teacher:
        assert teacher.extra_buffers.startswith("off: with them llama.cpp crashed")
    with LlamaCppTeacher(gguf_path, n_ctx=256, n_threads=1, extra_buffers="off") as teacher:
        assert teacher.extra_buffers == "off (asked for)"
    with pytest.raises(TeacherError, match="extra_buffers='maybe'"):
        LlamaCppTeacher(gguf_path, extra_buffers="maybe")


def test_not_a_gguf_is_a_teacher_error(tmp_path):
    from fsa_edge.errors import TeacherError

    bogus = tmp_path / "x.gguf"
    bogus.write_bytes(b"nope" * 10)
    with pytest.raises(TeacherError, match="not a GGUF"):
        LlamaCppTeacher(bogus)


def test_distill_end_to_end_is_reproducible(gguf_path, tmp_path):
    sampling = Sampling(seed=7, max_tokens=12)
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        with LlamaCppTeacher(gguf_path, n_ctx=1024, n_threads=1, sampling=sampling) as teacher:
            summary = distill(items(), teacher, load_prompt("analysis"), tmp_path / name)
        assert summary.written == 5 and summary.errors == 0
        outputs.append(list(iter_corpus_rows(tmp_path / name)))
    rows = outputs[0]
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"]
    for row in rows:
        # llama-cpp-python 0.3.36 sometimes reports a token or two beyond max_tokens
        assert row["tokens_in"] > 20 and 0 < row["tokens_out"] <= 12 + 2
        assert row["teacher"]["name"] == "llamacpp" and row["sampling"]["seed"] == 7
        assert row["finish_reason"] in ("length", "stop") and row["seconds"] > 0
    assert [r["response"] for r in rows] == [r["response"] for r in outputs[1]]
    assert summary.tokens_out == sum(r["tokens_out"] for r in outputs[1])


def test_label_answers_under_the_bounded_schema_always_parse(gguf_path, tmp_path):
    with LlamaCppTeacher(gguf_path, n_ctx=4096, n_threads=1,
                         sampling=Sampling(max_tokens=2048, temperature=1.0)) as teacher:
        summary = distill(items(REVIEWS * 2), teacher, load_prompt("label"), tmp_path / "c.jsonl",
                          retries=0)
    rows = list(iter_corpus_rows(tmp_path / "c.jsonl"))
    assert summary.errors == 0, [r["error"] for r in rows]
    for row in rows:
        assert row["finish_reason"] == "stop"
        parsed = parse_label(row["response"], row["text"])
        assert [e.to_dict() for e in parsed.elements] == row["elements"]


def test_review_longer_than_the_context_is_truncated(gguf_path, tmp_path):
    long_review = " ".join(["The pizza was tasty but the waiter was rude."] * 80)
    with LlamaCppTeacher(gguf_path, n_ctx=1024, n_threads=1,
                         sampling=Sampling(max_tokens=16)) as teacher:
        summary = distill(items([REVIEWS[0], long_review]), teacher, load_prompt("rewriting"),
                          tmp_path / "c.jsonl", retries=0)
    rows = list(iter_corpus_rows(tmp_path / "c.jsonl"))
    assert summary.errors == 0 and summary.truncated == 1
    assert [r["truncated"] for r in rows] == [False, True]
    assert rows[1]["tokens_in"] + rows[1]["tokens_out"] <= 1024
    assert rows[1]["text"] == long_review


def test_sigkill_then_resume_with_llamacpp(gguf_path, tmp_path):
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": f"r{i}", "text": REVIEWS[i % 5]}) + "\n"
                               for i in range(24)))
    out = tmp_path / "corpus.jsonl"
    command = [sys.executable, "-c", "from fsa_edge.cli import main; main()", "distill",
               str(reviews), "--teacher", str(gguf_path), "-o", str(out), "--max-tokens", "24",
               "--sync-every", "1", "-O", "n_ctx=1024", "-O", "n_threads=1"]
    env = {**os.environ, "FSA_EDGE_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = out.read_bytes().count(b"\n")
    assert 3 <= before < 24
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == before and summary["written"] == 24 - before
    ids = [r["id"] for r in iter_corpus_rows(out)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(24)) and len(set(ids)) == 24
