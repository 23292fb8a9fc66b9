"""Texts longer than a model's input window: cut into parts that fit, answers merged back.

A backend that can count its input tokens (:meth:`~fsa_edge.backends.Backend.input_lengths`)
never sees a text longer than its window (the card's ``max_input_length``): the text is cut into
parts — its sentences (:func:`fsa_edge.text.split_sentences`; the students learnt from sentences);
a sentence too long on its own cut between words; a word too long on its own cut between characters — which
together hold every non-space character of the text, so nothing is left unread. Each part is
analysed as a text of its own; :func:`merge_parts` shifts its elements' spans back into the
original text and keeps an element found in two parts once (with its higher score); a task with
one answer per text (its only slot is the polarity: ``sentence``) gets one answer for the whole
text from :func:`merge_polarity`. The result's ``parts`` says how many parts a text took.

A backend may merge the parts of such a text its own way (the tagger: one sentence-head decision
on the parts' pooled states, :meth:`~fsa_edge.backends.Backend.merge_polarity`). Either merged
score — the winner's share of the votes, or the backend's — is not the chance that the answer is
right; a model whose card holds a map for the task under :data:`MERGED_SCORE_CALIBRATION` (fitted
on dev texts read in parts, e.g. ``fsa-edge train tagger calibrate --review-dev``) reports the
mapped score instead (:func:`mapped_scores`). The decision never changes: a map is monotone.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from .errors import BackendError
from .model import SentimentElement
from .score_map import ScoreMap
from .text import split_sentences

Span = tuple[int, int]
Fits = Callable[[str], bool]
_WORD = re.compile(r"\S+")
#: the card field (``extra``) holding, per task with one answer per text (``sentence``), the
#: score map of the answer merged from a text's parts (:func:`merge_polarity`)
MERGED_SCORE_CALIBRATION = "merged_score_calibration"


def plan_parts(text: str, fits: Fits) -> list[Span]:
    """``(start, end)`` parts of ``text``, in order, each one that ``fits`` (a lone character
    always counts as fitting): the whole text when it fits, else its sentences (cut further
    where one does not fit); a text of spaces only that does not fit: one empty part."""
    if fits(text):
        return [(0, len(text))]
    parts: list[Span] = []
    for start, end in split_sentences(text, min_words=0, max_words=None):
        parts += ([(start, end)] if fits(text[start:end]) else _cut_sentence(text, start, end, fits))
    return parts or [(0, 0)]


def _cut_sentence(text: str, start: int, end: int, fits: Fits) -> list[Span]:
    units: list[Span] = []
    for word in _WORD.finditer(text, start, end):
        units += ([word.span()] if fits(word.group()) else
                  _cut_word(text, word.start(), word.end(), fits))
    return pack_units(text, units, fits)


def _cut_word(text: str, start: int, end: int, fits: Fits) -> list[Span]:
    parts = []
    while start < end:
        low, high = start + 1, end  # the longest prefix that fits (binary search)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(text[start:middle]):
                low = middle
            else:
                high = middle - 1
        parts.append((start, low))
        start = low
    return parts


def pack_units(text: str, units: Sequence[Span], fits: Fits) -> list[Span]:
    """Consecutive units joined while the joined text fits."""
    parts: list[Span] = []
    for start, end in units:
        if parts and fits(text[parts[-1][0]:end]):
            parts[-1] = (parts[-1][0], end)
        else:
            parts.append((start, end))
    return parts


def _shift(span: Span | None, offset: int) -> Span | None:
    return None if span is None else (span[0] + offset, span[1] + offset)


def merge_parts(found: Sequence[tuple[int, Sequence[SentimentElement]]]
                ) -> tuple[SentimentElement, ...]:
    """The elements of a text's parts (``(part start, elements)``, in order), spans shifted into
    the text; an element found more than once is kept once, first place, highest score."""
    merged: dict[tuple, SentimentElement] = {}
    for offset, elements in found:
        for element in elements:
            if offset:
                element = replace(element, aspect_span=_shift(element.aspect_span, offset),
                                  opinion_span=_shift(element.opinion_span, offset))
            key = (element.aspect, element.aspect_span, element.category, element.opinion,
                   element.opinion_span, element.polarity)
            kept = merged.get(key)
            if kept is None:
                merged[key] = element
            elif element.score is not None and (kept.score is None or element.score > kept.score):
                merged[key] = replace(kept, score=element.score)
    return tuple(merged.values())


def merge_polarity(found: Sequence[tuple[Span, Sequence[SentimentElement]]]
                   ) -> tuple[SentimentElement, ...]:
    """One polarity for a text from its parts' answers (``(part span, elements)``): each part
    votes for its polarity with its score times its length in characters; a neutral part
    abstains when any part is positive or negative (a review with one opinion among neutral
    sentences has that opinion). The winner's score is its share of all the votes. (A backend
    may merge its own way: :meth:`~fsa_edge.backends.Backend.merge_polarity`.)"""
    votes: dict[str, float] = {}
    for (start, end), elements in found:
        for element in elements:
            weight = (end - start) * (1.0 if element.score is None else element.score)
            votes[element.polarity] = votes.get(element.polarity, 0.0) + weight
    if not votes:
        return ()
    polar = {p: v for p, v in votes.items() if p in ("positive", "negative")}
    polarity = max(polar or votes, key=(polar or votes).get)
    total = sum(end - start for (start, end), _ in found)
    return (SentimentElement(polarity=polarity, score=round(votes[polarity] / max(total, 1), 6)),)


def mapped_scores(elements: Sequence[SentimentElement], score_map: ScoreMap | None
                  ) -> tuple[SentimentElement, ...]:
    """``elements`` with their scores through ``score_map`` (a merged answer's, from
    :func:`merged_score_maps`); unchanged without a map or a score."""
    if score_map is None:
        return tuple(elements)
    return tuple(e if e.score is None else replace(e, score=round(score_map(e.score), 6))
                 for e in elements)


def merged_score_maps(extra: Mapping[str, Any]) -> dict[str, ScoreMap]:
    """``{task: ScoreMap}`` from a card's ``extra`` (its :data:`MERGED_SCORE_CALIBRATION`;
    absent: no map, the share is reported). A malformed entry is a :class:`BackendError`."""
    spec = extra.get(MERGED_SCORE_CALIBRATION)
    if not spec:
        return {}
    if not isinstance(spec, Mapping):
        raise BackendError(f"{MERGED_SCORE_CALIBRATION} must be an object of tasks")
    return {task: ScoreMap.from_card(entry, f"{MERGED_SCORE_CALIBRATION}.{task}")
            for task, entry in spec.items()}


__all__ = ["MERGED_SCORE_CALIBRATION", "mapped_scores", "merge_parts", "merge_polarity",
           "merged_score_maps", "pack_units", "plan_parts"]
