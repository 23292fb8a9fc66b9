"""Aspect sentiment triplets (ASTE): an opinion/aspect span head and a pair head, in numpy.

Spans: one tag per word-piece, ``O`` or ``B-``/``I-`` of ``ASP`` (aspect term) or ``OPN``
(opinion term); a span grows to whole words, as terms do (:func:`scheme.decode_terms`). A span
is an aspect or an opinion, never both. A piece's tag is its most probable one, or, with the
card's ``tagger.span_none_below`` (chosen on ASTE dev data with the pair threshold), its most
probable span tag when P(``O``) is below it: a trained span head is often too shy.

Pairs: every aspect span × every opinion span of a text is one candidate; its feature is
``[a; o; a ⊙ o; distance]`` — the mean piece states of the aspect and of the opinion, their
product, and a one-hot of how far apart and in which order they are (:func:`distance_bucket`) —
and a two-layer head (``ReLU``) gives ``none`` or a polarity. One aspect may pair with several
opinions and one opinion with several aspects (one-to-many both ways); a triplet's score is the
probability of its polarity. A pair is a triplet when ``none`` is not its most probable class, or,
with the card's ``tagger.pair_none_below`` (chosen on ASTE dev data by
:func:`~.calibration.calibrate_tagger`), when P(none) is below it.

Heads (``heads.npz``): ``aste.span.weight`` / ``.bias`` (``(5, dim)``), ``aste.pair.hidden.weight``
/ ``.bias`` (``(H, 3·dim + 16)``), ``aste.pair.out.weight`` / ``.bias`` (``(5, H)``) (the names:
:mod:`.head_names`). The torch modules in training compute the same (:mod:`.network`).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from fsa_edge.model import POLARITIES, SentimentElement

from .head_names import (PAIR_HIDDEN_BIAS, PAIR_HIDDEN_WEIGHT, PAIR_OUT_BIAS, PAIR_OUT_WEIGHT,
                         SPAN_BIAS, SPAN_WEIGHT, TRIPLET_HEADS)
from .scheme import IGNORE, Piece, bio_groups, decide, softmax, whole_words

ASPECT, OPINION = "ASP", "OPN"
SPAN_TAGS = ("O", f"B-{ASPECT}", f"I-{ASPECT}", f"B-{OPINION}", f"I-{OPINION}")
PAIR_CLASSES = ("none",) + POLARITIES
#: gaps (word-pieces between the two spans) at which a new distance bucket starts
DISTANCE_EDGES = (1, 2, 3, 4, 6, 9, 15)
#: buckets per order (aspect first, opinion first) → the one-hot has twice as many
DISTANCE_BUCKETS = len(DISTANCE_EDGES) + 1
#: words outside the gold spans paired (class none) with a sentence's gold spans in training
DISTRACTORS = 3


@dataclass(frozen=True)
class SpanPieces:
    """A decoded span: its kind (:data:`ASPECT` or :data:`OPINION`), first and last piece index,
    characters ``[start, end)`` and the mean probability of its kind over its pieces."""

    kind: str
    first: int
    last: int
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Triplet:
    """One decoded (aspect, opinion, polarity) with character spans and a score."""

    aspect: tuple[int, int]
    opinion: tuple[int, int]
    polarity: str
    score: float


def pieces_in(pieces: Sequence[Piece], start: int, end: int) -> list[int]:
    """Indices of the non-special pieces overlapping characters ``[start, end)``."""
    return [i for i, p in enumerate(pieces) if not p.special and p.start < end and p.end > start]


def span_tags(pieces: Sequence[Piece], aspects: Sequence[tuple[int, int]],
              opinions: Sequence[tuple[int, int]]) -> list[int]:
    """Gold span-tag ids per piece for aspect and opinion character spans (special pieces
    IGNORE). Where an opinion overlaps an aspect, the aspect keeps the pieces."""
    tags = [IGNORE if p.special else 0 for p in pieces]
    for kind, spans in ((OPINION, opinions), (ASPECT, aspects)):
        for start, end in spans:
            for position, index in enumerate(pieces_in(pieces, start, end)):
                tags[index] = SPAN_TAGS.index(f"{'B' if position == 0 else 'I'}-{kind}")
    return tags


def decode_spans(logits: np.ndarray, pieces: Sequence[Piece],
                 none_below: float | None = None) -> list[SpanPieces]:
    """Aspect and opinion spans of one text from its ``(pieces, 5)`` span logits: each piece's
    tag by :func:`scheme.decide` (``O`` is class 0; ``none_below``: a piece is in a span when
    P(``O``) < it); ``I`` after ``O`` (or after the other kind) opens a span; a span grows to
    whole words."""
    probs = softmax(logits[:len(pieces)].astype(np.float64))
    tags = [SPAN_TAGS[i] for i in decide(probs, none_below)]
    spans = []
    for kind, group in bio_groups(tags, pieces, kind_of=lambda tag: tag[2:]):
        first, last = whole_words(group[0], group[-1], pieces)
        columns = [SPAN_TAGS.index(f"B-{kind}"), SPAN_TAGS.index(f"I-{kind}")]
        score = float(probs[first:last + 1][:, columns].sum(axis=-1).mean())
        spans.append(SpanPieces(kind, first, last, pieces[first].start, pieces[last].end, score))
    return spans


def distance_bucket(aspect: tuple[int, int], opinion: tuple[int, int]) -> int:
    """The one-hot index of a pair's distance: pieces between the spans (0 when they touch or
    overlap) bucketed by :data:`DISTANCE_EDGES`, plus :data:`DISTANCE_BUCKETS` when the opinion
    comes first."""
    (a_first, a_last), (o_first, o_last) = aspect, opinion
    opinion_first = o_last < a_first
    gap = max(0, (a_first - o_last - 1) if opinion_first else (o_first - a_last - 1))
    bucket = int(np.searchsorted(DISTANCE_EDGES, gap, side="right"))
    return bucket + (DISTANCE_BUCKETS if opinion_first else 0)


def pair_features(hidden: np.ndarray, aspects: Sequence[tuple[int, int]],
                  opinions: Sequence[tuple[int, int]]) -> np.ndarray:
    """``(len(aspects) · len(opinions), 3·dim + 16)`` pair features of one text's states
    ``(time, dim)`` for piece ranges ``(first, last)``, aspect-major order."""
    def means(ranges: Sequence[tuple[int, int]]) -> np.ndarray:
        return np.stack([hidden[first:last + 1].mean(axis=0) for first, last in ranges])

    dim = hidden.shape[-1]
    if not aspects or not opinions:
        return np.zeros((0, 3 * dim + 2 * DISTANCE_BUCKETS), dtype=hidden.dtype)
    a = np.repeat(means(aspects), len(opinions), axis=0)
    o = np.tile(means(opinions), (len(aspects), 1))
    distance = np.zeros((len(a), 2 * DISTANCE_BUCKETS), dtype=hidden.dtype)
    rows = [distance_bucket(x, y) for x in aspects for y in opinions]
    distance[np.arange(len(rows)), rows] = 1
    return np.concatenate([a, o, a * o, distance], axis=1)


def pair_logits(features: np.ndarray, heads: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(pairs, 5)`` logits of the pair head over :func:`pair_features` rows."""
    inner = features @ heads[PAIR_HIDDEN_WEIGHT].T + heads[PAIR_HIDDEN_BIAS]
    return np.maximum(inner, 0) @ heads[PAIR_OUT_WEIGHT].T + heads[PAIR_OUT_BIAS]


Candidates = tuple[list[tuple[SpanPieces, SpanPieces]], np.ndarray]
#: a text's triplet decoding thresholds: ``(span_none_below, pair_none_below)``, None for argmax
TripletThreshold = tuple[float | None, float | None]


def candidate_pairs(hidden: np.ndarray, pieces: Sequence[Piece], heads: Mapping[str, np.ndarray],
                    span_none_below: float | None = None) -> Candidates:
    """Every aspect × opinion of one text (spans from its encoder states ``(time, dim)``,
    :func:`decode_spans` with ``span_none_below``), ordered by aspect, then opinion, and their
    pair-class probabilities ``(pairs, 5)``."""
    span_logits = hidden[:len(pieces)] @ heads[SPAN_WEIGHT].T + heads[SPAN_BIAS]
    spans = decode_spans(span_logits, pieces, span_none_below)
    aspects = [s for s in spans if s.kind == ASPECT]
    opinions = [s for s in spans if s.kind == OPINION]
    features = pair_features(hidden.astype(np.float32, copy=False),
                             [(s.first, s.last) for s in aspects],
                             [(s.first, s.last) for s in opinions])
    if not len(features):
        return [], np.zeros((0, len(PAIR_CLASSES)))
    return ([(a, o) for a in aspects for o in opinions],
            softmax(pair_logits(features, heads).astype(np.float64)))


def paired(candidates: Candidates, none_below: float | None = None) -> list[Triplet]:
    """The candidate pairs that are triplets: best class not ``none``, or, with ``none_below``
    (a threshold calibrated on dev data), P(none) < ``none_below``, the polarity the most
    probable one (:func:`scheme.decide`); a triplet's score is its polarity's probability."""
    pairs, probs = candidates
    if not pairs:
        return []
    best = decide(probs, none_below)
    return [Triplet((aspect.start, aspect.end), (opinion.start, opinion.end),
                    PAIR_CLASSES[int(best[row])], float(probs[row, best[row]]))
            for row, (aspect, opinion) in enumerate(pairs) if best[row]]


def decode_triplets(hidden: np.ndarray, pieces: Sequence[Piece],
                    heads: Mapping[str, np.ndarray], none_below: float | None = None,
                    span_none_below: float | None = None) -> list[Triplet]:
    """The triplets of one text from its encoder states ``(time, dim)``: spans from the span
    head (``span_none_below``), then every aspect × opinion through the pair head
    (``none_below``), ordered by aspect, then opinion (:func:`candidate_pairs`,
    :func:`paired`)."""
    return paired(candidate_pairs(hidden, pieces, heads, span_none_below), none_below)


def triplet_targets(pieces: Sequence[Piece], elements: Sequence[SentimentElement], text: str
                    ) -> tuple[list[int], list[tuple[tuple[int, int, int, int], int]]]:
    """Span tags and candidate pairs of one ASTE sentence: every gold aspect × every gold opinion
    as piece ranges, classed by its triplet's polarity or ``none``, plus ``none`` pairs of up to
    :data:`DISTRACTORS` words outside every gold span (drawn per sentence, reproducibly) with the
    gold opinions (as aspects) and the gold aspects (as opinions): a span the span head finds
    wrongly must not pair. Cut-off spans are left out."""
    triplets = [e for e in elements if e.aspect_span and e.opinion_span
                and e.polarity in POLARITIES]
    aspects = list(dict.fromkeys(e.aspect_span for e in triplets))
    opinions = list(dict.fromkeys(e.opinion_span for e in triplets))
    labels = {(e.aspect_span, e.opinion_span): PAIR_CLASSES.index(e.polarity) for e in triplets}

    def piece_range(span: tuple[int, int]) -> tuple[int, int] | None:
        inside = pieces_in(pieces, *span)
        return (inside[0], inside[-1]) if inside else None

    a_ranges = list(map(piece_range, aspects))
    o_ranges = list(map(piece_range, opinions))
    pairs = [((*a, *o), labels.get((aspect, opinion), 0))
             for aspect, a in zip(aspects, a_ranges) for opinion, o in zip(opinions, o_ranges)
             if a is not None and o is not None and a != o]
    taken = {i for r in a_ranges + o_ranges if r is not None for i in range(r[0], r[1] + 1)}
    words = [whole_words(i, i, pieces) for i, p in enumerate(pieces)
             if not p.special and not p.continuation
             and any(c.isalpha() for c in text[p.start:p.end])]
    words = [w for w in words if not taken.intersection(range(w[0], w[1] + 1))]
    for word in random.Random(zlib.crc32(text.encode("utf-8"))).sample(
            words, min(DISTRACTORS, len(words))):
        pairs += [((*word, *o), 0) for o in o_ranges if o is not None]
        pairs += [((*a, *word), 0) for a in a_ranges if a is not None]
    return span_tags(pieces, aspects, opinions), pairs


def explicit_only(examples: Sequence[Any]) -> tuple[list[Any], int]:
    """The labelled sentences fit to train triplets on, and how many were left out: ASTE holds
    explicit triplets only, so a sentence of a quad corpus (ACOS, ASQP) with an implicit aspect
    or opinion (or no element) is left out — its spans would be tagged in part."""
    kept = [ex for ex in examples if ex.elements
            and all(e.aspect_span and e.opinion_span for e in ex.elements)]
    return kept, len(examples) - len(kept)


def has_triplet_heads(heads: Mapping[str, np.ndarray]) -> bool:
    """Whether ``heads`` hold the span and pair heads."""
    return all(name in heads for name in TRIPLET_HEADS)


__all__ = ["ASPECT", "DISTANCE_BUCKETS", "DISTRACTORS", "DISTANCE_EDGES", "OPINION",
           "PAIR_CLASSES", "SPAN_TAGS", "Candidates", "SpanPieces", "Triplet", "TripletThreshold",
           "candidate_pairs", "decode_spans", "decode_triplets", "distance_bucket", "explicit_only",
           "has_triplet_heads", "pair_features", "pair_logits", "paired", "pieces_in", "span_tags",
           "triplet_targets"]
