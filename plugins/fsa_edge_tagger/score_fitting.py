"""Score maps fitted on dev elements: Platt scaling, beta calibration, isotonic regression, and
the cross-validated choice between them (:func:`fit_score_map`).

Each dev element is a raw score and whether the element was right; a map turns the raw score
into the chance of being right (:class:`~fsa_edge.score_map.ScoreMap`, applied at run time by the
core and the tagger runtime). Calibration (:mod:`.calibration`) decides which elements to fit on.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fsa_edge.calibration_metric import BINS, expected_calibration_error
from fsa_edge.errors import TrainingError
from fsa_edge.score_map import LOGIT_EPS, ScoreMap, logit

#: isotonic regression replaces the parametric map (Platt or beta) only when its cross-validated
#: dev ECE is lower by at least this much (and its log loss lower; the parametric maps have two or
#: three parameters and keep every score's rank)
ISOTONIC_MARGIN = 0.01
FOLDS = 5
CV_SEEDS = 4
#: fewer dev elements than this for a task (or a category group): no score map is fitted for it
MIN_ELEMENTS = 20


def _smoothed_targets(correct: np.ndarray) -> np.ndarray:
    """Platt's smoothed targets: an all-right or all-wrong set still has finite parameters."""
    positives = correct.sum()
    return np.where(correct > 0, (positives + 1) / (positives + 2),
                    1 / (len(correct) - positives + 2))


def _logistic_fit(features: np.ndarray, targets: np.ndarray, start: Sequence[float], *,
                  iterations: int = 100) -> np.ndarray:
    """Weights w minimising the log loss of sigmoid(features @ w) against ``targets`` (Newton's
    method with a backtracking step, from ``start``)."""
    w = np.array(start, dtype=np.float64)

    def loss(weights: np.ndarray) -> float:
        t = features @ weights  # log loss from the logits, stably
        return float(np.sum(np.logaddexp(0, t) - targets * t))

    for _ in range(iterations):
        p = np.exp(-np.logaddexp(0, -(features @ w)))  # sigmoid, without overflow
        g, h = p - targets, p * (1 - p)
        hess = (features * h[:, None]).T @ features + 1e-9 * np.eye(features.shape[1])
        step = np.linalg.solve(hess, features.T @ g)
        current, size = loss(w), 1.0
        while size > 1e-10 and loss(w - size * step) > current:
            size /= 2
        if size <= 1e-10:
            break
        w = w - size * step
        if np.abs(size * step).max() < 1e-10:
            break
    return w


def fit_platt(scores: Sequence[float], correct: Sequence[bool], *,
              iterations: int = 100) -> ScoreMap:
    """Platt scaling: ``a``, ``b`` of sigmoid(a · logit(s) + b) minimising the log loss
    (Newton's method; Platt's smoothed targets); ``a`` ≥ 0, so the map never reverses ranks."""
    z = np.array([logit(s) for s in scores], dtype=np.float64)
    if not z.size:
        raise TrainingError("Platt scaling needs at least one scored element")
    targets = _smoothed_targets(np.asarray(correct, dtype=np.float64))
    ones = np.ones_like(z)
    a, b = _logistic_fit(np.stack([z, ones], axis=1), targets, (1.0, 0.0), iterations=iterations)
    if a < 0:  # a score that predicts nothing (or worse): the constant map
        a, b = 0.0, _logistic_fit(ones[:, None], targets, (0.0,), iterations=iterations)[0]
    return ScoreMap("platt", a=float(a), b=float(b))


def fit_beta(scores: Sequence[float], correct: Sequence[bool], *,
             iterations: int = 100) -> ScoreMap:
    """Beta calibration (Kull, Silva Filho & Flach, 2017): ``a``, ``b``, ``c`` of
    sigmoid(a · ln s − b · ln(1 − s) + c) minimising the log loss, ``a``, ``b`` ≥ 0 (a weight
    that comes out negative is dropped and the rest refitted, so the map never reverses ranks).
    Platt scaling is the case a = b; beta bends the low and the high scores apart."""
    s = np.clip(np.asarray(scores, dtype=np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    if not s.size:
        raise TrainingError("beta calibration needs at least one scored element")
    targets = _smoothed_targets(np.asarray(correct, dtype=np.float64))
    columns = {"a": np.log(s), "b": -np.log1p(-s)}
    kept = ["a", "b"]
    while True:
        features = np.stack([columns[name] for name in kept] + [np.ones_like(s)], axis=1)
        start = [1.0] * len(kept) + [0.0]  # the identity map while both weights are kept
        weights = _logistic_fit(features, targets, start, iterations=iterations)
        negative = [name for name, w in zip(kept, weights) if w < 0]
        if not negative:
            break
        kept.remove(min(negative, key=lambda name: weights[kept.index(name)]))
    fitted = dict(zip(kept, weights))
    return ScoreMap("beta", a=float(fitted.get("a", 0.0)), b=float(fitted.get("b", 0.0)),
                    c=float(weights[-1]))


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


FITTERS = {"platt": fit_platt, "beta": fit_beta, "isotonic": fit_isotonic}


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
    the card keeps (ECE before and after on dev, each method's cross-validated ECE and log loss).

    Platt, unless beta is better out of sample: its ECE and its log loss, cross-validated on dev
    (:data:`FOLDS` folds, averaged over :data:`CV_SEEDS` splits), both lower (one parameter more,
    still monotone and smooth); then isotonic replaces that map only when it is clearly better:
    its cross-validated ECE lower by ``margin`` and its log loss lower too. In-sample,
    isotonic's ECE is 0 by construction, so only held-out elements can compare the maps; the
    log loss (a proper score, less noisy than binned ECE) guards against isotonic's over-fitted
    steps."""
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
    parametric = ("beta" if cv_ece["beta"] < cv_ece["platt"]
                  and cv_log_loss["beta"] < cv_log_loss["platt"] else "platt")
    clearly_better = (cv_ece["isotonic"] < cv_ece[parametric] - margin
                      and cv_log_loss["isotonic"] < cv_log_loss[parametric])
    method = "isotonic" if clearly_better else parametric
    score_map = FITTERS[method](scores, correct)
    after = [score_map(s) for s in scores]
    record = {**score_map.parameters(),
              "dev_ece_before": round(expected_calibration_error(scores, correct, bins), 6),
              "dev_ece_after": round(expected_calibration_error(after, correct, bins), 6),
              "dev_elements": int(len(scores)), "dev_right": int(correct.sum()),
              "cv_ece": cv_ece, "cv_log_loss": cv_log_loss, "bins": bins,
              "chosen_by": f"{FOLDS}-fold cross-validation on dev ({CV_SEEDS} splits): beta "
                           f"over platt only with a lower ECE and a lower log loss; isotonic "
                           f"over that only with an ECE lower by {margin:g} and a lower log loss"}
    return score_map, record


__all__ = ["CV_SEEDS", "FITTERS", "FOLDS", "ISOTONIC_MARGIN", "MIN_ELEMENTS", "cross_validated",
           "fit_isotonic", "fit_platt", "fit_score_map"]
