"""What an inference backend is, and the shared logic of generative (seq2seq) backends.

A backend turns texts into sentiment elements for a task. Generative backends only implement
:meth:`GenerativeBackend.generate` (texts in, linearised targets out); prompting with the task
prefix, parsing back to elements with spans, and attaching scores happen here, once.
"""

from __future__ import annotations

import inspect
import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from .card import ModelCard
from .errors import BackendError, FsaEdgeError
from .model import SentimentElement
from .tasks import SlotTask


@dataclass(frozen=True)
class Prediction:
    """A backend's answer for one text. ``state``: what the backend needs to merge the answers
    of a long text's parts (:meth:`Backend.merge_polarity`), opaque to the core."""

    elements: tuple[SentimentElement, ...]
    state: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Generation:
    """A generated target text and its confidence (mean token probability, 0..1)."""

    text: str
    score: float | None = None


def renamed_option(options: dict[str, Any], old: str, new: str, value: Any) -> Any:
    """The value of option ``new``, or of its deprecated name ``old`` (taken out of
    ``options``, with a :class:`DeprecationWarning` naming ``new``) when only that was given."""
    if old not in options:
        return value
    old_value = options.pop(old)
    warnings.warn(f"backend option {old!r} is deprecated; use {new!r}", DeprecationWarning,
                  stacklevel=3)
    if value is not None and value != old_value:
        raise BackendError(f"options {new!r} and {old!r} (its deprecated name) disagree; "
                           f"pass only {new!r}")
    return old_value


def positive_int_option(name: str, value: Any) -> int:
    """The whole number ``value`` of backend option ``name`` (an int, or its text from
    ``-O name=value``), at least 1; a :class:`BackendError` naming the option otherwise."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < 1 or (isinstance(value, float) and value != number):
        raise BackendError(f"backend option {name!r} must be a whole number of at least 1, "
                           f"not {value!r}")
    return number


def _keyword_options(cls: type) -> list[str]:
    """The keyword-only parameters of ``cls``'s constructor."""
    return [name for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY]


def reject_unknown_options(owner: object, options: Mapping[str, Any], *,
                           error: type[FsaEdgeError] = BackendError) -> None:
    """An ``error`` (a :class:`BackendError` unless a teacher asks for its own) when ``options``
    holds any option ``owner``'s constructor does not take (a misspelt ``-O max_batch_token=…``
    is never ignored silently); the message lists the options of ``owner``'s own class (those
    its base classes take, such as ``device`` or ``sampling``, are not ``-O`` options)."""
    if not options:
        return
    inherited = {name for base in type(owner).__mro__[1:] if "__init__" in vars(base)
                 for name in _keyword_options(base)}
    known = [name for name in _keyword_options(type(owner)) if name not in inherited]
    raise error(f"unknown {getattr(owner, 'name', type(owner).__name__)} option(s): "
                f"{', '.join(sorted(options))}; known: {', '.join(known)}")


class Backend(ABC):
    """Base class of every backend registered through ``register_backends``."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    def __init__(self, path: str | Path, *, device: str = "auto", **options: Any) -> None:
        self.path = Path(path)
        self.device = device
        self.options = options
        self.card = ModelCard.load(self.path) if self.path.is_dir() else ModelCard()

    @classmethod
    def can_load(cls, path: Path) -> bool:
        """Whether this backend recognises the model at ``path`` (used when none is named)."""
        return False

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.card.tasks

    @property
    def default_task(self) -> str:
        return self.card.task

    @abstractmethod
    def predict(self, texts: Sequence[str], *, task: SlotTask) -> list[Prediction]:
        """One :class:`Prediction` per text, in order."""

    def predict_tasks(self, texts: Sequence[str], *, tasks: Sequence[SlotTask]
                      ) -> list[dict[str, Prediction]]:
        """Per text, a :class:`Prediction` for each of ``tasks`` (``analyze --task all``).
        Default: :meth:`predict` once per task; a backend whose tasks share an encoder pass
        overrides it."""
        per_task = {task.name: self.predict(texts, task=task) for task in tasks}
        return [{name: predictions[index] for name, predictions in per_task.items()}
                for index in range(len(texts))]

    @property
    def max_input_length(self) -> int:
        """The model's input window in tokens (special tokens and task prefix included)."""
        return self.card.max_input_length

    def input_lengths(self, texts: Sequence[str], *, task: SlotTask) -> list[int] | None:
        """How many input tokens each text takes for ``task``, uncut (special tokens and any
        task prefix included); ``None`` when the backend cannot tell. A backend that tells never
        gets a text longer than :attr:`max_input_length`: the core cuts it into parts that fit
        (:mod:`fsa_edge.windows`) and merges their answers."""
        return None

    def merge_polarity(self, task: SlotTask, found: Sequence[tuple[tuple[int, int], Prediction]]
                       ) -> tuple[SentimentElement, ...] | None:
        """One answer for a text read in parts (``(part span, prediction)``, in order) for a
        task with one answer per text (``sentence``), or ``None``: the core merges the parts'
        answers by their votes (:func:`fsa_edge.windows.merge_polarity`). Either answer's score
        then goes through the card's merged-score map. Default: ``None``."""
        return None

    def close(self) -> None:
        """Release resources (optional)."""


class GenerativeBackend(Backend):
    """A backend over a seq2seq model that writes the task's linearised target."""

    @abstractmethod
    def generate(self, inputs: Sequence[str]) -> list[Generation]:
        """One :class:`Generation` per encoder input, in order."""

    def predict(self, texts: Sequence[str], *, task: SlotTask) -> list[Prediction]:
        inputs = [self.card.input_for(task.name, text) for text in texts]
        predictions = []
        for text, generation in zip(texts, self.generate(inputs)):
            parsed = task.parse(generation.text, text)
            score = generation.score
            if score is not None and not math.isfinite(score):
                score = None
            predictions.append(Prediction(task.with_scores(parsed.elements, score)))
        return predictions
