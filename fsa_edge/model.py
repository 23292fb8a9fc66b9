"""The data model: reviews in, sentiment elements and per-review results out.

All classes are frozen dataclasses with a stable JSON form (``to_dict`` / ``from_dict``);
the README documents that form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Polarity = Literal["positive", "negative", "neutral", "conflict"]
POLARITIES: tuple[str, ...] = ("positive", "negative", "neutral", "conflict")

Span = tuple[int, int]


def _span_from(value: Any) -> Span | None:
    if value is None:
        return None
    start, end = value
    return (int(start), int(end))


@dataclass(frozen=True)
class Review:
    """One text to analyse. ``metadata`` carries anything else the input row had."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Review":
        return cls(id=str(data["id"]), text=data["text"], metadata=dict(data.get("metadata") or {}))


@dataclass(frozen=True)
class SentimentElement:
    """One opinion found in a text.

    ``aspect`` is the aspect term as it appears in the text (``None`` when the aspect is
    implicit or the task has no terms); ``aspect_span`` its ``[start, end)`` character offsets
    in the original text. ``category`` is an ``ENTITY#ATTRIBUTE`` label in upper case
    (``FOOD#QUALITY``), or one upper-case name where the data set has no attributes (MAMS:
    ``FOOD``). ``opinion`` / ``opinion_span`` likewise for the opinion term.
    ``score`` is the model's confidence when it gives one.
    """

    polarity: str
    aspect: str | None = None
    aspect_span: Span | None = None
    category: str | None = None
    opinion: str | None = None
    opinion_span: Span | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "aspect": self.aspect,
            "aspect_span": list(self.aspect_span) if self.aspect_span else None,
            "category": self.category,
            "opinion": self.opinion,
            "opinion_span": list(self.opinion_span) if self.opinion_span else None,
            "polarity": self.polarity,
            "score": self.score,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SentimentElement":
        return cls(
            polarity=data["polarity"],
            aspect=data.get("aspect"),
            aspect_span=_span_from(data.get("aspect_span")),
            category=data.get("category"),
            opinion=data.get("opinion"),
            opinion_span=_span_from(data.get("opinion_span")),
            score=data.get("score"),
        )


@dataclass(frozen=True)
class AnalysisResult:
    """What fsa-edge says about one review: its elements for one task, or an error.

    ``parts``: how many parts the text was analysed in (more than one when it was longer than
    the model's input window: every part was read, element offsets are into ``text``).
    ``answers``: with task ``"all"``, the elements of every task the model serves, by task
    (``elements`` is then empty); ``None`` otherwise."""

    id: str
    text: str | None
    task: str
    elements: tuple[SentimentElement, ...] = ()
    model: str | None = None
    error: str | None = None
    parts: int = 1
    answers: Mapping[str, tuple[SentimentElement, ...]] | None = None

    def elements_for(self, task: str) -> tuple[SentimentElement, ...]:
        """The elements to score as ``task``: from ``answers`` for an ``"all"`` result, else
        ``elements``."""
        if self.answers is not None:
            return tuple(self.answers.get(task, ()))
        return self.elements

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "task": self.task,
            "elements": [e.to_dict() for e in self.elements],
            "model": self.model,
            "error": self.error,
            "parts": self.parts,
            **({} if self.answers is None else {"answers": {
                task: [e.to_dict() for e in found] for task, found in self.answers.items()}}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AnalysisResult":
        return cls(
            id=str(data["id"]),
            text=data.get("text"),
            task=data["task"],
            elements=tuple(SentimentElement.from_dict(e) for e in data.get("elements") or ()),
            model=data.get("model"),
            error=data.get("error"),
            parts=int(data.get("parts", 1)),
            answers=None if data.get("answers") is None else {
                str(task): tuple(SentimentElement.from_dict(e) for e in found or ())
                for task, found in data["answers"].items()},
        )


@dataclass(frozen=True)
class LabeledExample:
    """A gold record of a data set: a review and its annotated elements."""

    review: Review
    elements: tuple[SentimentElement, ...]
