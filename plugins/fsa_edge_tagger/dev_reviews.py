"""Whole reviews rebuilt from a sentence-level dev file whose ids are ``REVIEW:SENTENCE``
(SemEval-2016): the zero-shot dev data of a long text's merged ``sentence`` answer.

No review-level label is read: a review's polarity is the one its sentences' gold elements all
share (:func:`~.sentence_head.agreeing_polarity`), and only reviews of two sentences or more
whose elements agree are kept (:func:`dev_reviews`).
"""

from __future__ import annotations

from typing import Any, Sequence

from fsa_edge.errors import TrainingError

from .sentence_head import agreeing_polarity


def review_sentences(path: str, examples: Sequence) -> dict[str, list[Any]]:
    """``{review id: its examples in sentence order}`` of a file with ids ``REVIEW:SENTENCE``
    (SemEval-2016); an id of another form is a :class:`TrainingError` naming the file and the
    id."""
    by_review: dict[str, list[tuple[int, Any]]] = {}
    for ex in examples:
        review, _, index = ex.review.id.rpartition(":")
        if not review or not index.isdigit():
            raise TrainingError(f"{path}: id {ex.review.id!r} is not REVIEW:SENTENCE (a review "
                                "dev file needs SemEval-2016 ids, e.g. '1340075:4')")
        by_review.setdefault(review, []).append((int(index), ex))
    return {review: [ex for _, ex in sorted(sentences, key=lambda pair: pair[0])]
            for review, sentences in by_review.items()}


def review_text(sentences: Sequence) -> str:
    """A review's text: its sentences (examples, in order) joined by a space."""
    return " ".join(ex.review.text.strip() for ex in sentences)


def dev_reviews(path: str, examples: Sequence) -> list[tuple[str, str, str]]:
    """``(review id, text, polarity)`` of each review of a dev file (:func:`review_sentences`)
    that has at least two sentences and whose gold elements all share one polarity (its text:
    :func:`review_text`)."""
    reviews = []
    for review, sentences in review_sentences(path, examples).items():
        polarity = agreeing_polarity(e.polarity for ex in sentences for e in ex.elements)
        if len(sentences) > 1 and polarity is not None:
            reviews.append((review, review_text(sentences), polarity))
    return reviews


__all__ = ["dev_reviews", "review_sentences", "review_text"]
