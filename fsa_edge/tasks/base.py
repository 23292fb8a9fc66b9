"""A task = how elements are written as target text for a seq2seq student and read back.

Every built-in task is a :class:`SlotTask`: each element is a fixed sequence of slots joined by
``" | "``, elements are joined by ``" ; "`` (the paper's format:
``food | positive ; service | negative``). The parser never raises: it keeps what it can and
counts what it dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from ..model import POLARITIES, SentimentElement, Span
from .spans import Choice, assign_spans, occurrences

ELEMENT_SEPARATOR = " ; "
SLOT_SEPARATOR = " | "
NULL = "NULL"
EMPTY_TARGET = "none"
FORMAT_VERSION = 1

_POLARITY_ALIASES = {
    "positive": "positive", "pos": "positive",
    "negative": "negative", "neg": "negative",
    "neutral": "neutral", "neu": "neutral",
    "conflict": "conflict", "mixed": "conflict", "conflicting": "conflict",
}


def canonical_polarity(value: str) -> str | None:
    """``'POS'``, ``' Positive '`` → ``'positive'``; unknown words → ``None``."""
    return _POLARITY_ALIASES.get(value.strip().lower())


def canonical_category(value: str) -> str:
    """``'food quality'`` / ``'FOOD#QUALITY'`` → ``'FOOD#QUALITY'``; ``'food'`` → ``'FOOD'``.

    A one-word name without ``#`` (the MAMS categories ``food``, ``service``, ``staff``,
    ``price``, ``ambience``, ``menu``, ``place``, ``miscellaneous``) is a category of its own.
    """
    text = " ".join(value.strip().split()).upper()
    if "#" in text:
        entity, _, attribute = text.partition("#")
        return f"{entity.strip().replace(' ', '_')}#{attribute.strip().replace(' ', '_')}"
    entity, _, attribute = text.partition(" ")
    return f"{entity}#{attribute.replace(' ', '_')}" if attribute else entity


def linear_category(category: str) -> str:
    """The paper's category text: lower-cased, ``#`` → space."""
    return category.lower().replace("#", " ")


def normalise_term(term: str | None) -> str | None:
    """Key used by the metric: lower-cased, whitespace collapsed."""
    if term is None:
        return None
    return " ".join(term.lower().split())


@dataclass(frozen=True)
class ParseResult:
    """Elements read from a generation, and how many element strings were dropped."""

    elements: tuple[SentimentElement, ...]
    dropped: int = 0


@dataclass(frozen=True)
class SlotTask:
    """A task whose elements are ``slot | slot | ...`` strings.

    ``slots`` uses the names ``aspect``, ``category``, ``opinion``, ``polarity``.
    ``implicit_allowed``: slots that may be ``NULL`` (implicit aspect or opinion).
    ``terms_must_occur``: a term that is not in the text drops its element (ATSA, as in the
    paper); when false the term is kept without a span (ASQP gold has paraphrased opinions).
    ``distinct_aspects``: repeated aspect strings are successive occurrences (ATSA), rather
    than the same occurrence (ASTE / quads, where one aspect carries several opinions).
    """

    name: str
    description: str
    slots: tuple[str, ...]
    implicit_allowed: frozenset[str] = frozenset()
    distinct_aspects: bool = False
    terms_must_occur: bool = True
    prefix: str = ""
    aliases: tuple[str, ...] = field(default=())

    # ----------------------------------------------------------------- projection
    def project(self, elements: Iterable[SentimentElement]) -> tuple[SentimentElement, ...]:
        """The elements restricted to this task's slots, in canonical (sentence) order."""
        projected = [self._project_one(e) for e in elements if self.applies_to(e)]
        if "aspect" in self.slots or "opinion" in self.slots:
            projected.sort(key=self._order_key)
        return tuple(projected)

    def applies_to(self, element: SentimentElement) -> bool:
        """Whether a gold element carries every slot this task needs."""
        for slot in self.slots:
            if slot == "polarity" or slot in self.implicit_allowed:
                continue
            if getattr(element, slot) is None:
                return False
        return True

    def _project_one(self, element: SentimentElement) -> SentimentElement:
        keep = set(self.slots)
        return SentimentElement(
            polarity=element.polarity,
            aspect=element.aspect if "aspect" in keep else None,
            aspect_span=element.aspect_span if "aspect" in keep else None,
            category=element.category if "category" in keep else None,
            opinion=element.opinion if "opinion" in keep else None,
            opinion_span=element.opinion_span if "opinion" in keep else None,
        )

    @staticmethod
    def _order_key(element: SentimentElement) -> tuple[float, float]:
        aspect = element.aspect_span[0] if element.aspect_span else -1
        opinion = element.opinion_span[0] if element.opinion_span else -1
        return (aspect, opinion)

    def key(self, element: SentimentElement) -> tuple[str | None, ...]:
        """What must match exactly for the metric."""
        values: list[str | None] = []
        for slot in self.slots:
            if slot == "polarity":
                values.append(element.polarity)
            elif slot == "category":
                values.append(canonical_category(element.category) if element.category else None)
            else:
                values.append(normalise_term(getattr(element, slot)))
        return tuple(values)

    # ----------------------------------------------------------------- linearise
    def linearise(self, elements: Iterable[SentimentElement]) -> str:
        """Target text of a gold example."""
        projected = self.project(elements)
        if not projected:
            return EMPTY_TARGET
        return ELEMENT_SEPARATOR.join(self._linearise_one(e) for e in projected)

    def _linearise_one(self, element: SentimentElement) -> str:
        parts = []
        for slot in self.slots:
            if slot == "polarity":
                parts.append(element.polarity)
            elif slot == "category":
                parts.append(linear_category(element.category or NULL))
            else:
                value = getattr(element, slot)
                parts.append(" ".join(value.split()) if value else NULL)
        return SLOT_SEPARATOR.join(parts)

    # ----------------------------------------------------------------- parse
    def parse(self, generated: str, text: str) -> ParseResult:
        """Elements written in ``generated``, with spans located in ``text``. Never raises."""
        if not isinstance(generated, str) or not isinstance(text, str):
            return ParseResult((), 1)
        chunks = [" ".join(c.split()) for c in generated.split(";")]
        parsed: list[tuple[str, dict[str, str | None], list[Choice]]] = []
        dropped = 0
        for chunk in chunks:
            if not chunk or chunk.lower() == EMPTY_TARGET:
                continue
            read = self._read_chunk(chunk, text)
            if read is None:
                dropped += 1
            else:
                parsed.append((chunk, *read))
        same = [i > 0 and parsed[i][0] == parsed[i - 1][0] for i in range(len(parsed))]
        choices = assign_spans([c for _, _, c in parsed], same_as_previous=same,
                               strictly_increasing=self.distinct_aspects)
        elements = []
        for (_, fields, _), (aspect_span, opinion_span) in zip(parsed, choices):
            if aspect_span is not None:
                fields["aspect"] = text[aspect_span[0]:aspect_span[1]]
            if opinion_span is not None:
                fields["opinion"] = text[opinion_span[0]:opinion_span[1]]
            elements.append(SentimentElement(aspect_span=aspect_span, opinion_span=opinion_span,
                                             **fields))  # type: ignore[arg-type]
        return ParseResult(tuple(elements), dropped)

    def _read_chunk(self, chunk: str, text: str
                    ) -> tuple[dict[str, str | None], list[Choice]] | None:
        """The fields of one element string and its span candidates; ``None``: dropped."""
        values = [v.strip() for v in chunk.split("|")]
        if len(values) != len(self.slots):
            return None
        fields: dict[str, str | None] = {}
        spans: dict[str, list[Span | None]] = {"aspect": [None], "opinion": [None]}
        for slot, value in zip(self.slots, values):
            if slot == "polarity":
                polarity = canonical_polarity(value)
                if polarity is None:
                    return None
                fields["polarity"] = polarity
            elif slot == "category":
                if not value or value.upper() == NULL:
                    return None
                fields["category"] = canonical_category(value)
            elif value.upper() == NULL and slot in self.implicit_allowed:
                fields[slot] = None
            else:
                found = occurrences(text, value)
                if not found and self.terms_must_occur:
                    return None
                fields[slot] = value
                spans[slot] = list(found) or [None]
        candidates: list[Choice] = [(a, o) for a in spans["aspect"] for o in spans["opinion"]]
        return fields, candidates

    def with_scores(self, elements: Sequence[SentimentElement], score: float | None
                    ) -> tuple[SentimentElement, ...]:
        """Attach one confidence to every element (per-sequence scores)."""
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return tuple(elements)
        return tuple(replace(e, score=score) for e in elements)


__all__ = [
    "SlotTask", "ParseResult", "canonical_category", "canonical_polarity", "linear_category",
    "normalise_term", "FORMAT_VERSION", "POLARITIES",
]
