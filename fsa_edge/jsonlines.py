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


def iter_json_objects(path: str | Path, *, torn_tail_ok: bool = False
                      ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (a BOM tolerated).

    A missing file, invalid UTF-8 or JSON, or a line that is not an object raises
    :class:`~fsa_edge.errors.InputError` naming the file and line. With ``torn_tail_ok``, an
    unreadable last line without its newline (an interrupted writer's tail) ends the file.
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
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                if torn_tail_ok and not raw.endswith(b"\n"):
                    return
                reason = (f"not valid UTF-8 (byte {exc.start})"
                          if isinstance(exc, UnicodeDecodeError) else f"invalid JSON ({exc.msg})")
                raise InputError(reason, path=path, line=number) from None
            if not isinstance(record, dict):
                raise InputError("expected a JSON object", path=path, line=number)
            yield number, record
