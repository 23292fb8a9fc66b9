"""What a teacher is: a model that answers a rendered prompt about one review.

Teachers are registered through the ``register_teachers`` hook; :class:`Teacher` is the base
class they subclass. The runner (:mod:`fsa_edge.teaching.runner`) does everything shared —
rendering, fitting a long review into the context, retries, the corpus — so a teacher only
loads its model and implements :meth:`Teacher.generate`. A teacher that answers several reviews
faster together than one by one (an encoder in batches) also sets ``batch_size`` and overrides
:meth:`Teacher.generate_batch`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from ..model import Review

DEFAULT_SEED = 42
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class Sampling:
    """Seed and sampling settings of a teacher, recorded in every corpus row."""

    seed: int = DEFAULT_SEED
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "temperature": self.temperature, "top_p": self.top_p,
                "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class TeacherRequest:
    """One question to a teacher: the chat messages built from a prompt and a review.

    ``schema`` is a JSON schema the answer must follow (constrained decoding) or ``None``.
    ``seed`` is the sampling seed for this request: the run's seed plus the attempt number,
    so a retry samples differently while a rerun of the same review reproduces it.
    ``review`` is the (possibly truncated) review; ``prompt_name`` / ``prompt_version`` name
    the prompt so that a teacher replaying recorded answers can pick the right one.
    """

    review: Review
    messages: tuple[Mapping[str, str], ...]
    prompt_name: str
    prompt_version: int
    schema: Mapping[str, Any] | None = None
    seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class TeacherReply:
    """A teacher's answer: its text, the tokens it read and wrote, and why it stopped."""

    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Teacher(ABC):
    """Base class of every teacher registered through ``register_teachers``.

    ``name`` is unique; ``requires`` lists the import names it needs and ``extra`` the
    ``pip install 'fsa-edge[extra]'`` that brings them. The constructor takes the teacher's
    source (a model file, a recorded corpus, ...), the :class:`Sampling` settings and
    teacher-specific options, and imports heavy libraries itself.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    #: how many requests the runner hands to :meth:`generate_batch` at once (1: one at a time)
    batch_size: int = 1

    def __init__(self, source: str | Path, *, sampling: Sampling | None = None,
                 **options: Any) -> None:
        self.source = Path(source)
        self.sampling = sampling or Sampling()
        self.options = options

    @classmethod
    def can_load(cls, path: Path) -> bool:
        """Whether this teacher recognises ``path`` (used when no teacher is named)."""
        return False

    @property
    def label(self) -> str:
        """A short name for the teacher in exported corpora (``<label>_response``)."""
        return self.source.stem

    @property
    def context_length(self) -> int | None:
        """Tokens the teacher can attend to (prompt + answer), or ``None`` when unbounded."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` for this teacher, or ``None`` when it cannot tell."""
        return None

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut to its first ``max_tokens`` tokens (only called when counts exist)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What identifies this teacher in a corpus row (file name, hash, settings)."""
        return {"name": self.name, "label": self.label, "file": self.source.name}

    @abstractmethod
    def generate(self, request: TeacherRequest) -> TeacherReply:
        """Answer one request. Raise any exception on failure: the runner retries."""

    def generate_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """Answer up to :attr:`batch_size` requests (each a first attempt), one reply per request
        in their order. Raise any exception on failure: the runner then asks each of them
        alone through :meth:`generate`, with its retries, as if no batch had been tried.

        The default answers them one by one."""
        return [self.generate(request) for request in requests]

    def close(self) -> None:
        """Release resources (optional)."""

    def __enter__(self) -> "Teacher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def select_teacher(path: str | Path, name: str | None = None) -> type["Teacher"]:
    """The registered teacher class for ``path``: the one ``name``d, else the first whose
    ``can_load`` accepts it (what ``fsa-edge distill --teacher`` picks, on either engine)."""
    from ..errors import TeacherError
    from ..plugins import choose, registry

    return choose(registry().teachers, name=name, path=Path(path), kind="teacher",
                  error=TeacherError)

