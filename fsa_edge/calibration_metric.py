"""How well a model's element scores are calibrated: expected calibration error (ECE).

The unit is a **predicted element**: its score, and whether it is right, i.e. whether its key
under the task (ATSA: the term, compared as the paper's metric compares it, and the polarity;
ACSA: the category and the polarity) is among the review's gold keys — the rule of the paper's
precision (:mod:`fsa_edge.metric`, ``counting="paper"``). A score is calibrated when, among the
elements scored about ``p``, a share of about ``p`` is right.

ECE: the scores are put in ``bins`` equal-width bins of [0, 1] (a score of 1 goes in the last
one); ECE = Σ over the bins of (elements in the bin / all elements) × |share right − mean
score|.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .model import SentimentElement
from .tasks import SlotTask, get_task

BINS = 15


def _bin_of(scores: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((scores * bins).astype(np.int64), bins - 1)


def _checked(scores: Sequence[float], correct: Sequence[bool], bins: int
             ) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    correct = np.asarray(correct, dtype=np.float64).reshape(-1)
    if scores.shape != correct.shape:
        raise ValueError(f"{scores.size} scores but {correct.size} correctness flags")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    if scores.size and (np.isnan(scores).any() or scores.min() < 0 or scores.max() > 1):
        raise ValueError("scores must lie in [0, 1]")
    return scores, correct


def reliability_bins(scores: Sequence[float], correct: Sequence[bool], bins: int = BINS
                     ) -> list[dict[str, float | int]]:
    """One row per equal-width bin: ``lower``, ``upper``, ``count``, ``mean_score`` and
    ``accuracy`` (share right; both ``None`` for an empty bin)."""
    scores, correct = _checked(scores, correct, bins)
    index = _bin_of(scores, bins)
    rows = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        rows.append({"lower": round(b / bins, 6), "upper": round((b + 1) / bins, 6),
                     "count": count,
                     "mean_score": round(float(scores[inside].mean()), 6) if count else None,
                     "accuracy": round(float(correct[inside].mean()), 6) if count else None})
    return rows


def expected_calibration_error(scores: Sequence[float], correct: Sequence[bool],
                               bins: int = BINS) -> float:
    """ECE of ``scores`` (each in [0, 1]) against ``correct`` (bool per score) with ``bins``
    equal-width bins; 0.0 when there is no score."""
    scores, correct = _checked(scores, correct, bins)
    if not scores.size:
        return 0.0
    index = _bin_of(scores, bins)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, weights=correct, minlength=bins)
                 - np.bincount(index, weights=scores, minlength=bins))
    return float(gap.sum() / count.sum())


def scored_elements(task: str | SlotTask, gold: Mapping[str, Sequence[SentimentElement]],
                    predicted: Mapping[str, Sequence[SentimentElement]]
                    ) -> tuple[list[float], list[bool]]:
    """``(scores, correct)`` over the predicted elements of the reviews in ``gold`` (review id
    → elements on both sides, as :func:`fsa_edge.metric.evaluate` takes them): one pair per
    predicted element that has the task's slots and a score (an element scored ``None`` is left
    out); right when its key is among the review's gold keys (the paper's matching)."""
    task = get_task(task)
    scores: list[float] = []
    correct: list[bool] = []
    for review_id, gold_elements in gold.items():
        gold_keys = {task.key(e) for e in task.project(gold_elements)}
        for element in predicted.get(review_id, ()):
            if task.applies_to(element) and element.score is not None:
                scores.append(float(element.score))
                correct.append(task.key(element) in gold_keys)
    return scores, correct


__all__ = ["BINS", "expected_calibration_error", "reliability_bins", "scored_elements"]
