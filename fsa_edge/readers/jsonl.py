"""Line-by-line input for ``analyze`` and prediction files for ``evaluate``.

Every input line yields exactly one :class:`InputLine`: a review, or an error that names the
file (``source``, where the caller gives it), line and field. Nothing is skipped silently (blank
lines included: they become error records so that output line N always answers input line N).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, TypeVar

from ..errors import InputError
from ..jsonlines import iter_json_objects
from ..model import AnalysisResult, Review


@dataclass(frozen=True)
class InputLine:
    """One input line: ``review`` when it is valid, else ``error``."""

    line: int
    id: str
    review: Review | None = None
    error: str | None = None


def _where(line: int, source: str) -> str:
    """The start of an error about ``line`` of ``source`` (``"reviews.jsonl, line 7: "``)."""
    return f"{source}, line {line}: " if source else f"line {line}: "


def _decode(raw: bytes, line: int, source: str = "") -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8").rstrip("\r\n"), None
    except UnicodeDecodeError as exc:
        return None, f"{_where(line, source)}not valid UTF-8 (byte {exc.start})"


def iter_jsonl_reviews(stream: IO[bytes], *, text_field: str = "text", id_field: str = "id",
                       source: str = "") -> Iterator[InputLine]:
    """Reviews from JSON lines; a missing id falls back to the line number. ``source`` (the
    file's name) starts every error."""
    for line, raw in enumerate(stream, start=1):
        yield parse_jsonl_line(raw, line, text_field=text_field, id_field=id_field, source=source)


def parse_jsonl_line(raw: bytes, line: int, *, text_field: str = "text", id_field: str = "id",
                     source: str = "") -> InputLine:
    """One JSON line (``line`` counts from 1) of the file ``source`` as a review, or the reason
    it is not one."""
    fallback_id = str(line)
    where = _where(line, source)
    text, error = _decode(raw, line, source)
    if error is not None:
        return InputLine(line, fallback_id, error=error)
    if not text.strip():
        return InputLine(line, fallback_id, error=f"{where}empty line")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return InputLine(line, fallback_id, error=f"{where}invalid JSON ({exc.msg})")
    if not isinstance(record, dict):
        return InputLine(line, fallback_id, error=f"{where}expected a JSON object")
    return review_from_record(record, line, fallback_id, text_field=text_field,
                              id_field=id_field, where=where)


def review_from_record(record: dict, line: int, fallback_id: str, *, text_field: str = "text",
                       id_field: str = "id", where: str = "") -> InputLine:
    """One input record (a JSON object, a dataset row) as a review, or the reason it is not
    one; ``where`` starts each reason (``"line 7: "``)."""
    rid = record.get(id_field, fallback_id)
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        return InputLine(line, fallback_id,
                         error=f"{where}field {id_field!r} must be a string or integer")
    rid = str(rid)
    value = record.get(text_field)
    if value is None:
        return InputLine(line, rid, error=f"{where}field {text_field!r} is missing")
    if not isinstance(value, str):
        return InputLine(line, rid, error=f"{where}field {text_field!r} must be a string")
    if not value.strip():
        return InputLine(line, rid, error=f"{where}field {text_field!r} is empty")
    metadata = {k: v for k, v in record.items() if k not in (id_field, text_field)}
    return InputLine(line, rid, review=Review(rid, value, metadata))


def iter_text_reviews(stream: IO[bytes], *, source: str = "") -> Iterator[InputLine]:
    """One review per line of plain text; the id is the line number. ``source`` (the file's
    name) starts every error."""
    for line, raw in enumerate(stream, start=1):
        yield parse_text_line(raw, line, source=source)


def parse_text_line(raw: bytes, line: int, *, source: str = "") -> InputLine:
    """One line of plain text (``line`` counts from 1) of the file ``source`` as a review, or
    the reason it is not."""
    text, error = _decode(raw, line, source)
    if error is not None:
        return InputLine(line, str(line), error=error)
    if not text.strip():
        return InputLine(line, str(line), error=f"{_where(line, source)}empty line")
    return InputLine(line, str(line), review=Review(str(line), text))


Item = TypeVar("Item")


#: input lines (or the SDK's texts) per batch unless a caller says otherwise (``load(batch_size=)``,
#: ``fsa-edge analyze --batch-size``, the Ray engine's batches). A backend sorts a batch's reviews by
#: length into its own encoder batches (the tagger: at most 64 reviews and 2048 word pieces), so a
#: larger batch pads less: on short texts 256 runs the encoder over 1.49 positions per word piece
#: against 2.27 at 32 and answers 1.12-1.18x as fast, peak RSS 9-14 MB higher; on yelp2's long
#: reviews (task all) 1.14x, one CLI run 0.91x the time, 291 MB against 209 MB (benchmarks/README,
#: "256 lines a batch"). A batch the backend fails on is analysed again review by review, so a bad
#: review costs only its own row.
DEFAULT_BATCH_SIZE = 256


def line_batches(lines: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Input lines (or the SDK's texts) in batches of ``size`` consecutive items, bad lines
    included: line ``k`` (from 1) is in batch ``(k - 1) // size``. Every engine batches a file
    this way, so a review meets the same neighbours on any engine (int8 scores move with a
    batch's other reviews)."""
    batch: list[Item] = []
    for item in lines:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_predictions(path: str | Path) -> dict[str, AnalysisResult]:
    """An ``analyze`` output file, keyed by id. A malformed line is an :class:`InputError`."""
    predictions: dict[str, AnalysisResult] = {}
    for line, record in iter_json_objects(path):
        for key in ("id", "task"):
            if key not in record:
                raise InputError("missing", path=path, line=line, field=key)
        try:
            result = AnalysisResult.from_dict(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed element ({exc})", path=path, line=line,
                             field="elements") from None
        predictions[result.id] = result
    return predictions
