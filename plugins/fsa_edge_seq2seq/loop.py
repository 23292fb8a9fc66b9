"""A seq2seq student's part of a training run (:class:`Seq2SeqJob`) on the core's
:class:`fsa_edge.trainer.Trainer`, and the pieces both recipes share: tokenised pairs, batches
of them, their loss.

Layout of an output directory ``OUT``:

* ``OUT/``: the kept model (fine-tuning: best dev F1; pre-training: the latest epoch), a Hugging
  Face directory with its tokenizer and ``fsa_edge.json`` card;
* ``OUT/last/``: the latest state (weights, optimizer, schedule, random states; safetensors +
  JSON) so that ``--resume`` continues from the saved step;
* ``OUT/metrics.jsonl``: one JSON record per epoch (and one at an interruption).

Requires torch and transformers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.trainer import Trainer, TrainingJob, TrainSettings

from .text import LoadedStudent


@dataclass
class Settings(TrainSettings):
    """Everything a run is configured by: the loop's settings and the seq2seq recipe (recorded
    in the card as the recipe; what only steers the loop is left out of it)."""

    lr: float = 1e-4
    decoder_lr_scale: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    label_smoothing: float = 0.0
    max_input_length: int = 128
    max_output_length: int = 128
    eval_batch_size: int = 64

    def recipe(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("device", "threads", "eval_batch_size", "max_steps", "max_seconds",
                    "save_every", "log_every", "resume", "ema", "keep_best"):
            data.pop(key)
        return data


@dataclass
class Example:
    """A tokenised pair."""

    source: list[int]
    target: list[int]


def collate(examples: Sequence[Example], pad: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(e.source) for e in examples)
    depth = max(len(e.target) for e in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), depth), -100, dtype=torch.long)
    for row, example in enumerate(examples):
        ids[row, :len(example.source)] = torch.tensor(example.source)
        mask[row, :len(example.source)] = 1
        labels[row, :len(example.target)] = torch.tensor(example.target)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device),
            "labels": labels.to(device)}


def batch_loss(model: Any, batch: dict[str, Any], label_smoothing: float) -> Any:
    """Token-mean cross-entropy (with optional label smoothing) of one batch."""
    import torch.nn.functional as F

    labels = batch["labels"]
    decoder_inputs = model.prepare_decoder_input_ids_from_labels(labels=labels)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   decoder_input_ids=decoder_inputs).logits
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.view(-1),
                           ignore_index=-100, label_smoothing=label_smoothing)


def mean_loss(model: Any, examples: Sequence[Example], pad: int, device: str,
              batch_size: int) -> float:
    """Plain cross-entropy over ``examples`` (eval mode, no grad)."""
    import torch

    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = collate(examples[start:start + batch_size], pad, device)
            count = int((batch["labels"] != -100).sum())
            total += float(batch_loss(model, batch, 0.0)) * count
            tokens += count
    return total / max(tokens, 1)


def _parameter_groups(model: Any, settings: Settings) -> list[dict[str, Any]]:
    """AdamW groups: decoder layers at ``lr × decoder_lr_scale``; no decay on biases/norms."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        decoder = "decoder" in name and "embed" not in name and "shared" not in name
        no_decay = parameter.ndim < 2
        groups.setdefault((decoder, no_decay), []).append(parameter)
    return [{"params": params, "lr": settings.lr * (settings.decoder_lr_scale if decoder else 1.0),
             "weight_decay": 0.0 if no_decay else settings.weight_decay}
            for (decoder, no_decay), params in sorted(groups.items())]


def save_model(student: LoadedStudent, directory: Path, card: ModelCard) -> None:
    """A Hugging Face directory + tokenizer + card (what ``fsa-edge convert`` reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    student.model.save_pretrained(str(directory))
    student.tokenizer.save_pretrained(str(directory))
    card.save(directory)


class Seq2SeqJob(TrainingJob):
    """Tokenised pairs of a seq2seq student; ``evaluate`` scores the model after each epoch
    (higher is better) and ``card_for`` builds the card of a saved checkpoint."""

    def __init__(self, student: LoadedStudent, train: Sequence[Example], settings: Settings,
                 card_for: Callable[[dict[str, Any]], ModelCard],
                 evaluate: Callable[[], tuple[float, dict[str, Any]]]) -> None:
        if not train:
            raise TrainingError("no training examples")
        self.student = student
        self.module = student.model
        self.train = list(train)
        self.settings = settings
        self.card_for = card_for
        self._evaluate = evaluate
        self.lengths = [len(e.source) + len(e.target) for e in self.train]
        self.pad = student.tokenizer.pad_token_id
        if self.pad is None:
            raise TrainingError("the student's tokenizer has no pad token")

    def parameter_groups(self) -> list[dict[str, Any]]:
        return _parameter_groups(self.module, self.settings)

    def loss(self, batch: list[int], device: str) -> Any:
        return batch_loss(self.module, collate([self.train[i] for i in batch], self.pad, device),
                          self.settings.label_smoothing)

    def evaluate(self, device: str) -> tuple[float, dict[str, Any]]:
        return self._evaluate()

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        save_model(self.student, directory, self.card_for(record))


def run(job: Seq2SeqJob, out: Path, *, keep_best: bool = True) -> dict[str, Any]:
    """Train ``job`` with its settings on the core trainer."""
    return Trainer(job, replace(job.settings, keep_best=keep_best), out,
                   recipe=job.settings.recipe()).run()


__all__ = ["Example", "Seq2SeqJob", "Settings", "batch_loss", "collate", "mean_loss", "run",
           "save_model"]
