"""One batch's loss for the tagger: the gold cross-entropy of the batch's task head, plus the
distillation term (:mod:`.distillation`) when the student learns from a teacher.

A batch holds one task (:class:`.training.TaggerJob` groups them): ATSA rows train the term
head, ACSA rows the category head (summed over categories, averaged over sentences), ASTE rows
the span head and the pair head; rows with soft targets add their KL terms, and a batch of
unlabeled rows has only those. With a state teacher (:mod:`.state_matching`) every batch adds the
state term.
"""

from __future__ import annotations

from typing import Any

from fsa_edge.errors import TrainingError

from .distillation import Distillation, distillation_loss
from .id_batch import pad_id_batch
from .network import TaggerNet
from .scheme import CATEGORY_CLASSES, IGNORE
from .state_matching import TeacherStates


def tag_loss(logits: Any, rows: list[dict], key: str, device: str) -> Any:
    """Cross-entropy of per-piece ``logits`` ``(batch, time, classes)`` against each row's gold
    tag ids ``row[key]`` (padding and special pieces ignored)."""
    import torch
    import torch.nn.functional as F

    tags = torch.full(logits.shape[:2], IGNORE, dtype=torch.long)
    for i, row in enumerate(rows):
        tags[i, :len(row[key])] = torch.tensor(row[key])
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), tags.to(device).view(-1),
                           ignore_index=IGNORE)


def batch_loss(net: TaggerNet, rows: list[dict], pad: int, device: str,
               distill: Distillation | None = None, states: TeacherStates | None = None) -> Any:
    """The batch's gold loss (its task's head), plus the distillation term when ``distill`` is
    set and rows carry soft targets (a batch of unlabeled rows has only that term), plus the
    state term when ``states`` is set."""
    ids, mask = pad_id_batch([row["ids"] for row in rows], pad)
    ids, mask = ids.to(device), mask.to(device)
    hidden = net.dropout(net.hidden(ids, mask))
    loss = _task_loss(net, hidden, ids, mask, rows, device, distill)
    if states is not None:
        term = states.loss(hidden, rows, device)
        loss = term if loss is None else loss + term
    if loss is None:
        raise TrainingError("a batch of unlabeled sentences without soft targets")
    return loss


def _task_loss(net: TaggerNet, hidden: Any, ids: Any, mask: Any, rows: list[dict], device: str,
               distill: Distillation | None) -> Any:
    """Gold plus distillation terms at the batch's piece states ``hidden`` (``None`` for
    unlabeled rows without soft targets)."""
    import torch
    import torch.nn.functional as F

    gold = term_logits = category_logits = None
    if rows[0]["task"] == "aste":
        gold = tag_loss(net.span(hidden), rows, "span_tags", device)
        pairs = net.pair_logits(hidden, rows)
        if pairs is not None:
            gold = gold + F.cross_entropy(*pairs)
    elif rows[0]["task"] == "atsa":
        term_logits = net.term(hidden)
        gold = tag_loss(term_logits, rows, "tags", device)
    elif rows[0]["task"] == "acsa":
        category_logits = net.category_logits(hidden, mask)
        classes = torch.tensor([r["classes"] for r in rows], device=device)
        # summed over categories, averaged over sentences: a mean over all (sentence, category)
        # pairs would scale the few present categories' gradient down by the number of categories
        gold = F.cross_entropy(category_logits.reshape(-1, len(CATEGORY_CLASSES)),
                               classes.view(-1), reduction="sum") / len(rows)
    if distill is None:
        return gold
    if term_logits is None:
        term_logits = net.term(hidden)
    if category_logits is None and any(r.get("soft_categories") is not None for r in rows):
        category_logits = net.category_logits(hidden, mask)
    sentence_logits = None
    if net.sentence is not None and any(r.get("soft_sentence") is not None for r in rows):
        own = torch.zeros(tuple(ids.shape), dtype=torch.bool)
        for i, row in enumerate(rows):
            if row.get("soft_sentence") is not None:
                own[i, :len(row["ids"])] = torch.from_numpy(row["soft_sentence"][1])
        sentence_logits = net.sentence_logits(hidden, own.to(device))
    soft = distillation_loss(term_logits, category_logits, rows, distill, device,
                             sentence_logits)
    if gold is None:
        return soft
    return gold if soft is None else gold + soft
