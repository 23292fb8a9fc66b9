"""fsa-edge plugin ``replay``: a teacher that serves answers recorded earlier.

It reads a JSON-lines file of recorded answers and answers each request with the one recorded
for the same review — by id, then by exact text. Two layouts are understood:

* the paper's corpus layout ``{ID, Text, Overall, <teacher>_response}`` (e.g. the 500 Mixtral
  samples). Each answer is classified as an ``analysis`` (it has at least two
  ``Target: / Aspect: / Sentiment: / Reasoning:`` lines) or a ``rewriting`` answer;
* fsa-edge corpus rows (``id``, ``text``, ``prompt``, ``response``, ``tokens_in/out``); error
  rows are ignored.

An answer recorded for a different prompt is never served: a request without a matching answer
fails (and becomes an error row after the runner's retries). Token counts are the recorded ones
when the file has them, else estimated as words plus punctuation marks (said in the reply).
Option ``delay`` (seconds) sleeps before each answer, to imitate a slow teacher in tests.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from fsa_edge import hookimpl
from fsa_edge.errors import InputError, TeacherError
from fsa_edge.jsonlines import iter_json_objects
from fsa_edge.teaching import Teacher, TeacherReply, TeacherRequest, file_sha256

_ANALYSIS_LINE = re.compile(
    r"(?im)^\W*(opinion target|target|aspect|sentiment|reasoning)\b[^:\n]{0,40}:")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def classify(response: str) -> str:
    """``analysis`` or ``rewriting``, from the shape of a recorded paper-layout answer."""
    return "analysis" if len(_ANALYSIS_LINE.findall(response)) >= 2 else "rewriting"


def estimate_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


class _Answer:
    __slots__ = ("prompt", "text", "tokens_in", "tokens_out")

    def __init__(self, prompt: str | None, text: str, tokens_in: int | None,
                 tokens_out: int | None) -> None:
        self.prompt, self.text = prompt, text
        self.tokens_in, self.tokens_out = tokens_in, tokens_out


class ReplayTeacher(Teacher):
    name = "replay"
    description = "serves answers recorded in a JSONL file (paper layout or fsa-edge corpus)"

    def __init__(self, source, *, sampling=None, delay: float = 0.0,
                 response_field: str | None = None, **options: Any) -> None:
        super().__init__(source, sampling=sampling, **options)
        self.delay = float(delay)
        self.by_id: dict[str, list[_Answer]] = {}
        self.by_text: dict[str, list[_Answer]] = {}
        self._label = None
        self._load(response_field)
        self._sha256: str | None = None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return path.suffix.lower() in (".jsonl", ".json") and path.is_file()

    @property
    def label(self) -> str:
        return self._label or self.source.stem

    def _load(self, response_field: str | None) -> None:
        for line, row in iter_json_objects(self.source, torn_tail_ok=True):
            self._add(row, line, response_field)
        if not self.by_id:
            raise InputError("no recorded answers", path=self.source)

    def _add(self, row: dict[str, Any], line: int, response_field: str | None) -> None:
        if "response" in row and "prompt" in row:  # an fsa-edge corpus row
            if row.get("error") is not None or not isinstance(row.get("response"), str):
                return
            rid, text = row.get("id"), row.get("text")
            answer = _Answer(str(row["prompt"]), row["response"], row.get("tokens_in"),
                             row.get("tokens_out"))
            self._label = self._label or (row.get("teacher") or {}).get("label")
        else:
            field = response_field or next(
                (key for key in row if key.endswith("_response")), None)
            if field is None or not isinstance(row.get(field), str):
                raise InputError("no answer field (…_response or response)", path=self.source,
                                 line=line, field=response_field)
            rid, text = row.get("ID", row.get("id")), row.get("Text", row.get("text"))
            answer = _Answer(classify(row[field]), row[field], None, None)
            self._label = self._label or field[: -len("_response")] or None
        if rid is None:
            raise InputError("missing", path=self.source, line=line, field="ID")
        self.by_id.setdefault(str(rid), []).append(answer)
        if isinstance(text, str):
            self.by_text.setdefault(text, []).append(answer)

    def describe(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.source)
        return {**super().describe(), "sha256": self._sha256}

    def _find(self, request: TeacherRequest) -> _Answer:
        for candidates in (self.by_id.get(request.review.id),
                           self.by_text.get(request.review.text)):
            for answer in candidates or ():
                if answer.prompt == request.prompt_name:
                    return answer
        raise TeacherError(f"no recorded {request.prompt_name!r} answer for review "
                           f"{request.review.id!r} in {self.source}")

    def generate(self, request: TeacherRequest) -> TeacherReply:
        if self.delay:
            time.sleep(self.delay)
        answer = self._find(request)
        estimated = answer.tokens_in is None or answer.tokens_out is None
        prompt_text = "\n".join(m["content"] for m in request.messages)
        tokens_in = estimate_tokens(prompt_text) if answer.tokens_in is None else answer.tokens_in
        tokens_out = (estimate_tokens(answer.text) if answer.tokens_out is None
                      else answer.tokens_out)
        extra = {"tokens": "estimated (words and punctuation marks)"} if estimated else {}
        return TeacherReply(answer.text, int(tokens_in), int(tokens_out), "replay", extra)


@hookimpl
def register_teachers(register):
    register(ReplayTeacher)
