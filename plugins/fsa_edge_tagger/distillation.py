"""Learning from a teacher's soft targets: the distillation term of the tagger's loss.

A teacher (a stronger tagger, :mod:`.teacher`) writes per word-piece tag distributions and per
category class distributions for gold and unlabeled sentences; :mod:`.soft_targets` aligns them to
the student's tokenizer. Training then adds, for every sentence that has them,

    weight · T² · ( KL(teacher_T ‖ student_T) over the aligned pieces (mean)
                  + KL(teacher_T ‖ student_T) over the teacher's categories (sum)
                  + KL(teacher_T ‖ student_T) of the text's polarity (mean over texts) )

to the gold cross-entropy (unlabeled sentences have only this term). ``_T`` is a distribution
softened by the temperature ``T`` (``p^(1/T)``, renormalised; the student's logits divided by
``T``); the ``T²`` keeps the gradient's scale independent of ``T`` (Hinton et al., 2015). The
term reduction mirrors the gold losses: pieces averaged, categories summed, sentences averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fsa_edge.errors import TrainingError

from .scheme import CATEGORY_CLASSES, TAGS

#: the name of the batch group of sentences that have soft targets only (no gold labels)
SOFT = "soft"


@dataclass(frozen=True)
class Distillation:
    """How much the teacher's soft targets weigh, and the temperature they are compared at."""

    weight: float = 1.0
    temperature: float = 2.0

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise TrainingError(f"distillation weight must be ≥ 0, got {self.weight}")
        if self.temperature <= 0:
            raise TrainingError(f"distillation temperature must be > 0, got {self.temperature}")


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``p^(1/T)`` renormalised over the last axis (``T`` = 1: unchanged)."""
    if temperature == 1.0:
        return probabilities.astype(np.float32)
    logs = np.log(np.clip(probabilities.astype(np.float64), 1e-12, None)) / temperature
    logs -= logs.max(axis=-1, keepdims=True)
    softened = np.exp(logs)
    return (softened / softened.sum(axis=-1, keepdims=True)).astype(np.float32)


def _padded(rows: Sequence[dict], key: str, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Rows' soft targets stacked into ``(batch, *shape)`` with their mask (absent = masked)."""
    import torch

    targets = np.zeros((len(rows), *shape), dtype=np.float32)
    mask = np.zeros((len(rows), shape[0]), dtype=bool)
    for i, row in enumerate(rows):
        soft = row.get(key)
        if soft is None:
            continue
        values, present = soft
        targets[i, :len(values)] = values
        mask[i, :len(present)] = present
    return torch.from_numpy(targets), torch.from_numpy(mask)


def _kl(student_logits: Any, teacher: Any, mask: Any, temperature: float) -> Any:
    """KL(teacher ‖ softmax(student / T)) per masked position, as a flat tensor."""
    import torch

    log_student = torch.log_softmax(student_logits.float() / temperature, dim=-1)[mask]
    teacher = teacher[mask]
    return (teacher * (torch.log(teacher.clamp(min=1e-12)) - log_student)).sum(-1)


def distillation_loss(term_logits: Any, category_logits: Any | None, rows: Sequence[dict],
                      settings: Distillation, device: str,
                      sentence_logits: Any | None = None) -> Any | None:
    """The distillation term of a batch (``None`` when no row of it has soft targets).

    ``term_logits``: ``(batch, pieces, tags)``; ``category_logits``: ``(batch, categories, 5)``
    or ``None`` for a tagger without a category head; ``sentence_logits``: ``(batch, 3)`` or
    ``None`` (no sentence head). Rows carry their softened targets as ``soft_tags = (targets
    (n, 9), mask (n,))``, ``soft_categories = (targets (C, 5), mask (C,))`` and
    ``soft_sentence = (targets (3,), own pieces (n,))``."""
    temperature = settings.temperature
    parts = []
    if any(row.get("soft_tags") is not None for row in rows):
        targets, mask = _padded(rows, "soft_tags", (term_logits.shape[1], len(TAGS)))
        mask = mask.to(device)
        if bool(mask.any()):
            parts.append(_kl(term_logits, targets.to(device), mask, temperature).mean())
    if category_logits is not None and any(row.get("soft_categories") is not None
                                           for row in rows):
        targets, mask = _padded(rows, "soft_categories",
                                (category_logits.shape[1], len(CATEGORY_CLASSES)))
        mask = mask.to(device)
        if bool(mask.any()):
            parts.append(_kl(category_logits, targets.to(device), mask,
                             temperature).sum() / len(rows))
    if sentence_logits is not None and any(row.get("soft_sentence") is not None
                                           for row in rows):
        import torch

        targets = torch.zeros(tuple(sentence_logits.shape), dtype=torch.float32)
        mask = torch.zeros(len(rows), dtype=torch.bool)
        for i, row in enumerate(rows):
            if row.get("soft_sentence") is not None:
                targets[i], mask[i] = torch.from_numpy(row["soft_sentence"][0]), True
        parts.append(_kl(sentence_logits, targets.to(device), mask.to(device),
                         temperature).mean())
    if not parts:
        return None
    return settings.weight * temperature ** 2 * sum(parts)


__all__ = ["Distillation", "SOFT", "distillation_loss", "soften"]
