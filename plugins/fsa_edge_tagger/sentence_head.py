"""The sentence head: a text's overall polarity from the tagger's encoder, learnt zero-shot.

No sentence- or review-level human label is used: a text's pseudo-label comes from fine-grained
answers — the gold elements of aspect-level data sets, or a teacher's ``label`` answers — when
they all agree in polarity (:func:`agreeing_polarity`), or from a teacher's own sentence head
that was fitted that way. The head is a softmax classifier over
:data:`SENTENCE_CLASSES` on the mean of the encoder's piece states (special tokens left out),
fitted with numpy on the frozen, converted encoder (:func:`fit_sentence_head`), so adding it
changes no other task's output. It is stored in ``heads.npz`` as ``sentence.weight`` (3, dim)
and ``sentence.bias`` (3,); the card lists ``sentence`` among its tasks and keeps the head's
provenance under ``tagger.sentence_head`` (:func:`add_sentence_head`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import BackendError
from fsa_edge.runtime import HEADS_FILE
from fsa_edge.windows import MERGED_SCORE_CALIBRATION

from .head_names import SENTENCE_BIAS, SENTENCE_WEIGHT
from .scheme import softmax

SENTENCE_CLASSES = ("positive", "negative", "neutral")
SENTENCE_HEAD = "sentence_head"


def agreeing_polarity(polarities: Iterable[str]) -> str | None:
    """The one polarity (of :data:`SENTENCE_CLASSES`) that all of a text's elements share;
    ``None`` when there is none, they disagree, or one is another polarity (``conflict``)."""
    found = set(polarities)
    if len(found) == 1 and next(iter(found)) in SENTENCE_CLASSES:
        return next(iter(found))
    return None


def mean_pieces(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(batch, dim)`` means of the states ``(batch, time, dim)`` where ``mask`` (batch, time)
    is true (the text's own pieces)."""
    weights = mask.astype(hidden.dtype)
    return (hidden * weights[..., None]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)[:, None]


def has_sentence_head(heads: Mapping[str, np.ndarray]) -> bool:
    """Whether ``heads`` hold the sentence head."""
    return SENTENCE_WEIGHT in heads and SENTENCE_BIAS in heads


def sentence_logits(pooled: np.ndarray, heads: Mapping[str, np.ndarray]) -> np.ndarray:
    return pooled @ heads[SENTENCE_WEIGHT].T.astype(pooled.dtype) + heads[SENTENCE_BIAS]


def decode_sentence(logits: np.ndarray) -> tuple[str, float]:
    """``(polarity, probability)`` of one text's logits."""
    probs = softmax(logits.astype(np.float64))
    best = int(np.argmax(probs))
    return SENTENCE_CLASSES[best], float(probs[best])


def fit_sentence_head(features: np.ndarray, labels: Sequence[str], *, l2: float = 1e-3,
                      steps: int = 500, lr: float = 0.05, seed: int = 42,
                      balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Weight ``(3, dim)`` and bias ``(3,)`` of a softmax classifier: full-batch Adam on the
    cross-entropy (``balanced``: each class weighs as much as the others) plus ``l2``·|W|²."""
    targets = np.array([SENTENCE_CLASSES.index(label) for label in labels])
    counts = np.bincount(targets, minlength=len(SENTENCE_CLASSES)).astype(np.float64)
    if (counts == 0).sum() > 1:
        raise BackendError("pseudo-labels of at least two polarities are needed")
    sample_weight = ((len(targets) / (np.count_nonzero(counts) * np.maximum(counts, 1)))[targets]
                     if balanced else np.ones(len(targets)))
    x = features.astype(np.float64)
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.01, (len(SENTENCE_CLASSES), x.shape[1]))
    bias = np.zeros(len(SENTENCE_CLASSES))
    onehot = np.eye(len(SENTENCE_CLASSES))[targets]
    moments = [np.zeros_like(weight), np.zeros_like(bias)]
    squares = [np.zeros_like(weight), np.zeros_like(bias)]
    for step in range(1, steps + 1):
        probs = softmax(x @ weight.T + bias)
        delta = (probs - onehot) * sample_weight[:, None] / sample_weight.sum()
        grads = [delta.T @ x + 2 * l2 * weight, delta.sum(axis=0)]
        for index, (param, grad) in enumerate(zip((weight, bias), grads)):
            moments[index] = 0.9 * moments[index] + 0.1 * grad
            squares[index] = 0.999 * squares[index] + 0.001 * grad ** 2
            corrected = moments[index] / (1 - 0.9 ** step)
            param -= lr * corrected / (np.sqrt(squares[index] / (1 - 0.999 ** step)) + 1e-8)
    return weight.astype(np.float32), bias.astype(np.float32)


def read_pseudo_labels(path: str | Path) -> tuple[list[str], list[str], dict[str, int]]:
    """Texts, their pseudo-labels and the count per ``source`` of a JSONL of ``{text,
    polarity[, source]}``; a bad row is an :class:`~fsa_edge.errors.InputError` naming its line."""
    from fsa_edge.errors import InputError
    from fsa_edge.jsonlines import iter_json_objects

    texts, labels, sources = [], [], {}
    for line, record in iter_json_objects(path):
        text, polarity = record.get("text"), record.get("polarity")
        if not isinstance(text, str) or not text.strip():
            raise InputError("must be a non-empty string", path=path, line=line, field="text")
        if polarity not in SENTENCE_CLASSES:
            raise InputError(f"must be one of {', '.join(SENTENCE_CLASSES)}", path=path,
                             line=line, field="polarity")
        texts.append(text)
        labels.append(polarity)
        source = str(record.get("source", "unnamed"))
        sources[source] = sources.get(source, 0) + 1
    if not texts:
        raise InputError("no pseudo-labelled texts", path=path)
    return texts, labels, sources


def add_sentence_head(model: str | Path, weight: np.ndarray, bias: np.ndarray,
                      provenance: Mapping[str, Any]) -> None:
    """Write the head into a tagger directory: ``heads.npz`` (rewritten atomically) and the
    card (``sentence`` added to its tasks, ``tagger.sentence_head`` = ``provenance``; a
    ``sentence`` score map and the merged ``sentence`` map, fitted on the head replaced, are
    dropped: calibrate again)."""
    from .runtime import SCORE_CALIBRATION  # the runtime imports this module

    model = Path(model)
    path = model / HEADS_FILE
    with np.load(path) as stored:
        heads = {name: stored[name] for name in stored.files}
    dim = next(array.shape[-1] for name, array in heads.items() if name == "term.weight")
    if weight.shape != (len(SENTENCE_CLASSES), dim) or bias.shape != (len(SENTENCE_CLASSES),):
        raise BackendError(f"sentence head of shape {weight.shape}/{bias.shape}; expected "
                           f"({len(SENTENCE_CLASSES)}, {dim})/({len(SENTENCE_CLASSES)},)")
    heads.update({SENTENCE_WEIGHT: weight, SENTENCE_BIAS: bias})
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **heads)
    os.replace(tmp, path)
    card = ModelCard.load(model)
    extra: dict[str, Any] = dict(card.extra)
    tagger = {**extra.get("tagger", {}), SENTENCE_HEAD: dict(provenance)}
    maps = {task: entry for task, entry in tagger.get(SCORE_CALIBRATION, {}).items()
            if task != "sentence"}  # a sentence score map was fitted on the head replaced
    tagger.pop(SCORE_CALIBRATION, None)
    if maps:
        tagger[SCORE_CALIBRATION] = maps
    extra["tagger"] = tagger
    merged = {task: entry for task, entry in extra.pop(MERGED_SCORE_CALIBRATION, {}).items()
              if task != "sentence"}
    if merged:
        extra[MERGED_SCORE_CALIBRATION] = merged
    tasks = card.tasks if "sentence" in card.tasks else (*card.tasks, "sentence")
    replace(card, tasks=tuple(tasks), extra=extra).save(model)


__all__ = ["SENTENCE_CLASSES", "add_sentence_head", "agreeing_polarity", "decode_sentence",
           "fit_sentence_head", "has_sentence_head", "mean_pieces", "read_pseudo_labels",
           "sentence_logits"]
