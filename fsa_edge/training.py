"""What a trainable student is, and the torch-free parts of training: corpora and task specs.

A student plugin registers a :class:`Student` subclass through ``register_students``; its
:meth:`Student.command` becomes ``fsa-edge train <student> …``. The commands read their inputs
with the helpers here, so every student accepts the same corpus layouts, the same
``TASK:TRAIN:DEV`` specs and the same held-out rule; the loop itself is
:mod:`fsa_edge.trainer`. Nothing in this module imports torch.
"""

from __future__ import annotations

import hashlib
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

from .errors import InputError, TrainingError, install_hint
from .jsonlines import iter_json_objects
from .tasks import SlotTask, get_task

TEXT_FIELDS = ("text", "Text", "review", "sentence")
RESPONSE_FIELDS = ("response", "Response", "target")
ID_FIELDS = ("id", "ID", "Id")


@dataclass(frozen=True)
class CorpusPair:
    """One pre-training pair: a review and the teacher's response to it."""

    id: str
    text: str
    response: str


def _pick(record: dict[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    for name in names:
        if name in record:
            return name, record[name]
    return None, None


def _response_field(record: dict[str, Any]) -> tuple[str | None, Any]:
    name, value = _pick(record, RESPONSE_FIELDS)
    if name is not None:
        return name, value
    candidates = [key for key in record if key.endswith("_response")]
    if len(candidates) == 1:
        return candidates[0], record[candidates[0]]
    return None, None


def iter_teacher_pairs(path: str | Path, *, skipped: list[int] | None = None
                       ) -> Iterator[CorpusPair]:
    """Pairs of a teacher corpus (JSON lines, a BOM tolerated).

    Two layouts: the paper's ``{ID, Text, Overall, <teacher>_response}`` and the simple
    ``{"id", "text", "response"}`` that ``fsa-edge distill`` writes. Blank lines are skipped;
    so are the error records of ``fsa-edge distill`` (a non-null ``error``: the teacher gave no
    usable answer), whose line numbers are appended to ``skipped``. A malformed line raises
    :class:`InputError` naming the file, line and field.
    """
    for number, record in iter_json_objects(path):
        if record.get("error") is not None:
            if skipped is not None:
                skipped.append(number)
            continue
        text_name, text = _pick(record, TEXT_FIELDS)
        if not isinstance(text, str) or not text.strip():
            raise InputError("missing or empty review text", path=path, line=number,
                             field=text_name or "text")
        response_name, response = _response_field(record)
        if not isinstance(response, str) or not response.strip():
            raise InputError("missing or empty teacher response", path=path, line=number,
                             field=response_name or "response (or <teacher>_response)")
        _, identifier = _pick(record, ID_FIELDS)
        yield CorpusPair(str(identifier if identifier is not None else number), text, response)


def read_corpus(path: str | Path) -> list[CorpusPair]:
    """Every pair of a teacher corpus; an empty corpus is an error.

    Error records of ``fsa-edge distill`` are left out and counted on stderr.
    """
    skipped: list[int] = []
    pairs = list(iter_teacher_pairs(path, skipped=skipped))
    if skipped:
        print(f"fsa-edge: {path}: {len(skipped)} error rows left out (first at line "
              f"{skipped[0]})", file=sys.stderr)
    if not pairs:
        raise InputError("the corpus has no pairs", path=path)
    return pairs


@dataclass(frozen=True)
class TaskData:
    """One fine-tuning task: its gold train and dev files."""

    task: SlotTask
    train: Path
    dev: Path

    @classmethod
    def parse(cls, spec: str) -> "TaskData":
        """``TASK:TRAIN:DEV`` → :class:`TaskData` (paths may not contain ``:``)."""
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts):
            raise TrainingError(f"expected TASK:TRAIN:DEV, got {spec!r}")
        return cls(get_task(parts[0]), Path(parts[1]), Path(parts[2]))


def sentence_key(text: str) -> str:
    """What two copies of one sentence share across data sets (case, spacing and punctuation
    differ: ASTE's files are tokenised, the benchmark's are not)."""
    return re.sub(r"\W+", "", text.lower())


def in_text_slice(text: str, fraction: float) -> bool:
    """Whether ``text`` falls in the fixed ``fraction`` of all texts chosen by a hash of its
    :func:`sentence_key`: the same texts in every run and on every machine (a held-out slice
    that needs no labels and no stored list)."""
    digest = hashlib.sha256(sentence_key(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


class HeldOut:
    """Sentences that never enter training: the selection task's dev split and any test split
    given (data sets built from one corpus split it differently, e.g. ASTE 14res train holds 241
    sentences of the benchmark's rest14 dev). Compared by :func:`sentence_key`."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.keys = {sentence_key(text) for text in texts}

    def __contains__(self, text: str) -> bool:
        return sentence_key(text) in self.keys

    def split(self, examples: Sequence[Any]) -> tuple[list[Any], int]:
        """The labelled examples whose review is not held out, and how many were dropped."""
        kept = [ex for ex in examples if ex.review.text not in self]
        return kept, len(examples) - len(kept)


class Student(ABC):
    """Base class of every trainable student registered through ``register_students``.

    ``name``: unique name; ``requires``: import names it needs (checked before use);
    ``extra``: the ``fsa-edge[extra]`` that installs them. A student writes model directories
    that an inference backend (after ``fsa-edge convert`` where needed) can serve, each with
    its ``fsa_edge.json`` card.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    #: sub-commands that used to be ``fsa-edge train <name>`` (deprecated aliases, one release)
    deprecated_commands: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def command(cls) -> Any:
        """The click group mounted as ``fsa-edge train <name>`` (built on demand; the student's
        options and sub-commands are its own), or ``None`` for a student without one."""
        return None

    @abstractmethod
    def pretrain(self, corpus: Sequence[CorpusPair], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        """Train ``student`` on review → teacher-response pairs; write it to ``out``.

        Returns a summary (losses, steps, time) that is also recorded in the card.
        """

    @abstractmethod
    def finetune(self, data: Sequence[TaskData], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        """Fine-tune ``student`` on the tasks' gold data; write the best checkpoint (by dev F1)
        to ``out``. Returns a summary with the best dev scores."""


def check_requirements(student: type[Student]) -> None:
    """Raise :class:`TrainingError` naming what a student needs that is not installed."""
    from .plugins import missing_requirements

    missing = missing_requirements(student)
    if missing:
        extra = f" ({install_hint(student.extra)})" if student.extra else ""
        raise TrainingError(f"student {student.name!r} needs {', '.join(missing)}{extra}")


__all__ = ["CorpusPair", "HeldOut", "Student", "TaskData", "check_requirements",
           "in_text_slice", "iter_teacher_pairs", "read_corpus", "sentence_key"]
