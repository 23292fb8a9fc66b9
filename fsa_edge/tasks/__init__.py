"""The task registry: every fine-grained sentiment task fsa-edge can linearise and parse."""

from __future__ import annotations

from ..errors import UnknownTaskError
from .base import (FORMAT_VERSION, ParseResult, SlotTask, canonical_category,
                   canonical_polarity, linear_category, normalise_term)

ATSA = SlotTask(
    name="atsa", description="aspect-term sentiment: term | polarity",
    slots=("aspect", "polarity"), distinct_aspects=True, prefix="atsa: ",
)
ACSA = SlotTask(
    name="acsa", description="aspect-category sentiment: category | polarity",
    slots=("category", "polarity"), prefix="acsa: ",
)
ASTE = SlotTask(
    name="aste", description="aspect sentiment triplets: aspect | opinion | polarity",
    slots=("aspect", "opinion", "polarity"), prefix="aste: ",
)
ASQP = SlotTask(
    name="asqp", description="aspect sentiment quads: aspect | category | polarity | opinion",
    slots=("aspect", "category", "polarity", "opinion"),
    implicit_allowed=frozenset({"aspect", "opinion"}), terms_must_occur=False, prefix="asqp: ",
)
ACOS = SlotTask(
    name="acos", description="aspect-category-opinion-sentiment quads (implicit aspect/opinion = NULL)",
    slots=("aspect", "category", "polarity", "opinion"),
    implicit_allowed=frozenset({"aspect", "opinion"}), terms_must_occur=False, prefix="acos: ",
)
SENTENCE = SlotTask(
    name="sentence", description="sentence-level polarity",
    slots=("polarity",), prefix="sentence: ", aliases=("sc", "polarity"),
)

_REGISTRY: dict[str, SlotTask] = {}

#: not a task but a request: every task a model serves, in one pass (``analyze --task all``)
ALL_TASKS = "all"


def register_task(task: SlotTask) -> None:
    """Add a task (plugins may add their own)."""
    _REGISTRY[task.name] = task


for _task in (ATSA, ACSA, ASTE, ASQP, ACOS, SENTENCE):
    register_task(_task)


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str | SlotTask) -> SlotTask:
    """The task called ``name`` (or an alias); an error lists the known ones."""
    if isinstance(name, SlotTask):
        return name
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    for task in _REGISTRY.values():
        if key in task.aliases:
            return task
    raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")


__all__ = [
    "ALL_TASKS", "SlotTask", "ParseResult", "get_task", "register_task", "task_names",
    "ATSA", "ACSA", "ASTE", "ASQP", "ACOS", "SENTENCE", "FORMAT_VERSION",
    "canonical_category", "canonical_polarity", "linear_category", "normalise_term",
]
