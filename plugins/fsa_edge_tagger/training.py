"""Fine-tuning the tagger: a BERT encoder (MiniLM warm start) with a term head, a category head
and triplet heads.

ATSA examples train the term head (cross-entropy over unified tags per word-piece), ACSA examples
the category head (cross-entropy over none/polarities per category, summed over categories, from
each category's attention-pooled state or the mean piece state), ASTE examples the span head
(aspect/opinion tags per word-piece) and the pair head (none/polarity for every gold aspect × gold
opinion of the sentence, :mod:`.triplets`); :mod:`.batch_loss` computes them. The loop is the
core's :class:`fsa_edge.trainer.Trainer`; :class:`TaggerJob` supplies the model, the loss (one task
per batch), the dev score — the core metric on the same decoding the shipped model uses — and the
saved directory: a Hugging Face BERT directory + ``heads.npz`` + tokenizer + card
(``fsa-edge convert`` turns it into CTranslate2). Requires torch and transformers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.metric import evaluate
from fsa_edge.readers import read_dataset
from fsa_edge.runtime import HEADS_FILE, TOKENIZER_FILES
from fsa_edge.trainer import Schedule, Trainer, TrainingJob, TrainSettings, check_output, log
from fsa_edge.training import HeldOut, TaskData, sentence_key

from .batch_loss import batch_loss
from .distillation import SOFT, Distillation, soften
from .id_batch import pad_id_batch
from .network import POOLINGS, TaggerNet, category_parts
from .runtime import TaggerRuntime, load_tokenizer
from .scheme import CATEGORY_CLASSES, POLARITIES, TAGS, pieces_of, term_tags
from .sentence_head import SENTENCE_HEAD
from .state_matching import StateMatching, TeacherStates
from .triplets import explicit_only, triplet_targets

SOFT_PARTS = ("tags", "categories", "sentence")  # what a teacher's corpus row gives a student
TASKS = ("atsa", "acsa", "aste")
#: each special token's spelling in the families' vocabularies (WordPiece, then BPE)
SPECIAL_TOKENS = {"cls": ("[CLS]", "<s>"), "sep": ("[SEP]", "</s>"), "pad": ("[PAD]", "<pad>"),
                  "mask": ("[MASK]", "<mask>")}


def encoder_dir(student: str) -> Path:
    """A warm-start alias (``minilm``, ``mpnet``) or an encoder directory of a family the tagger
    trains (config.json ``model_type`` bert or mpnet); local files only."""
    from fsa_edge.student_support import (ENCODER_TYPES, WARM_STARTS, encoder_type,
                                          warm_start_path)

    path = warm_start_path(student) or Path(student)
    if encoder_type(path) not in ENCODER_TYPES:
        raise TrainingError(f"student {student!r}: the tagger starts from "
                            f"{' or '.join(repr(a) for a in WARM_STARTS)} or an encoder directory "
                            f"(config.json model_type {' or '.join(ENCODER_TYPES)})")
    return path


def special_token_id(tokenizer: Any, role: str) -> int | None:
    """The id of the ``cls``, ``sep``, ``pad`` or ``mask`` token in ``tokenizer``'s vocabulary."""
    for token in SPECIAL_TOKENS[role]:
        index = tokenizer.token_to_id(token)
        if index is not None:
            return index
    return None


def _examples(tokenizer: Any, task: str, examples: Sequence[Any], categories: Sequence[str],
              held_out: HeldOut) -> tuple[list[dict], int]:
    """Tokenised training rows of one data set, and how many held-out sentences were dropped."""
    kept, dropped = held_out.split(examples)
    rows = []
    for example in kept:
        encoding = tokenizer.encode(example.review.text)
        row: dict[str, Any] = {"task": task, "ids": encoding.ids, "text": example.review.text}
        pieces = pieces_of(encoding)
        if task == "atsa":
            spans = [(e.aspect_span[0], e.aspect_span[1], e.polarity) for e in example.elements
                     if e.aspect_span is not None and e.polarity in POLARITIES]
            row["tags"] = term_tags(pieces, spans)
        elif task == "aste":
            row["span_tags"], row["pairs"] = triplet_targets(pieces, example.elements,
                                                             example.review.text)
        else:
            classes = [0] * len(categories)
            for element in example.elements:
                if element.category in categories and element.polarity in POLARITIES:
                    classes[categories.index(element.category)] = \
                        CATEGORY_CLASSES.index(element.polarity)
            row["classes"] = classes
        rows.append(row)
    return rows, dropped


def parse_extra_train(spec: str) -> tuple[str, str]:
    """``TASK:FILE`` (``--extra-train``) → ``(task, file)``."""
    task, _, path = spec.partition(":")
    if not task or not path:
        raise TrainingError(f"--extra-train: expected TASK:FILE, got {spec!r}")
    return task, path


def _set_name(item: TaskData) -> str:
    """``task:folder`` of a data set (``atsa:rest14``)."""
    return f"{item.task.name}:{Path(item.train).parent.name}"


def torch_encoder(encoder: Any, tokenizer: Any, device: str):
    """A torch encoder (BERT or MPNet) as a :data:`runtime.Encoder` (token lists → last hidden
    states); padding takes the vocabulary's pad id (MPNet numbers positions around it)."""
    import torch

    pad = special_token_id(tokenizer, "pad") or 0

    def encode(tokens: list[list[str]]) -> np.ndarray:
        ids, mask = pad_id_batch([[tokenizer.token_to_id(t) for t in row] for row in tokens], pad)
        with torch.no_grad():
            hidden = encoder(input_ids=ids.to(device), attention_mask=mask.to(device))
            return hidden.last_hidden_state.float().cpu().numpy()

    return encode


def dev_f1(net: TaggerNet, tokenizer: Any, categories: Sequence[str], task: str,
           examples: Sequence[Any], device: str, batch_size: int = 64) -> dict[str, Any]:
    """The core metric on greedy tagger outputs for one dev set (what the shipped model does)."""
    net.modules.eval()
    runtime = TaggerRuntime(tokenizer, net.heads(), categories,
                            torch_encoder(net.encoder, tokenizer, device))
    predicted = {}
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        for ex, found in zip(chunk, runtime.run([e.review.text for e in chunk], task)):
            predicted[ex.review.id] = found
    gold = {ex.review.id: ex.elements for ex in examples}
    return evaluate(task, gold, predicted).to_dict()


def save(net: TaggerNet, out: Path, source: Path, card: ModelCard) -> None:
    """BERT directory (for ``fsa-edge convert``) + heads + tokenizer files + card."""
    out.mkdir(parents=True, exist_ok=True)
    net.encoder.save_pretrained(str(out))
    np.savez(out / HEADS_FILE, **net.heads())
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    card.save(out)


class TaggerJob(TrainingJob):
    """The tagger's part of a training run: data rows, the net, its loss, dev score and saving."""

    def __init__(self, data: Sequence[TaskData], *, student: str, dropout: float, lr: float,
                 head_lr: float, weight_decay: float, max_input_length: int, select: str,
                 pooling: str, share_category_parts: bool, held_out_texts: Sequence[str],
                 extra_train: Sequence[tuple[str, str | Path]], card_extra: dict[str, Any],
                 distill: Distillation | None = None,
                 soft_targets: Sequence[str | Path] = (),
                 sentence_soft_targets: Sequence[str | Path] = (),
                 state_matching: StateMatching | None = None,
                 threads: int | None = None) -> None:
        from fsa_edge.student_support import quiet_transformers

        quiet_transformers()
        self.data, self.student, self.select = list(data), student, select
        self.dropout, self.pooling, self.share_parts = dropout, pooling, share_category_parts
        self.lr, self.head_lr, self.weight_decay = lr, head_lr, weight_decay
        self.max_input_length = max_input_length
        self.source = encoder_dir(student)
        self.tokenizer = load_tokenizer(self.source, max_input_length)
        trains = [read_dataset(item.train).examples for item in data]
        self.devs = [read_dataset(item.dev).examples for item in data]
        self.categories = sorted({e.category for item, examples in zip(data, trains)
                                  if item.task.name == "acsa" for ex in examples
                                  for e in ex.elements if e.category})
        held_out = HeldOut([ex.review.text for ex in self.devs[0]])
        held_out.keys |= HeldOut(held_out_texts).keys
        sets = [(_set_name(item), item.task.name, examples)
                for item, examples in zip(data, trains)]
        for task, path in extra_train:
            if task not in TASKS:
                raise TrainingError(f"extra training data must be {' or '.join(TASKS)}, "
                                    f"not {task!r}")
            sets.append((f"extra:{task}:{Path(path).name}", task, read_dataset(path).examples))
        self.rows: list[dict] = []
        self.dropped: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self.implicit: dict[str, int] = {}
        for name, task, examples in sets:
            if task == "aste":
                examples, self.implicit[name] = explicit_only(examples)
            part, self.dropped[name] = _examples(self.tokenizer, task, examples, self.categories,
                                                 held_out)
            self.rows += part
            self.unknown[name] = sum(1 for ex in examples for e in ex.elements
                                     if task == "acsa" and e.category not in self.categories)
            ignored = (f"; {self.unknown[name]} elements of unknown categories ignored"
                       if self.unknown[name] else "") + (
                f"; {self.implicit[name]} sentences with an implicit aspect or opinion left out"
                if self.implicit.get(name) else "")
            log(f"{name}: {len(part)} train ({self.dropped[name]} dropped: held-out "
                f"sentences{ignored})")
        self.distill = distill if soft_targets or sentence_soft_targets else None
        self.soft_counts = (self._add_soft_targets(soft_targets, held_out, distill,
                                                   sentence_soft_targets)
                            if soft_targets or sentence_soft_targets else {})
        self.lengths = [len(row["ids"]) for row in self.rows]
        self.groups = [[i for i, row in enumerate(self.rows) if row["task"] == task]
                       for task in (*TASKS, SOFT)]
        self.pad = special_token_id(self.tokenizer, "pad") or 0
        self.card_extra = card_extra
        self.state_matching, self.threads = state_matching, threads
        self.states: TeacherStates | None = None
        self.net: TaggerNet | None = None

    def _add_soft_targets(self, corpora: Sequence[str | Path], held_out: HeldOut,
                          distill: Distillation,
                          sentence_corpora: Sequence[str | Path] = ()) -> dict[str, Any]:
        """The teachers' soft targets onto the gold rows of the same sentence, and the other
        sentences as rows of their own (group ``soft``); held-out sentences are dropped. A
        sentence's first corpus wins. ``sentence_corpora`` give sentence polarities only: they
        replace the sentence target of a row the other corpora (or gold) already have and add
        the other sentences as rows with only that target (counted under ``sentence_only``)."""
        by_key: dict[str, list[int]] = {}
        for index, row in enumerate(self.rows):
            by_key.setdefault(sentence_key(row["text"]), []).append(index)
        counts: dict[str, Any] = {"gold": 0, "unlabeled": 0, "held_out": 0, "duplicates": 0,
                                  "other_spelling": 0, "error_rows": 0}
        self._read_soft_corpora(corpora, held_out, distill, by_key, counts, SOFT_PARTS)
        if sentence_corpora:
            counts["sentence_only"] = {"gold": 0, "soft_rows": 0, "unlabeled": 0,
                                       "held_out": 0, "duplicates": 0, "other_spelling": 0,
                                       "error_rows": 0}
            self._read_soft_corpora(sentence_corpora, held_out, distill, by_key,
                                    counts["sentence_only"], ("sentence",))
        log(f"soft targets: {counts}")
        return counts

    def _read_soft_corpora(self, corpora: Sequence[str | Path], held_out: HeldOut,
                           distill: Distillation, by_key: dict[str, list[int]],
                           counts: dict[str, int], parts: tuple[str, ...]) -> None:
        """Attach ``parts`` of the corpora's targets to the rows of ``by_key`` (gold rows are
        counted ``gold``, earlier soft rows ``soft_rows``) or add rows; ``by_key`` grows."""
        from .soft_targets import iter_soft_targets

        seen: set[str] = set()
        for path in corpora:
            skipped: list[int] = []
            for text, soft in iter_soft_targets(path, skipped=skipped):
                key = sentence_key(text)
                if text in held_out:
                    counts["held_out"] += 1
                elif key in seen:
                    counts["duplicates"] += 1
                elif key in by_key:
                    seen.add(key)
                    rows = [self.rows[i] for i in by_key[key] if self.rows[i]["text"] == text]
                    kind = "soft_rows" if rows and rows[0]["task"] == SOFT else "gold"
                    counts[kind if rows else "other_spelling"] += 1  # offsets need one text
                    encoding = self.tokenizer.encode(text) if rows else None
                    for row in rows:
                        self._attach(row, encoding, soft, distill, parts)
                else:
                    seen.add(key)
                    encoding = self.tokenizer.encode(text)
                    row = {"task": SOFT, "ids": encoding.ids, "text": text}
                    if self._attach(row, encoding, soft, distill, parts):
                        by_key.setdefault(key, []).append(len(self.rows))
                        self.rows.append(row)
                        counts["unlabeled"] += 1
            counts["error_rows"] += len(skipped)

    def _attach(self, row: dict[str, Any], encoding: Any, soft: Any,
                distill: Distillation, parts: tuple[str, ...] = SOFT_PARTS) -> bool:
        """Put ``soft``'s targets of ``parts`` (of :data:`SOFT_PARTS`), aligned to the row
        text's ``encoding`` and softened, on ``row`` (the other parts stay as they are, ``None``
        when unset); whether the row has any target now."""
        for part in SOFT_PARTS:
            row.setdefault(f"soft_{part}", None)
        if "tags" in parts:
            tags, tag_mask = soft.tag_targets(pieces_of(encoding))
            row["soft_tags"] = ((soften(tags, distill.temperature), tag_mask)
                                if tag_mask.any() else None)
        if "categories" in parts and self.categories:
            classes, category_mask = soft.category_targets(self.categories)
            row["soft_categories"] = ((soften(classes, distill.temperature), category_mask)
                                      if category_mask.any() else None)
        sentence = soft.sentence_targets() if "sentence" in parts else None
        if sentence is not None:  # the text's own pieces are what the head pools
            own = np.logical_not(np.asarray(encoding.special_tokens_mask, dtype=bool))
            row["soft_sentence"] = (soften(sentence, distill.temperature), own)
        return any(row[f"soft_{part}"] is not None for part in SOFT_PARTS)

    def build(self, device: str) -> None:
        import torch
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(str(self.source), dtype=torch.float32)
        self.net = TaggerNet(encoder, len(self.categories), self.dropout, self.pooling,
                        category_parts(self.categories) if self.share_parts else None,
                        triplets=any(row["task"] == "aste" for row in self.rows),
                        sentence=any(row.get("soft_sentence") is not None for row in self.rows))
        self.module = self.net.modules
        self.module.to(device)
        if self.state_matching is not None:
            if self.states is None:  # once per run: every row's teacher state
                log(f"teacher states of the training rows from {self.state_matching.teacher}")
                self.states = TeacherStates(self.state_matching, self.rows, self.tokenizer,
                                            device=device, threads=self.threads)
            # a training aid: in the module (checkpoints, resume), not in the saved heads
            self.module.append(self.states.build(self.source, encoder.config.hidden_size,
                                                 device))

    def parameter_groups(self) -> list[dict[str, Any]]:
        encoder = self.net.encoder.named_parameters()
        decay, no_decay = [], []
        for _, parameter in encoder:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
        heads = self.net.head_parameters() + (
            list(self.states.projection.parameters()) if self.states is not None else [])
        return [{"params": decay, "lr": self.lr, "weight_decay": self.weight_decay},
                {"params": no_decay, "lr": self.lr, "weight_decay": 0.0},
                {"params": heads, "lr": self.head_lr, "weight_decay": 0.0}]

    def schedule(self, total_steps: int, warmup_ratio: float) -> Schedule:
        # warm-up steps rounded down, as every recorded tagger run had them
        return Schedule(max(1, int(total_steps * warmup_ratio)), total_steps)

    def loss(self, batch: list[int], device: str) -> Any:
        return batch_loss(self.net, [self.rows[i] for i in batch], self.pad, device, self.distill,
                          self.states)

    def evaluate(self, device: str) -> tuple[float, dict[str, Any]]:
        selection = self.data[0]
        scored = (zip(self.data, self.devs) if self.select == "mean"
                  else [(selection, self.devs[0])])
        results = {_set_name(item): dev_f1(self.net, self.tokenizer, self.categories,
                                           item.task.name, examples, device)
                   for item, examples in scored}
        result = results[_set_name(selection)]
        score = round(sum(r["f1"] for r in results.values()) / len(results), 4)
        metrics = {f"dev_f1_{selection.task.name}": result["f1"],
                   "dev_precision": result["precision"], "dev_recall": result["recall"],
                   "dev_score": score}
        if self.select == "mean":
            metrics["dev_f1"] = {name: r["f1"] for name, r in results.items()}
        return score, metrics

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        save(self.net, directory, self.source, _card(
            self.data, self.categories, self.max_input_length,
            {**self.card_extra, "epoch": record["epoch"], "metrics": record,
             "dropped_overlap": self.dropped, "ignored_unknown_categories": self.unknown,
             "dropped_implicit": self.implicit,
             **({"soft_targets": self.soft_counts} if self.soft_counts else {}),
             **({"teacher_states": self.states.texts} if self.states is not None else {})},
            self.pooling, sentence=self.net.sentence is not None))


def finetune_tagger(data: Sequence[TaskData], *, student: str = "minilm", out: str | Path,
                    epochs: int = 10, batch_size: int = 16, lr: float = 1e-4,
                    head_lr: float = 1e-3, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                    dropout: float = 0.1, seed: int = 42, device: str = "auto",
                    precision: str = "auto", threads: int | None = None,
                    max_input_length: int = 128,
                    max_seconds: float | None = None, held_out_texts: Sequence[str] = (),
                    select: str = "first", pooling: str = "attention",
                    extra_train: Sequence[tuple[str, str | Path]] = (),
                    ema: float | None = None, share_category_parts: bool = False,
                    soft_targets: Sequence[str | Path] = (),
                    sentence_soft_targets: Sequence[str | Path] = (),
                    distill: Distillation = Distillation(),
                    state_matching: StateMatching | None = None,
                    resume: bool = False, log_every: int = 50) -> dict[str, Any]:
    """Fine-tune a tagger on ATSA, ACSA and/or ASTE data; keep the best epoch by dev F1 of the first
    data set (``select="first"``) or by the mean dev F1 of all (``"mean"``, every dev set is
    scored each epoch). ``pooling`` is the category head's sentence vector: ``"attention"`` (one
    learned query per category) or ``"mean"``. ``extra_train`` adds ``(task, file)`` training
    data with no dev split (another corpus of the same task); its categories outside those of
    the main ACSA train sets are ignored and counted. ``ema``: score and save an exponential
    moving average of the weights with this decay. ``share_category_parts``: categories
    ``ENTITY#ATTRIBUTE`` share parameters with their entity and attribute (see :class:`TaggerNet`;
    the saved heads are the same arrays either way). Training sentences of the first data set's
    dev split or of ``held_out_texts`` are dropped (compared by ``sentence_key``: ASTE's
    tokenised copy of a benchmark sentence is the same sentence); the default's recipe holds out
    the dev and test splits of every set it scores, whatever their task. ``soft_targets``:
    corpora a tagger teacher wrote (``fsa-edge distill --teacher TAGGER_DIR --prompt label``):
    their sentences add the ``distill`` term (:mod:`.distillation`) — on gold sentences beside
    the cross-entropy, the others as unlabeled sentences; held-out sentences among them are
    dropped and counted. ``sentence_soft_targets``: corpora of the same form from which only the
    sentence polarities are taken, replacing those of ``soft_targets`` (e.g. tags from one
    teacher, sentence polarities from another). ``state_matching``: add the state term
    (:mod:`.state_matching`): every training row keeps the teacher's mean piece state of its text
    (a ``pretrain-states`` warm start keeps what it learnt).
    ``precision``: the trainer's (:func:`fsa_edge.trainer.uses_bf16`; ``bf16`` pays on a CPU
    with AMX, ``benchmarks/cpu_bf16.py``). ``max_seconds`` stops the run
    (``OUT/last/`` keeps its state); ``resume`` continues it."""
    if not data:
        raise TrainingError("no task data given")
    if select not in ("first", "mean"):
        raise TrainingError(f"select must be 'first' or 'mean', got {select!r}")
    if pooling not in POOLINGS:
        raise TrainingError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    for item in data:
        if item.task.name not in TASKS:
            raise TrainingError(f"the tagger trains {', '.join(TASKS)}, not {item.task.name!r}")
    recipe = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "head_lr": head_lr,
              "warmup_ratio": warmup_ratio, "weight_decay": weight_decay, "dropout": dropout,
              "select": select, "pooling": pooling, "ema": ema,
              "share_category_parts": share_category_parts}
    if soft_targets or sentence_soft_targets:
        recipe.update({"soft_targets": [str(p) for p in soft_targets],
                       **({"sentence_soft_targets": [str(p) for p in sentence_soft_targets]}
                          if sentence_soft_targets else {}),
                       "distill_weight": distill.weight,
                       "distill_temperature": distill.temperature})
    if state_matching is not None:
        recipe.update({"state_teacher": state_matching.teacher,
                       "state_weight": state_matching.weight})
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, warmup_ratio=warmup_ratio,
                             seed=seed, device=device, precision=precision,
                             threads=threads, ema=ema,
                             max_seconds=max_seconds, log_every=log_every, resume=resume)
    check_output(Path(out), resume)  # a full folder fails before the data is read
    job = TaggerJob(
        data, student=student, dropout=dropout, lr=lr, head_lr=head_lr,
        weight_decay=weight_decay, max_input_length=max_input_length, select=select,
        pooling=pooling, share_category_parts=share_category_parts,
        held_out_texts=held_out_texts, extra_train=extra_train, distill=distill,
        soft_targets=soft_targets, sentence_soft_targets=sentence_soft_targets,
        state_matching=state_matching, threads=threads,
        card_extra={"student_init": student, "seed": seed,
                    "extra_train": [f"{t}:{p}" for t, p in extra_train], "recipe": recipe})
    summary = Trainer(job, settings, out, recipe={**recipe, "seed": seed}).run()
    return {"stage": "finetune", "student": "tagger", "tasks": [i.task.name for i in data],
            "train_examples": len(job.rows), "dropped_overlap": job.dropped,
            "ignored_unknown_categories": job.unknown, "dropped_implicit": job.implicit,
            "categories": len(job.categories),
            **({"soft_targets": job.soft_counts} if job.soft_counts else {}), **summary}


def load_for_scoring(directory: str | Path, *, device: str = "cpu", threads: int | None = None,
                     dtype: str = "float32") -> TaggerRuntime:
    """A saved (unconverted) tagger as a :class:`TaggerRuntime` over its torch encoder, its
    weights in ``dtype`` (a name of :data:`TORCH_DTYPES`; the heads stay numpy float32)."""
    import torch
    from transformers import AutoModel

    directory = Path(directory)
    if threads:
        torch.set_num_threads(threads)
    card = ModelCard.load(directory)
    tokenizer = load_tokenizer(directory, card.max_input_length)
    encoder = AutoModel.from_pretrained(str(directory), dtype=getattr(torch, dtype)).to(device).eval()
    return TaggerRuntime.from_directory(directory, card, torch_encoder(encoder, tokenizer, device))


def _card(data: Sequence[TaskData], categories: Sequence[str], max_input_length: int,
          extra: dict[str, Any], pooling: str, sentence: bool = False) -> ModelCard:
    """The card of a trained tagger: the data sets' tasks, plus ``sentence`` when its sentence
    head was learnt from a teacher's soft targets (zero-shot: no sentence label)."""
    tasks = tuple(dict.fromkeys(i.task.name for i in data)) + (("sentence",) if sentence else ())
    tagger: dict[str, Any] = {"tags": list(TAGS), "categories": list(categories),
                              "pooling": pooling}
    if sentence:
        tagger[SENTENCE_HEAD] = {"method": "distilled: the teacher's sentence polarities "
                                           "(soft targets) through the fine-tuned encoder"}
    return ModelCard(tasks=tasks, default_task=tasks[0], task_prefix=False,
                     max_input_length=max_input_length, max_output_length=0, backend="tagger",
                     extra={"stage": "finetune", "student": "tagger", "tagger": tagger,
                            "data": {i.task.name: {"train": str(i.train), "dev": str(i.dev)}
                                     for i in data}, **extra})


__all__ = ["dev_f1", "encoder_dir", "finetune_tagger", "load_for_scoring",
           "parse_extra_train", "save", "torch_encoder"]
