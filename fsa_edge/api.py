"""The Python API: ``fsa_edge.load(...)`` gives an :class:`Analyzer`.

Model lookup order: an existing directory, then an alias registered by a plugin (``default``
is the embedded student). Nothing is ever downloaded.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, overload

from .backends import Backend, Prediction
from .errors import BackendError, FsaEdgeError, ModelNotFoundError, UnknownTaskError
from .model import AnalysisResult, Review
from .plugins import choose, registry
from .readers.jsonl import DEFAULT_BATCH_SIZE, InputLine, line_batches
from .tasks import ALL_TASKS, SlotTask, get_task
from .windows import (mapped_scores, merge_parts, merge_polarity, merged_score_maps,
                      plan_parts)


@dataclass(frozen=True)
class ResolvedModel:
    """A model directory and the name it was asked by (an alias, or the path as given)."""

    path: Path
    name: str


def resolve_model(model: str | Path) -> ResolvedModel:
    """A model directory from a path or an alias; an unknown name lists the known aliases."""
    path = Path(model).expanduser()
    if path.is_dir():
        return ResolvedModel(path, str(model))
    aliases = registry().models
    if str(model) in aliases:
        alias_path, _ = aliases[str(model)]
        if not alias_path.is_dir():
            raise ModelNotFoundError(
                f"model alias {str(model)!r} points to {alias_path}, which is not there "
                "(this build ships without it; pass a model directory)")
        return ResolvedModel(alias_path, str(model))
    known = ", ".join(sorted(aliases)) or "none"
    raise ModelNotFoundError(f"no model directory or alias {str(model)!r}; known aliases: {known}")


def select_backend(path: Path, backend: str | None = None) -> type[Backend]:
    """The backend class that serves ``path``: the one named, the card's, or the first able."""
    from .card import ModelCard

    return choose(registry().backends, name=backend or ModelCard.load(path).backend, path=path,
                  kind="backend", error=BackendError)


def load(model: str | Path = "default", *, backend: str | None = None, device: str = "auto",
         task: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE, **options: Any) -> "Analyzer":
    """Load a model for analysis.

    ``model``: a model directory or an alias (``"default"``). ``backend``: a backend name
    (default: what the model card says, else the first backend that recognises the model).
    ``device``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``. ``task``: the
    default task of :meth:`Analyzer.analyze` (default: the model's); a task the model does not
    serve raises :class:`~fsa_edge.errors.UnknownTaskError`. Other keyword options go to the
    backend (for example ``compute_type``, ``cpu_threads``, ``beam_size``).
    """
    resolved = resolve_model(model)
    backend_class = select_backend(resolved.path, backend)
    instance = backend_class(resolved.path, device=device, **options)
    try:
        return Analyzer(instance, model_name=resolved.name, task=task, batch_size=batch_size)
    except BaseException:
        instance.close()
        raise


#: ``load``'s own arguments: everything else it is given goes to the backend as an option
LOAD_ARGUMENTS = frozenset(
    name for name, parameter in inspect.signature(load).parameters.items()
    if parameter.kind is not inspect.Parameter.VAR_KEYWORD)


class Analyzer:
    """Analyses texts with one backend. Results come back in input order.

    A task the model does not serve (``analyze(text, task="asqp")`` on an ATSA/ACSA model)
    raises :class:`~fsa_edge.errors.UnknownTaskError` before anything is analysed; a backend
    failure on a batch becomes an error record for each of its reviews.
    """

    def __init__(self, backend: Backend, *, model_name: str, task: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.backend = backend
        self.model_name = model_name
        self.task = self.checked_task(task or backend.default_task)
        self.batch_size = max(1, int(batch_size))
        card = getattr(backend, "card", None)
        self.merged_score_maps = merged_score_maps(card.extra) if card is not None else {}

    def checked_task(self, task: str | SlotTask | None = None) -> str:
        """The name of ``task`` (default: this analyzer's) once checked against what the model
        serves: a task of its card, or ``"all"`` (every task it serves, from one pass)."""
        if task == ALL_TASKS or (task is None and self.task == ALL_TASKS):
            self.all_tasks()
            return ALL_TASKS
        return self.served_task(task).name

    def all_tasks(self) -> list[SlotTask]:
        """Every task the model serves (what ``task="all"`` answers)."""
        tasks = [get_task(name) for name in self.backend.tasks] if self.backend.tasks else [
            get_task(self.backend.default_task)]
        return list({task.name: task for task in tasks}.values())

    def served_task(self, task: str | SlotTask | None = None) -> SlotTask:
        """The task called ``task`` (default: this analyzer's), checked against the tasks the
        model serves (its card's ``tasks``)."""
        task_object = get_task(task or self.task)
        served = self.backend.tasks
        if served and task_object.name not in {_task_name(t) for t in served}:
            raise UnknownTaskError(
                f"model {self.model_name!r} does not serve task {task_object.name!r}; "
                f"it serves: {', '.join(served)}")
        return task_object

    @overload
    def analyze(self, texts: str, *, task: str | None = None) -> AnalysisResult: ...

    @overload
    def analyze(self, texts: Sequence[str | Review], *, task: str | None = None
                ) -> list[AnalysisResult]: ...

    def analyze(self, texts, *, task=None):
        """A text gives one result; a list gives a list."""
        if isinstance(texts, (str, Review)):
            return next(self.analyze_iter([texts], task=task))
        return list(self.analyze_iter(texts, task=task))

    def analyze_iter(self, items: Iterable[str | Review], *, task: str | None = None
                     ) -> Iterator[AnalysisResult]:
        """A generator of results, one per item, computed a batch at a time.

        The task is checked now, before the first item is read."""
        return self._iter(items, self.checked_task(task))

    def _iter(self, items: Iterable[str | Review], task: str) -> Iterator[AnalysisResult]:
        reviews = (item if isinstance(item, Review) else Review(str(index), item)
                   for index, item in enumerate(items))
        for batch in line_batches(reviews, self.batch_size):
            yield from self.analyze_reviews(batch, task=task)

    def analyze_reviews(self, reviews: Sequence[Review], *, task: str | SlotTask | None = None
                        ) -> list[AnalysisResult]:
        """Results for one batch. When the backend fails on the batch, each review is analysed
        again on its own: a review that fails alone becomes an error record with the reason, the
        others get their answers (one bad review costs only its own row, at any batch size).

        ``task="all"``: each result's ``answers`` holds every task the model serves, from one
        pass where the backend can (:meth:`~fsa_edge.backends.Backend.predict_tasks`)."""
        name = self.checked_task(task)
        tasks = self.all_tasks() if name == ALL_TASKS else [get_task(name)]
        try:
            plans = self.parts([r.text for r in reviews], task=tasks[0])
            inputs = [r.text[start:end] for r, plan in zip(reviews, plans) for start, end in plan]
            if name == ALL_TASKS:
                predictions = self.backend.predict_tasks(inputs, tasks=tasks)
            else:
                predictions = [{name: p} for p in self.backend.predict(inputs, task=tasks[0])]
            if len(predictions) != len(inputs):
                raise BackendError(f"backend {self.backend.name!r} returned {len(predictions)} "
                                   f"predictions for {len(inputs)} texts")
        except FsaEdgeError as exc:
            return self._alone_or_error(reviews, name, str(exc))
        except Exception as exc:  # noqa: BLE001 - a crash must not lose the batch's rows
            message = f"backend {self.backend.name!r} failed: {type(exc).__name__}: {exc}"
            return self._alone_or_error(reviews, name, message)
        results, answers = [], iter(predictions)
        for review, plan in zip(reviews, plans):
            found = [((start, end), next(answers)) for start, end in plan]
            merged = {task.name: self._merged(task, [(span, p[task.name]) for span, p in found])
                      for task in tasks}
            results.append(AnalysisResult(
                id=review.id, text=review.text, task=name, model=self.model_name,
                elements=() if name == ALL_TASKS else merged[name], parts=len(plan),
                answers=merged if name == ALL_TASKS else None))
        return results

    def analyze_lines(self, lines: Sequence[InputLine], *, task: str | SlotTask | None = None
                      ) -> list[AnalysisResult]:
        """One result per input line, in order: its review analysed (one batch), or an error
        record with the line's reason. What ``fsa-edge analyze`` writes, on any engine."""
        name = self.checked_task(task)
        reviews = [line.review for line in lines if line.review is not None]
        results = iter(self.analyze_reviews(reviews, task=name) if reviews else [])
        return [next(results) if line.review is not None else
                AnalysisResult(id=line.id, text=None, task=name,
                               model=self.model_name, error=line.error) for line in lines]

    def parts(self, texts: Sequence[str], *, task: str | SlotTask | None = None
              ) -> list[list[tuple[int, int]]]:
        """Each text's parts, as ``(start, end)`` character spans, as the backend is handed them:
        the whole text, or (longer than the backend's window) parts that fit
        (:mod:`fsa_edge.windows`)."""
        if not isinstance(task, SlotTask):
            name = self.checked_task(task)
            task = self.all_tasks()[0] if name == ALL_TASKS else get_task(name)
        lengths = self.backend.input_lengths(texts, task=task)
        if lengths is None:
            return [[(0, len(text))] for text in texts]
        window = self.backend.max_input_length

        def fits(part: str) -> bool:
            return len(part) <= 1 or self.backend.input_lengths([part], task=task)[0] <= window

        return [[(0, len(text))] if length <= window else plan_parts(text, fits)
                for text, length in zip(texts, lengths)]

    def _merged(self, task: SlotTask, found: list[tuple[tuple[int, int], Prediction]]
                ) -> tuple:
        """A text's elements from its parts' predictions (``((start, end), prediction)``, in
        order); one answer per text (``sentence``): the backend's merge, else the parts' votes,
        its score through the model's merged-score map."""
        if len(found) == 1:
            return tuple(found[0][1].elements)
        if task.slots == ("polarity",):  # one answer per text
            answer = self.backend.merge_polarity(task, found)
            if answer is None:
                answer = merge_polarity([(span, p.elements) for span, p in found])
            return mapped_scores(answer, self.merged_score_maps.get(task.name))
        return merge_parts([(start, p.elements) for (start, _), p in found])

    def _alone_or_error(self, reviews: Sequence[Review], task: str, message: str
                        ) -> list[AnalysisResult]:
        """After the backend failed on ``reviews``: each analysed again on its own, or, for a
        review that was alone already, its error record with ``message``."""
        if len(reviews) == 1:
            return [self._error(reviews[0], task, message)]
        return [result for review in reviews
                for result in self.analyze_reviews([review], task=task)]

    def _error(self, review: Review, task: str, message: str) -> AnalysisResult:
        return AnalysisResult(id=review.id, text=review.text, task=task, model=self.model_name,
                              error=message)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _task_name(name: str) -> str:
    """The registry name of a task a model card lists (a name the registry lacks stays as is)."""
    try:
        return get_task(name).name
    except UnknownTaskError:
        return name
