"""Teaching core without any model: prompts, label parsing, the corpus file, the runner."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from fsa_edge.errors import InputError, TeacherError
from fsa_edge.model import SentimentElement
from fsa_edge.teaching import (CorpusWriter, CostSummary, DistillItem, LabelFormatError,
                               Sampling, Teacher, TeacherReply, distill, export_paper,
                               file_sha256, iter_corpus_rows, load_prompt, parse_label,
                               prompt_names)
from fsa_edge.teaching.cost import CostCounter
from fsa_edge.teaching.runner import Fitter


# ------------------------------------------------------------------ helpers
class ScriptedTeacher(Teacher):
    """A teacher whose answers (or exceptions) are given per review id, in order."""

    name = "scripted"

    def __init__(self, script=None, *, default="an answer", context=None, **kw):
        super().__init__("scripted.bin", sampling=kw.pop("sampling", None))
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.default = default
        self.context = context
        self.calls: list[tuple[str, int, str]] = []

    @property
    def context_length(self):
        return self.context

    def count_tokens(self, text):
        return len(text.split())

    def truncate(self, text, max_tokens):
        return " ".join(text.split()[:max_tokens])

    def generate(self, request):
        self.calls.append((request.review.id, request.seed, request.review.text))
        queue = self.script.get(request.review.id)
        answer = queue.pop(0) if queue else self.default
        if isinstance(answer, Exception):
            raise answer
        return TeacherReply(answer, len(request.messages[-1]["content"].split()),
                            len(answer.split()), "stop")


def rows_of(path):
    return list(iter_corpus_rows(path))


# ------------------------------------------------------------------ prompts
def test_builtin_prompts_are_versioned_and_render():
    assert {"analysis", "rewriting", "label"} <= set(prompt_names())
    for name in ("analysis", "rewriting", "label"):
        prompt = load_prompt(name)
        assert prompt.name == name and prompt.version >= 1
        messages = prompt.messages("The soup was cold.")
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
        assert "The soup was cold." in messages[-1]["content"]
        assert "{review}" not in messages[-1]["content"]
    label = load_prompt("label")
    items = label.schema["properties"]["elements"]
    assert label.response == "json" and items["maxItems"] <= 10
    props = items["items"]["properties"]
    assert props["polarity"]["enum"] == ["positive", "negative", "neutral", "conflict"]
    assert props["aspect"]["maxLength"] and props["opinion"]["maxLength"]


def test_user_prompt_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "version": 3, "user": "Say {review} {x}"}))
    prompt = load_prompt(path)
    assert (prompt.name, prompt.version, prompt.system) == ("mine", 3, "")
    assert prompt.messages("hi") == ({"role": "user", "content": "Say hi {x}"},)


@pytest.mark.parametrize("record, field", [
    ({"version": 1, "user": "{review}"}, "name"),
    ({"name": "x", "version": "1", "user": "{review}"}, "version"),
    ({"name": "x", "version": 1, "user": "no placeholder"}, "user"),
    ({"name": "x", "version": 1, "user": "{review}", "response": "json"}, "schema"),
    ({"name": "x", "version": 1, "user": "{review}", "response": "xml"}, "response"),
])
def test_bad_prompt_file_names_field(tmp_path, record, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(record))
    with pytest.raises(InputError) as info:
        load_prompt(path)
    assert info.value.field == field and str(path) in str(info.value)


def test_unknown_prompt_lists_builtins():
    with pytest.raises(InputError, match="analysis"):
        load_prompt("nonexistent")


# ------------------------------------------------------------------ label parsing
def test_label_answer_becomes_elements_with_spans():
    text = "The pizza was tasty but the waiter was rude."
    answer = json.dumps({"elements": [
        {"aspect": "pizza", "entity": "FOOD", "attribute": "QUALITY", "opinion": "tasty",
         "polarity": "positive"},
        {"aspect": "Waiter", "entity": "SERVICE", "attribute": "GENERAL", "opinion": "rude",
         "polarity": "NEG"},
        {"aspect": "NULL", "entity": "RESTAURANT", "attribute": "PRICES", "opinion": "pricey",
         "polarity": "negative"}]})
    parsed = parse_label(answer, text)
    first, second, third = parsed.elements
    assert first == SentimentElement("positive", "pizza", (4, 9), "FOOD#QUALITY", "tasty",
                                     (14, 19))
    assert second.aspect == "waiter" and text[slice(*second.aspect_span)] == "waiter"
    assert second.polarity == "negative" and second.category == "SERVICE#GENERAL"
    assert third.aspect is None and third.opinion == "pricey" and third.opinion_span is None
    assert parsed.unlocated == 1


@pytest.mark.parametrize("answer", [
    "not json", "[]", '{"items": []}', '{"elements": [1]}',
    '{"elements": [{"aspect": "a", "polarity": "great!"}]}',
    '{"elements": [{"aspect": 3, "polarity": "positive"}]}',
    '{"elements": [{"aspect": "x", "entity": "FOOD", "polarity": "positive"}]}',
    '{"elements": [{"aspect": "x", "polarity": "positive"',  # cut by max_tokens
])
def test_label_answer_outside_schema_raises(answer):
    with pytest.raises(LabelFormatError):
        parse_label(answer, "some text")


def _schema_answers():
    props = load_prompt("label").schema["properties"]["elements"]["items"]["properties"]
    term = st.text(max_size=props["aspect"]["maxLength"])
    element = st.fixed_dictionaries({
        "aspect": term, "opinion": term,
        "entity": st.sampled_from(props["entity"]["enum"]),
        "attribute": st.sampled_from(props["attribute"]["enum"]),
        "polarity": st.sampled_from(props["polarity"]["enum"])})
    return st.lists(element, max_size=8).map(lambda e: {"elements": e})


@settings(max_examples=200, deadline=None)
@given(answer=_schema_answers(), text=st.text(max_size=80))
def test_any_answer_under_the_schema_parses(answer, text):
    parsed = parse_label(json.dumps(answer), text)
    assert len(parsed.elements) == len(answer["elements"])
    for element in parsed.elements:
        assert element.polarity in ("positive", "negative", "neutral", "conflict")
        assert element.category and "#" in element.category
        for term, span in ((element.aspect, element.aspect_span),
                           (element.opinion, element.opinion_span)):
            if span is not None:
                assert text[span[0]:span[1]] == term
        SentimentElement.from_dict(element.to_dict())


# ------------------------------------------------------------------ corpus file
def _row(rid, error=None, prompt="analysis", occurrence=0):
    return {"id": rid, "occurrence": occurrence, "prompt": prompt, "response": "r",
            "error": error}


def test_corpus_repairs_torn_tail_and_resumes(tmp_path):
    path = tmp_path / "c.jsonl"
    with CorpusWriter(path, sync_every=1) as corpus:
        for rid in ("a", "b"):
            corpus.write(_row(rid))
    intact = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"format": 1, "id": "c", "prompt": "analy')
    corpus = CorpusWriter(path)
    assert corpus.repaired_bytes > 0 and corpus.done == {("analysis", "a", 0),
                                                         ("analysis", "b", 0)}
    assert path.read_bytes() == intact
    corpus.write(_row("c"))
    with pytest.raises(TeacherError):
        corpus.write(_row("c"))
    corpus.close()
    assert [r["id"] for r in rows_of(path)] == ["a", "b", "c"]


def test_complete_but_unterminated_last_row_is_redone(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(_row("a")) + "\n" + json.dumps(_row("b")))
    with CorpusWriter(path) as corpus:
        assert ("analysis", "b", 0) not in corpus
    assert path.read_text().count("\n") == 1


def test_corrupt_middle_row_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(_row("a")) + "\nnot json\n" + json.dumps(_row("b")) + "\n")
    with pytest.raises(InputError) as info:
        CorpusWriter(path)
    assert info.value.line == 2 and str(path) in str(info.value)


def test_retry_errors_removes_error_rows_atomically(tmp_path):
    path = tmp_path / "c.jsonl"
    with CorpusWriter(path) as corpus:
        corpus.write(_row("a"))
        corpus.write(_row("b", error="boom"))
    with CorpusWriter(path) as corpus:
        assert ("analysis", "b", 0) in corpus and corpus.errors_kept == 1
    with CorpusWriter(path, retry_errors=True) as corpus:
        assert ("analysis", "b", 0) not in corpus and corpus.errors_removed == 1
    assert [r["id"] for r in rows_of(path)] == ["a"]
    assert not list(tmp_path.glob(".*tmp"))


def test_one_writer_at_a_time(tmp_path):
    path = tmp_path / "c.jsonl"
    with CorpusWriter(path):
        with pytest.raises(TeacherError, match="another process"):
            CorpusWriter(path)


# ------------------------------------------------------------------ runner
def _items(*texts):
    return [DistillItem(str(i), t) for i, t in enumerate(texts)]


def test_every_input_gets_exactly_one_row(tmp_path):
    out = tmp_path / "c.jsonl"
    teacher = ScriptedTeacher({"1": [RuntimeError("GPU on fire")] * 2 + ["late answer"],
                               "2": [RuntimeError("down")] * 5})
    items = _items("good food", "   ", "slow service", "nice") + [
        DistillItem("9", None, error="line 9: invalid JSON")]
    items[1] = DistillItem("1", "good pasta")
    items.insert(2, DistillItem("blank", "  "))
    summary = distill(items, teacher, load_prompt("analysis"), out, retries=2)
    rows = {r["id"]: r for r in rows_of(out)}
    assert sorted(rows) == sorted(i.id for i in items)
    assert rows["0"]["response"] == "an answer" and rows["0"]["error"] is None
    assert rows["1"]["response"] == "late answer" and rows["1"]["attempts"] == 3
    assert rows["1"]["sampling"]["seed"] == 42 + 2  # retries sample with another seed
    assert "GPU" not in (rows["1"]["error"] or "")
    assert rows["2"]["response"] is None and "down" in rows["2"]["error"]
    assert rows["2"]["attempts"] == 3
    assert rows["blank"]["error"] == "empty review" and rows["9"]["error"].startswith("line 9")
    assert summary.written == 6 and summary.errors == 3 and summary.retried == 2
    assert [c[1] for c in teacher.calls if c[0] == "1"] == [42, 43, 44]
    for row in rows.values():
        for key in ("text", "prompt", "prompt_version", "teacher", "sampling", "tokens_in",
                    "tokens_out", "seconds", "truncated"):
            assert key in row
    assert rows["0"]["teacher"]["file"] == "scripted.bin"


def test_rerun_skips_done_and_retries_errors_on_request(tmp_path):
    out = tmp_path / "c.jsonl"
    items = _items("a b", "c d", "e f")
    first = ScriptedTeacher({"1": [RuntimeError("x")] * 3})
    distill(items, first, load_prompt("analysis"), out, retries=2)
    again = ScriptedTeacher()
    summary = distill(items, again, load_prompt("analysis"), out)
    assert summary.skipped == 3 and summary.written == 0 and again.calls == []
    summary = distill(items, again, load_prompt("analysis"), out, retry_errors=True)
    assert summary.written == 1 and [c[0] for c in again.calls] == ["1"]
    rows = rows_of(out)
    assert sorted(r["id"] for r in rows) == ["0", "1", "2"]
    assert all(r["error"] is None for r in rows)
    # another prompt into the same corpus is a different key
    summary = distill(items, again, load_prompt("rewriting"), out)
    assert summary.written == 3 and len(rows_of(out)) == 6


def test_repeated_ids_are_kept_apart(tmp_path):
    out = tmp_path / "c.jsonl"
    items = [DistillItem("7", "one"), DistillItem("7", "two"), DistillItem("8", "three")]
    distill(items, ScriptedTeacher(), load_prompt("analysis"), out)
    assert [(r["id"], r["occurrence"], r["text"]) for r in rows_of(out)] == [
        ("7", 0, "one"), ("7", 1, "two"), ("8", 0, "three")]
    assert distill(items, ScriptedTeacher(), load_prompt("analysis"), out).skipped == 3


def test_limit_then_resume(tmp_path):
    out = tmp_path / "c.jsonl"
    items = _items(*[f"review {i}" for i in range(10)])
    assert distill(items, ScriptedTeacher(), load_prompt("analysis"), out, limit=4).written == 4
    summary = distill(items, ScriptedTeacher(), load_prompt("analysis"), out)
    assert (summary.skipped, summary.written) == (4, 6)
    assert [r["id"] for r in rows_of(out)] == [str(i) for i in range(10)]


class BatchingTeacher(ScriptedTeacher):
    """A scripted teacher answering ``batch_size`` requests per :meth:`generate_batch` call
    (any scripted exception fails the whole batch, as one encoder call would)."""

    def __init__(self, *args, batch_size=3, short_by=0, **kw):
        super().__init__(*args, **kw)
        self.batch_size = batch_size
        self.short_by = short_by  # a broken teacher: this many replies too few
        self.batches: list[list[str]] = []

    def generate_batch(self, requests):
        self.batches.append([r.review.id for r in requests])
        assert all(r.seed == 42 for r in requests)  # only first attempts come in batches
        replies = [self.generate(request) for request in requests]
        return replies[:len(replies) - self.short_by]


def _without_seconds(path):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows_of(path)]


def test_batched_teacher_writes_the_rows_of_a_one_by_one_run(tmp_path):
    empty, good = '{"elements": []}', json.dumps({"elements": [{
        "aspect": "review", "opinion": "NULL", "polarity": "positive"}]})

    def script():
        return {"4": ["nope"] * 3, "6": ["{broken", good]}

    items = _items(*[f"review {i}" for i in range(8)])
    items[2] = DistillItem("2", None, error="line 3: invalid JSON")
    items[5] = DistillItem("5", "   ")
    one_by_one, batched = tmp_path / "one.jsonl", tmp_path / "batched.jsonl"
    distill(items, ScriptedTeacher(script(), default=empty), load_prompt("label"), one_by_one)
    teacher = BatchingTeacher(script(), default=empty)
    summary = distill(items, teacher, load_prompt("label"), batched)
    assert _without_seconds(batched) == _without_seconds(one_by_one)
    assert summary.written == 8 and summary.errors == 3  # 2, 5 unreadable; 4 never parsed
    # unreadable items never reach the teacher; only first attempts come in batches, retries
    # are asked alone
    assert teacher.batches == [["0", "1"], ["3", "4"], ["6", "7"]]
    assert [(c[0], c[1]) for c in teacher.calls] == [
        ("0", 42), ("1", 42), ("3", 42), ("4", 42), ("4", 43), ("4", 44), ("6", 42),
        ("7", 42), ("6", 43)]
    rows = {r["id"]: r for r in rows_of(batched)}
    assert rows["6"]["attempts"] == 2 and rows["6"]["elements"][0]["aspect_span"] == [0, 6]
    assert rows["4"]["attempts"] == 3 and rows["4"]["error"].startswith("unparseable")


def test_a_failed_batch_is_asked_again_one_by_one(tmp_path):
    out = tmp_path / "c.jsonl"
    teacher = BatchingTeacher({"1": [RuntimeError("GPU on fire"), RuntimeError("again")]})
    with pytest.warns(RuntimeWarning, match="teacher batch of 3 failed .*GPU on fire"):
        summary = distill(_items("a", "b", "c"), teacher, load_prompt("analysis"), out)
    assert summary.written == 3 and summary.errors == 0
    # the failed batch is no attempt of its reviews: alone, "1" fails once more, then answers
    assert [(c[0], c[1]) for c in teacher.calls] == [
        ("0", 42), ("1", 42), ("0", 42), ("1", 42), ("1", 43), ("2", 42)]
    assert [r["attempts"] for r in rows_of(out)] == [1, 2, 1]


def test_batched_teacher_respects_limit_and_resumes(tmp_path):
    out = tmp_path / "c.jsonl"
    items = _items(*[f"review {i}" for i in range(10)])
    teacher = BatchingTeacher(batch_size=3)
    assert distill(items, teacher, load_prompt("analysis"), out, limit=4).written == 4
    assert teacher.batches == [["0", "1", "2"]]  # a last batch of one is asked alone
    assert [c[0] for c in teacher.calls] == ["0", "1", "2", "3"]
    again = BatchingTeacher(batch_size=4)
    summary = distill(items, again, load_prompt("analysis"), out)
    assert (summary.skipped, summary.written) == (4, 6)
    assert again.batches == [["4", "5", "6", "7"], ["8", "9"]]
    assert [r["id"] for r in rows_of(out)] == [str(i) for i in range(10)]


def test_a_batch_with_missing_replies_is_asked_again_one_by_one(tmp_path):
    out = tmp_path / "c.jsonl"
    teacher = BatchingTeacher(batch_size=4, short_by=1)
    with pytest.warns(RuntimeWarning, match="batch of 4 gave 3 replies"):
        summary = distill(_items("a", "b", "c", "d"), teacher, load_prompt("analysis"), out)
    assert summary.written == 4 and summary.errors == 0
    assert [c[0] for c in teacher.calls] == ["0", "1", "2", "3"] * 2
    assert all(r["response"] == "an answer" and r["attempts"] == 1 for r in rows_of(out))


def test_label_prompt_retries_unparseable_answers(tmp_path):
    out = tmp_path / "c.jsonl"
    good = json.dumps({"elements": [{"aspect": "soup", "entity": "FOOD",
                                     "attribute": "QUALITY", "opinion": "cold",
                                     "polarity": "negative"}]})
    teacher = ScriptedTeacher({"0": ["{broken", good], "1": ["nope"] * 3})
    summary = distill(_items("The soup was cold.", "Fine."), teacher, load_prompt("label"), out,
                      retries=2)
    rows = {r["id"]: r for r in rows_of(out)}
    assert rows["0"]["error"] is None and rows["0"]["attempts"] == 2
    assert rows["0"]["elements"][0]["aspect_span"] == [4, 8]
    assert rows["0"]["elements"][0]["opinion_span"] == [13, 17]
    assert rows["1"]["error"].startswith("unparseable answer") and rows["1"]["attempts"] == 3
    assert rows["1"]["response"] is None and rows["1"]["rejected_response"] == "nope"
    assert "elements" not in rows["1"]
    assert summary.errors == 1


def test_long_review_is_truncated_and_flagged(tmp_path):
    out = tmp_path / "c.jsonl"
    prompt = load_prompt("rewriting")
    sampling = Sampling(max_tokens=20)
    teacher = ScriptedTeacher(context=200, sampling=sampling)
    long_text = " ".join(f"w{i}" for i in range(500))
    distill(_items("short one", long_text), teacher, prompt, out)
    rows = {r["id"]: r for r in rows_of(out)}
    assert rows["0"]["truncated"] is False and rows["1"]["truncated"] is True
    sent = {c[0]: c[2] for c in teacher.calls}
    assert sent["0"] == "short one" and long_text.startswith(sent["1"])
    budget = Fitter(teacher, prompt).budget
    assert len(sent["1"].split()) == budget
    assert rows["1"]["text"] == long_text  # the row keeps the whole review


def test_context_too_small_is_a_clear_error(tmp_path):
    teacher = ScriptedTeacher(context=50, sampling=Sampling(max_tokens=40))
    with pytest.raises(TeacherError, match="context"):
        distill(_items("x"), teacher, load_prompt("analysis"), tmp_path / "c.jsonl")


def test_cost_summary():
    summary = CostSummary(written=10, tokens_in=2_000_000, tokens_out=500_000, seconds=100,
                          price_in=0.5, price_out=2.0)
    assert summary.cost == pytest.approx(2.0)
    text = summary.format()
    assert "2000000 in, 500000 out" in text and "2.0000" in text and "0.200000 per review" in text
    assert CostSummary().cost is None and "--price-in" in CostSummary().format()


def test_cost_counter_gives_a_frozen_summary():
    counter = CostCounter()
    counter.count({"error": None, "attempts": 2, "tokens_in": 7, "tokens_out": 3, "seconds": 0.5})
    counter.count({"error": "no JSON", "truncated": True, "attempts": 1, "tokens_in": 5})
    counter.skip()
    summary = counter.summary(seconds=2.0, price_in=1.0, price_out=1.0)
    assert (summary.written, summary.skipped, summary.errors, summary.truncated,
            summary.retried, summary.tokens_in, summary.tokens_out) == (2, 1, 1, 1, 1, 12, 3)
    assert summary.teacher_seconds == 0.5 and summary.seconds == 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.written = 0


def test_export_paper_layout(tmp_path):
    out = tmp_path / "c.jsonl"
    items = [DistillItem("12", "Nice.", {"Overall": 5.0}), DistillItem("x1", "Bad."),
             DistillItem("13", "")]
    distill(items, ScriptedTeacher(default="I liked it."), load_prompt("rewriting"), out)
    result = export_paper(out, tmp_path / "paper.jsonl")
    lines = [json.loads(l) for l in (tmp_path / "paper.jsonl").read_text().splitlines()]
    assert lines == [
        {"ID": 12, "Text": "Nice.", "Overall": 5.0, "scripted_response": "I liked it."},
        {"ID": "x1", "Text": "Bad.", "Overall": None, "scripted_response": "I liked it."}]
    assert (result.rows, result.skipped_errors) == (2, 1)


def test_sha256_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 1000)
    import hashlib
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_sha256(path) == expected
    cache = json.loads((tmp_path / "cache" / "sha256.json").read_text())
    assert list(cache.values()) == [expected]
    key = next(iter(cache))
    cache[key] = "0" * 64  # a cached value is trusted while size and mtime are unchanged
    (tmp_path / "cache" / "sha256.json").write_text(json.dumps(cache))
    assert file_sha256(path) == "0" * 64
    path.write_bytes(b"other")
    assert file_sha256(path) == hashlib.sha256(b"other").hexdigest()
