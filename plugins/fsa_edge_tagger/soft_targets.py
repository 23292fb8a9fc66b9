"""Soft targets of the ``tagger`` teacher, read back for a student with another tokenizer.

A corpus written by ``fsa-edge distill --teacher TAGGER_DIR --prompt label`` holds, per row,
the teacher's word-pieces (character spans) with a 9-way tag log-distribution each, and per
category a 5-way log-distribution (format: :mod:`fsa_edge_tagger.teacher`). A student whose
tokenizer cuts the text differently maps them onto its own pieces:

* :func:`align_tags` — each student piece takes the distribution of the teacher piece that
  holds its first character; a student piece that starts inside that teacher piece (the
  student cut it in two) is inside a term, not at its beginning, so the ``B-x`` mass moves to
  ``I-x``. Special pieces, empty pieces and pieces no teacher piece covers (e.g. after the
  teacher's ``max_input_length``) are masked out.
* :func:`category_targets` — by category name: a student category the teacher lacks is masked
  out; a teacher category left out of the row (P(none) ≥ 0.999) is a one-hot ``none``.
* :meth:`SoftTargets.sentence_targets` — the text's polarity distribution (no alignment needed).
* :func:`iter_soft_targets` — the rows of a corpus as ``(text, SoftTargets)``; error rows are
  skipped (their line numbers appended to ``skipped``); a malformed row raises
  :class:`~fsa_edge.errors.InputError` naming the file, line and field.

Probabilities are ``exp`` of the stored (rounded) log-probabilities, renormalised to sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from fsa_edge.errors import InputError
from fsa_edge.jsonlines import iter_json_objects
from fsa_edge.tasks import canonical_category

from .scheme import CATEGORY_CLASSES, TAGS, Piece, softmax
from .sentence_head import SENTENCE_CLASSES

SOFT_TARGETS_VERSION = 1
_B_TO_I = [(TAGS.index(f"B-{p}"), TAGS.index(f"I-{p}"))
           for p in (t[2:] for t in TAGS if t.startswith("B-"))]


def _probabilities(logprobs: Any) -> np.ndarray:
    """Rows of log-probabilities → probabilities summing to 1 (rounding undone)."""
    return softmax(np.asarray(logprobs, dtype=np.float64))


def align_tags(teacher_spans: Sequence[Sequence[int]], teacher_logprobs: Any,
               student_pieces: Sequence[Piece]) -> tuple[np.ndarray, np.ndarray]:
    """``(targets, mask)``: ``(n_student, 9)`` float32 tag probabilities (columns in
    :data:`~fsa_edge_tagger.scheme.TAGS` order) and ``(n_student,)`` bool, True where the
    student piece has a target. ``teacher_spans``: the teacher's non-special pieces as
    ``(start, end)`` in text order; ``teacher_logprobs``: their ``(n_teacher, 9)``
    log-probabilities in ``TAGS`` order; ``student_pieces``: :func:`scheme.pieces_of` of the
    student's encoding of the same text."""
    targets = np.zeros((len(student_pieces), len(TAGS)), dtype=np.float32)
    mask = np.zeros(len(student_pieces), dtype=bool)
    spans = np.asarray(teacher_spans, dtype=np.int64).reshape(-1, 2)
    if not len(spans) or not len(student_pieces):
        return targets, mask
    probs = _probabilities(np.asarray(teacher_logprobs).reshape(len(spans), len(TAGS)))
    starts, ends = spans[:, 0], spans[:, 1]
    for index, piece in enumerate(student_pieces):
        if piece.special or piece.start >= piece.end:
            continue
        holder = int(np.searchsorted(starts, piece.start, side="right")) - 1
        if holder < 0 or piece.start >= ends[holder]:
            continue
        row = probs[holder].copy()
        if piece.start != starts[holder]:  # the student cut the teacher's piece: inside a term
            for b, i in _B_TO_I:
                row[i] += row[b]
                row[b] = 0.0
        targets[index] = row
        mask[index] = True
    return targets, mask


def category_targets(row_categories: Sequence[str],
                     logprobs: Mapping[int | str, Sequence[float]],
                     student_categories: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(targets, mask)``: ``(len(student_categories), 5)`` float32 probabilities (columns in
    :data:`~fsa_edge_tagger.scheme.CATEGORY_CLASSES` order) and a bool mask.
    ``row_categories``: the teacher's categories (its ``describe()["categories"]``);
    ``logprobs``: the 5-way log-probabilities stored in the row, keyed by index into
    ``row_categories`` (or by name). Matching is by canonical category name: a student
    category the teacher lacks is masked out; a teacher category absent from ``logprobs`` was
    left out as certain ``none`` and becomes one-hot ``none``."""
    index = {canonical_category(name): i for i, name in enumerate(row_categories)}
    stored = {(key if isinstance(key, int) else index.get(canonical_category(key), -1)): value
              for key, value in logprobs.items()}
    targets = np.zeros((len(student_categories), len(CATEGORY_CLASSES)), dtype=np.float32)
    mask = np.zeros(len(student_categories), dtype=bool)
    for row, name in enumerate(student_categories):
        teacher = index.get(canonical_category(name))
        if teacher is None:
            continue
        if teacher in stored:
            targets[row] = _probabilities(np.asarray(stored[teacher]).reshape(-1))
        else:
            targets[row, 0] = 1.0
        mask[row] = True
    return targets, mask


@dataclass(frozen=True)
class SoftTargets:
    """One row's soft targets. ``spans`` / ``continuation`` / ``tags``: the teacher's pieces
    and their tag log-probabilities in ``TAGS`` order (``None`` when the teacher serves no
    terms); ``categories``: the teacher's category names and ``category_logprobs`` the stored
    ones by index (``None`` when it serves no categories); ``sentence``: the text's polarity
    log-probabilities in ``SENTENCE_CLASSES`` order (``None`` without a sentence head)."""

    id: str
    occurrence: int
    line: int
    spans: np.ndarray | None
    continuation: np.ndarray | None
    tags: np.ndarray | None
    categories: tuple[str, ...]
    category_logprobs: dict[int, np.ndarray] | None
    sentence: np.ndarray | None = None

    def teacher_pieces(self) -> list[Piece]:
        """The teacher's pieces (no specials), as :class:`~fsa_edge_tagger.scheme.Piece`."""
        if self.spans is None:
            return []
        return [Piece(int(s), int(e), False, bool(c))
                for (s, e), c in zip(self.spans, self.continuation)]

    def tag_targets(self, student_pieces: Sequence[Piece]) -> tuple[np.ndarray, np.ndarray]:
        """:func:`align_tags` onto ``student_pieces`` (all masked without term targets)."""
        if self.tags is None:
            return align_tags([], [], student_pieces)
        return align_tags(self.spans, self.tags, student_pieces)

    def category_targets(self, student_categories: Sequence[str]
                         ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`category_targets` for ``student_categories`` (all masked without them)."""
        if self.category_logprobs is None:
            return category_targets((), {}, student_categories)
        return category_targets(self.categories, self.category_logprobs, student_categories)

    def sentence_targets(self) -> np.ndarray | None:
        """The text's polarity probabilities (``SENTENCE_CLASSES`` order), or ``None``."""
        return None if self.sentence is None else _probabilities(self.sentence)


class _Row:
    """Checks of one corpus row; every failure names the file, line and field."""

    def __init__(self, path: Path, line: int, row: dict[str, Any]) -> None:
        self.path, self.line, self.row = path, line, row

    def fail(self, field: str, reason: str) -> InputError:
        return InputError(reason, path=self.path, line=self.line, field=field)

    def names(self, teacher: Mapping[str, Any], key: str) -> list[str]:
        value = teacher.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"teacher.{key}", "expected a list of names (not a row of the "
                                              "tagger teacher?)")
        return value

    def numbers(self, value: Any, field: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != shape or not np.isfinite(array).all():
            raise self.fail(field, f"expected finite numbers of shape {shape}")
        return array

    def parse(self) -> tuple[str, SoftTargets]:
        row = self.row
        text = row.get("text")
        if not isinstance(text, str):
            raise self.fail("text", "missing review text")
        teacher = row.get("teacher")
        if not isinstance(teacher, dict):
            raise self.fail("teacher", "missing teacher description")
        extra = row.get("teacher_extra")
        soft = extra.get("soft_targets") if isinstance(extra, dict) else None
        if not isinstance(soft, dict):
            raise self.fail("teacher_extra.soft_targets",
                            "no soft targets (not written by the tagger teacher?)")
        if soft.get("version") != SOFT_TARGETS_VERSION:
            raise self.fail("teacher_extra.soft_targets.version",
                            f"unknown version {soft.get('version')!r} "
                            f"(this reader knows {SOFT_TARGETS_VERSION})")
        spans = continuation = tags = None
        if "tags" in soft:
            spans, continuation, tags = self.pieces(soft, teacher, len(text))
        categories: tuple[str, ...] = ()
        stored = None
        if "categories" in soft:
            categories, stored = self.categories(soft, teacher)
        sentence = self.sentence(soft, teacher) if "sentence" in soft else None
        occurrence = row.get("occurrence", 0)
        if not isinstance(occurrence, int):
            raise self.fail("occurrence", "expected an integer")
        return text, SoftTargets(str(row.get("id")), occurrence, self.line, spans, continuation,
                                 tags, categories, stored, sentence)

    def sentence(self, soft: Mapping[str, Any], teacher: Mapping[str, Any]) -> np.ndarray:
        names = self.names(teacher, "sentence_classes")
        if sorted(names) != sorted(SENTENCE_CLASSES):
            raise self.fail("teacher.sentence_classes",
                            f"expected the classes {', '.join(SENTENCE_CLASSES)}")
        values = self.numbers(soft.get("sentence"), "teacher_extra.soft_targets.sentence",
                              (len(names),))
        return values[[names.index(name) for name in SENTENCE_CLASSES]]

    def pieces(self, soft: Mapping[str, Any], teacher: Mapping[str, Any], length: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        names = self.names(teacher, "tags")
        if sorted(names) != sorted(TAGS):
            raise self.fail("teacher.tags", f"expected the tags {', '.join(TAGS)}")
        raw = soft.get("pieces")
        count = len(raw) if isinstance(raw, list) else -1
        spans = self.numbers(raw, "teacher_extra.soft_targets.pieces", (count, 2))
        # pieces of one character may share its span (a lower-cased "İ" is two characters)
        if (spans != np.round(spans)).any() or (spans[:, 0] >= spans[:, 1]).any() \
                or (spans[1:, 0] < spans[:-1, 0]).any() or spans.min(initial=0) < 0 \
                or spans.max(initial=0) > length:
            raise self.fail("teacher_extra.soft_targets.pieces",
                            "expected [start, end] spans in the text, in text order")
        continuation = self.numbers(soft.get("continuation"),
                                    "teacher_extra.soft_targets.continuation", (count,))
        tags = self.numbers(soft.get("tags"), "teacher_extra.soft_targets.tags",
                            (count, len(names)))
        order = [names.index(tag) for tag in TAGS]
        return spans.astype(np.int64), continuation.astype(bool), tags[:, order]

    def categories(self, soft: Mapping[str, Any], teacher: Mapping[str, Any]
                   ) -> tuple[tuple[str, ...], dict[int, np.ndarray]]:
        names = self.names(teacher, "categories")
        classes = teacher.get("category_classes", list(CATEGORY_CLASSES))
        if classes != list(CATEGORY_CLASSES):
            raise self.fail("teacher.category_classes",
                            f"expected {', '.join(CATEGORY_CLASSES)}")
        field = "teacher_extra.soft_targets.categories"
        raw = soft.get("categories")
        if not isinstance(raw, list):
            raise self.fail(field, "expected a list of [index, log-probabilities]")
        stored: dict[int, np.ndarray] = {}
        for number, item in enumerate(raw):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                    and 0 <= item[0] < len(names) and item[0] not in stored):
                raise self.fail(f"{field}[{number}]", "expected [category index, "
                                                      "log-probabilities], each index once")
            stored[item[0]] = self.numbers(item[1], f"{field}[{number}]",
                                           (len(CATEGORY_CLASSES),))
        return tuple(names), stored


def iter_soft_targets(path: str | Path, *, skipped: list[int] | None = None
                      ) -> Iterator[tuple[str, SoftTargets]]:
    """``(text, SoftTargets)`` for each answered row of a tagger-teacher corpus, in file order.

    Error rows (a non-null ``error``) are skipped and their line numbers appended to
    ``skipped``; a torn last line (a run still writing, or killed) ends the file. A row
    without soft targets or with malformed ones raises :class:`InputError` naming the file,
    line and field."""
    path = Path(path)
    for line, row in iter_json_objects(path, torn_tail_ok=True):
        if row.get("error") is not None:
            if skipped is not None:
                skipped.append(line)
            continue
        yield _Row(path, line, row).parse()


__all__ = ["SoftTargets", "align_tags", "category_targets", "iter_soft_targets"]
