"""The ``distill`` runner: every review through the teacher, into a resumable corpus.

Nothing is dropped silently: each input item yields exactly one corpus row, either a response
or an error (empty review, unreadable input line, teacher failure after the retries, ``label``
answer that never parsed; its last answer is kept in ``rejected_response`` for diagnosis).
``response`` is set only on rows without an error. A review too long for the teacher's context
is cut to fit and its row says ``"truncated": true``.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TextIO

from ..errors import TeacherError
from ..model import Review
from .corpus import CorpusWriter
from .cost import CostCounter, CostSummary
from .label import parse_label
from .prompts import Prompt
from .teacher import Teacher, TeacherReply, TeacherRequest

# Tokens a chat template adds around the messages (role markers, BOS, generation prompt):
# a safe allowance on top of the counted system + user text.
TEMPLATE_ALLOWANCE = 32
MIN_REVIEW_TOKENS = 16


@dataclass(frozen=True)
class DistillItem:
    """One input item: a review, or the reason it could not be read."""

    id: str
    text: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


def items_from_reviews(reviews: Iterable[Review]) -> Iterator[DistillItem]:
    for review in reviews:
        yield DistillItem(review.id, review.text, dict(review.metadata))


class Fitter:
    """Cuts a review so that prompt + review + answer fit the teacher's context."""

    def __init__(self, teacher: Teacher, prompt: Prompt) -> None:
        self.teacher = teacher
        self.context = teacher.context_length
        self.budget: int | None = None
        if self.context is None:
            return
        empty = "\n".join(m["content"] for m in prompt.messages(""))
        overhead = teacher.count_tokens(empty)
        if overhead is None:
            self.context = None
            return
        answer = teacher.sampling.max_tokens
        self.budget = self.context - answer - overhead - TEMPLATE_ALLOWANCE
        if self.budget < MIN_REVIEW_TOKENS:
            raise TeacherError(
                f"the teacher's context ({self.context} tokens) cannot hold the prompt "
                f"{prompt.name!r} ({overhead} tokens), an answer of max_tokens={answer} and a "
                f"review; raise the context or lower max_tokens")

    def fit(self, text: str) -> tuple[str, bool]:
        if self.budget is None:
            return text, False
        count = self.teacher.count_tokens(text)
        if count is None or count <= self.budget:
            return text, False
        return self.teacher.truncate(text, self.budget), True


class DistillProgress:
    """Progress on stderr: reviews/s, generated tokens/s and ETA.

    On a terminal one line is redrawn; otherwise a line is printed every ``every`` seconds.
    """

    def __init__(self, enabled: bool | None, total: int | None, *, every: float = 10.0,
                 stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = self.tty if enabled is None else enabled
        self.total = total
        self.every = every
        self.started = time.perf_counter()
        self.last = 0.0
        self.done = 0
        self.skipped = 0
        self.errors = 0
        self.tokens_out = 0

    def update(self, *, done: int = 0, skipped: int = 0, errors: int = 0,
               tokens_out: int = 0) -> None:
        self.done += done
        self.skipped += skipped
        self.errors += errors
        self.tokens_out += tokens_out
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self.tty and now - self.last < self.every:
            return
        self.last = now
        self.stream.write(("\r" if self.tty else "") + self.line(now) + ("" if self.tty else "\n"))
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.perf_counter()) - self.started, 1e-9)
        rate = self.done / elapsed
        text = (f"{self.done + self.skipped}" + (f"/{self.total}" if self.total else "")
                + f" reviews ({self.skipped} already done), {rate:.2f} reviews/s, "
                f"{self.tokens_out / elapsed:.1f} tokens/s, {self.errors} errors")
        if self.total and rate > 0:
            left = max(self.total - self.done - self.skipped, 0) / rate
            text += f", ETA {int(left // 3600)}h{int(left % 3600 // 60):02d}m{int(left % 60):02d}s"
        return text

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _request(teacher: Teacher, prompt: Prompt, review: Review, attempt: int) -> TeacherRequest:
    """The request of one attempt (its seed: the run's seed plus the attempt number)."""
    return TeacherRequest(review=review, messages=prompt.messages(review.text),
                          prompt_name=prompt.name, prompt_version=prompt.version,
                          schema=prompt.schema, seed=teacher.sampling.seed + attempt)


def _ask(teacher: Teacher, prompt: Prompt, review: Review, retries: int,
         first: TeacherReply | None = None
         ) -> tuple[TeacherReply | None, dict[str, Any], str | None, int, int, int]:
    """Ask with bounded retries; ``first`` is the first attempt's reply when a batch already
    answered it.

    Returns (last reply, parsed fields, error, attempts, tokens in, tokens out); on failure
    the last reply (if any) is the unparseable one, kept for diagnosis.
    """
    tokens_in = tokens_out = 0
    error: str | None = None
    last: TeacherReply | None = None
    for attempt in range(retries + 1):
        try:
            if attempt == 0 and first is not None:
                reply = first
            else:
                reply = teacher.generate(_request(teacher, prompt, review, attempt))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # any teacher failure is retried, then recorded
            error = f"teacher failed: {type(exc).__name__}: {exc}"
            continue
        last = reply
        tokens_in += reply.tokens_in
        tokens_out += reply.tokens_out
        if prompt.response != "json":
            return reply, {}, None, attempt + 1, tokens_in, tokens_out
        try:
            parsed = parse_label(reply.text, review.text)
        except TeacherError as exc:
            error = f"unparseable answer: {exc}"
            if reply.finish_reason == "length":
                error += " (the answer hit max_tokens)"
            continue
        return reply, {"elements": [e.to_dict() for e in parsed.elements],
                       "unlocated": parsed.unlocated}, None, attempt + 1, tokens_in, tokens_out
    return last, {}, error, retries + 1, tokens_in, tokens_out


def distill(items: Iterable[DistillItem], teacher: Teacher, prompt: Prompt,
            output: str | Path, *, retries: int = 2, retry_errors: bool = False,
            total: int | None = None, progress: bool | None = None, sync_every: int = 8,
            price_in: float | None = None, price_out: float | None = None,
            limit: int | None = None,
            on_row: Callable[[Mapping[str, Any]], None] | None = None) -> CostSummary:
    """Write one corpus row per item to ``output``, skipping what an earlier run finished.

    ``limit`` stops after that many new rows (a sample run). Returns the run's counters.
    """
    counter = CostCounter()
    started = time.perf_counter()
    rows = RowMaker(teacher, prompt, retries)
    report = DistillProgress(progress, total)
    with CorpusWriter(output, retry_errors=retry_errors, sync_every=sync_every) as corpus:
        waiting: list[tuple[DistillItem, int]] = []  # the next batch, not yet asked

        def ask_waiting() -> None:
            for row in rows.make_many(waiting):
                corpus.write(row)
                counter.count(row)
                report.update(done=1, errors=row["error"] is not None,
                              tokens_out=row["tokens_out"])
                if on_row is not None:
                    on_row(row)
            waiting.clear()

        try:
            for item, occurrence in with_occurrences(items):
                if (prompt.name, item.id, occurrence) in corpus:
                    counter.skip()
                    report.update(skipped=1)
                    continue
                if limit is not None and counter.written + len(waiting) >= limit:
                    break
                waiting.append((item, occurrence))
                if len(waiting) >= rows.batch_size:
                    ask_waiting()
            ask_waiting()
        finally:
            report.close()
            seconds = time.perf_counter() - started
    return counter.summary(seconds=seconds, price_in=price_in, price_out=price_out)


def with_occurrences(items: Iterable[DistillItem]) -> Iterator[tuple[DistillItem, int]]:
    """Each item with its occurrence: how many earlier items had the same id (a corpus row's
    key is ``(prompt, id, occurrence)``)."""
    seen: dict[str, int] = {}
    for item in items:
        occurrence = seen.get(item.id, 0)
        seen[item.id] = occurrence + 1
        yield item, occurrence


class RowMaker:
    """One corpus row per item: the teacher's answer (fitted, retried, parsed) or an error.

    Shared by the local runner and the Ray teacher actors, so a row is the same wherever it
    was made. Items are asked in batches of the teacher's ``batch_size`` (first attempts
    through :meth:`Teacher.generate_batch`; retries, and every request of a batch that failed,
    one at a time), so a row does not depend on the batching either, except through the
    teacher's own numerics."""

    def __init__(self, teacher: Teacher, prompt: Prompt, retries: int) -> None:
        self.teacher = teacher
        self.prompt = prompt
        self.retries = retries
        self.batch_size = max(1, int(teacher.batch_size))
        self.fitter = Fitter(teacher, prompt)
        self.teacher_info = teacher.describe()
        self.sampling = teacher.sampling.to_dict()

    def make(self, item: DistillItem, occurrence: int) -> dict[str, Any]:
        """The row of one item."""
        return self.make_many([(item, occurrence)])[0]

    def make_many(self, items: Sequence[tuple[DistillItem, int]]) -> list[dict[str, Any]]:
        """The rows of ``(item, occurrence)`` pairs, in their order."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(items), self.batch_size):
            rows.extend(self._make_batch(items[start:start + self.batch_size]))
        return rows

    def _make_batch(self, items: Sequence[tuple[DistillItem, int]]) -> list[dict[str, Any]]:
        rows = [self._empty_row(item, occurrence) for item, occurrence in items]
        asked: list[tuple[dict[str, Any], Review]] = []
        for row, (item, _) in zip(rows, items):
            if item.error is not None or item.text is None or not item.text.strip():
                row["error"] = item.error or "empty review"
                continue
            text, row["truncated"] = self.fitter.fit(item.text)
            asked.append((row, Review(item.id, text, item.metadata)))
        firsts, shared_seconds = self._first_replies([review for _, review in asked])
        for (row, review), first in zip(asked, firsts):
            began = time.perf_counter()
            self._answer(row, *_ask(self.teacher, self.prompt, review, self.retries, first))
            row["seconds"] = round(shared_seconds + time.perf_counter() - began, 4)
        return rows

    def _first_replies(self, reviews: Sequence[Review]
                       ) -> tuple[list[TeacherReply | None], float]:
        """The first attempts' replies from one :meth:`Teacher.generate_batch` call and each
        review's share of its seconds; all ``None`` (asked one by one) for a single review or
        when the batch failed."""
        nothing: list[TeacherReply | None] = [None] * len(reviews)
        if len(reviews) < 2:
            return nothing, 0.0
        began = time.perf_counter()
        try:
            replies = list(self.teacher.generate_batch(
                [_request(self.teacher, self.prompt, review, 0) for review in reviews]))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the batch is only a speed-up: ask each review alone
            warnings.warn(f"teacher batch of {len(reviews)} failed ({type(exc).__name__}: "
                          f"{exc}); asking each review alone", RuntimeWarning, stacklevel=2)
            return nothing, 0.0
        if len(replies) != len(reviews):
            warnings.warn(f"teacher batch of {len(reviews)} gave {len(replies)} replies; asking "
                          "each review alone", RuntimeWarning, stacklevel=2)
            return nothing, 0.0
        return replies, (time.perf_counter() - began) / len(reviews)

    def _empty_row(self, item: DistillItem, occurrence: int) -> dict[str, Any]:
        prompt = self.prompt
        return {
            "id": item.id, "occurrence": occurrence, "text": item.text,
            "metadata": dict(item.metadata), "prompt": prompt.name,
            "prompt_version": prompt.version, "teacher": dict(self.teacher_info),
            "sampling": dict(self.sampling), "truncated": False, "attempts": 0,
            "tokens_in": 0, "tokens_out": 0, "seconds": 0.0, "finish_reason": None,
            "response": None, "error": None,
        }

    def _answer(self, row: dict[str, Any], reply: TeacherReply | None, parsed: dict[str, Any],
                error: str | None, attempts: int, tokens_in: int, tokens_out: int) -> None:
        row.update(attempts=attempts, tokens_in=tokens_in, tokens_out=tokens_out, error=error)
        if reply is not None:
            row["sampling"]["seed"] = self.teacher.sampling.seed + attempts - 1
            row["finish_reason"] = reply.finish_reason
            # an error row keeps its last, unparseable answer apart: ``response`` is only ever
            # an accepted answer, so corpus readers can train on it without looking further
            row["response" if error is None else "rejected_response"] = reply.text
            row.update(parsed)
            if reply.extra:
                row["teacher_extra"] = dict(reply.extra)


__all__ = ["DistillItem", "DistillProgress", "Fitter", "RowMaker", "distill",
           "items_from_reviews", "with_occurrences"]
