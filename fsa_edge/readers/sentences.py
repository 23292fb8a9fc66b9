"""Sentence-level polarity sets: a JSON array of ``{sentence, label}``."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ._common import json_records, polarity_of


def read_sentences(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    examples = []
    for number, raw in json_records(path):
        text = raw.get("sentence")
        if not isinstance(text, str):
            raise InputError("missing or not a string", path=path, record=number, field="sentence")
        polarity = polarity_of(raw.get("label"), path=path, record=number, field="label")
        rid = str(raw.get("id", f"{path.stem}:{number}"))
        examples.append(LabeledExample(Review(rid, text), (SentimentElement(polarity=polarity),)))
    return examples
