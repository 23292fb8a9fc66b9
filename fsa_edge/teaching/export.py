"""Write a corpus in the paper's layout: ``{ID, Text, Overall, <teacher>_response}`` lines.

This is the layout of the paper's released teacher samples (``mixtral_500.jsonl``), so tools
written for those read fsa-edge corpora too. Only answered rows are exported; error rows are
counted and left out. ``ID`` is written as an integer when the id is one (``"42"`` → ``42``),
``Overall`` comes from the input's ``Overall`` (or ``overall``) field, else ``null``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .corpus import iter_corpus_rows

EXPORT_FORMATS = ("paper",)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    skipped_errors: int
    response_key: str


def _paper_id(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?(0|[1-9][0-9]*)", value) else value


def _key_name(label: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z]+", "_", label).strip("_").lower() or "teacher"
    return f"{name}_response"


def export_paper(corpus: str | Path, output: str | Path, *, prompt: str | None = None,
                 teacher_label: str | None = None) -> ExportResult:
    """Export the answered rows of ``corpus`` (of one ``prompt``, or all) to ``output``."""
    output = Path(output)
    if not Path(corpus).is_file():
        raise InputError("no such corpus file", path=corpus)
    rows = skipped = 0
    key: str | None = _key_name(teacher_label) if teacher_label else None
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for row in iter_corpus_rows(corpus):
            if prompt is not None and row.get("prompt") != prompt:
                continue
            if row.get("error") is not None or row.get("response") is None:
                skipped += 1
                continue
            if key is None:
                teacher = row.get("teacher") or {}
                key = _key_name(str(teacher.get("label") or teacher.get("name") or "teacher"))
            metadata: dict[str, Any] = row.get("metadata") or {}
            record = {"ID": _paper_id(str(row["id"])), "Text": row.get("text"),
                      "Overall": metadata.get("Overall", metadata.get("overall")),
                      key: row["response"]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            rows += 1
    os.replace(tmp, output)
    return ExportResult(output, rows, skipped, key or _key_name(teacher_label or "teacher"))
