"""The tagger's label scheme and its decoding, in numpy (no torch at inference).

Terms (ATSA): one unified tag per word-piece, ``O`` or ``B-``/``I-`` with a polarity, so a span and
its polarity come from one head. A span is extended to whole words (a term never ends inside a
word), and its polarity is the polarity with the most probability summed over its pieces.

Categories (ACSA): for every category of the model, one of ``none`` and the four polarities,
from a sentence vector per category: the mean of the piece states (``mean`` pooling), or an
attention-weighted mean with one learned query per category (``attention`` pooling), so each
category reads the words that speak about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from fsa_edge.model import POLARITIES

TAGS = ("O",) + tuple(f"{kind}-{p}" for p in POLARITIES for kind in ("B", "I"))
#: the raw scores a decoded term can carry (:func:`decode_terms`); a card's ATSA score map names the
#: one it was fitted on (``raw_score``; absent: ``term``, the first)
TERM_SCORES = ("term", "term_polarity")
CATEGORY_CLASSES = ("none",) + POLARITIES
IGNORE = -100


@dataclass(frozen=True)
class Piece:
    """One word-piece of a tokenised text: its characters and whether it continues a word."""

    start: int
    end: int
    special: bool
    continuation: bool


def pieces_of(encoding: Any) -> list[Piece]:
    """The pieces of a ``tokenizers`` encoding (its tokens, offsets and special-tokens mask)."""
    return [Piece(int(s), int(e), bool(m) or s == e, token.startswith("##"))
            for token, (s, e), m in zip(encoding.tokens, encoding.offsets,
                                        encoding.special_tokens_mask)]


def term_tags(pieces: Sequence[Piece], spans: Sequence[tuple[int, int, str]]) -> list[int]:
    """Gold tag ids per piece for term spans ``(start, end, polarity)``; special pieces IGNORE."""
    tags = [IGNORE if p.special else 0 for p in pieces]
    for start, end, polarity in spans:
        inside = [i for i, p in enumerate(pieces)
                  if not p.special and p.start < end and p.end > start]
        for position, index in enumerate(inside):
            tags[index] = TAGS.index(f"{'B' if position == 0 else 'I'}-{polarity}")
    return tags


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (in the dtype given; decoding passes float64)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, in float64."""
    x = logits.astype(np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def whole_words(first: int, last: int, pieces: Sequence[Piece]) -> tuple[int, int]:
    """Piece range ``[first, last]`` grown to whole words (a span never starts or ends inside a
    word)."""
    while first > 0 and pieces[first].continuation and not pieces[first - 1].special:
        first -= 1
    while last + 1 < len(pieces) and pieces[last + 1].continuation \
            and not pieces[last + 1].special:
        last += 1
    return first, last


def bio_groups(tags: Sequence[str], pieces: Sequence[Piece],
               kind_of: Callable[[str], str | None] = lambda tag: None
               ) -> list[tuple[str | None, list[int]]]:
    """The piece indices each span of BIO ``tags`` (one per piece: ``O``, ``B-x``, ``I-x``)
    covers, with the span's kind ``kind_of(tag)`` of its first tag. ``I`` after ``O`` opens a
    span, so does ``B`` at the start of a word or a tag of another kind; an ``O`` piece that
    continues a tagged word stays in its span; a special piece ends one."""
    groups: list[tuple[str | None, list[int]]] = []
    current: list[int] | None = None
    kind_now = None
    for index, (piece, tag) in enumerate(zip(pieces, tags)):
        if piece.special:
            current = None
            continue
        if tag == "O":
            if piece.continuation and current is not None:  # the rest of a tagged word
                current.append(index)
            else:
                current = None
            continue
        kind = kind_of(tag)
        if current is None or kind != kind_now or (tag.startswith("B-")
                                                   and not piece.continuation):
            current, kind_now = [index], kind
            groups.append((kind, current))
        else:
            current.append(index)
    return groups


def decode_terms(logits: np.ndarray, pieces: Sequence[Piece], score: str = "term"
                 ) -> list[tuple[int, int, str, float]]:
    """``(start, end, polarity, score)`` of each term in one text from its ``(pieces, tags)``
    logits. ``I`` after ``O`` opens a span; a span grows to whole words. ``score``, one of
    :data:`TERM_SCORES`: ``term``, 1 − the mean P(O) over the term's pieces (is it a term?);
    ``term_polarity``, the mean P(B-p) + P(I-p) for its decoded polarity p (a term of this
    polarity?)."""
    if score not in TERM_SCORES:
        raise ValueError(f"term score {score!r}: expected one of {', '.join(TERM_SCORES)}")
    probs = softmax(logits[:len(pieces)].astype(np.float64))
    terms = []
    for _, group in bio_groups([TAGS[i] for i in probs.argmax(axis=-1)], pieces):
        first, last = whole_words(group[0], group[-1], pieces)
        span = probs[first:last + 1]
        by_polarity = [span[:, TAGS.index(f"B-{p}")].sum() + span[:, TAGS.index(f"I-{p}")].sum()
                       for p in POLARITIES]
        best = int(np.argmax(by_polarity))
        confidence = (1.0 - span[:, 0].mean() if score == "term"
                      else by_polarity[best] / len(span))
        terms.append((pieces[first].start, pieces[last].end, POLARITIES[best], float(confidence)))
    return terms


def decide(probs: np.ndarray, none_below: float | None = None) -> np.ndarray:
    """The class index per row of ``probs`` ``(rows, classes)``, class 0 being ``none``: the most
    probable class, or with ``none_below`` (a threshold calibrated on dev data) the most probable
    other class when P(none) < ``none_below``, else 0."""
    if none_below is None:
        return probs.argmax(axis=-1)
    return np.where(probs[:, 0] < none_below, 1 + probs[:, 1:].argmax(axis=-1), 0)


def decode_categories(logits: np.ndarray, categories: Sequence[str],
                      none_below: float | None = None) -> list[tuple[str, str, float]]:
    """``(category, polarity, score)`` for each category found; ``logits`` has shape
    ``(len(categories) * 5,)``. A category is found when its best class is not ``none``, or,
    with ``none_below`` (a threshold calibrated on dev data), when P(none) < ``none_below``;
    its polarity is then the most probable one."""
    probs = softmax(logits.reshape(len(categories), len(CATEGORY_CLASSES)).astype(np.float64))
    best = decide(probs, none_below)
    return [(categories[index], CATEGORY_CLASSES[best[index]], float(probs[index, best[index]]))
            for index in np.flatnonzero(best)]


def _piece_mask(time: int, lengths: Sequence[int]) -> np.ndarray:
    """``(batch, time)``: True for each row's first ``length`` pieces (the rest is padding)."""
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


def attention_weights(hidden: np.ndarray, lengths: Sequence[int], query: np.ndarray
                      ) -> np.ndarray:
    """Each category's attention over the pieces: ``(batch, time, dim)`` states and
    ``(categories, dim)`` queries → ``(batch, categories, time)`` weights summing to 1, in the
    states' dtype; scores scaled by ``1/sqrt(dim)``, padding masked (the torch head in training
    computes the same)."""
    batch, time, dim = hidden.shape
    # one BLAS matmul for all scores; the transposed query is passed as a view (a contiguous
    # copy of it makes the BLAS call several times slower)
    scores = hidden.reshape(-1, dim) @ query.astype(hidden.dtype, copy=False).T
    scores = scores.reshape(batch, time, -1).transpose(0, 2, 1) * hidden.dtype.type(dim ** -0.5)
    scores = np.where(_piece_mask(time, lengths)[:, None, :], scores, hidden.dtype.type(-np.inf))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights


def category_logits(hidden: np.ndarray, lengths: Sequence[int], heads: dict[str, np.ndarray],
                    categories: int) -> np.ndarray:
    """``(batch, categories * 5)`` category logits from the heads: ``category.weight`` /
    ``category.bias`` (one 5-way classifier per category) over the mean-pooled states, or, when
    ``category.query`` is present, over each category's attention-pooled state, plus the shared
    classifier ``category.shared.weight`` / ``.bias`` when present.

    With attention: the pooled states come from one batched matmul (weights × states), then each
    category's classifier (its own rows plus the shared ones, added once) is applied to its pooled
    state in one batched matmul over categories. This takes about a fifth of the multiply-adds of
    applying all 445 classifier rows to every piece before pooling."""
    batch, time, dim = hidden.shape
    classes = len(CATEGORY_CLASSES)
    weight = heads["category.weight"].reshape(categories, classes, dim)
    bias = heads["category.bias"].reshape(categories, classes)
    if "category.shared.weight" in heads:
        weight = weight + heads["category.shared.weight"]
        bias = bias + heads["category.shared.bias"]
    weight = weight.astype(hidden.dtype, copy=False)
    if "category.query" not in heads:  # mean pooling: one vector for all categories
        mask = _piece_mask(time, lengths).astype(hidden.dtype)
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)[:, None]
        logits = (pooled @ weight.reshape(-1, dim).T).reshape(batch, categories, classes)
        return (logits + bias).reshape(batch, categories * classes)
    pooled = np.matmul(attention_weights(hidden, lengths, heads["category.query"]), hidden)
    # (categories, batch, dim) @ (categories, dim, classes) → (categories, batch, classes)
    logits = np.matmul(pooled.transpose(1, 0, 2), weight.transpose(0, 2, 1)).transpose(1, 0, 2)
    return (logits + bias).reshape(batch, categories * classes)


__all__ = ["CATEGORY_CLASSES", "IGNORE", "POLARITIES", "Piece", "TAGS", "attention_weights",
           "TERM_SCORES", "bio_groups", "category_logits", "decide", "decode_categories", "decode_terms",
           "log_softmax", "pieces_of", "softmax", "term_tags", "whole_words"]
