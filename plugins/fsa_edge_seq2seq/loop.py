"""The training loop shared by pre-training and fine-tuning, with resumable checkpoints.

Layout of an output directory ``OUT``:

* ``OUT/``: the kept model (fine-tuning: best dev F1; pre-training: the latest epoch), a Hugging
  Face directory with its tokenizer and ``fsa_edge.json`` card;
* ``OUT/last/``: the latest checkpoint, with ``trainer_state.pt`` (optimizer, scheduler, epoch,
  step, RNG states, best score) so that ``--resume`` continues from the saved step;
* ``OUT/metrics.jsonl``: one JSON record per epoch (and one at an interruption).

Batches: within each epoch a seeded shuffle, then length-sorted pools of 32 batches (less
padding on CPU), then the batch order shuffled. The order is a function of (seed, epoch), so a
resumed run skips exactly the batches already seen. Requires torch and transformers.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.student_support import pick_device

from .text import LoadedStudent

STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.jsonl"
LAST = "last"
POOL_BATCHES = 32


@dataclass
class Settings:
    """Everything a run is configured by (recorded in the card as the recipe)."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    decoder_lr_scale: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    label_smoothing: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 42
    max_input_length: int = 128
    max_output_length: int = 128
    device: str = "auto"
    threads: int | None = None
    eval_batch_size: int = 64
    max_steps: int | None = None
    max_seconds: float | None = None
    save_every: int = 0
    log_every: int = 50
    resume: bool = False

    def recipe(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("device", "threads", "eval_batch_size", "max_steps", "max_seconds", "save_every",
                    "log_every", "resume"):
            data.pop(key)
        return data


@dataclass
class Example:
    """A tokenised pair."""

    source: list[int]
    target: list[int]


@dataclass
class RunState:
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def log(message: str) -> None:
    print(f"fsa-edge train: {message}", file=sys.stderr, flush=True)


def make_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches of example indices (deterministic in seed and epoch)."""
    rng = random.Random(seed * 100_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


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


def _optimizer(model: Any, settings: Settings) -> Any:
    import torch

    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        decoder = "decoder" in name and "embed" not in name and "shared" not in name
        no_decay = parameter.ndim < 2
        groups.setdefault((decoder, no_decay), []).append(parameter)
    param_groups = [{"params": params,
                     "lr": settings.lr * (settings.decoder_lr_scale if decoder else 1.0),
                     "weight_decay": 0.0 if no_decay else settings.weight_decay}
                    for (decoder, no_decay), params in sorted(groups.items())]
    return torch.optim.AdamW(param_groups, lr=settings.lr)


def _scheduler(optimizer: Any, total_steps: int, warmup_ratio: float) -> Any:
    import torch

    warmup = max(1, int(round(total_steps * warmup_ratio)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _rng_states() -> dict[str, Any]:
    import numpy
    import torch

    states = {"python": random.getstate(), "numpy": numpy.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    import numpy
    import torch

    random.setstate(states["python"])
    numpy.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_everything(seed: int) -> None:
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


def save_model(student: LoadedStudent, directory: Path, card: ModelCard) -> None:
    """A Hugging Face directory + tokenizer + card (what ``fsa-edge convert`` reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    student.model.save_pretrained(str(directory))
    student.tokenizer.save_pretrained(str(directory))
    card.save(directory)


class Trainer:
    """Runs epochs over tokenised examples; ``evaluate`` scores the model after each epoch
    (higher is better) and decides which checkpoint is kept in ``out``."""

    def __init__(self, student: LoadedStudent, train: Sequence[Example], settings: Settings,
                 out: Path, card_for: Callable[[dict[str, Any]], ModelCard],
                 evaluate: Callable[[], tuple[float, dict[str, Any]]],
                 keep_best: bool = True) -> None:
        if not train:
            raise TrainingError("no training examples")
        self.student = student
        self.train = list(train)
        self.settings = settings
        self.out = Path(out)
        self.card_for = card_for
        self.evaluate = evaluate
        self.keep_best = keep_best
        self.lengths = [len(e.source) + len(e.target) for e in self.train]
        self.steps_per_epoch = len(make_batches(self.lengths, settings.batch_size, 0, 0))
        self.total_steps = self.steps_per_epoch * settings.epochs
        self.pad = student.tokenizer.pad_token_id
        if self.pad is None:
            raise TrainingError("the student's tokenizer has no pad token")

    # ------------------------------------------------------------------ checkpoints
    def _save_last(self, state: RunState, optimizer: Any, scheduler: Any) -> None:
        import torch

        last = self.out / LAST
        save_model(self.student, last, self.card_for({"saved_at_step": state.global_step}))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "run": asdict(state), "rng": _rng_states(),
                    "recipe": self.settings.recipe()}, last / STATE_FILE)

    def _restore(self, optimizer: Any, scheduler: Any) -> RunState:
        import torch

        saved = torch.load(self.out / LAST / STATE_FILE, weights_only=False)
        if saved.get("recipe") != self.settings.recipe():
            raise TrainingError(f"{self.out / LAST}: the saved run used other settings "
                                f"({saved.get('recipe')}); resume with the same ones")
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        _set_rng_states(saved["rng"])
        return RunState(**saved["run"])

    def _record(self, record: dict[str, Any]) -> None:
        with (self.out / METRICS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        """Train (or continue) the run; torch's thread count is restored afterwards."""
        import torch

        threads = torch.get_num_threads()
        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> dict[str, Any]:
        import torch

        settings = self.settings
        device = pick_device(settings.device)
        self.out.mkdir(parents=True, exist_ok=True)
        resuming = settings.resume and (self.out / LAST / STATE_FILE).is_file()
        if not settings.resume and (self.out / LAST).exists():
            raise TrainingError(f"{self.out} already holds a run; pass --resume to continue it "
                                "or choose another --out")
        if not resuming:
            seed_everything(settings.seed)
        model = self.student.model.to(device)
        optimizer = _optimizer(model, settings)
        scheduler = _scheduler(optimizer, self.total_steps, settings.warmup_ratio)
        state = self._restore(optimizer, scheduler) if resuming else RunState()
        if resuming:
            log(f"resuming at epoch {state.epoch + 1}, step {state.global_step}")
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda")
                    else torch.autocast("cpu", enabled=False))
        started = time.perf_counter()
        interrupted = False
        while state.epoch < settings.epochs and not interrupted:
            model.train()
            batches = make_batches(self.lengths, settings.batch_size, settings.seed, state.epoch)
            epoch_started = time.perf_counter()
            running, seen = 0.0, 0
            for index in range(state.step_in_epoch, len(batches)):
                batch = collate([self.train[i] for i in batches[index]], self.pad, device)
                with autocast:
                    loss = batch_loss(model, batch, settings.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                optimizer.step()
                scheduler.step()
                state.step_in_epoch = index + 1
                state.global_step += 1
                running += float(loss.detach())
                seen += 1
                if settings.log_every and state.global_step % settings.log_every == 0:
                    log(f"epoch {state.epoch + 1}/{settings.epochs} step {index + 1}/{len(batches)} "
                        f"loss {running / seen:.4f} lr {scheduler.get_last_lr()[0]:.2e}")
                if settings.save_every and state.global_step % settings.save_every == 0:
                    self._save_last(state, optimizer, scheduler)
                out_of_steps = (settings.max_steps is not None
                                and state.global_step >= settings.max_steps)
                out_of_time = (settings.max_seconds is not None
                               and time.perf_counter() - started >= settings.max_seconds)
                if out_of_steps or out_of_time:
                    interrupted = state.step_in_epoch < len(batches)
                    if interrupted:
                        break
            if interrupted:
                self._save_last(state, optimizer, scheduler)
                self._record({"event": "interrupted", "epoch": state.epoch + 1,
                              "step": state.global_step,
                              "train_loss": running / max(seen, 1)})
                log(f"stopped at step {state.global_step} (step or time limit); --resume continues")
                break
            score, metrics = self.evaluate()
            record = {"epoch": state.epoch + 1, "step": state.global_step,
                      "train_loss": round(running / max(seen, 1), 6),
                      "epoch_seconds": round(time.perf_counter() - epoch_started, 2),
                      "lr": scheduler.get_last_lr()[0], **metrics}
            improved = state.best_score is None or score > state.best_score or not self.keep_best
            if improved:
                state.best_score, state.best_epoch = score, state.epoch + 1
            record["best_epoch"] = state.best_epoch
            state.history.append(record)
            state.epoch += 1
            state.step_in_epoch = 0
            if improved:
                save_model(self.student, self.out, self.card_for(
                    {"epoch": record["epoch"], "step": record["step"], **metrics}))
            self._save_last(state, optimizer, scheduler)
            self._record(record)
            if (settings.max_seconds is not None
                    and time.perf_counter() - started >= settings.max_seconds):
                interrupted = state.epoch < settings.epochs
            log(f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
                f"{', '.join(f'{k} {v}' for k, v in metrics.items() if not isinstance(v, dict))}"
                f"{' (best)' if improved else ''}")
        return {"out": str(self.out), "epochs_done": state.epoch, "steps": state.global_step,
                "interrupted": interrupted, "best_epoch": state.best_epoch,
                "best_score": state.best_score, "seconds": round(time.perf_counter() - started, 2),
                "history": state.history}


__all__ = ["Example", "Settings", "Trainer", "batch_loss", "collate", "log", "make_batches",
           "mean_loss", "save_model", "seed_everything"]
