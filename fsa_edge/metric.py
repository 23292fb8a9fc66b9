"""The paper's metric: micro precision / recall / F1 over exact element matches.

An element matches when every slot of the task matches exactly (terms compared lower-cased with
whitespace collapsed; categories canonical) within the same review. A review with no prediction
counts as predicting nothing.

Two counting rules (``counting=``):

- ``"paper"`` (default) — the rule of the paper's evaluation code
  (HITSZ-HLT/FSA-Distillation, ``evaluation/utils/{atsa,acsa}.py``): a review's gold elements are
  de-duplicated first (an ACSA sentence that lists ``FOOD#QUALITY positive`` for two dishes has
  one gold pair; an ATSA term that occurs twice keeps both occurrences, which differ by offset);
  a predicted element is correct when its key is among the gold keys (precision), a gold element
  is found when its key is among the predicted keys (recall).
- ``"multiset"`` — both sides are multisets of keys and an element matches at most once: stricter
  where gold repeats a key (108 of the 859 rest16 ACSA test pairs are such repeats).

Sentence-level polarity (task ``sentence``) is scored as sentence classification instead, by
:func:`score_sentences`: accuracy and macro-F1 over the gold classes, with the confusion counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .calibration_metric import expected_calibration_error
from .errors import InputError
from .model import POLARITIES, SentimentElement
from .tasks import SlotTask, get_task


@dataclass(frozen=True)
class Score:
    """Counts and micro P/R/F1 (percentages)."""

    true_positives: int
    predicted: int
    gold: int
    gold_matched: int | None = None
    """Gold elements found (recall's numerator); ``None``: the same as ``true_positives``."""

    @property
    def found(self) -> int:
        """Gold elements matched by a prediction (recall's numerator)."""
        return self.true_positives if self.gold_matched is None else self.gold_matched

    @property
    def precision(self) -> float:
        """Percent of predicted elements that are right (0 when nothing was predicted)."""
        return 100.0 * self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        """Percent of gold elements found (0 when there is no gold)."""
        return 100.0 * self.found / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall, in percent."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "true_positives": self.true_positives,
                "gold_matched": self.found, "predicted": self.predicted, "gold": self.gold}


@dataclass(frozen=True)
class Evaluation:
    """The overall score of one task and its per-polarity breakdown."""

    task: str
    overall: Score
    by_polarity: Mapping[str, Score] = field(default_factory=dict)
    reviews: int = 0
    missing_predictions: int = 0
    counting: str = "paper"

    def to_dict(self) -> dict:
        return {"task": self.task, "counting": self.counting, "reviews": self.reviews,
                "missing_predictions": self.missing_predictions, **self.overall.to_dict(),
                "by_polarity": {k: v.to_dict() for k, v in self.by_polarity.items()}}


COUNTING_RULES = ("paper", "multiset")


def evaluate(task: str | SlotTask, gold: Mapping[str, Sequence[SentimentElement]],
             predicted: Mapping[str, Sequence[SentimentElement]], *,
             counting: str = "paper") -> Evaluation:
    """Score ``predicted`` against ``gold``; both map review id → elements.

    Gold elements are projected on the task (elements that lack the task's slots are ignored);
    predictions for ids absent from ``gold`` are ignored; gold ids absent from ``predicted``
    count as empty predictions. ``counting``: ``"paper"`` or ``"multiset"`` (module docstring).
    """
    if counting not in COUNTING_RULES:
        raise ValueError(f"counting {counting!r}: expected one of {', '.join(COUNTING_RULES)}")
    task = get_task(task)
    polarity_slot = task.slots.index("polarity")
    totals = Counter()
    per_polarity: dict[str, Counter] = {p: Counter() for p in POLARITIES}
    missing = 0
    for review_id, gold_elements in gold.items():
        if review_id not in predicted:
            missing += 1
        projected = task.project(gold_elements)
        if counting == "paper":
            projected = tuple(dict.fromkeys(projected))
        gold_keys = [task.key(e) for e in projected]
        pred_keys = [task.key(e) for e in predicted.get(review_id, ()) if task.applies_to(e)]
        _add(totals, gold_keys, pred_keys, counting)
        for polarity, counts in per_polarity.items():
            _add(counts, [k for k in gold_keys if k[polarity_slot] == polarity],
                 [k for k in pred_keys if k[polarity_slot] == polarity], counting)
    by_polarity = {p: _score(c) for p, c in per_polarity.items() if c["gold"] or c["predicted"]}
    return Evaluation(task.name, _score(totals), by_polarity, len(gold), missing, counting)


def _add(counts: Counter, gold: list[tuple], predicted: list[tuple], counting: str) -> None:
    if counting == "multiset":
        matched = sum((Counter(gold) & Counter(predicted)).values())
        counts["tp"] += matched
        counts["found"] += matched
    else:
        gold_set, predicted_set = set(gold), set(predicted)
        counts["tp"] += sum(k in gold_set for k in predicted)
        counts["found"] += sum(k in predicted_set for k in gold)
    counts["predicted"] += len(predicted)
    counts["gold"] += len(gold)


def _score(counts: Counter) -> Score:
    return Score(counts["tp"], counts["predicted"], counts["gold"], counts["found"])


def gold_by_id(examples: Iterable) -> dict[str, tuple[SentimentElement, ...]]:
    """``{review id: elements}`` from labeled examples."""
    return {ex.review.id: ex.elements for ex in examples}


# ------------------------------------------------------------------ sentence-level polarity

NO_PREDICTION = "none"
"""The predicted class of a review without prediction (id absent, error record, no element)."""


class ClassScore(Score):
    """One class of a sentence-level evaluation: a :class:`Score` whose ``gold`` is the class's
    gold reviews (its ``support``)."""

    @property
    def support(self) -> int:
        return self.gold

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "true_positives": self.true_positives,
                "predicted": self.predicted, "support": self.support}


@dataclass(frozen=True)
class SentenceEvaluation:
    """Sentence classification scores: accuracy and macro-F1 (percentages) over the gold classes.

    ``per_class``: the gold classes (the classes macro-F1 averages over), in polarity order.
    ``confusion``: ``{gold class: {predicted class: count}}``; the predicted classes are the gold
    classes, then any other label predicted (``neutral`` on a two-class set), then
    :data:`NO_PREDICTION` when some review has no prediction; zero counts included.
    ``missing_predictions``: reviews predicted as :data:`NO_PREDICTION`. ``score_ece``: the
    expected calibration error (:mod:`fsa_edge.calibration_metric`, 15 bins) of the answer's
    score over the reviews whose answer has one, an answer being right when its polarity is the
    gold one; ``None`` when no answer has a score or a score is no probability (outside
    [0, 1], e.g. a sum of votes).
    """

    task: str
    correct: int
    reviews: int
    per_class: Mapping[str, ClassScore]
    confusion: Mapping[str, Mapping[str, int]]
    missing_predictions: int = 0
    score_ece: float | None = None

    @property
    def accuracy(self) -> float:
        """Percent of reviews whose predicted polarity is the gold one."""
        return 100.0 * self.correct / self.reviews if self.reviews else 0.0

    @property
    def macro_f1(self) -> float:
        """Mean of the per-class F1 scores."""
        scores = [s.f1 for s in self.per_class.values()]
        return sum(scores) / len(scores) if scores else 0.0

    def to_dict(self) -> dict:
        return {"task": self.task, "reviews": self.reviews,
                "missing_predictions": self.missing_predictions,
                "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "correct": self.correct, "classes": list(self.per_class),
                "per_class": {k: v.to_dict() for k, v in self.per_class.items()},
                "confusion": {g: dict(row) for g, row in self.confusion.items()},
                "score_ece": None if self.score_ece is None else round(self.score_ece, 4)}


def score_sentences(gold: Mapping[str, Sequence[SentimentElement]],
                    predicted: Mapping[str, Sequence[SentimentElement]], *,
                    task: str = "sentence") -> SentenceEvaluation:
    """Score sentence-level polarity: accuracy, macro-F1 over the gold classes, confusion.

    ``gold`` and ``predicted`` map review id → elements, as for :func:`evaluate`. A gold review
    must carry exactly one polarity (an :class:`~fsa_edge.errors.InputError` otherwise). The
    predicted class of a review is the polarity of its highest-scored element (a ``None`` score
    lowest; ties: the first), or :data:`NO_PREDICTION` when it has none; predictions for ids
    absent from ``gold`` are ignored. A predicted class that is no gold class (``neutral`` on a
    positive/negative set) simply never matches.
    """
    pairs: list[tuple[str, str]] = []
    scores: list[float] = []
    right: list[bool] = []
    for review_id, elements in gold.items():
        polarities = {e.polarity for e in elements}
        if len(polarities) != 1:
            found = ", ".join(sorted(polarities)) or "none"
            raise InputError(f"sentence-level gold needs exactly one polarity (found: {found})",
                             record=review_id)
        answer = _answer(predicted.get(review_id, ()))
        pairs.append((polarities.pop(), NO_PREDICTION if answer is None else answer.polarity))
        if answer is not None and answer.score is not None:
            scores.append(answer.score)
            right.append(answer.polarity == pairs[-1][0])
    gold_classes = _class_order({g for g, _ in pairs})
    predicted_classes = gold_classes + [c for c in _class_order({p for _, p in pairs})
                                        if c not in gold_classes and c != NO_PREDICTION]
    if any(p == NO_PREDICTION for _, p in pairs):
        predicted_classes.append(NO_PREDICTION)
    counts = Counter(pairs)
    confusion = {g: {p: counts[g, p] for p in predicted_classes} for g in gold_classes}
    per_class = {c: ClassScore(counts[c, c], sum(counts[g, c] for g in gold_classes),
                               sum(confusion[c].values())) for c in gold_classes}
    return SentenceEvaluation(
        task=task, correct=sum(n for (g, p), n in counts.items() if g == p), reviews=len(pairs),
        per_class=per_class, confusion=confusion,
        missing_predictions=sum(p == NO_PREDICTION for _, p in pairs),
        score_ece=(expected_calibration_error(scores, right)
                   if scores and all(0.0 <= x <= 1.0 for x in scores) else None))


def _answer(elements: Sequence[SentimentElement]) -> SentimentElement | None:
    """A review's answer: its highest-scored element (``None`` score lowest, ties: the first)."""
    return max(elements, key=lambda e: (e.score is not None, e.score or 0.0), default=None)


def sentence_label(elements: Sequence[SentimentElement]) -> str:
    """The predicted class of one review: its highest-scored element's polarity (``None``
    score lowest, ties: the first), :data:`NO_PREDICTION` without elements."""
    answer = _answer(elements)
    return NO_PREDICTION if answer is None else answer.polarity


def _class_order(labels: Iterable[str]) -> list[str]:
    labels = set(labels)
    return [p for p in POLARITIES if p in labels] + sorted(labels.difference(POLARITIES))
