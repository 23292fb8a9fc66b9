"""Calibrating the category head's decision on dev data: the ``none`` threshold.

Argmax decoding finds a category only when one polarity beats ``none``; a trained head is
often too shy (high precision, low recall). :func:`calibrate_none_threshold` scores the dev
sets once per candidate threshold ("found when P(none) < t", and plain argmax) and writes the
one with the best mean dev F1 into the card (``extra.tagger.none_below``), where every runtime
reads it. The candidates and their dev F1s are recorded beside it.

Calibrate the model that ships: the default recipe calibrates the converted int8 model (its
category decisions near a threshold are what int8 moves) and writes the same threshold into the
torch checkpoint's card (``also``), so every variant of one checkpoint decodes alike.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import FsaEdgeError, TrainingError
from fsa_edge.metric import evaluate
from fsa_edge.model import SentimentElement
from fsa_edge.readers import read_dataset
from fsa_edge.runtime import HEADS_FILE

from .runtime import TaggerRuntime
from .scheme import decode_categories

THRESHOLDS = (None, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def dev_f1_by_threshold(runtime: TaggerRuntime, dev_files: Sequence[str | Path],
                        thresholds: Sequence[float | None] = THRESHOLDS,
                        batch_size: int = 64) -> dict[str, dict[str, float]]:
    """``{file: {"argmax" | "0.6": F1}}``: the head runs once per file, decoding per threshold."""
    if not runtime.categories:
        raise TrainingError("this tagger has no category head to calibrate")
    results = {}
    for path in dev_files:
        examples = read_dataset(path).examples
        logits = np.concatenate([
            runtime.category_logits([ex.review.text for ex in examples[i:i + batch_size]])
            for i in range(0, len(examples), batch_size)]) if examples else np.zeros((0, 0))
        gold = {ex.review.id: ex.elements for ex in examples}
        scores = {}
        for threshold in thresholds:
            predicted = {ex.review.id: tuple(
                SentimentElement(polarity=p, category=c)
                for c, p, _ in decode_categories(row, runtime.categories, threshold))
                for ex, row in zip(examples, logits)}
            scores[_label(threshold)] = evaluate("acsa", gold, predicted).overall.f1
        results[str(path)] = scores
    return results


def _label(threshold: float | None) -> str:
    return "argmax" if threshold is None else f"{threshold:g}"


def calibrate_none_threshold(directory: str | Path, dev_files: Sequence[str | Path], *,
                             thresholds: Sequence[float | None] = THRESHOLDS,
                             device: str = "cpu", threads: int | None = None,
                             also: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Pick the threshold with the best mean ACSA dev F1 (argmax wins ties) for the tagger in
    ``directory`` (trained or converted) and write it into its card and into the cards of the
    ``also`` directories (other variants of the same checkpoint); returns the record."""
    from .backend import TaggerBackend

    if not dev_files:
        raise TrainingError("calibration needs at least one ACSA dev file")
    directory = Path(directory)
    targets = [directory, *map(Path, also)]
    for target in targets:
        if not (target / HEADS_FILE).is_file() or not (target / CARD_FILE).is_file():
            raise TrainingError(f"{target}: not a tagger directory (no {HEADS_FILE} or card) — "
                                "calibrate the output of 'fsa-edge train tagger finetune' or its "
                                "conversion")
    try:
        runtime = TaggerBackend(directory, device=device, cpu_threads=threads).runtime
    except FsaEdgeError as exc:
        raise TrainingError(f"{directory}: cannot load the tagger: {exc}") from None
    by_file = dev_f1_by_threshold(runtime, dev_files, thresholds)
    means = {_label(t): round(float(np.mean([s[_label(t)] for s in by_file.values()])), 4)
             for t in thresholds}
    best = max(thresholds, key=lambda t: (means[_label(t)], t is None))
    calibration = {"dev_f1": by_file, "mean_dev_f1": means, "chosen": _label(best),
                   "calibrated_on": str(directory)}
    for target in targets:
        card = ModelCard.load(target)
        tagger = {**card.extra.get("tagger", {}), "none_below": best, "calibration": calibration}
        replace(card, extra={**card.extra, "tagger": tagger}).save(target)
    return {"chosen": _label(best), "none_below": best, "mean_dev_f1": means,
            "dev_f1": by_file, "calibrated_on": str(directory)}


__all__ = ["THRESHOLDS", "calibrate_none_threshold", "dev_f1_by_threshold"]
