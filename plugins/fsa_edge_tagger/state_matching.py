"""Keeping a teacher's sentence states while the tagger learns its tags: the state term.

``pretrain-states`` (:mod:`.state_pretraining`) teaches the encoder a teacher's mean piece states
before tag training; fine-tuning on tags then moves the encoder away from them (a frozen probe of
the warm start reads sst2 81.88, the same probe after the default's recipe 80.83). With a state
teacher, fine-tuning adds for every training row — gold and unlabelled —

    weight · ‖P · mean(h) − s‖² / var(s)      (averaged over the batch's rows and dimensions)

where ``h`` are the student's piece states of the row's own pieces, ``s`` the teacher's mean
piece state of the same text (computed once, before training, by the teacher's own runtime) and
``P`` a linear projection from the student's width to the teacher's, trained alongside: it starts
from the student's ``projection.npz`` when the student was pre-trained on the same teacher's
states, fresh otherwise. ``P`` is a training aid only: the saved model is the same encoder and
heads as without the term.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.errors import TrainingError

from .network import masked_mean

#: the row key of a training row's state: (index into the teacher's states, own-piece mask)
STATE = "teacher_state"


@dataclass(frozen=True)
class StateMatching:
    """Which tagger teacher's sentence states the student keeps (a directory with a sentence
    head, converted or not), and how much the term weighs."""

    teacher: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise TrainingError(f"the state weight must be > 0, got {self.weight}")


class TeacherStates:
    """The teacher's mean piece states of the training rows' texts, the rows pointing at them
    (``row[STATE]``), and the term's torch parts once :meth:`build` has run."""

    def __init__(self, matching: StateMatching, rows: Sequence[dict[str, Any]], tokenizer: Any,
                 *, device: str = "auto", threads: int | None = None) -> None:
        from .state_pretraining import teacher_states

        self.matching = matching
        index: dict[str, int] = {}
        for row in rows:
            index.setdefault(row["text"], len(index))
        texts = list(index)
        self.states, _, _ = teacher_states(matching.teacher, texts, device=device,
                                           threads=threads)
        self.scale = float(self.states.var()) or 1.0
        for row, encoding in zip(rows, tokenizer.encode_batch([row["text"] for row in rows])):
            own = np.logical_not(np.asarray(encoding.special_tokens_mask, dtype=bool))
            row[STATE] = (index[row["text"]], own)
        self.texts = len(texts)
        self.projection: Any = None
        self.targets: Any = None

    def build(self, student: Path, width: int, device: str) -> Any:
        """The projection ``P`` (a torch Linear on ``device``), from ``student``'s
        ``projection.npz`` when its shapes fit."""
        import torch

        from .state_pretraining import PROJECTION_FILE

        self.projection = torch.nn.Linear(width, self.states.shape[1])
        saved = Path(student) / PROJECTION_FILE
        if saved.is_file():
            with np.load(saved) as arrays:
                if arrays["weight"].shape == tuple(self.projection.weight.shape):
                    with torch.no_grad():
                        self.projection.weight.copy_(torch.from_numpy(arrays["weight"]))
                        self.projection.bias.copy_(torch.from_numpy(arrays["bias"]))
        self.projection.to(device)
        self.targets = torch.from_numpy(self.states)
        return self.projection

    def loss(self, hidden: Any, rows: Sequence[dict[str, Any]], device: str) -> Any:
        """The weighted term over ``rows`` (every row has a state) at the student's piece
        states ``hidden`` ``(batch, time, width)``."""
        import torch

        if self.projection is None:
            raise TrainingError("TeacherStates.build must run before the loss")
        own = torch.zeros(tuple(hidden.shape[:2]), dtype=torch.bool)
        for i, row in enumerate(rows):
            mask = row[STATE][1]
            own[i, :len(mask)] = torch.from_numpy(mask)
        projected = self.projection(masked_mean(hidden, own.to(device))).float()
        target = self.targets[[row[STATE][0] for row in rows]].to(device)
        return self.matching.weight * ((projected - target) ** 2).mean() / self.scale


__all__ = ["STATE", "StateMatching", "TeacherStates"]
