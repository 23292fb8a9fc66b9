"""A trained tagger as a teacher: ``label`` answers plus soft targets, a killed run resumed, and
the soft targets read back onto another tokenizer's pieces."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import wait_for_lines

from fsa_edge.card import ModelCard
from fsa_edge.cli import build_cli
from fsa_edge.errors import InputError, TeacherError
from fsa_edge.model import Review
from fsa_edge.teaching import TeacherRequest, iter_corpus_rows, load_prompt

from fsa_edge_tagger.scheme import (CATEGORY_CLASSES, TAGS, decode_categories, decode_terms,
                                    pieces_of)
from fsa_edge_tagger.soft_targets import align_tags, category_targets, iter_soft_targets
from fsa_edge_tagger.teacher import CERTAIN_NONE, DECIMALS, TaggerTeacher

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

CATEGORIES = ["FOOD#QUALITY", "SERVICE#GENERAL", "PRICE", "AMBIENCE#GENERAL"]
NEVER = CATEGORIES.index("AMBIENCE#GENERAL")  # its head always says none: left out of rows
EXTRA_TEXTS = ["The sushirolls were great but the decor was awful.",
               "Great wine, rude staff and bland pasta at a steep price!",
               "İstanbul-style café: ﬁne kebab 😀 but  the\nstaff was rude."]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))  # not the user's cache


@pytest.fixture(scope="module")
def taggers(tmp_path_factory):
    """(unconverted, converted float32) tagger directories: a tiny random BERT with random
    heads of the right shapes (nothing trained) and the card training writes."""
    from seq2seq_fixtures import tiny_bert

    from fsa_edge_converters import convert

    root = tmp_path_factory.mktemp("tagger-teacher")
    model = tiny_bert(root / "tagger", hidden=32, layers=2, heads=4)
    rng = np.random.default_rng(3)
    term_bias = np.zeros(len(TAGS))
    term_bias[0] = 2.0  # mostly O, a few terms
    category_bias = rng.normal(size=(len(CATEGORIES), len(CATEGORY_CLASSES)))
    category_bias[NEVER] = [20, -20, -20, -20, -20]
    heads = {"term.weight": rng.normal(scale=0.5, size=(len(TAGS), 32)), "term.bias": term_bias,
             "category.weight": rng.normal(scale=0.3, size=(len(CATEGORIES) * 5, 32)),
             "category.bias": category_bias.reshape(-1),
             "category.query": rng.normal(size=(len(CATEGORIES), 32))}
    np.savez(model / "heads.npz", **{k: v.astype(np.float32) for k, v in heads.items()})
    ModelCard(tasks=("atsa", "acsa"), default_task="atsa", max_input_length=128,
              max_output_length=0, backend="tagger",
              extra={"stage": "finetune", "student": "tagger",
                     "tagger": {"tags": list(TAGS), "categories": CATEGORIES,
                                "pooling": "attention"}}).save(model)
    convert(model, root / "tagger-ct2", quantization="float32", log=lambda message: None)
    return model, root / "tagger-ct2"


def write_reviews(path: Path, count: int, *, empty: bool = False) -> list[str]:
    from seq2seq_fixtures import synthetic_atsa

    texts = EXTRA_TEXTS + [r["sentence"] for r in synthetic_atsa(count, 11)]
    texts = texts[:count]
    with path.open("w") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"r{i}", "text": text}) + "\n")
        if empty:
            handle.write(json.dumps({"id": "blank", "text": "  "}) + "\n")
    return texts


def run_cli(*args):
    return CliRunner().invoke(build_cli(), [str(a) for a in args], catch_exceptions=False)


def distill_reviews(teacher: Path, folder: Path, count: int, *, empty: bool = False,
                    name: str = "soft.jsonl") -> tuple[list[str], Path, dict]:
    """``count`` reviews written to ``folder/reviews.jsonl`` (and a blank one with ``empty``)
    and distilled by the tagger teacher through the CLI: (texts, corpus, the run's summary)."""
    reviews = folder / "reviews.jsonl"
    texts = write_reviews(reviews, count, empty=empty)
    out = folder / name
    result = run_cli("distill", reviews, "--teacher", teacher, "--prompt", "label", "-o", out)
    assert result.exit_code == 0, result.output
    return texts, out, json.loads(result.stdout.strip().splitlines()[-1])


def kill_after_rows(process: subprocess.Popen, corpus: Path, rows: int) -> int:
    """SIGKILL ``process`` once ``corpus`` holds ``rows`` lines (or it ended, or 120 s went
    by); the lines it holds then."""
    wait_for_lines(process, corpus, rows)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return corpus.read_bytes().count(b"\n")


def request(text: str, prompt: str = "label") -> TeacherRequest:
    loaded = load_prompt(prompt)
    return TeacherRequest(review=Review("x", text), messages=tuple(loaded.messages(text)),
                          prompt_name=loaded.name, prompt_version=loaded.version,
                          schema=loaded.schema)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------- the teacher
def test_the_teacher_is_picked_for_tagger_directories_only(taggers, tmp_path):
    from fsa_edge.plugins import choose, registry

    unconverted, converted = taggers
    assert TaggerTeacher.can_load(unconverted) and TaggerTeacher.can_load(converted)
    (tmp_path / "plain").mkdir()
    assert not TaggerTeacher.can_load(tmp_path / "plain")
    assert not TaggerTeacher.can_load(tmp_path / "cache-file.jsonl")
    teachers = registry().teachers
    assert teachers["tagger"] is TaggerTeacher
    for directory in taggers:
        assert choose(teachers, name=None, path=directory, kind="teacher",
                      error=TeacherError) is TaggerTeacher
    with pytest.raises(TeacherError, match="not a tagger model directory"):
        TaggerTeacher(tmp_path / "plain")
    with pytest.raises(TeacherError, match="unknown tagger option.*n_ctx"):
        TaggerTeacher(converted, n_ctx=4096)


def test_distill_writes_hard_labels_and_consistent_soft_targets(taggers, tmp_path):
    _, converted = taggers
    texts, out, summary = distill_reviews(converted, tmp_path, 12, empty=True)
    assert summary["teacher"] == "tagger" and summary["written"] == 13
    rows = list(iter_corpus_rows(out))
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(12)] + ["blank"]
    assert "empty" in rows[-1]["error"] and "teacher_extra" not in rows[-1]
    teacher = rows[0]["teacher"]
    assert teacher["name"] == "tagger" and teacher["model"] == "tagger-ct2"
    assert teacher["weights_sha256"] == {"model.bin": sha256(converted / "model.bin")}
    assert teacher["heads_sha256"] == sha256(converted / "heads.npz")
    assert teacher["tasks"] == ["atsa", "acsa"] and teacher["tags"] == list(TAGS)
    assert teacher["categories"] == CATEGORIES
    assert teacher["category_classes"] == list(CATEGORY_CLASSES)
    skipped: list[int] = []
    read = list(iter_soft_targets(out, skipped=skipped))
    assert skipped == [13] and [text for text, _ in read] == texts
    terms_seen = categories_seen = 0
    for row, (text, soft) in zip(rows, read):
        assert row["error"] is None and row["response"] and row["tokens_out"] == 0
        stored = row["teacher_extra"]["soft_targets"]
        assert len(stored["pieces"]) == len(stored["tags"]) == len(stored["continuation"])
        assert all(len(t) == len(TAGS) for t in stored["tags"])
        assert all(round(v, 3) == v for t in stored["tags"] for v in t)
        # the argmax of the stored tags decodes to the answer's terms
        pieces = soft.teacher_pieces()
        assert pieces and all(text[p.start:p.end].strip() for p in pieces)
        decoded = sorted((text[s:e], p) for s, e, p, _ in decode_terms(soft.tags, pieces))
        answered = [e for e in row["elements"] if e["category"] is None]
        assert sorted((e["aspect"], e["polarity"]) for e in answered) == decoded
        for element in answered:
            assert element["aspect_span"] is not None and element["opinion"] is None
        terms_seen += len(decoded)
        # the categories: the stored ones, the left-out ones certain none
        indices = [index for index, _ in stored["categories"]]
        assert NEVER not in indices
        assert all(np.exp(lp[0]) < CERTAIN_NONE for _, lp in stored["categories"])
        targets, mask = soft.category_targets(CATEGORIES)
        assert mask.all() and targets[NEVER].tolist() == [1, 0, 0, 0, 0]
        with np.errstate(divide="ignore"):
            found = decode_categories(np.log(targets).reshape(-1), CATEGORIES)
        assert sorted((c, p) for c, p, _ in found) == sorted(
            (e["category"], e["polarity"]) for e in row["elements"] if e["category"])
        categories_seen += len(found)
    assert terms_seen >= 5 and categories_seen >= 5  # the random heads do find things
    # a rerun adds nothing; the answer is the label prompt's JSON
    assert distill_reviews(converted, tmp_path, 12, empty=True)[2]["skipped"] == 13
    answer = json.loads(rows[0]["response"])
    assert set(answer) == {"elements"}
    for element in answer["elements"]:
        assert element["opinion"] == "NULL" and element["polarity"] in CATEGORY_CLASSES[1:]
        named = element["aspect"] != "NULL"  # a term has no category, a category no term
        assert named != ({"entity", "attribute"} <= set(element) or "category" in element)


def test_torch_served_teacher_agrees_and_other_prompts_are_refused(taggers):
    unconverted, converted = taggers
    with TaggerTeacher(unconverted) as torch_teacher, TaggerTeacher(converted) as ct2_teacher:
        assert torch_teacher.compute_type == "torch-float32"
        info = torch_teacher.describe()
        assert info["weights_sha256"] == {
            "model.safetensors": sha256(unconverted / "model.safetensors")}
        assert info["heads_sha256"] == ct2_teacher.describe()["heads_sha256"]
        for text in EXTRA_TEXTS:
            a = torch_teacher.generate(request(text)).extra["soft_targets"]
            b = ct2_teacher.generate(request(text)).extra["soft_targets"]
            assert a["pieces"] == b["pieces"] and a["continuation"] == b["continuation"]
            assert np.abs(np.array(a["tags"]) - np.array(b["tags"])).max() <= 3e-3
        with pytest.raises(TeacherError, match="only the 'label' prompt"):
            ct2_teacher.generate(request(EXTRA_TEXTS[0], "analysis"))


def test_batched_answers_equal_one_at_a_time_answers(taggers, tmp_path):
    _, converted = taggers
    texts = write_reviews(tmp_path / "reviews.jsonl", 40)
    requests = [request(text) for text in texts]
    with TaggerTeacher(converted, max_batch_size=1) as alone, \
            TaggerTeacher(converted, max_batch_size="16", max_batch_tokens="256") as batched:
        assert (alone.batch_size, batched.batch_size) == (1, 16)  # -O values arrive as text
        calls: list[int] = []
        answer = batched._answer
        batched._answer = lambda batch: (calls.append(len(batch)), answer(batch))[1]
        together = batched.generate_batch(requests)
        assert sum(calls) == len(texts) and len(calls) >= 3 and max(calls) <= 16
        one_by_one = [alone.generate(r) for r in requests]
    # the same answers; the stored log-probabilities within one rounding step (the encoder's
    # numerics may differ slightly with what shares a batch, even in float32)
    assert [(r.text, r.tokens_in) for r in together] == [(r.text, r.tokens_in) for r in one_by_one]
    assert within_one_step([r.extra for r in together], [r.extra for r in one_by_one])
    assert any(json.loads(r.text)["elements"] for r in together)


def test_distill_speed_benchmark_compares_batch_sizes(taggers, tmp_path):
    from benchmark_scripts import benchmark_script

    _, converted = taggers
    write_reviews(tmp_path / "reviews.jsonl", 30)
    out = tmp_path / "distill_speed"
    assert benchmark_script("distill_speed").main([
        "--teacher", str(converted), "--reviews", str(tmp_path / "reviews.jsonl"), "--limit",
        "24", "--batch-sizes", "1,8", "--threads", "1", "--out", str(out)]) == 0
    runs = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert [(r["batch_size"], r["written"], r["errors"]) for r in runs] == [(1, 24, 0), (8, 24, 0)]
    assert all(r["answers_differ"] == 0 and r["max_soft_target_delta"] == 0 for r in runs)
    assert runs[0]["speed_up"] == 1.0 and runs[1]["rows_per_s"] > 0
    assert "| 8 | 24 |" in out.with_suffix(".md").read_text()


@pytest.mark.parametrize("option, message", [
    ("max_batch_size=0", "'max_batch_size' must be a whole number of at least 1, not 0"),
    ("max_batch_size=many", "'max_batch_size' must be a whole number of at least 1, not 'many'"),
    ("max_batch_token=9", "unknown tagger option")])
def test_bad_batch_options_are_named(taggers, tmp_path, option, message):
    _, converted = taggers
    write_reviews(tmp_path / "reviews.jsonl", 3)
    result = CliRunner().invoke(build_cli(), [
        "distill", str(tmp_path / "reviews.jsonl"), "--teacher", str(converted), "--prompt",
        "label", "-o", str(tmp_path / "soft.jsonl"), "-O", option])
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "soft.jsonl").exists() or not (tmp_path / "soft.jsonl").read_text()


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(taggers, tmp_path):
    _, converted = taggers
    n = 200
    _, reference, _ = distill_reviews(converted, tmp_path, n, name="reference.jsonl")
    out = tmp_path / "corpus.jsonl"
    args = ["distill", str(tmp_path / "reviews.jsonl"), "--teacher", str(converted), "--prompt", "label", "-o",
            str(out), "--sync-every", "3"]
    # the killed run answers slowly (a sleep before each batch) and in batches of 4 (the
    # others: 64), so it is caught mid-way and the resumed run batches the reviews differently
    slow = ("import time\nfrom fsa_edge_tagger.teacher import TaggerTeacher\n"
            "answer = TaggerTeacher._answer\n"
            "TaggerTeacher._answer = lambda self, texts: (time.sleep(0.1), answer(self, texts))[1]\n"
            "from fsa_edge.cli import main\nmain()")
    process = subprocess.Popen([sys.executable, "-c", slow, *args, "-O", "max_batch_size=4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    written = kill_after_rows(process, out, 20)
    assert 20 <= written < n, "the run must be killed mid-way"
    with out.open("ab") as handle:  # what a kill during a write leaves: a torn last line
        handle.write(b'{"format": 1, "id": "r199", "prompt": "lab')
    finished = subprocess.run([sys.executable, "-c", "from fsa_edge.cli import main; main()",
                               *args], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == written and summary["written"] == n - written

    def by_id(path):
        rows = list(iter_corpus_rows(path))
        assert len(rows) == len({r["id"] for r in rows})
        return {r["id"]: {k: v for k, v in r.items() if k != "seconds"} for r in rows}

    resumed, uninterrupted = by_id(out), by_id(reference)
    assert sorted(resumed) == sorted(f"r{i}" for i in range(n))
    # rows are the same but for the encoder's numerics: a review batched with other neighbours
    # (here: batches of 4 from wherever the kill fell, against batches of 64) can move a stored
    # log-probability by one rounding step, even in float32 (seen: 1 row in 200, 1 value)
    assert all(within_one_step(resumed[key], uninterrupted[key]) for key in resumed)
    assert sum(resumed[key] != uninterrupted[key] for key in resumed) <= n // 20


def within_one_step(a, b, step: float = 10.0 ** -DECIMALS) -> bool:
    """``a`` equals ``b`` (nested dicts and lists), numbers within one rounding ``step``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(within_one_step(a[k], b[k], step) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(within_one_step(x, y, step) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= step * 1.001
    return a == b


# ------------------------------------------------------------- soft targets, read back
def _wordpiece(texts, vocab_size):
    from seq2seq_fixtures import SPECIALS
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, WordPieceTrainer(vocab_size=vocab_size,
                                                         special_tokens=SPECIALS))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def _pieces(tokenizer, text):
    encoding = tokenizer.encode(text)
    return pieces_of(encoding)


def test_tags_align_across_two_tokenizers_of_different_granularity():
    from seq2seq_fixtures import synthetic_atsa

    sentences = [r["sentence"] for r in synthetic_atsa(200, 5)]
    teacher = _wordpiece(sentences, 1000)  # every word one piece
    # a student vocabulary that cuts some word of the toy language into exactly three pieces
    # (WordPiece training breaks frequency ties differently in each run: try a few sizes)
    for size in range(64, 110, 4):
        student = _wordpiece(sentences, size)
        words = sorted({w for s in sentences for w in s.lower().rstrip(".").split()})
        cut = [w for w in words if len(student.encode(w).tokens) == 5]  # [CLS] 3 pieces [SEP]
        if cut:
            break
    else:
        pytest.fail("no student vocabulary cuts a word into three pieces")
    word = cut[0]
    text = f"The {word} was great and the service slow."
    spans = [(p.start, p.end) for p in _pieces(teacher, text) if not p.special]
    assert (4, 4 + len(word)) in spans  # one teacher piece
    logprobs = np.log(np.full((len(spans), len(TAGS)), 0.01))
    logprobs[:, 0] = np.log(0.92)  # O elsewhere
    term = spans.index((4, 4 + len(word)))
    row = np.array([0.2, 0.6, 0.1, 0.05, 0.05, 0, 0, 0, 0]) + 1e-9  # B-positive, some I
    logprobs[term] = np.log(row / row.sum())
    student_pieces = _pieces(student, text)
    targets, mask = align_tags(spans, logprobs, student_pieces)
    assert targets.shape == (len(student_pieces), len(TAGS)) and targets.dtype == np.float32
    assert not mask[0] and not mask[-1]  # [CLS], [SEP]
    assert mask[1:-1].all() and np.allclose(targets[mask].sum(axis=1), 1, atol=1e-5)
    inside = [i for i, p in enumerate(student_pieces) if 4 <= p.start < 4 + len(word)]
    assert len(inside) == 3
    best = [TAGS[int(targets[i].argmax())] for i in inside]
    assert best == ["B-positive", "I-positive", "I-positive"]
    assert targets[inside[0], 1] == pytest.approx(0.6, abs=1e-5)
    for i in inside[1:]:  # B mass moved to I: I-positive 0.6 + 0.1, B-negative 0.05 → I
        assert targets[i, TAGS.index("B-positive")] == 0
        assert targets[i, TAGS.index("I-positive")] == pytest.approx(0.7, abs=1e-5)
        assert targets[i, TAGS.index("I-negative")] == pytest.approx(0.1, abs=1e-5)
        assert targets[i, 0] == pytest.approx(0.2, abs=1e-5)
    # a teacher that saw only the first three pieces (its max_input_length): the rest masked
    _, short = align_tags(spans[:3], logprobs[:3], student_pieces)
    seen = [i for i, p in enumerate(student_pieces) if not p.special and p.start < spans[2][1]]
    assert short.nonzero()[0].tolist() == seen


def test_categories_map_by_name():
    teacher = ["FOOD#QUALITY", "SERVICE#GENERAL", "PRICE"]
    stored = {0: np.log([0.1, 0.6, 0.1, 0.1, 0.1]), 2: np.log([0.5, 0.1, 0.3, 0.05, 0.05])}
    student = ["SERVICE#GENERAL", "food quality", "DRINKS#PRICES", "PRICE"]
    targets, mask = category_targets(teacher, stored, student)
    assert mask.tolist() == [True, True, False, True] and targets.dtype == np.float32
    assert targets[0].tolist() == [1, 0, 0, 0, 0]  # left out of the row: certain none
    assert np.allclose(targets[1], [0.1, 0.6, 0.1, 0.1, 0.1])
    assert targets[2].tolist() == [0] * 5
    assert np.allclose(targets[3], [0.5, 0.1, 0.3, 0.05, 0.05])
    by_name, _ = category_targets(teacher, {"PRICE": stored[2]}, ["PRICE"])
    assert np.allclose(by_name[0], targets[3])


def test_a_distilled_corpus_read_onto_a_student_tokenizer(taggers, tmp_path):
    from seq2seq_fixtures import synthetic_atsa

    _, out, _ = distill_reviews(taggers[1], tmp_path, 6)
    student = _wordpiece([r["sentence"] for r in synthetic_atsa(200, 5)], 80)
    student_categories = ["SERVICE#GENERAL", "DRINKS#QUALITY", "FOOD#QUALITY"]
    for text, soft in iter_soft_targets(out):
        pieces = _pieces(student, text)
        targets, mask = soft.tag_targets(pieces)
        assert mask.tolist() == [not p.special for p in pieces]
        assert np.allclose(targets[mask].sum(axis=1), 1, atol=1e-5)
        _, category_mask = soft.category_targets(student_categories)
        assert category_mask.tolist() == [True, False, True]


def test_malformed_rows_name_file_line_and_field(taggers, tmp_path):
    _, out, _ = distill_reviews(taggers[1], tmp_path, 2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]

    def broken(change, field):
        row = json.loads(json.dumps(rows[1]))
        change(row)
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps(row) + "\n")
        with pytest.raises(InputError) as caught:
            list(iter_soft_targets(bad))
        assert str(caught.value).startswith(f"{bad}, line 2, field {field!r}")

    soft = lambda row: row["teacher_extra"]["soft_targets"]  # noqa: E731
    broken(lambda r: r.pop("teacher_extra"), "teacher_extra.soft_targets")
    broken(lambda r: soft(r)["tags"].pop(), "teacher_extra.soft_targets.tags")
    broken(lambda r: soft(r)["tags"][0].__setitem__(0, "x"), "teacher_extra.soft_targets.tags")
    broken(lambda r: soft(r).__setitem__("pieces", soft(r)["pieces"][::-1]),
           "teacher_extra.soft_targets.pieces")
    broken(lambda r: soft(r)["categories"].append([99, [0, 0, 0, 0, 0]]),
           f"teacher_extra.soft_targets.categories[{len(soft(rows[1])['categories'])}]")
    broken(lambda r: soft(r).__setitem__("version", 2), "teacher_extra.soft_targets.version")
    broken(lambda r: r["teacher"].pop("categories"), "teacher.categories")
    broken(lambda r: soft(r).__setitem__("sentence", [0.0, -1.0]), "teacher.sentence_classes")
    with_classes = lambda r: r["teacher"].__setitem__(  # noqa: E731
        "sentence_classes", ["negative", "positive", "neutral"])
    broken(lambda r: (with_classes(r), soft(r).__setitem__("sentence", [0.0, -1.0])),
           "teacher_extra.soft_targets.sentence")
    row = json.loads(json.dumps(rows[1]))  # classes in another order are put in ours
    with_classes(row)
    soft(row)["sentence"] = [-0.1, -2.5, -4.0]
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(row) + "\n")
    (_, targets), = iter_soft_targets(good)
    assert targets.sentence.tolist() == [-2.5, -0.1, -4.0]
