"""One training loop for every student.

A student supplies a :class:`TrainingJob` — its model, its loss on a batch, its dev evaluation
and how it saves — and :class:`Trainer` does the rest, the same way for all of them:

* seeding (Python, numpy, torch) and torch's CPU thread count (restored afterwards);
* the epoch's batches (:func:`seeded_batches` unless the job orders its own), AdamW over the
  job's parameter groups (:func:`adamw`: fused where torch has it), a :class:`Schedule` with
  linear warm-up, gradient clipping, bf16 autocast on CUDA (``precision``: also on a CPU, or
  never; :func:`uses_bf16`);
* an optional moving average of the weights (:class:`WeightAverage`, ``ema``): dev scoring and
  saving see the averaged weights;
* after each epoch: dev evaluation, the best checkpoint (or, ``keep_best=False``, the latest) kept
  in ``OUT``, one record appended to ``OUT/metrics.jsonl``;
* ``OUT/last/``: the latest state — model weights, optimizer, schedule, random states, average,
  run progress — as safetensors + JSON (no pickle), so ``resume=True`` continues from the saved
  step with the same batches; a step or time limit stops early and saves it.

Layout of ``OUT/last/``: ``model.safetensors`` (the job module's ``state_dict``),
``trainer_state.safetensors`` (every other tensor) and ``trainer_state.json`` (the rest, with
references to those tensors; :mod:`.trainer_state`). torch is imported inside the functions,
so importing this module is light.
"""

from __future__ import annotations

import json
import random
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .console import logger
from .errors import TrainingError
from .runtime import HF_WEIGHTS_FILE
from .trainer_state import STATE_FILE, load_state, restore_rng_states, rng_states, save_state

METRICS_FILE = "metrics.jsonl"
LAST = "last"
POOL_BATCHES = 32

log = logger("train")


# ---------------------------------------------------------------------------- building blocks
def seeded_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int,
                   groups: Iterable[Sequence[int]] | None = None) -> list[list[int]]:
    """The epoch's batches of example indices, a function of ``(seed, epoch)`` only.

    Within each group (default: one group of every example; a group never shares a batch with
    another, e.g. one task per batch) a seeded shuffle, then pools of ``32 × batch_size``
    sorted by length (less padding), cut into batches; finally the batch order is shuffled."""
    rng = random.Random(seed * 100_003 + epoch)
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for members in (groups if groups is not None else [range(len(lengths))]):
        order = list(members)
        rng.shuffle(order)
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
            batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


@dataclass(frozen=True)
class Schedule:
    """Learning-rate factor per optimizer step: linear warm-up over ``warmup_steps``, then
    linear decay to 0 at ``total_steps`` (``decay_from_start``: the decay runs over the whole
    run and the warm-up multiplies it, BERT's MLM recipe)."""

    warmup_steps: int
    total_steps: int
    decay_from_start: bool = False

    @classmethod
    def from_ratio(cls, total_steps: int, warmup_ratio: float) -> "Schedule":
        """Warm-up over ``round(total × ratio)`` steps (at least one)."""
        return cls(max(1, int(round(total_steps * warmup_ratio))), total_steps)

    def factor(self, step: int) -> float:
        warmup, total = self.warmup_steps, self.total_steps
        if self.decay_from_start:
            return min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / total)
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))


class WeightAverage:
    """An exponential moving average of the trainable ``parameters`` (``ema``).

    After every optimizer step ``avg ← d·avg + (1 − d)·w`` with ``d = min(decay, (1 + n) /
    (10 + n))`` after ``n`` updates, so early updates are not swamped by randomly initialised
    heads. :meth:`applied` swaps the average in for dev scoring and saving; training goes on
    from the raw weights."""

    def __init__(self, parameters: Iterable, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be between 0 and 1 (exclusive), got {decay}")
        self.parameters = [p for p in parameters if p.requires_grad]
        self.decay = decay
        self.updates = 0
        self.average = [p.detach().clone() for p in self.parameters]

    def update(self) -> None:
        import torch

        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        with torch.no_grad():
            for average, p in zip(self.average, self.parameters):
                average.lerp_(p.detach(), 1.0 - d)  # d·avg + (1 − d)·w in one pass

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw ones come back after."""
        import torch

        with torch.no_grad():
            raw = [p.detach().clone() for p in self.parameters]
            for p, a in zip(self.parameters, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.parameters, raw):
                    p.copy_(r)

    def state(self) -> dict[str, Any]:
        return {"updates": self.updates, "average": self.average}

    def load_state(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        for average, saved in zip(self.average, state["average"]):
            average.copy_(saved)


def adamw(parameter_groups: list[dict[str, Any]]) -> Any:
    """AdamW over ``parameter_groups``, fused into one kernel per step where torch has it for
    the parameters' device and dtype (CPU and CUDA since torch 2.4): the same update, on the
    CPU ~5x cheaper than the per-tensor loop, which took a quarter of a MiniLM training step
    (``benchmarks/optimizer_step.py``); the per-tensor loop otherwise."""
    import torch

    try:
        return torch.optim.AdamW(parameter_groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(parameter_groups)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators."""
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op CPU threads set to ``threads`` (when given) inside the block."""
    import torch

    saved = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def uses_bf16(device: str, precision: str = "auto") -> bool:
    """Whether training on ``device`` runs its forward pass in bf16 autocast: ``precision``
    ``auto`` → on CUDA only; ``bf16`` → on either (on a CPU it pays where the CPU has AMX);
    ``fp32`` → never."""
    if precision not in PRECISIONS:
        raise TrainingError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                            f"{precision!r}")
    return precision == "bf16" or (precision == "auto" and device.startswith("cuda"))


def autocast_for(device: str, precision: str = "auto") -> Any:
    """The autocast context of :func:`uses_bf16` (disabled: plain float32)."""
    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=uses_bf16(device, precision))


def resumable(out: Path) -> bool:
    """Whether ``out`` holds the saved state of a run that can be resumed."""
    return (out / LAST / STATE_FILE).is_file()


def ensure_empty(out: Path) -> None:
    """Refuse to write a new run into a folder that already holds something."""
    if out.exists() and any(out.iterdir()):
        hint = " (pass --resume to continue the run saved there)" if resumable(out) else ""
        raise TrainingError(f"{out} exists and is not empty; choose another --out{hint}")


def check_output(out: Path, resume: bool) -> None:
    """What a run may write into: a folder holding a saved run when ``resume`` (else, as for a
    new run, an empty one). Students call it before reading their data, so a full folder is a
    quick error; :meth:`Trainer.run` calls it again for students that do not."""
    if not (resume and resumable(out)):
        ensure_empty(out)


# ---------------------------------------------------------------------------- the job
class TrainingJob(ABC):
    """What a student supplies to :class:`Trainer`.

    ``module``: a torch module holding every trained parameter (set by :meth:`build` at the
    latest); ``lengths`` and ``groups``: per training example, for :func:`seeded_batches`."""

    module: Any = None
    lengths: Sequence[int] = ()
    groups: Sequence[Sequence[int]] | None = None

    def build(self, device: str) -> None:
        """Create the model (after seeding) and move it to ``device``; default: move."""
        self.module.to(device)

    @abstractmethod
    def parameter_groups(self) -> list[dict[str, Any]]:
        """AdamW parameter groups, each with its ``lr`` and ``weight_decay``."""

    def schedule(self, total_steps: int, warmup_ratio: float) -> Schedule:
        return Schedule.from_ratio(total_steps, warmup_ratio)

    def batches(self, epoch: int, batch_size: int, seed: int) -> list[list[int]]:
        """The epoch's batches (a function of the epoch: a resumed run skips what it did)."""
        return seeded_batches(self.lengths, batch_size, seed, epoch, self.groups)

    @abstractmethod
    def loss(self, batch: list[int], device: str) -> Any:
        """The training loss of the examples ``batch`` (a scalar tensor)."""

    @abstractmethod
    def evaluate(self, device: str) -> tuple[float, dict[str, Any]]:
        """``(score, metrics)`` on dev data: higher scores are better; the metrics go into the
        epoch's record."""

    @abstractmethod
    def save(self, directory: Path, record: dict[str, Any]) -> None:
        """Write the servable model (with its card) for the epoch ``record`` to ``directory``."""

    def state(self) -> dict[str, Any]:
        """Anything else a resumed run needs (e.g. a private random generator's state)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""


#: the training precisions (:func:`uses_bf16`); ``auto``: bf16 autocast on CUDA, float32 on CPU
PRECISIONS = ("auto", "fp32", "bf16")
#: what every ``--precision`` option says
PRECISION_HELP = ("auto = bf16 autocast on CUDA, fp32 on CPU; bf16 = bf16 autocast on the CPU "
                  "too (for CPUs with AMX: MPNet 1.2x faster on rest14, "
                  "benchmarks/cpu_bf16.py); fp32.")


@dataclass
class TrainSettings:
    """How the loop runs (what the job learns is the job's business)."""

    epochs: int = 10
    batch_size: int = 16
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    ema: float | None = None
    keep_best: bool = True
    max_steps: int | None = None
    max_seconds: float | None = None
    save_every: int = 0
    log_every: int = 50
    resume: bool = False


@dataclass
class RunState:
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------- the loop
class Trainer:
    """Runs a :class:`TrainingJob` to ``out`` with ``settings``; ``recipe`` (what the run is
    configured by) must match when a run is resumed."""

    def __init__(self, job: TrainingJob, settings: TrainSettings, out: str | Path,
                 recipe: dict[str, Any] | None = None,
                 log: Callable[[str], None] = log) -> None:
        self.job = job
        self.settings = settings
        self.out = Path(out)
        self.recipe = json.loads(json.dumps(recipe or {}))  # as it reads back from JSON
        self.log = log

    @property
    def resuming(self) -> bool:
        return self.settings.resume and resumable(self.out)

    def run(self) -> dict[str, Any]:
        """Train (or continue) the run; returns its summary."""
        from .student_support import pick_device

        check_output(self.out, self.settings.resume)
        device = pick_device(self.settings.device)
        with torch_threads(self.settings.threads):
            return self._run(device)

    # ------------------------------------------------------------------ checkpoints
    def _save_last(self, state: RunState, optimizer: Any, scheduler: Any,
                   average: WeightAverage | None) -> None:
        from safetensors.torch import save_file

        last = self.out / LAST
        last.mkdir(parents=True, exist_ok=True)
        weights = {name: tensor.detach().cpu().contiguous().clone()
                   for name, tensor in self.job.module.state_dict().items()}
        save_file(weights, str(last / HF_WEIGHTS_FILE))
        save_state(last, {"run": asdict(state), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "rng": rng_states(),
                          "average": average.state() if average else None,
                          "job": self.job.state(), "recipe": self.recipe})

    def _restore(self, optimizer: Any, scheduler: Any, average: WeightAverage | None,
                 device: str) -> RunState:
        from safetensors.torch import load_file

        last = self.out / LAST
        saved = load_state(last)
        if saved["recipe"] != self.recipe:
            raise TrainingError(f"{last}: the saved run used other settings "
                                f"({saved['recipe']}); resume with the same ones")
        self.job.module.load_state_dict(load_file(str(last / HF_WEIGHTS_FILE), device=device))
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if average is not None and saved["average"] is not None:
            average.load_state(saved["average"])
        self.job.load_state(saved["job"])
        restore_rng_states(saved["rng"])
        return RunState(**saved["run"])

    def _record(self, record: dict[str, Any]) -> None:
        with (self.out / METRICS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ run
    def _run(self, device: str) -> dict[str, Any]:
        import torch

        settings, job = self.settings, self.job
        resuming = self.resuming
        if not resuming:
            seed_everything(settings.seed)
        job.build(device)
        self.out.mkdir(parents=True, exist_ok=True)
        steps_per_epoch = len(job.batches(0, settings.batch_size, settings.seed))
        if not steps_per_epoch:
            raise TrainingError("no training examples")
        optimizer = adamw(job.parameter_groups())
        schedule = job.schedule(steps_per_epoch * settings.epochs, settings.warmup_ratio)
        # a plain function: LambdaLR's state then holds no copy of it
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: schedule.factor(s))
        average = (WeightAverage(job.module.parameters(), settings.ema) if settings.ema
                   else None)
        state = RunState()
        if resuming:
            state = self._restore(optimizer, scheduler, average, device)
            self.log(f"resuming at epoch {state.epoch + 1}, step {state.global_step}")
        autocast = autocast_for(device, settings.precision)
        started = time.perf_counter()
        interrupted = False
        while state.epoch < settings.epochs and not interrupted:
            job.module.train()
            batches = job.batches(state.epoch, settings.batch_size, settings.seed)
            epoch_started = time.perf_counter()
            running, seen = 0.0, 0
            for index in range(state.step_in_epoch, len(batches)):
                with autocast:
                    loss = job.loss(batches[index], device)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(job.module.parameters(),
                                                   settings.max_grad_norm)
                optimizer.step()
                scheduler.step()
                if average is not None:
                    average.update()
                state.step_in_epoch = index + 1
                state.global_step += 1
                running += float(loss.detach())
                seen += 1
                if settings.log_every and state.global_step % settings.log_every == 0:
                    self.log(f"epoch {state.epoch + 1}/{settings.epochs} step {index + 1}/"
                             f"{len(batches)} loss {running / seen:.4f} "
                             f"lr {scheduler.get_last_lr()[0]:.2e}")
                if settings.save_every and state.global_step % settings.save_every == 0:
                    self._save_last(state, optimizer, scheduler, average)
                out_of_steps = (settings.max_steps is not None
                                and state.global_step >= settings.max_steps)
                out_of_time = (settings.max_seconds is not None
                               and time.perf_counter() - started >= settings.max_seconds)
                if (out_of_steps or out_of_time) and state.step_in_epoch < len(batches):
                    interrupted = True
                    break
            if interrupted:
                self._save_last(state, optimizer, scheduler, average)
                self._record({"event": "interrupted", "epoch": state.epoch + 1,
                              "step": state.global_step, "train_loss": running / max(seen, 1)})
                self.log(f"stopped at step {state.global_step} (step or time limit); "
                         "resume continues")
                break
            record = self._end_epoch(state, running, seen, epoch_started, scheduler, average,
                                     device)
            self._save_last(state, optimizer, scheduler, average)
            self._record(record)
            out_of_time = (settings.max_seconds is not None
                           and time.perf_counter() - started >= settings.max_seconds)
            out_of_steps = (settings.max_steps is not None
                            and state.global_step >= settings.max_steps)
            interrupted = (out_of_time or out_of_steps) and state.epoch < settings.epochs
        return {"out": str(self.out), "epochs_done": state.epoch, "steps": state.global_step,
                "interrupted": interrupted, "best_epoch": state.best_epoch,
                "best_score": state.best_score, "seconds": round(time.perf_counter() - started, 2),
                "device": device,
                "precision": "bf16" if uses_bf16(device, settings.precision) else "fp32",
                "history": state.history}

    def _end_epoch(self, state: RunState, running: float, seen: int, epoch_started: float,
                   scheduler: Any, average: WeightAverage | None, device: str
                   ) -> dict[str, Any]:
        """Dev evaluation (with the averaged weights when averaging), the kept checkpoint, and
        the epoch's record."""
        record: dict[str, Any] = {"epoch": state.epoch + 1, "step": state.global_step,
                                  "train_loss": round(running / max(seen, 1), 6),
                                  "epoch_seconds": round(time.perf_counter() - epoch_started, 2),
                                  "lr": scheduler.get_last_lr()[0]}
        with average.applied() if average is not None else nullcontext():
            score, metrics = self.job.evaluate(device)
            record.update(metrics)
            improved = (not self.settings.keep_best or state.best_score is None
                        or score > state.best_score)
            if improved:
                state.best_score, state.best_epoch = score, state.epoch + 1
                self.job.save(self.out, dict(record))
        record["best_epoch"] = state.best_epoch
        state.history.append(record)
        state.epoch += 1
        state.step_in_epoch = 0
        shown = ", ".join(f"{k} {v}" for k, v in metrics.items() if not isinstance(v, dict))
        self.log(f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, {shown}"
                 f"{' (best)' if improved else ''}")
        return record


__all__ = ["LAST", "METRICS_FILE", "PRECISION_HELP", "PRECISIONS", "Schedule", "TrainSettings",
           "Trainer", "TrainingJob", "WeightAverage", "adamw", "autocast_for", "check_output",
           "ensure_empty", "resumable", "seed_everything", "seeded_batches", "torch_threads",
           "uses_bf16"]
