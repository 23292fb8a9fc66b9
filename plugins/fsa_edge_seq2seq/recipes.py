"""The two recipes: pre-training on a teacher corpus, fine-tuning on gold task data.

Pre-training: review → teacher response, plain cross-entropy, no task prefix, input ≤128 and
target ≤400 tokens by default, newlines of the response kept as a reserved token. A small
held-out slice of the corpus gives a loss before training and after each epoch.

Fine-tuning: review → the task's linearised target; after each epoch greedy decodes of the dev
set are parsed by ``task.parse`` and scored with :func:`fsa_edge.metric.evaluate`; the
checkpoint with the best dev F1 of the selection task (the first task) is kept. Several tasks
train together with their task prefixes (card ``task_prefix=True``). Requires torch and
transformers.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.metric import evaluate as score
from fsa_edge.readers import read_dataset
from fsa_edge.tasks import SlotTask
from fsa_edge.student_support import pick_device
from fsa_edge.trainer import check_output, ensure_empty, log
from fsa_edge.training import CorpusPair, HeldOut, TaskData

from .loop import Example, Seq2SeqJob, Settings, mean_loss, run
from .text import (LoadedStudent, decode, encode_sources, encode_targets, ensure_newline_token,
                   load_student)

PRETRAIN_TARGET_LENGTH = 400


def _student_for(spec: str, settings: Settings, out: Path, decoder_layers: int,
                 cross_attention: str = "random") -> LoadedStudent:
    """The student to train, built from ``spec`` (a resumed run then loads the weights saved
    in ``out/last``); a new run needs an empty ``out``."""
    check_output(out, settings.resume)
    return load_student(spec, decoder_layers=decoder_layers, seed=settings.seed,
                        cross_attention=cross_attention)


def _examples(student: LoadedStudent, sources: Sequence[str], targets: Sequence[str],
              settings: Settings, newline: str | None = None) -> list[Example]:
    tokenizer, config = student.tokenizer, student.model.config
    start = config.decoder_start_token_id
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    source_ids = encode_sources(tokenizer, sources, settings.max_input_length)
    target_ids = encode_targets(tokenizer, targets, settings.max_output_length, start, eos, newline)
    return [Example(s, t) for s, t in zip(source_ids, target_ids)]


def _card(student: LoadedStudent, settings: Settings, *, tasks: Sequence[str],
          task_prefix: bool, stage: str, extra: dict[str, Any]) -> ModelCard:
    return ModelCard(
        tasks=tuple(tasks), default_task=tasks[0], task_prefix=task_prefix,
        max_input_length=settings.max_input_length, max_output_length=settings.max_output_length,
        backend="transformers",
        extra={"stage": stage, "student_init": student.origin, "seed": settings.seed,
               "recipe": settings.recipe(), "newline_token": student.newline_token, **extra})


def pretrain(corpus: Sequence[CorpusPair], *, student: str, out: str | Path,
             decoder_layers: int = 3, dev_rows: int | None = None, cross_attention: str = "random",
             **options: Any) -> dict[str, Any]:
    """Pre-train ``student`` on review → response pairs; the latest epoch is kept in ``out``."""
    options.setdefault("max_output_length", PRETRAIN_TARGET_LENGTH)
    options.setdefault("epochs", 1)
    settings = Settings(**options)
    out = Path(out)
    loaded = _student_for(student, settings, out, decoder_layers, cross_attention)
    newline = ensure_newline_token(loaded)
    pairs = list(corpus)
    held = dev_rows if dev_rows is not None else min(64, max(1, len(pairs) // 20))
    if len(pairs) < 2:
        raise TrainingError("pre-training needs at least two corpus pairs")
    held = min(held, len(pairs) - 1)
    order = list(range(len(pairs)))
    random.Random(settings.seed).shuffle(order)
    dev = [pairs[i] for i in order[:held]]
    train = [pairs[i] for i in order[held:]]
    train_examples = _examples(loaded, [p.text for p in train], [p.response for p in train],
                               settings, newline)
    dev_examples = _examples(loaded, [p.text for p in dev], [p.response for p in dev],
                             settings, newline)
    device = pick_device(settings.device)
    pad = loaded.tokenizer.pad_token_id
    initial = (mean_loss(loaded.model.to(device), dev_examples, pad, device,
                         settings.eval_batch_size) if not settings.resume else None)
    if initial is not None:
        log(f"held-out loss before training: {initial:.4f} ({len(dev_examples)} pairs)")

    def evaluate() -> tuple[float, dict[str, Any]]:
        loss = mean_loss(loaded.model, dev_examples, pad, device, settings.eval_batch_size)
        return -loss, {"dev_loss": round(loss, 6)}

    def card_for(metrics: dict[str, Any]) -> ModelCard:
        return _card(loaded, settings, tasks=("atsa",), task_prefix=False, stage="pretrain",
                     extra={"metrics": {"initial_dev_loss": initial, **metrics},
                            "cross_attention": cross_attention,
                            "corpus_pairs": len(pairs)})

    summary = run(Seq2SeqJob(loaded, train_examples, settings, card_for, evaluate), out,
                  keep_best=False)
    return {"stage": "pretrain", "initial_dev_loss": initial, "train_pairs": len(train),
            "dev_pairs": len(dev), **summary}


def generate(student: LoadedStudent, inputs: Sequence[str], settings: Settings,
             device: str) -> list[str]:
    """Greedy decodes of ``inputs``, in order."""
    import torch

    model, tokenizer = student.model.to(device), student.tokenizer
    model.eval()
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    outputs: list[str] = [""] * len(inputs)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda")
                else torch.autocast("cpu", enabled=False))
    with torch.no_grad(), autocast:
        for start in range(0, len(order), settings.eval_batch_size):
            chunk = order[start:start + settings.eval_batch_size]
            batch = tokenizer([inputs[i] for i in chunk], truncation=True, padding=True,
                              max_length=settings.max_input_length, return_tensors="pt").to(device)
            ids = model.generate(input_ids=batch["input_ids"],
                                 attention_mask=batch["attention_mask"], num_beams=1,
                                 do_sample=False, max_new_tokens=settings.max_output_length)
            for i, text in zip(chunk, decode(tokenizer, ids)):
                outputs[i] = text
    return outputs


def _subset(items: list, fraction: float, seed: int) -> list:
    if not 0 < fraction <= 1:
        raise TrainingError(f"--train-fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return items
    keep = max(1, round(len(items) * fraction))
    chosen = sorted(random.Random(seed).sample(range(len(items)), keep))
    return [items[i] for i in chosen]


def dev_scores(student: LoadedStudent, tasks: Sequence[tuple[SlotTask, list]], prefix: bool,
               settings: Settings, device: str) -> dict[str, Any]:
    """Per task: the dev evaluation of greedy decodes (``{task: Evaluation.to_dict()}``)."""
    results = {}
    for task, examples in tasks:
        inputs = [(task.prefix if prefix else "") + ex.review.text for ex in examples]
        generated = generate(student, inputs, settings, device)
        predicted = {ex.review.id: task.parse(text, ex.review.text).elements
                     for ex, text in zip(examples, generated)}
        gold = {ex.review.id: ex.elements for ex in examples}
        results[task.name] = score(task, gold, predicted).to_dict()
    return results


def finetune(data: Sequence[TaskData], *, student: str, out: str | Path, decoder_layers: int = 3,
             train_fraction: float = 1.0, task_prefix: bool | None = None,
             held_out_texts: Sequence[str] = (), score_aux_dev: bool = True,
             cross_attention: str = "random",
             **options: Any) -> dict[str, Any]:
    """Fine-tune on one or more tasks; keep the best checkpoint by the first task's dev F1.

    No training sentence of any task may be a sentence of the selection task's dev set or of
    ``held_out_texts`` (a test set): such rows are dropped and counted (``dropped_overlap``).
    Data sets built from the same corpus split it differently, e.g. ASTE 14res train holds 241
    sentences of the benchmark's rest14 dev. ``score_aux_dev=False`` decodes only the selection
    task's dev set after each epoch (the others cost time and choose nothing)."""
    if not data:
        raise TrainingError("no task data given")
    settings = Settings(**options)
    out = Path(out)
    prefix = len(data) > 1 if task_prefix is None else task_prefix
    loaded = _student_for(student, settings, out, decoder_layers, cross_attention)
    sources: list[str] = []
    targets: list[str] = []
    dev_sets: list[tuple[SlotTask, list]] = [(item.task, read_dataset(item.dev).examples)
                                             for item in data]
    held_out = HeldOut([ex.review.text for ex in dev_sets[0][1]] + list(held_out_texts))
    dropped: dict[str, int] = {}
    for item, (_, dev) in zip(data, dev_sets):
        read = _subset(read_dataset(item.train).examples, train_fraction, settings.seed)
        train_examples, count = held_out.split(read)
        dropped[item.task.name] = dropped.get(item.task.name, 0) + count
        for ex in train_examples:
            sources.append((item.task.prefix if prefix else "") + ex.review.text)
            targets.append(item.task.linearise(ex.elements))
        log(f"{item.task.name}: {len(train_examples)} train ({count} dropped: held-out "
            f"sentences), {len(dev)} dev reviews")
    examples = _examples(loaded, sources, targets, settings)
    device = pick_device(settings.device)
    selection = data[0].task.name
    task_names = [item.task.name for item in data]

    def evaluate() -> tuple[float, dict[str, Any]]:
        results = dev_scores(loaded, dev_sets if score_aux_dev else dev_sets[:1], prefix,
                             settings, device)
        metrics: dict[str, Any] = {f"dev_f1_{name}": r["f1"] for name, r in results.items()}
        metrics["dev"] = results
        return results[selection]["f1"], metrics

    def card_for(metrics: dict[str, Any]) -> ModelCard:
        return _card(loaded, settings, tasks=task_names, task_prefix=prefix, stage="finetune",
                     extra={"metrics": metrics, "selection_task": selection,
                            "cross_attention": cross_attention,
                            "train_fraction": train_fraction, "dropped_overlap": dropped,
                            "data": {i.task.name: {"train": str(i.train), "dev": str(i.dev)}
                                     for i in data}})

    summary = run(Seq2SeqJob(loaded, examples, settings, card_for, evaluate), out)
    return {"stage": "finetune", "tasks": task_names, "selection_task": selection,
            "train_examples": len(examples), "dropped_overlap": dropped, **summary}


__all__ = ["dev_scores", "finetune", "generate", "init", "pretrain"]


def init(student: str, out: str | Path, *, decoder_layers: int = 3, seed: int = 0,
         cross_attention: str = "random") -> dict[str, Any]:
    """Write ``student`` as built (for a warm start or an encoder dir: the untrained BART) to ``out``."""
    from .loop import save_model

    out = Path(out)
    ensure_empty(out)
    loaded = load_student(student, decoder_layers=decoder_layers, seed=seed,
                          cross_attention=cross_attention)
    ensure_newline_token(loaded)
    settings = Settings(seed=seed)
    save_model(loaded, out, _card(loaded, settings, tasks=("atsa",), task_prefix=False,
                                  stage="init", extra={"decoder_layers": decoder_layers,
                                         "cross_attention": cross_attention}))
    parameters = sum(p.numel() for p in loaded.model.parameters())
    return {"stage": "init", "out": str(out), "student_init": loaded.origin,
            "parameters": parameters}
