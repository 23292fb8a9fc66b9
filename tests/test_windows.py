"""Reviews longer than the model's input window: cut into parts that fit, nothing left unread,
answers merged with offsets into the original text (``fsa_edge.windows`` and the Analyzer)."""

from __future__ import annotations

import json
import re
from typing import Sequence

import pytest
from hypothesis import given, settings, strategies as st

import fsa_edge
from fsa_edge.model import SentimentElement
from fsa_edge.windows import merge_parts, plan_parts

from conftest import KeywordBackend, registered_plugin


def fits_chars(limit: int):
    return lambda part: len(part) <= limit


def non_space(text: str, spans) -> str:
    return "".join(text[s:e] for s, e in spans).replace(" ", "").replace("\n", "")


def test_a_text_that_fits_is_one_part():
    assert plan_parts("Short and sweet.", fits_chars(100)) == [(0, 16)]


def test_sentences_then_words_then_characters():
    text = ("The soup was wonderful. " + "A very long sentence with many words in it " * 3
            + "and Supercalifragilisticexpialidocious! The end.")
    parts = plan_parts(text, fits_chars(20))
    assert all(len(text[s:e]) <= 20 for s, e in parts)
    assert [text[s:e] for s, e in parts][:2] == ["The soup was", "wonderful."]
    assert "Supercalifragilistic" in [text[s:e] for s, e in parts]
    assert parts == sorted(parts) and all(a[1] <= b[0] for a, b in zip(parts, parts[1:]))
    assert non_space(text, parts) == text.replace(" ", "")


def test_spaces_only_that_do_not_fit_give_one_empty_part():
    assert plan_parts("  \n ", fits_chars(1)) == [(0, 0)]  # found by the property test below


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .!?\nC"), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=30))
def test_parts_fit_and_cover_every_character(text, limit):
    parts = plan_parts(text, fits_chars(limit))
    if len(text) <= limit:
        assert parts == [(0, len(text))]
        return
    assert all(e - s <= max(limit, 1) for s, e in parts)
    assert all(a[1] <= b[0] for a, b in zip(parts, parts[1:]))
    assert re.sub(r"\s", "", "".join(text[s:e] for s, e in parts)) == re.sub(r"\s", "", text)


def test_merge_shifts_spans_and_keeps_one_of_each_with_the_best_score():
    soup = SentimentElement("positive", aspect="soup", aspect_span=(4, 8), score=0.6)
    food = SentimentElement("positive", category="FOOD#QUALITY", score=0.5)
    merged = merge_parts([(0, [soup, food]),
                          (30, [SentimentElement("positive", aspect="soup", aspect_span=(4, 8),
                                                 score=0.9),
                                SentimentElement("positive", category="FOOD#QUALITY",
                                                 score=0.7)])])
    assert merged == (soup, SentimentElement("positive", category="FOOD#QUALITY", score=0.7),
                      SentimentElement("positive", aspect="soup", aspect_span=(34, 38),
                                       score=0.9))


class WordWindowBackend(KeywordBackend):
    """The keyword backend with a window of 12 words (one word = one token, plus 2)."""

    name = "word-window"

    @classmethod
    def can_load(cls, path):
        return (path / "window.txt").exists()

    def input_lengths(self, texts: Sequence[str], *, task) -> list[int]:
        return [len(text.split()) + 2 for text in texts]

    def generate(self, inputs):
        assert all(len(text.split()) + 2 <= 12 for text in inputs), "a text over the window"
        return super().generate(inputs)


@pytest.fixture
def window_model(tmp_path):
    (tmp_path / "window.txt").write_text("x")
    (tmp_path / "fsa_edge.json").write_text(json.dumps(
        {"tasks": ["atsa"], "default_task": "atsa", "max_input_length": 12}))
    with registered_plugin("test-window",
                           register_backends=lambda register: register(WordWindowBackend)):
        yield tmp_path


def test_a_long_review_gets_aspects_from_every_part(window_model):
    filler = " ".join(f"We came back on day {i} with friends." for i in range(6))
    text = f"The food was great. {filler} The service was slow and the bread stale."
    analyzer = fsa_edge.load(window_model)
    result = analyzer.analyze(text)
    assert result.parts == 8 and result.error is None
    found = {(e.aspect, e.polarity) for e in result.elements}
    assert found == {("food", "positive"), ("service", "negative"), ("bread", "positive")}
    for element in result.elements:
        start, end = element.aspect_span
        assert text[start:end].lower() == element.aspect
    assert analyzer.analyze("The food was great.").parts == 1
    assert json.loads(json.dumps(result.to_dict()))["parts"] == 8
    # the parts themselves, as the backend is handed them: in order, every word of the text
    short, long = analyzer.parts(["The food was great.", text])
    assert short == [(0, len("The food was great."))] and len(long) == 8
    assert all(a[1] <= b[0] for a, b in zip(long, long[1:]))
    assert " ".join(text[start:end] for start, end in long).split() == text.split()


def test_a_backend_that_cannot_count_gets_the_whole_text(keyword_model):
    text = "The food was great. " * 50
    result = fsa_edge.load(keyword_model).analyze(text)
    assert result.parts == 1 and result.elements[0].aspect_span == (4, 8)


def test_the_default_model_reads_a_long_review_to_the_end():
    filler = " ".join(f"We went there on a Tuesday number {i} with some friends from work."
                      for i in range(12))
    text = "The soup was wonderful. " + filler + " The dessert was awful and the waiter was rude."
    analyzer = fsa_edge.load("default", cpu_threads=1)
    atsa = analyzer.analyze(text, task="atsa")
    assert atsa.parts > 1
    aspects = {e.aspect: e.polarity for e in atsa.elements}
    assert aspects.get("soup") == "positive" and aspects.get("waiter") == "negative"
    assert all(text[e.aspect_span[0]:e.aspect_span[1]] == e.aspect for e in atsa.elements)
    acsa = analyzer.analyze(text, task="acsa")
    assert {(e.category, e.polarity) for e in acsa.elements} >= {
        ("FOOD#QUALITY", "positive"), ("SERVICE#GENERAL", "negative")}
