"""Pre-training the tagger's encoder on a teacher's sentence states (no label of any kind).

A MiniLM student reads film and Yelp sentences far worse than its MPNet teacher when both are
probed frozen (benchmarks/README.md, "Which encoder knows sentence polarity"); fine-tuning on the
teacher's three sentence probabilities alone did not close that. Here the student learns more of
what the teacher has, on unlabelled texts: the teacher's mean piece state — through a learned
projection from the student's width to the teacher's, the squared error divided by the variance of
the teacher's states — and the teacher's sentence-head distribution at that state (KL at
temperature ``T``, scaled by ``T²``), which weighs the directions that carry polarity. The teacher
is a tagger directory with a sentence head (converted or not); its states are computed once,
before training. The result is a BERT/MPNet directory for ``fsa-edge train tagger finetune
--student OUT`` (and ``train_default.py --student OUT``) plus the projection in
``projection.npz``. The loop is the core's :class:`fsa_edge.trainer.Trainer`. Requires torch and
transformers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import InputError, TrainingError
from fsa_edge.runtime import TOKENIZER_FILES
from fsa_edge.trainer import Trainer, TrainingJob, TrainSettings, check_output, log
from fsa_edge.training import HeldOut, in_text_slice, sentence_key

from .head_names import SENTENCE_BIAS, SENTENCE_WEIGHT
from .id_batch import pad_id_batch
from .network import masked_mean
from .runtime import load_tokenizer
from .sentence_head import has_sentence_head
from .training import encoder_dir, special_token_id

PROJECTION_FILE = "projection.npz"
STAGE = "pretrain-teacher-states"


def read_texts(paths: Iterable[str | Path], held_out: HeldOut | None = None
               ) -> tuple[list[str], dict[str, int]]:
    """The distinct texts (by :func:`~fsa_edge.training.sentence_key`) of JSONL files of
    ``{"text": …}`` objects, less the ``held_out`` ones, and the counts of what was read,
    kept, held out and repeated; a row without a text is an :class:`InputError` naming its file,
    line and field."""
    from fsa_edge.jsonlines import iter_json_objects

    texts: list[str] = []
    seen: set[str] = set()
    counts = {"rows": 0, "kept": 0, "held_out": 0, "duplicates": 0}
    for path in paths:
        for line, record in iter_json_objects(path):
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise InputError("must be a non-empty string", path=path, line=line,
                                 field="text")
            counts["rows"] += 1
            key = sentence_key(text)
            if held_out is not None and text in held_out:
                counts["held_out"] += 1
            elif key in seen:
                counts["duplicates"] += 1
            else:
                seen.add(key)
                texts.append(text)
    counts["kept"] = len(texts)
    return texts, counts


def teacher_states(teacher: str | Path, texts: Sequence[str], *, device: str = "auto",
                   threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The teacher's mean piece states ``(len(texts), dim)`` and its sentence head's weight
    ``(3, dim)`` and bias ``(3,)``; a teacher without a sentence head is a TrainingError."""
    from .backend import TaggerBackend

    backend = TaggerBackend(teacher, device=device, cpu_threads=threads)
    try:
        heads = backend.runtime.heads
        if "sentence" not in backend.card.tasks or not has_sentence_head(heads):
            raise TrainingError(f"{teacher}: the teacher has no sentence head (fit one with "
                                "`fsa-edge train tagger sentence-head`)")
        states = backend.runtime.sentence_features(list(texts))
        return (states.astype(np.float32), heads[SENTENCE_WEIGHT].astype(np.float32),
                heads[SENTENCE_BIAS].astype(np.float32))
    finally:
        backend.close()


class SentenceStateJob(TrainingJob):
    """The student's encoder plus a linear projection to the teacher's width; loss: scaled
    squared error to the teacher's states plus ``T²``·KL to its sentence head at them; dev score:
    the share of dev texts whose head answer through the projection is the teacher's."""

    def __init__(self, source: Path, tokenizer: Any, texts: Sequence[str], states: np.ndarray,
                 head: tuple[np.ndarray, np.ndarray], dev: Sequence[int], train: Sequence[int],
                 *, lr: float, head_lr: float, temperature: float) -> None:
        self.source, self.tokenizer = source, tokenizer
        self.lr, self.head_lr, self.temperature = lr, head_lr, temperature
        self.pad = special_token_id(tokenizer, "pad") or 0
        self.rows = [(e.ids, [not s for s in e.special_tokens_mask])
                     for e in tokenizer.encode_batch(list(texts))]
        self.states_np, self.head_np = states, head
        self.train, self.dev = list(train), list(dev)
        self.lengths = [len(self.rows[i][0]) for i in self.train]
        self.scale = float(states[self.train].var()) or 1.0
        self.encoder: Any = None
        self.projection: Any = None

    def build(self, device: str) -> None:
        import torch
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(str(self.source), dtype=torch.float32)
        self.projection = torch.nn.Linear(self.encoder.config.hidden_size,
                                          self.states_np.shape[1])
        self.module = torch.nn.ModuleDict({"encoder": self.encoder,
                                           "projection": self.projection}).to(device)
        self.states = torch.from_numpy(self.states_np)
        self.weight, self.bias = (torch.from_numpy(a).to(device) for a in self.head_np)

    def parameter_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.encoder.parameters()), "lr": self.lr,
                 "weight_decay": 0.01},
                {"params": list(self.projection.parameters()), "lr": self.head_lr,
                 "weight_decay": 0.0}]

    def batches(self, epoch: int, batch_size: int, seed: int) -> list[list[int]]:
        from fsa_edge.trainer import seeded_batches

        return [[self.train[i] for i in batch]
                for batch in seeded_batches(self.lengths, batch_size, seed, epoch)]

    def _projected(self, items: Sequence[int], device: str) -> Any:
        ids, attention = pad_id_batch([self.rows[i][0] for i in items], self.pad)
        own, _ = pad_id_batch([[int(o) for o in self.rows[i][1]] for i in items], 0)
        hidden = self.encoder(input_ids=ids.to(device),
                              attention_mask=attention.to(device)).last_hidden_state
        return self.projection(masked_mean(hidden, own.to(device))).float()

    def _head(self, states: Any) -> Any:
        """The teacher's sentence-head logits at ``states`` (teacher-width)."""
        return states @ self.weight.T + self.bias

    def _terms(self, projected: Any, items: Sequence[int], device: str) -> tuple[Any, Any]:
        import torch

        target = self.states[list(items)].to(device)
        squared = ((projected - target) ** 2).mean() / self.scale
        t = self.temperature
        student = torch.log_softmax(self._head(projected) / t, -1)
        teacher = torch.log_softmax(self._head(target) / t, -1)
        kl = torch.nn.functional.kl_div(student, teacher, log_target=True,
                                        reduction="batchmean") * t * t
        return squared, kl

    def loss(self, batch: list[int], device: str) -> Any:
        squared, kl = self._terms(self._projected(batch, device), batch, device)
        return squared + kl

    def evaluate(self, device: str) -> tuple[float, dict[str, Any]]:
        import torch

        self.module.eval()
        same, squared_sum = 0, 0.0
        with torch.no_grad():
            for start in range(0, len(self.dev), 64):
                items = self.dev[start:start + 64]
                projected = self._projected(items, device)
                squared, _ = self._terms(projected, items, device)
                squared_sum += float(squared) * len(items)
                same += int((self._head(projected).argmax(-1)
                             == self._head(self.states[items].to(device)).argmax(-1)).sum())
        self.module.train()
        agreement = 100.0 * same / max(len(self.dev), 1)
        return agreement, {"dev_agreement": round(agreement, 2),
                           "dev_scaled_squared_error": round(squared_sum / max(len(self.dev), 1),
                                                             6)}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(str(directory))
        for name in TOKENIZER_FILES:
            if (self.source / name).is_file():
                shutil.copy2(self.source / name, directory / name)
        np.savez(directory / PROJECTION_FILE,
                 weight=self.projection.weight.detach().cpu().float().numpy(),
                 bias=self.projection.bias.detach().cpu().float().numpy())
        ModelCard(backend="tagger", max_output_length=0,
                  extra={"stage": STAGE, "epoch": record["epoch"], "metrics": record}).save(
                      directory)


def pretrain_on_teacher_states(text_files: Sequence[str | Path], *, teacher: str | Path,
                               student: str = "minilm", out: str | Path, epochs: int = 2,
                               batch_size: int = 16, lr: float = 5e-5, head_lr: float = 1e-3,
                               temperature: float = 2.0, max_length: int = 128,
                               held_out_texts: Sequence[str] = (), dev_fraction: float = 0.1,
                               seed: int = 42, device: str = "auto", precision: str = "auto",
                               threads: int | None = None, resume: bool = False,
                               log_every: int = 50) -> dict[str, Any]:
    """Teach ``student``'s encoder the sentence states of ``teacher`` on the texts of
    ``text_files`` (less ``held_out_texts``); writes the latest epoch to ``out``."""
    from fsa_edge.student_support import quiet_transformers

    out = Path(out)
    check_output(out, resume)
    if not 0 < dev_fraction < 1:
        raise TrainingError("dev_fraction must be in (0, 1)")
    if temperature <= 0:
        raise TrainingError(f"the temperature must be positive, got {temperature}")
    texts, counts = read_texts(text_files, HeldOut(held_out_texts))
    dev: list[int] = []
    train: list[int] = []
    for index, text in enumerate(texts):
        (dev if in_text_slice(text, dev_fraction) else train).append(index)
    if not dev or len(train) < 2:
        raise TrainingError(f"too few texts to pre-train on ({len(texts)} after the guard)")
    quiet_transformers()
    source = encoder_dir(student)
    tokenizer = load_tokenizer(source, max_length)
    log(f"teacher states of {len(texts)} texts from {teacher}")
    states, weight, bias = teacher_states(teacher, texts, device=device, threads=threads)
    job = SentenceStateJob(source, tokenizer, texts, states, (weight, bias), dev, train, lr=lr,
                           head_lr=head_lr, temperature=temperature)
    recipe = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "head_lr": head_lr,
              "temperature": temperature, "max_length": max_length, "seed": seed,
              "dev_fraction": dev_fraction, "precision": precision}
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, warmup_ratio=0.06, seed=seed,
                             device=device, precision=precision, threads=threads,
                             keep_best=False, log_every=log_every, resume=resume)
    trained = Trainer(job, settings, out, recipe=recipe).run()
    summary = {"stage": STAGE, "student_init": student, "teacher": str(teacher),
               "texts": counts, "train_texts": len(train), "dev_texts": len(dev),
               "recipe": recipe, **trained}
    ModelCard(backend="tagger", max_output_length=0, extra=summary).save(out)
    (out / "pretrain_summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                               encoding="utf-8")
    return summary


__all__ = ["PROJECTION_FILE", "SentenceStateJob", "pretrain_on_teacher_states",
           "read_texts", "teacher_states"]
