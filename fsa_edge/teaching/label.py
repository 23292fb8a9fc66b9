"""Read a teacher's ``label`` answer (JSON under the bounded schema) into the data model.

The answer is ``{"elements": [{"aspect", "entity", "attribute", "opinion", "polarity"}, ...]}``.
Terms are located in the review with :mod:`fsa_edge.tasks.spans` (an aspect's opinion is
the occurrence nearest to it). ``"NULL"`` or an empty term means implicit (``None``). A term
the review does not contain is kept as written, without a span, and counted in
:attr:`LabelParse.unlocated`. Anything that does not follow the schema raises
:class:`LabelFormatError`, which the runner treats like a teacher failure (bounded retries).
Raw control characters inside strings are accepted (``json.loads(strict=False)``): llama.cpp's
JSON-schema grammar lets a model write them, and they do no harm in a term.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import TeacherError
from ..model import SentimentElement
from ..tasks import canonical_category, canonical_polarity
from ..tasks.spans import locate, locate_near

IMPLICIT = {"", "null", "none", "n/a"}


class LabelFormatError(TeacherError):
    """A ``label`` answer that is not JSON under the schema."""


@dataclass(frozen=True)
class LabelParse:
    elements: tuple[SentimentElement, ...]
    unlocated: int = 0


def _term(value: Any, index: int, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise LabelFormatError(f"elements[{index}].{key} must be a string")
    value = " ".join(value.split())
    return None if value.lower() in IMPLICIT else value


def _category(item: dict[str, Any], index: int) -> str | None:
    if "category" in item and item["category"] is not None:
        if not isinstance(item["category"], str):
            raise LabelFormatError(f"elements[{index}].category must be a string")
        return canonical_category(item["category"]) or None
    entity, attribute = item.get("entity"), item.get("attribute")
    if entity is None and attribute is None:
        return None
    if not isinstance(entity, str) or not isinstance(attribute, str):
        raise LabelFormatError(f"elements[{index}]: entity and attribute must both be strings")
    return canonical_category(f"{entity}#{attribute}")


def parse_label(response: str, text: str) -> LabelParse:
    """The sentiment elements of a ``label`` answer about review ``text``."""
    try:
        data = json.loads(response, strict=False)
    except (json.JSONDecodeError, TypeError) as exc:
        raise LabelFormatError(f"answer is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
        raise LabelFormatError('answer must be an object with an "elements" list')
    elements: list[SentimentElement] = []
    unlocated = 0
    for index, item in enumerate(data["elements"]):
        if not isinstance(item, dict):
            raise LabelFormatError(f"elements[{index}] must be an object")
        raw_polarity = item.get("polarity")
        polarity = canonical_polarity(raw_polarity) if isinstance(raw_polarity, str) else None
        if polarity is None:
            raise LabelFormatError(f"elements[{index}].polarity {raw_polarity!r} is unknown")
        aspect = _term(item.get("aspect"), index, "aspect")
        opinion = _term(item.get("opinion"), index, "opinion")
        aspect_span = locate(text, aspect) if aspect else None
        opinion_span = locate_near(text, opinion, aspect_span) if opinion else None
        if aspect_span is not None:
            aspect = text[aspect_span[0]:aspect_span[1]]
        if opinion_span is not None:
            opinion = text[opinion_span[0]:opinion_span[1]]
        unlocated += (aspect is not None and aspect_span is None) + (
            opinion is not None and opinion_span is None)
        elements.append(SentimentElement(polarity=polarity, aspect=aspect,
                                         aspect_span=aspect_span,
                                         category=_category(item, index), opinion=opinion,
                                         opinion_span=opinion_span))
    return LabelParse(tuple(elements), unlocated)
