"""Linearisation and the tolerant parser."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from fsa_edge import SentimentElement
from fsa_edge.errors import UnknownTaskError
from fsa_edge.tasks import (ACSA, ASQP, ASTE, ATSA, SENTENCE, canonical_category, get_task,
                            task_names)

TEXT = "The food was great but the service was slow, and the food was cold."


def test_atsa_paper_format_in_sentence_order():
    elements = [
        SentimentElement("negative", aspect="service", aspect_span=(27, 34)),
        SentimentElement("positive", aspect="food", aspect_span=(4, 8)),
    ]
    assert ATSA.linearise(elements) == "food | positive ; service | negative"


def test_atsa_repeated_term_maps_to_successive_occurrences():
    parsed = ATSA.parse("food | positive ; service | negative ; food | negative", TEXT)
    assert [e.aspect_span for e in parsed.elements] == [(4, 8), (27, 34), (53, 57)]
    assert parsed.dropped == 0


def test_atsa_term_absent_from_text_is_dropped_and_counted():
    parsed = ATSA.parse("pizza | positive ; food | great? ; food | positive", TEXT)
    assert [e.aspect for e in parsed.elements] == ["food"]
    assert parsed.dropped == 2


def test_case_and_spacing_of_wordpiece_decodes_are_tolerated():
    text = "Top-notch Hot-Dogs here."
    parsed = ATSA.parse("hot - dogs | positive", text)
    assert parsed.elements[0].aspect == "Hot-Dogs"
    assert parsed.elements[0].aspect_span == (10, 18)


def test_accents_stripped_by_an_uncased_tokenizer_are_tolerated():
    parsed = ATSA.parse("creme brulee | positive", "The Crème Brûlée was divine.")
    assert parsed.elements[0].aspect == "Crème Brûlée"
    assert parsed.elements[0].aspect_span == (4, 16)


def test_acsa_category_format():
    element = SentimentElement("positive", category="FOOD#QUALITY")
    assert ACSA.linearise([element]) == "food quality | positive"
    assert ACSA.parse("food quality | positive", "Yum!").elements == (element,)
    assert canonical_category("laptop design_features") == "LAPTOP#DESIGN_FEATURES"


def test_quads_with_implicit_aspect_and_opinion():
    text = "its alright"
    element = SentimentElement("neutral", category="RESTAURANT#GENERAL", opinion="alright",
                               opinion_span=(4, 11))
    target = ASQP.linearise([element])
    assert target == "NULL | restaurant general | neutral | alright"
    assert ASQP.parse(target, text).elements == (element,)


def test_aste_opinion_nearest_to_its_aspect():
    text = "good food , bad service , good wine"
    parsed = ASTE.parse("wine | good | positive", text)
    assert parsed.elements[0].opinion_span == (26, 30)


def test_empty_target_and_sentence_task():
    assert ATSA.linearise([]) == "none"
    assert ATSA.parse("none", TEXT).elements == ()
    assert SENTENCE.parse("Positive", TEXT).elements == (SentimentElement("positive"),)


def test_unknown_task_lists_known_ones():
    try:
        get_task("nope")
    except UnknownTaskError as exc:
        assert all(name in str(exc) for name in task_names())
    else:
        raise AssertionError("no error")


@settings(max_examples=300, deadline=None)
@given(generated=st.text(max_size=200), text=st.text(max_size=200),
       task=st.sampled_from(["atsa", "acsa", "aste", "asqp", "acos", "sentence"]))
def test_parser_never_raises_on_garbage(generated, text, task):
    parsed = get_task(task).parse(generated, text)
    for element in parsed.elements:
        for span in (element.aspect_span, element.opinion_span):
            if span is not None:
                assert 0 <= span[0] <= span[1] <= len(text)
    assert parsed.dropped >= 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["food", "service", " | ", " ; ", "positive", "NULL", "|", ";",
                                 "negative", "great", "food quality", "\n", "none"]), max_size=30))
def test_parser_never_raises_on_near_miss_generations(pieces):
    generated = "".join(pieces)
    for task in ("atsa", "acsa", "aste", "asqp"):
        get_task(task).parse(generated, TEXT)
