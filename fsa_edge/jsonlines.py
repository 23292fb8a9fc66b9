"""Writing JSON lines that every reader splits the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

# json.dumps escapes ASCII control characters but, with ensure_ascii=False, leaves these
# Unicode line breaks raw; str.splitlines() (and some editors) would split a record on them.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def dumps_line(record: Any) -> str:
    """One JSON record as a single line (no trailing newline), UTF-8 text kept readable."""
    text = json.dumps(record, ensure_ascii=False)
    for char, escape in _LINE_BREAKS.items():
        if char in text:
            text = text.replace(char, escape)
    return text


def iter_json_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (a BOM tolerated).

    A missing file, invalid UTF-8 or JSON, or a line that is not an object raises
    :class:`~fsa_edge.errors.InputError` naming the file and line.
    """
    from .errors import InputError

    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 (byte {exc.start})", path=path,
                                 line=number) from None
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON ({exc.msg})", path=path, line=number) from None
            if not isinstance(record, dict):
                raise InputError("expected a JSON object", path=path, line=number)
            yield number, record
