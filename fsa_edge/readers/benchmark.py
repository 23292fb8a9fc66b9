"""The paper's benchmark (``fsa-benchmark/{atsa,acsa}/*/*.json``).

A JSON array (UTF-8, often with a BOM) of
``{ID, sentence, aspects: [{from, to, target, category, polarity[, opinion_words]}]}``;
offsets are strings in some files and ints in others. A gold offset that does not point at
its term (a few dozen in laptop14) is repaired to the nearest occurrence of the term.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ..tasks import canonical_category
from ._common import json_records, polarity_of, term_span


def _int_or_none(value: Any, *, path: Path, record: str, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"offset {value!r} is not an integer", path=path, record=record,
                         field=field) from None


def _opinion(raw: Any, text: str, *, path: Path, record: str, field: str):
    if isinstance(raw, list):
        if not raw:
            return None, None
        first = raw[0]
        if not isinstance(first, dict) or "opinion" not in first:
            raise InputError("expected {from, to, opinion}", path=path, record=record, field=field)
        start = _int_or_none(first.get("from"), path=path, record=record, field=field + ".from")
        end = _int_or_none(first.get("to"), path=path, record=record, field=field + ".to")
        span = (start, end) if start is not None and end is not None and \
            text[start:end] == first["opinion"] else None
        return first["opinion"], span
    if isinstance(raw, str) and raw.strip():
        start = text.find(raw)
        return raw, (start, start + len(raw)) if start >= 0 else None
    return None, None


def _element(aspect: Any, text: str, *, path: Path, record: str, index: int) -> SentimentElement:
    field = f"aspects[{index}]"
    if not isinstance(aspect, dict):
        raise InputError("expected an object", path=path, record=record, field=field)
    polarity = polarity_of(aspect.get("polarity"), path=path, record=record,
                           field=field + ".polarity")
    target = aspect.get("target")
    category = aspect.get("category")
    term = span = None
    if target not in (None, "", "NULL"):
        if not isinstance(target, str):
            raise InputError("target must be a string", path=path, record=record,
                             field=field + ".target")
        hint = _int_or_none(aspect.get("from"), path=path, record=record, field=field + ".from")
        span = term_span(text, target, hint, path=path, record=record, field=field + ".target")
        term = text[span[0]:span[1]]
    if term is None and category in (None, ""):
        raise InputError("neither target nor category", path=path, record=record, field=field)
    opinion, opinion_span = _opinion(aspect.get("opinion_words"), text, path=path,
                                     record=record, field=field + ".opinion_words")
    return SentimentElement(
        polarity=polarity, aspect=term, aspect_span=span,
        category=canonical_category(category) if category else None,
        opinion=opinion, opinion_span=opinion_span,
    )


def read_benchmark(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    examples = []
    for number, raw in json_records(path):
        for key in ("ID", "sentence", "aspects"):
            if key not in raw:
                raise InputError("missing", path=path, record=number, field=key)
        record = f"{number} (ID {raw['ID']})"
        text = raw["sentence"]
        if not isinstance(text, str) or not isinstance(raw["aspects"], list):
            raise InputError("wrong type", path=path, record=record,
                             field="sentence" if not isinstance(text, str) else "aspects")
        elements = tuple(_element(a, text, path=path, record=record, index=i)
                         for i, a in enumerate(raw["aspects"]))
        examples.append(LabeledExample(Review(str(raw["ID"]), text), elements))
    return examples
