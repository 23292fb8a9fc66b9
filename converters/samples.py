"""Sample inputs for the parity gate: built-in sentences or a JSONL file of {"text": ...}."""

from __future__ import annotations

from pathlib import Path

from fsa_edge.errors import InputError
from fsa_edge.jsonlines import iter_json_objects

BUILTIN_SAMPLES: tuple[str, ...] = (
    "The bread is top notch as well.",
    "The pizza was great but the service was rude.",
    "Their wine list is awful and overpriced.",
    "I found the decor charming, the staff friendly and the pasta bland.",
    "Fish excellent, waiter slow.",
    "Best sushi in town!",
    "The coffee was cold.",
    "Nothing special about the dessert, but the music was good.",
)


def load_samples(path: str | Path | None, limit: int = 64) -> list[str]:
    """Texts from a JSONL file (field ``text``), or the built-in sentences."""
    if path is None:
        return list(BUILTIN_SAMPLES)
    texts: list[str] = []
    for number, record in iter_json_objects(path):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError("missing or empty text", path=path, line=number, field="text")
        texts.append(text)
        if len(texts) >= limit:
            break
    if not texts:
        raise InputError("no samples", path=path)
    return texts
