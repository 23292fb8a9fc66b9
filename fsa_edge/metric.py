"""The paper's metric: micro precision / recall / F1 over exact element matches.

An element matches when every slot of the task matches exactly (terms compared lower-cased with
whitespace collapsed; categories canonical) within the same review; repeated elements count as
a multiset. A review with no prediction counts as predicting nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .model import POLARITIES, SentimentElement
from .tasks import SlotTask, get_task


@dataclass(frozen=True)
class Score:
    """Counts and micro P/R/F1 (percentages)."""

    true_positives: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return 100.0 * self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return 100.0 * self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "true_positives": self.true_positives,
                "predicted": self.predicted, "gold": self.gold}


@dataclass(frozen=True)
class Evaluation:
    """The overall score of one task and its per-polarity breakdown."""

    task: str
    overall: Score
    by_polarity: Mapping[str, Score] = field(default_factory=dict)
    reviews: int = 0
    missing_predictions: int = 0

    def to_dict(self) -> dict:
        return {"task": self.task, "reviews": self.reviews,
                "missing_predictions": self.missing_predictions, **self.overall.to_dict(),
                "by_polarity": {k: v.to_dict() for k, v in self.by_polarity.items()}}


def evaluate(task: str | SlotTask, gold: Mapping[str, Sequence[SentimentElement]],
             predicted: Mapping[str, Sequence[SentimentElement]]) -> Evaluation:
    """Score ``predicted`` against ``gold``; both map review id → elements.

    Gold elements are projected on the task (elements that lack the task's slots are ignored);
    predictions for ids absent from ``gold`` are ignored; gold ids absent from ``predicted``
    count as empty predictions.
    """
    task = get_task(task)
    totals = Counter()
    per_polarity: dict[str, Counter] = {p: Counter() for p in POLARITIES}
    missing = 0
    for review_id, gold_elements in gold.items():
        if review_id not in predicted:
            missing += 1
        gold_keys = Counter(task.key(e) for e in task.project(gold_elements))
        pred_keys = Counter(task.key(e) for e in predicted.get(review_id, ()) if task.applies_to(e))
        matched = gold_keys & pred_keys
        _add(totals, matched, pred_keys, gold_keys)
        polarity_slot = task.slots.index("polarity")
        for polarity, counts in per_polarity.items():
            def only(counter: Counter) -> Counter:
                return Counter({k: v for k, v in counter.items() if k[polarity_slot] == polarity})
            _add(counts, only(matched), only(pred_keys), only(gold_keys))
    by_polarity = {p: _score(c) for p, c in per_polarity.items() if c["gold"] or c["predicted"]}
    return Evaluation(task.name, _score(totals), by_polarity, len(gold), missing)


def _add(counts: Counter, matched: Counter, predicted: Counter, gold: Counter) -> None:
    counts["tp"] += sum(matched.values())
    counts["predicted"] += sum(predicted.values())
    counts["gold"] += sum(gold.values())


def _score(counts: Counter) -> Score:
    return Score(counts["tp"], counts["predicted"], counts["gold"])


def gold_by_id(examples: Iterable) -> dict[str, tuple[SentimentElement, ...]]:
    """``{review id: elements}`` from labeled examples."""
    return {ex.review.id: ex.elements for ex in examples}
