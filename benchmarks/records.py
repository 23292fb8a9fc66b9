"""How the recorded-run scripts report: the JSON record on stdout, and in ``--record`` if given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(record: dict[str, Any], path: str | Path | None) -> None:
    """Print ``record`` as indented JSON; also write it to ``path`` (folders made) when given."""
    text = json.dumps(record, indent=2)
    print(text)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n", encoding="utf-8")
