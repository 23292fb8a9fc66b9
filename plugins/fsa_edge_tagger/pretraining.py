"""Pre-training the tagger's encoder on teacher responses: masked-language modelling.

The tagger has no decoder to learn review → response with, so its use of the teacher corpus is
domain-adaptive MLM on the responses (BERT's recipe: 15% of word-pieces chosen, 80% of those
masked, 10% random, 10% kept), in chunks of at most ``max_length`` pieces. The result is a
BERT directory (encoder + tokenizer + card) that ``fsa-edge train tagger finetune --student
DIR`` starts from. all-MiniLM-L6-v2 ships no MLM head, so the head starts random. The loop is
the core's :class:`fsa_edge.trainer.Trainer`. Requires torch and transformers.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.runtime import TOKENIZER_FILES
from fsa_edge.trainer import Schedule, Trainer, TrainingJob, TrainSettings, check_output, log
from fsa_edge.training import CorpusPair

from .id_batch import pad_id_batch
from .runtime import load_tokenizer
from .training import encoder_dir, special_token_id


def chunks(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Word-piece ids of ``texts`` cut into pieces of ``max_length - 2`` with [CLS] … [SEP] (or
    the family's spelling of them, ``<s>`` … ``</s>``)."""
    cls, sep = special_token_id(tokenizer, "cls"), special_token_id(tokenizer, "sep")
    tokenizer.no_truncation()
    rows = []
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        ids = encoding.ids
        for start in range(0, len(ids), max_length - 2):
            piece = ids[start:start + max_length - 2]
            if len(piece) >= 8:
                rows.append([cls, *piece, sep])
    return rows


def mask_tokens(ids: Any, vocab_size: int, special: Any, mask_id: int, generator: Any
                ) -> tuple[Any, Any]:
    """BERT's masking: ``(inputs, labels)`` with labels -100 where nothing is predicted."""
    import torch

    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    replace = chosen & (torch.rand(ids.shape, generator=generator) < 0.8)
    inputs[replace] = mask_id
    randomise = chosen & ~replace & (torch.rand(ids.shape, generator=generator) < 0.5)
    inputs[randomise] = torch.randint(vocab_size, ids.shape, generator=generator)[randomise]
    return inputs, labels


class MaskedLanguageJob(TrainingJob):
    """MLM on chunks of teacher responses: BERT's masking, loss at the chosen positions only,
    a fixed held-out slice (same masks each time) as the dev score (minus its loss)."""

    def __init__(self, source: Path, tokenizer: Any, train: list[list[int]],
                 dev: list[list[int]], *, lr: float, seed: int) -> None:
        self.source, self.tokenizer, self.train, self.dev = source, tokenizer, train, dev
        self.lr, self.seed = lr, seed
        self.pad = special_token_id(tokenizer, "pad") or 0
        self.mask_id = special_token_id(tokenizer, "mask")
        self.specials = {special_token_id(tokenizer, role) for role in ("cls", "sep", "pad")}
        self.model: Any = None
        self.head: Any = None
        self.generator: Any = None
        self.initial_dev_loss: float | None = None

    def build(self, device: str) -> None:
        import torch
        from transformers import AutoModelForMaskedLM

        self.model = AutoModelForMaskedLM.from_pretrained(str(self.source), dtype=torch.float32)
        # BERT's MLM head is ``cls``, MPNet's ``lm_head``; both take the encoder's states
        head = getattr(self.model, "cls", None)
        self.head = head if head is not None else self.model.lm_head
        self.module = self.model.to(device)
        self.generator = torch.Generator().manual_seed(self.seed)  # the training masks
        self.initial_dev_loss = self._dev_loss(device)
        log(f"MLM on {len(self.train)} chunks, held-out loss {self.initial_dev_loss:.4f}")

    def parameter_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.model.parameters()), "lr": self.lr, "weight_decay": 0.01}]

    def schedule(self, total_steps: int, warmup_ratio: float) -> Schedule:
        return Schedule(max(1, int(total_steps * warmup_ratio)), total_steps,
                        decay_from_start=True)

    def batches(self, epoch: int, batch_size: int, seed: int) -> list[list[int]]:
        """Sequential batches of an order shuffled once more every epoch."""
        order = list(range(len(self.train)))
        for past in range(epoch + 1):
            random.Random(seed + past).shuffle(order)
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    def _batch(self, items: list[list[int]], generator: Any, device: str) -> tuple[Any, ...]:
        import torch

        ids, attention = pad_id_batch(items, self.pad)
        special = torch.zeros_like(ids, dtype=torch.bool)
        for token in self.specials:
            special |= ids == token
        inputs, labels = mask_tokens(ids, self.model.config.vocab_size, special, self.mask_id,
                                     generator)
        return inputs.to(device), attention.to(device), labels.to(device)

    def _mlm_loss(self, inputs: Any, attention: Any, labels: Any) -> Any:
        """Cross-entropy at the chosen positions only (the vocabulary head is the costly part)."""
        import torch

        hidden = self.model.base_model(input_ids=inputs,
                                       attention_mask=attention).last_hidden_state
        chosen = labels != -100
        if not bool(chosen.any()):
            return hidden.sum() * 0.0
        logits = self.head(hidden[chosen])
        return torch.nn.functional.cross_entropy(logits.float(), labels[chosen])

    def loss(self, batch: list[int], device: str) -> Any:
        return self._mlm_loss(*self._batch([self.train[i] for i in batch], self.generator,
                                           device))

    def _dev_loss(self, device: str) -> float:
        import torch

        self.model.eval()
        generator = torch.Generator().manual_seed(self.seed + 1)  # the same masks every time
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.dev), 32):
                inputs, attention, labels = self._batch(self.dev[start:start + 32], generator,
                                                        device)
                n = int((labels != -100).sum())
                if n:
                    total += float(self._mlm_loss(inputs, attention, labels)) * n
                    count += n
        return total / max(count, 1)

    def evaluate(self, device: str) -> tuple[float, dict[str, Any]]:
        loss = self._dev_loss(device)
        return -loss, {"dev_loss": round(loss, 6)}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.base_model.save_pretrained(str(directory))
        for name in TOKENIZER_FILES:
            if (self.source / name).is_file():
                shutil.copy2(self.source / name, directory / name)
        ModelCard(backend="tagger", max_output_length=0,
                  extra={"stage": "pretrain-mlm", "epoch": record["epoch"],
                         "metrics": record}).save(directory)

    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def pretrain_encoder(corpus: Sequence[CorpusPair], *, student: str = "minilm",
                     out: str | Path, epochs: int = 2, batch_size: int = 16, lr: float = 5e-5,
                     max_length: int = 128, seed: int = 42, device: str = "auto",
                     threads: int | None = None, resume: bool = False,
                     log_every: int = 50) -> dict[str, Any]:
    """MLM on the teacher responses of ``corpus``; writes a BERT directory to ``out`` (the
    latest epoch)."""
    from fsa_edge.student_support import quiet_transformers

    out = Path(out)
    check_output(out, resume)
    responses = [pair.response for pair in corpus if pair.response.strip()]
    if not responses:
        raise TrainingError("the corpus has no teacher responses to pre-train on")
    quiet_transformers()
    source = encoder_dir(student)
    tokenizer = load_tokenizer(source, max_length)
    rows = chunks(tokenizer, responses, max_length)
    if len(rows) < 2:
        raise TrainingError("the corpus is too short to pre-train on")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = max(1, min(64, len(rows) // 20))
    job = MaskedLanguageJob(source, tokenizer, [rows[i] for i in order[held:]],
                            [rows[i] for i in order[:held]], lr=lr, seed=seed)
    recipe = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "max_length": max_length,
              "seed": seed}
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, warmup_ratio=0.1, seed=seed,
                             device=device, threads=threads, keep_best=False,
                             log_every=log_every, resume=resume)
    trained = Trainer(job, settings, out, recipe=recipe).run()
    summary = {"stage": "pretrain-mlm", "student_init": student, "responses": len(responses),
               "train_chunks": len(job.train), "dev_chunks": len(job.dev),
               "initial_dev_loss": job.initial_dev_loss, "recipe": recipe, **trained}
    ModelCard(backend="tagger", max_output_length=0, extra=summary).save(out)
    (out / "pretrain_summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                               encoding="utf-8")
    return summary


__all__ = ["MaskedLanguageJob", "chunks", "mask_tokens", "pretrain_encoder"]
