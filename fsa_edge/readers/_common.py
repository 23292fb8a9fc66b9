"""Helpers shared by the data-set readers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import POLARITIES, Span
from ..tasks import canonical_polarity
from ..tasks.spans import locate, locate_near


def read_text(path: Path) -> str:
    """A whole file as text (a UTF-8 BOM is dropped)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path=path) from None


def json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """The objects of a file holding one JSON array, numbered from 1 (what errors name)."""
    try:
        records = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(records, list):
        raise InputError("expected a JSON array of records", path=path)
    for number, raw in enumerate(records, start=1):
        if not isinstance(raw, dict):
            raise InputError("expected an object", path=path, record=number)
        yield number, raw


def polarity_of(value: Any, *, path: Path, field: str, line: int | None = None,
                record: int | str | None = None) -> str:
    polarity = canonical_polarity(str(value)) if value is not None else None
    if polarity is None:
        raise InputError(f"polarity {value!r} is not one of {', '.join(POLARITIES)}",
                         path=path, line=line, record=record, field=field)
    return polarity


def token_span(tokens: list[str], first: int, last: int) -> Span:
    """Character span of tokens ``first..last`` (inclusive) in ``' '.join(tokens)``."""
    start = sum(len(t) + 1 for t in tokens[:first])
    end = sum(len(t) + 1 for t in tokens[:last + 1]) - 1
    return (start, end)


def term_span(text: str, term: str, hint: int | None, *, path: Path, field: str,
              record: int | str | None = None, line: int | None = None) -> Span:
    """The span of ``term``: at ``hint`` when it is there, else the occurrence nearest to it.

    Whitespace around a gold term (a trailing no-break space in laptop14) is not part of it.
    """
    if hint is not None and term != term.lstrip():
        hint += len(term) - len(term.lstrip())
    term = term.strip()
    if hint is not None and text[hint:hint + len(term)] == term:
        return (hint, hint + len(term))
    span = locate_near(text, term, (hint, hint)) if hint is not None else locate(text, term)
    if span is None:
        raise InputError(f"term {term!r} does not occur in the text", path=path, line=line,
                         record=record, field=field)
    return span
