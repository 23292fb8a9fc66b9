"""Weight averaging of fine-tuned taggers ("model soup", Wortsman et al. 2022).

Taggers fine-tuned from the same encoder with the same heads (seeds, corpora or teachers may
differ) are averaged parameter by parameter: the encoder's ``model.safetensors`` and the heads'
``heads.npz``. The result is a tagger directory like the ones ``fsa-edge train tagger finetune``
writes — one model, served at the cost of one — to convert and calibrate as usual. Its card keeps
what the ingredients share and lists each ingredient's provenance under ``averaged_from``; the
thresholds and score maps of the ingredients are dropped (they describe other models:
``fsa-edge train tagger calibrate`` chooses the average's own).

Ingredients must serve the same tasks, unless ``common_tasks`` is set: then the average serves
the tasks every ingredient serves, and an ingredient's heads of its other tasks are left out —
only the heads no other task reads (``sentence``, ``aste``) can be left out this way, so a
distilled student with a sentence head averages with a gold-only student without one.

Whether an average is better than its best ingredient is an empirical question: choose on dev
(``benchmarks/soup.py`` builds the greedy soup that way). Ingredients whose heads started from
different random initialisations (another seed) rarely average well.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.runtime import HEADS_FILE, HF_CONFIG_FILE, HF_WEIGHTS_FILE, TOKENIZER_FILES
from fsa_edge.windows import MERGED_SCORE_CALIBRATION

from .calibration import CALIBRATED_FIELDS
from .head_names import SENTENCE_PREFIX, TRIPLET_PREFIX
from .sentence_head import SENTENCE_HEAD

#: Card fields that are each ingredient's own (they move into ``averaged_from``).
INGREDIENT_FIELDS = ("epoch", "seed", "student_init", "recipe", "extra_train", "soft_targets",
                     "metrics", "averaged_from")
#: Architecture fields of the card's ``tagger`` section every ingredient must share.
SHARED_TAGGER_FIELDS = ("tags", "categories", "pooling")
AVERAGED_FROM = "averaged_from"
#: tasks whose heads no other task reads: the ``heads.npz`` prefix of each, and its card field
#: under ``tagger`` (if any) — what ``common_tasks`` may leave out of an ingredient
SEPARATE_HEADS = {"sentence": (SENTENCE_PREFIX, SENTENCE_HEAD), "aste": (TRIPLET_PREFIX, None)}

__all__ = ["AVERAGED_FROM", "average_taggers"]


#: a trained tagger read for averaging: its card, encoder weights and head arrays
Ingredient = tuple[ModelCard, dict[str, np.ndarray], dict[str, np.ndarray]]


def _ingredient(directory: Path) -> Ingredient:
    from safetensors.numpy import load_file

    for name in (HF_WEIGHTS_FILE, HEADS_FILE, HF_CONFIG_FILE):
        if not (directory / name).is_file():
            raise TrainingError(f"{directory}: not a trained tagger directory (no {name}; "
                                f"average the folders fsa-edge train tagger finetune writes, "
                                f"not converted ones)")
    card = ModelCard.load(directory)
    if card.backend != "tagger":
        raise TrainingError(f"{directory}: backend {card.backend!r}, not a tagger")
    with np.load(directory / HEADS_FILE) as heads:
        head_arrays = {name: heads[name] for name in heads.files}
    return card, load_file(str(directory / HF_WEIGHTS_FILE)), head_arrays


def _check_same(first: Path, other: Path, what: str, a: dict[str, np.ndarray],
                b: dict[str, np.ndarray]) -> None:
    if sorted(a) != sorted(b):
        missing = sorted(set(a) ^ set(b))
        raise TrainingError(f"{other}: its {what} differ from those of {first} "
                            f"(not in both: {', '.join(missing[:5])})")
    for name in a:
        if a[name].shape != b[name].shape:
            raise TrainingError(f"{other}: {what} {name} has shape {b[name].shape}, "
                                f"{first} has {a[name].shape}")


def _mean(arrays: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    if not np.issubdtype(arrays[0].dtype, np.floating):
        return arrays[0]  # integer buffers (e.g. position ids) are the same in every ingredient
    total = sum(w * a.astype(np.float64) for w, a in zip(weights, arrays))
    return total.astype(arrays[0].dtype)


def _common_tasks(paths: Sequence[Path], cards: Sequence[ModelCard]) -> tuple[str, ...]:
    """The tasks every ingredient serves (in the first one's order); a :class:`TrainingError`
    when an ingredient would lose a task whose head others read (``atsa``, ``acsa``)."""
    common = tuple(t for t in cards[0].tasks if all(t in card.tasks for card in cards))
    for path, card in zip(paths, cards):
        shared = [t for t in card.tasks if t not in common and t not in SEPARATE_HEADS]
        if shared:
            raise TrainingError(f"{path}: task(s) {', '.join(shared)} not served by every "
                                f"ingredient, and only the heads of "
                                f"{', '.join(SEPARATE_HEADS)} can be left out")
    if not common:
        raise TrainingError("the ingredients have no task in common")
    return common


def _only_tasks(ingredient: Ingredient, tasks: Sequence[str]) -> Ingredient:
    """``ingredient`` without the separate heads of its tasks that are not in ``tasks``."""
    card, encoder, heads = ingredient
    dropped = [SEPARATE_HEADS[t] for t in card.tasks if t not in tasks]
    if not dropped:
        return ingredient
    prefixes = tuple(prefix for prefix, _ in dropped)
    tagger = {k: v for k, v in card.extra.get("tagger", {}).items()
              if k not in {field for _, field in dropped}}
    default = card.task if card.task in tasks else tasks[0]
    return (replace(card, tasks=tuple(tasks), default_task=default,
                    extra={**card.extra, "tagger": tagger}), encoder,
            {name: array for name, array in heads.items() if not name.startswith(prefixes)})


def average_taggers(directories: Sequence[str | Path], out: str | Path,
                    weights: Sequence[float] | None = None, *,
                    common_tasks: bool = False) -> dict[str, Any]:
    """Average the tagger directories ``directories`` into ``out`` (uniformly, or by ``weights``,
    normalised to sum 1). They must share the encoder's configuration, the parameter names and
    shapes, the card's tags, categories and pooling, and the tasks (with ``common_tasks``: the
    average serves the tasks all of them serve, leaving out the others' separate heads);
    otherwise a :class:`TrainingError` names the ingredient and what differs. One directory
    gives its own weights with the card an average gets (no thresholds, no score maps): the
    first step of a greedy soup, converted and calibrated like the averages after it. Returns
    a summary."""
    paths = [Path(d) for d in directories]
    if not paths:
        raise TrainingError("averaging needs at least one tagger directory")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise TrainingError("the same directory is given twice (use weights to count one more)")
    weights_array = np.ones(len(paths)) if weights is None else np.asarray(weights, float)
    if weights_array.shape != (len(paths),) or (weights_array <= 0).any():
        raise TrainingError(f"weights: one positive number per directory ({len(paths)}), "
                            f"got {list(weights) if weights is not None else None}")
    weights_array = weights_array / weights_array.sum()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise TrainingError(f"{out}: exists and is not empty")

    ingredients = [_ingredient(p) for p in paths]
    if common_tasks:
        tasks = _common_tasks(paths, [card for card, _, _ in ingredients])
        ingredients = [_only_tasks(ingredient, tasks) for ingredient in ingredients]
    first_card, first_encoder, first_heads = ingredients[0]
    first_config = json.loads((paths[0] / HF_CONFIG_FILE).read_text(encoding="utf-8"))
    for path, (card, encoder, heads) in zip(paths[1:], ingredients[1:]):
        config = json.loads((path / HF_CONFIG_FILE).read_text(encoding="utf-8"))
        if config != first_config:
            changed = sorted(k for k in set(config) | set(first_config)
                             if config.get(k) != first_config.get(k))
            raise TrainingError(f"{path}: encoder configuration differs from {paths[0]}'s "
                                f"({', '.join(changed)})")
        tagger, first_tagger = card.extra.get("tagger", {}), first_card.extra.get("tagger", {})
        for field in SHARED_TAGGER_FIELDS:
            if tagger.get(field) != first_tagger.get(field):
                raise TrainingError(f"{path}: card tagger.{field} differs from {paths[0]}'s")
        if card.tasks != first_card.tasks:
            raise TrainingError(f"{path}: tasks {list(card.tasks)} differ from {paths[0]}'s "
                                f"{list(first_card.tasks)}")
        _check_same(paths[0], path, "encoder weights", first_encoder, encoder)
        _check_same(paths[0], path, "heads", first_heads, heads)

    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    encoder = {name: _mean([ing[1][name] for ing in ingredients], weights_array)
               for name in first_encoder}
    save_file(encoder, str(out / HF_WEIGHTS_FILE), metadata={"format": "pt"})
    np.savez(out / HEADS_FILE, **{name: _mean([ing[2][name] for ing in ingredients],
                                              weights_array) for name in first_heads})
    for name in (HF_CONFIG_FILE, *TOKENIZER_FILES):
        if (paths[0] / name).is_file():
            shutil.copy2(paths[0] / name, out / name)

    extra = {k: v for k, v in first_card.extra.items()
             if k not in INGREDIENT_FIELDS and k != MERGED_SCORE_CALIBRATION}
    extra["tagger"] = {k: v for k, v in first_card.extra.get("tagger", {}).items()
                       if k not in CALIBRATED_FIELDS}
    extra[AVERAGED_FROM] = [
        {"path": str(path), "weight": round(float(w), 6),
         **{k: card.extra[k] for k in INGREDIENT_FIELDS if k in card.extra and k != "metrics"}}
        for path, w, (card, _, _) in zip(paths, weights_array, ingredients)]
    replace(first_card, extra=extra).save(out)
    return {"out": str(out), "ingredients": [str(p) for p in paths],
            "tasks": list(first_card.tasks), "weights": [round(float(w), 6) for w in weights_array],
            "encoder_tensors": len(encoder), "heads": len(first_heads)}
