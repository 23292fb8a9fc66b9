"""Readers for every data-set format in ``../shared/data``, into the data model.

:func:`read_dataset` picks the reader from the file's extension and first bytes; pass
``format=`` to force one. Any split file of a format works (train, dev, test, hard_test, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..model import LabeledExample
from .acos import read_acos
from .aste import read_aste
from .asqp import read_asqp
from .benchmark import read_benchmark
from .jsonl import (InputLine, iter_jsonl_reviews, iter_text_reviews, line_batches,
                    parse_jsonl_line, parse_text_line, read_predictions)
from .semeval_xml import read_semeval_xml
from .sentences import read_sentences

READERS: dict[str, Callable[[Path], list[LabeledExample]]] = {
    "benchmark": read_benchmark,
    "aste": read_aste,
    "asqp": read_asqp,
    "acos": read_acos,
    "semeval-xml": read_semeval_xml,
    "sentences": read_sentences,
}

# The task each format annotates, when the file alone says it.
DEFAULT_TASKS = {"aste": "aste", "asqp": "asqp", "acos": "acos", "sentences": "sentence"}


@dataclass(frozen=True)
class Dataset:
    """A labelled data set as :func:`read_dataset` read it: the file, its detected format, and
    its examples in file order."""

    path: Path
    format: str
    examples: list[LabeledExample]

    @property
    def default_task(self) -> str:
        """The task the file annotates: fixed by the format where it says one, else ``acsa`` for
        a file under an ``acsa`` folder or with categories and no terms, else ``atsa``."""
        if self.format in DEFAULT_TASKS:
            return DEFAULT_TASKS[self.format]
        has_terms = any(e.aspect for ex in self.examples for e in ex.elements)
        has_categories = any(e.category for ex in self.examples for e in ex.elements)
        if "acsa" in self.path.parts or (has_categories and not has_terms):
            return "acsa"
        return "atsa"


def detect_format(path: Path) -> str:
    """The reader format of ``path``: from its suffix (``.xml``, ``.tsv``), else from its first
    4 KB (a ``.json`` with ``"aspects"`` is the benchmark format; ``####`` marks ASTE or ASQP)."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "semeval-xml"
    if suffix == ".tsv":
        return "acos"
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    if suffix == ".json":
        return "benchmark" if '"aspects"' in head else "sentences"
    if "####" in head:
        labels = head.split("####", 1)[1].lstrip()
        return "aste" if labels.startswith("[(") else "asqp"
    raise InputError(f"cannot tell the format; pass one of {', '.join(READERS)}", path=path)


def read_dataset(path: str | Path, format: str | None = None) -> Dataset:
    """Read any supported gold file into :class:`LabeledExample` records."""
    path = Path(path)
    name = format or detect_format(path)
    if name not in READERS:
        raise InputError(f"unknown format {name!r}; known: {', '.join(READERS)}", path=path)
    return Dataset(path, name, READERS[name](path))


__all__ = [
    "Dataset", "InputLine", "READERS", "detect_format", "iter_jsonl_reviews", "iter_text_reviews",
    "line_batches", "parse_jsonl_line", "parse_text_line",
    "read_acos", "read_aste", "read_asqp", "read_benchmark", "read_dataset", "read_predictions",
    "read_semeval_xml", "read_sentences",
]
