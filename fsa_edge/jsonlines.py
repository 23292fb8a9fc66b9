"""Writing JSON lines that every reader splits the same way."""

from __future__ import annotations

import json
from typing import Any

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
