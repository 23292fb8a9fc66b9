"""Sentence-level polarity sets: a JSON array of ``{sentence, label}``."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ._common import polarity_of, read_text


def read_sentences(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    try:
        records = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(records, list):
        raise InputError("expected a JSON array of records", path=path)
    examples = []
    for number, raw in enumerate(records, start=1):
        if not isinstance(raw, dict):
            raise InputError("expected an object", path=path, record=number)
        text = raw.get("sentence")
        if not isinstance(text, str):
            raise InputError("missing or not a string", path=path, record=number, field="sentence")
        polarity = polarity_of(raw.get("label"), path=path, record=number, field="label")
        rid = str(raw.get("id", f"{path.stem}:{number}"))
        examples.append(LabeledExample(Review(rid, text), (SentimentElement(polarity=polarity),)))
    return examples
