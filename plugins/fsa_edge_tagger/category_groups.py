"""Category groups: one score map per domain of the ACSA dev files, without a domain label.

ACSA dev files of different domains (laptops, restaurants) can differ in how often an element of
a given raw score is right, which one pooled map cannot fit. Each ACSA dev file defines a group:
the categories of its gold and of its train file's (:func:`train_file_of`; a category of several
files' gold belongs to none), and a map is fitted on the dev elements (of all dev files)
predicted with one of those categories (:func:`fit_group_maps`). At run time an element's
predicted category picks its map (:func:`~.runtime.category_score_maps` reads the card's
entries); :mod:`.calibration` decides when groups are fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

from fsa_edge.calibration_metric import scored_elements
from fsa_edge.model import SentimentElement
from fsa_edge.readers import read_dataset
from fsa_edge.tasks import canonical_category

from .runtime import GROUPS
from .score_fitting import MIN_ELEMENTS, fit_score_map

#: ``(gold, predicted)`` ACSA elements of one dev file, keyed by review id
Decodes = tuple[dict[str, Sequence[SentimentElement]], dict[str, Sequence[SentimentElement]]]


@dataclass(frozen=True)
class CategoryGroup:
    """The categories of one ACSA dev file (and its train file): ``sources`` are the files read."""

    name: str
    dev_file: str
    sources: tuple[str, ...]
    categories: frozenset[str]


def train_file_of(dev_file: str | Path) -> Path | None:
    """The train file beside an ACSA dev file (``…/dev.json`` → ``…/train.json``,
    ``x_dev.json`` → ``x_train.json``), if there is one."""
    dev_file = Path(dev_file)
    if "dev" not in dev_file.name:
        return None
    train = dev_file.with_name(dev_file.name.replace("dev", "train", 1))
    return train if train.is_file() and train != dev_file else None


def _gold_categories(examples: Sequence) -> set[str]:
    return {canonical_category(e.category) for ex in examples for e in ex.elements if e.category}


def dev_category_groups(dev_files: Sequence[str | Path], dev: Mapping[str, Sequence] | None = None
                        ) -> tuple[list[CategoryGroup], list[str]]:
    """``(groups, shared)``: one group per dev file, named after its folder (``rest16``; the
    path where two folders share a name), of the categories in its gold and its train file's
    (:func:`train_file_of`); ``shared``: the categories of several files, left out of every
    group (the task's pooled map scores them). ``dev``: the dev files' examples when already
    read (keyed by ``str(path)``); only the train files are read then."""
    dev = dev if dev is not None else {str(p): read_dataset(p).examples for p in dev_files}
    folders = [Path(path).parent.name for path in dev_files]
    found = []
    for path, folder in zip(dev_files, folders):
        train = train_file_of(path)
        sources = (str(path),) + ((str(train),) if train else ())
        name = folder if folder and folders.count(folder) == 1 else str(path)
        categories = _gold_categories(dev[str(path)])
        if train:
            categories |= _gold_categories(read_dataset(train).examples)
        found.append((name, str(path), sources, categories))
    counts: dict[str, int] = {}
    for *_, categories in found:
        for category in categories:
            counts[category] = counts.get(category, 0) + 1
    shared = sorted(c for c, n in counts.items() if n > 1)
    groups = [CategoryGroup(name, dev, sources, frozenset(categories.difference(shared)))
              for name, dev, sources, categories in found]
    return groups, shared


def scored_decodes(decodes: Sequence[Decodes], categories: Collection[str] | None = None
            ) -> tuple[list[float], list[bool]]:
    """``(scores, correct)`` of the ACSA elements over all ``decodes``; with ``categories``,
    only the elements predicted with one of them."""
    scores: list[float] = []
    correct: list[bool] = []
    for gold, predicted in decodes:
        if categories is not None:
            predicted = {rid: tuple(e for e in found
                                    if e.category and canonical_category(e.category) in categories)
                         for rid, found in predicted.items()}
        s, c = scored_elements("acsa", gold, predicted)
        scores += s
        correct += c
    return scores, correct


def fit_group_maps(groups: Sequence[CategoryGroup], decodes: Sequence[Decodes]
                   ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``(entries, not fitted)``: per group with at least :data:`MIN_ELEMENTS` dev elements
    predicted in its categories, its card entry (:func:`fit_score_map`'s map and record, with
    ``name``, ``categories``, ``dev_file`` and ``category_files``); the others, with why."""
    entries, skipped = [], {}
    for group in groups:
        scores, correct = scored_decodes(decodes, group.categories)
        if len(scores) < MIN_ELEMENTS:
            skipped[group.name] = (f"not fitted: {len(scores)} dev elements, fewer than "
                                   f"{MIN_ELEMENTS}")
            continue
        _, record = fit_score_map(scores, correct)
        entries.append({"name": group.name, "categories": sorted(group.categories), **record,
                        "dev_file": group.dev_file, "category_files": list(group.sources)})
    return entries, skipped


def with_groups(entry: dict[str, Any], dev: Mapping[str, Sequence], decodes: Sequence[Decodes]
                 ) -> dict[str, Any]:
    """The ACSA entry (pooled map) with its category groups' maps (``dev``: the ACSA dev
    files' examples, as read)."""
    groups, shared = dev_category_groups(list(dev), dev)
    fitted, skipped = fit_group_maps(groups, decodes)
    extra: dict[str, Any] = {GROUPS: fitted} if fitted else {}
    if skipped:
        extra["groups_not_fitted"] = skipped
    if shared:
        extra["shared_categories"] = shared
    return {**entry, **extra}


__all__ = ["CategoryGroup", "Decodes", "dev_category_groups", "fit_group_maps", "scored_decodes",
           "train_file_of", "with_groups"]
