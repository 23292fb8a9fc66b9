"""Score maps fitted on dev elements: Platt scaling, isotonic regression, and the
cross-validated choice between them (:func:`fit_score_map`).

Each dev element is a raw score and whether the element was right; a map turns the raw score
into the chance of being right (:class:`~fsa_edge.score_map.ScoreMap`, applied at run time by the
core and the tagger runtime). Calibration (:mod:`.calibration`) decides which elements to fit on.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fsa_edge.calibration_metric import BINS, expected_calibration_error
from fsa_edge.errors import TrainingError
from fsa_edge.score_map import ScoreMap, logit

#: isotonic regression replaces Platt scaling only when its cross-validated dev ECE is lower by
#: at least this much (and its log loss lower; Platt: two parameters, keeps every score's rank)
ISOTONIC_MARGIN = 0.01
FOLDS = 5
CV_SEEDS = 4
#: fewer dev elements than this for a task (or a category group): no score map is fitted for it
MIN_ELEMENTS = 20


def fit_platt(scores: Sequence[float], correct: Sequence[bool], *,
              iterations: int = 100) -> ScoreMap:
    """Platt scaling: ``a``, ``b`` of sigmoid(a · logit(s) + b) minimising the log loss
    (Newton's method with a backtracking step; Platt's smoothed targets, so an all-right or
    all-wrong set still has finite parameters); ``a`` ≥ 0, so the map never reverses ranks."""
    z = np.array([logit(s) for s in scores], dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    if not z.size:
        raise TrainingError("Platt scaling needs at least one scored element")
    positives = y.sum()
    targets = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (len(y) - positives + 2))

    def loss(a: float, b: float) -> float:
        t = a * z + b  # log loss from the logits, stably
        return float(np.sum(np.logaddexp(0, t) - targets * t))

    def fit(a: float, b: float, free_a: bool) -> tuple[float, float]:
        for _ in range(iterations):
            p = np.exp(-np.logaddexp(0, -(a * z + b)))  # sigmoid, without overflow
            g, w = p - targets, p * (1 - p)
            if free_a:
                grad = np.array([g @ z, g.sum()])
                hess = np.array([[w @ (z * z), w @ z], [w @ z, w.sum()]]) + 1e-9 * np.eye(2)
                step = np.linalg.solve(hess, grad)
            else:
                step = np.array([0.0, g.sum() / (w.sum() + 1e-9)])
            current, size = loss(a, b), 1.0
            while size > 1e-10 and loss(a - size * step[0], b - size * step[1]) > current:
                size /= 2
            if size <= 1e-10:
                break
            a, b = a - size * step[0], b - size * step[1]
            if np.abs(size * step).max() < 1e-10:
                break
        return a, b

    a, b = fit(1.0, 0.0, True)
    if a < 0:  # a score that predicts nothing (or worse): the constant map
        a, b = fit(0.0, 0.0, False)
    return ScoreMap("platt", a=float(a), b=float(b))


def fit_isotonic(scores: Sequence[float], correct: Sequence[bool]) -> ScoreMap:
    """Isotonic regression (pool adjacent violators) of right/wrong on the raw score: each pooled
    block's share right at its lowest and highest score, linear in between."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    if not x.size:
        raise TrainingError("isotonic regression needs at least one scored element")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    values, starts = np.unique(x, return_index=True)  # equal scores start as one block
    sums = np.add.reduceat(y, starts)
    counts = np.diff(np.append(starts, len(x))).astype(np.float64)
    blocks: list[list[float]] = []  # [sum, count, lowest score, highest score]
    for value, total, count in zip(values, sums, counts):
        blocks.append([total, count, value, value])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            total, count, _, high = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
            blocks[-1][3] = high
    points_x: list[float] = []
    points_y: list[float] = []
    for total, count, low, high in blocks:
        for point in ((low,) if low == high else (low, high)):
            points_x.append(float(point))
            points_y.append(float(total / count))
    return ScoreMap("isotonic", x=tuple(points_x), y=tuple(points_y))


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


def _log_loss(probabilities: np.ndarray, correct: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return float(-np.mean(correct * np.log(p) + (1 - correct) * np.log(1 - p)))


def cross_validated(method: str, scores: Sequence[float], correct: Sequence[bool], *,
                    folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each element's score mapped by ``method`` fitted on the other folds (a seeded random
    split of the elements into ``folds``)."""
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    fold = np.random.default_rng(seed).permutation(len(scores)) % folds
    mapped = np.empty(len(scores))
    for k in range(folds):
        held = fold == k
        if held.any():
            score_map = FITTERS[method](scores[~held], correct[~held])
            mapped[held] = [score_map(s) for s in scores[held]]
    return mapped


def fit_score_map(scores: Sequence[float], correct: Sequence[bool], *, bins: int = BINS,
                  margin: float = ISOTONIC_MARGIN) -> tuple[ScoreMap, dict[str, Any]]:
    """The score map of one task fitted on its dev elements (raw score, right?), with the record
    the card keeps (ECE before and after on dev, both methods' cross-validated ECE and log loss).

    Platt, unless isotonic is clearly better out of sample: its ECE, cross-validated on dev
    (:data:`FOLDS` folds, averaged over :data:`CV_SEEDS` splits), lower by ``margin`` and its log
    loss lower too. In-sample, isotonic's ECE is 0 by construction, so only held-out elements
    can compare the two; the log loss (a proper score, less noisy than binned ECE) guards
    against isotonic's over-fitted steps."""
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    folds = min(FOLDS, len(scores))
    cv_ece, cv_log_loss = {}, {}
    for method in FITTERS:
        mapped = [cross_validated(method, scores, correct, folds=folds, seed=seed)
                  for seed in range(CV_SEEDS)]
        cv_ece[method] = round(float(np.mean([expected_calibration_error(m, correct, bins)
                                              for m in mapped])), 6)
        cv_log_loss[method] = round(float(np.mean([_log_loss(m, correct) for m in mapped])), 6)
    clearly_better = (cv_ece["isotonic"] < cv_ece["platt"] - margin
                      and cv_log_loss["isotonic"] < cv_log_loss["platt"])
    method = "isotonic" if clearly_better else "platt"
    score_map = FITTERS[method](scores, correct)
    after = [score_map(s) for s in scores]
    record = {**score_map.parameters(),
              "dev_ece_before": round(expected_calibration_error(scores, correct, bins), 6),
              "dev_ece_after": round(expected_calibration_error(after, correct, bins), 6),
              "dev_elements": int(len(scores)), "dev_right": int(correct.sum()),
              "cv_ece": cv_ece, "cv_log_loss": cv_log_loss, "bins": bins,
              "chosen_by": f"{FOLDS}-fold cross-validation on dev ({CV_SEEDS} splits): isotonic "
                           f"only with an ECE lower by {margin:g} and a lower log loss"}
    return score_map, record


__all__ = ["CV_SEEDS", "FITTERS", "FOLDS", "ISOTONIC_MARGIN", "MIN_ELEMENTS", "cross_validated",
           "fit_isotonic", "fit_platt", "fit_score_map"]
