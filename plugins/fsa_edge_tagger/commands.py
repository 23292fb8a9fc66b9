"""``fsa-edge train tagger finetune|pretrain|pretrain-states|calibrate|sentence-head|average``:
the encoder-with-heads student.

``fsa-edge tagger train|pretrain|calibrate`` are the deprecated names of these commands (one
release)."""

from __future__ import annotations

import json

import click

from fsa_edge.trainer import PRECISION_HELP, PRECISIONS
from fsa_edge.training import TaskData

STUDENT_HELP = ("'minilm' (all-MiniLM-L6-v2), 'mpnet' (all-mpnet-base-v2, an optional install), "
                "or a BERT or MPNet directory.")


@click.group()
def tagger() -> None:
    """The tagger student: a BERT encoder with term and category heads (ATSA, ACSA)."""


@tagger.command("finetune")
@click.option("--data", "data_specs", multiple=True, required=True, metavar="TASK:TRAIN:DEV",
              help="atsa or acsa data, repeatable; the first selects the best epoch.")
@click.option("--student", default="minilm", show_default=True, help=STUDENT_HELP)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Encoder learning rate.")
@click.option("--head-lr", type=float, default=1e-3, show_default=True)
@click.option("--warmup-ratio", type=float, default=0.1, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="auto = CUDA (bf16 autocast) when present, else CPU fp32.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help=PRECISION_HELP)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--held-out", "held_out", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A data file (e.g. a test split) whose sentences never enter training; "
                   "repeatable. The first data set's dev split is always held out.")
@click.option("--select", type=click.Choice(["first", "mean"]), default="first",
              show_default=True, help="Best epoch by the first data set's dev F1 or the mean.")
@click.option("--extra-train", "extra_train", multiple=True, metavar="TASK:FILE",
              help="More training data of atsa or acsa with no dev split (e.g. ACOS quads as "
                   "ACSA); categories the main ACSA sets lack are ignored. Repeatable.")
@click.option("--category-pooling", "pooling", type=click.Choice(["attention", "mean"]),
              default="attention", show_default=True,
              help="Category head's sentence vector: one learned query per category, or the "
                   "mean of the piece states.")
@click.option("--ema", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
              default=None, metavar="DECAY",
              help="Score and save a moving average of the weights (e.g. 0.999).")
@click.option("--share-category-parts", is_flag=True,
              help="ENTITY#ATTRIBUTE categories share head parameters with their entity and "
                   "attribute (rare categories learn from their relatives).")
@click.option("--max-minutes", type=float, default=None,
              help="Stop after this time (the best epoch so far stays in OUT; OUT/last/ keeps "
                   "the state for --resume).")
@click.option("--soft-targets", "soft_targets", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A corpus of a tagger teacher (fsa-edge distill --teacher TAGGER_DIR --prompt "
                   "label): its soft targets are distilled into the student. Repeatable.")
@click.option("--sentence-soft-targets", "sentence_soft_targets", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A corpus of the same form from which only the sentence polarities are "
                   "distilled (they replace those of --soft-targets: tags from one teacher, "
                   "sentence polarities from another). Repeatable.")
@click.option("--distill-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the distillation term (KL to the teacher).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Temperature of the distillation term.")
@click.option("--state-teacher", type=click.Path(exists=True, file_okay=False), default=None,
              help="A tagger teacher with a sentence head: every training row also keeps its "
                   "mean piece state (e.g. that of a pretrain-states warm start).")
@click.option("--state-weight", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Weight of the state term (with --state-teacher).")
@click.option("--resume", is_flag=True, help="Continue the run saved in OUT/last/.")
def train_command(data_specs: tuple[str, ...], student: str, out: str, epochs: int,
                  batch_size: int, lr: float, head_lr: float, warmup_ratio: float,
                  weight_decay: float, seed: int, device: str, precision: str,
                  threads: int | None, held_out: tuple[str, ...], select: str,
                  extra_train: tuple[str, ...], pooling: str, ema: float | None,
                  share_category_parts: bool, max_minutes: float | None,
                  soft_targets: tuple[str, ...],
                  sentence_soft_targets: tuple[str, ...], distill_weight: float,
                  temperature: float, state_teacher: str | None, state_weight: float,
                  resume: bool) -> None:
    """Fine-tune; the best epoch by dev F1 is written to OUT (convert it with fsa-edge convert)."""
    from fsa_edge.readers import read_dataset

    from . import TaggerStudent
    from .distillation import Distillation
    from .state_matching import StateMatching
    from .training import parse_extra_train

    data = [TaskData.parse(spec) for spec in data_specs]
    extras = [parse_extra_train(spec) for spec in extra_train]
    held_out_texts = [ex.review.text for path in held_out for ex in read_dataset(path).examples]
    summary = TaggerStudent().finetune(
        data, student=student, out=out, epochs=epochs, batch_size=batch_size, lr=lr,
        head_lr=head_lr, warmup_ratio=warmup_ratio, weight_decay=weight_decay, seed=seed,
        device=device, precision=precision, threads=threads, select=select, pooling=pooling,
        extra_train=extras,
        held_out_texts=held_out_texts, ema=ema, share_category_parts=share_category_parts,
        max_seconds=max_minutes * 60 if max_minutes is not None else None,
        soft_targets=soft_targets, sentence_soft_targets=sentence_soft_targets,
        distill=Distillation(distill_weight, temperature),
        state_matching=StateMatching(state_teacher, state_weight) if state_teacher else None,
        resume=resume)
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "history"}))


@tagger.command("calibrate")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--dev", "dev_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="An ACSA dev file; repeatable (the mean F1 decides the threshold; the ACSA "
                   "score map is fitted on its decodes).")
@click.option("--term-dev", "term_dev_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="An ATSA dev file for the term score map; repeatable.")
@click.option("--triplet-dev", "triplet_dev_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="An ASTE dev file; repeatable (the mean F1 decides the span head's `O` and "
                   "the pair head's `none` thresholds; the triplet score map is fitted on its "
                   "decodes).")
@click.option("--sentence-dev", "sentence_dev_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A fine-grained dev file (any format the readers know) for the `sentence` "
                   "score map: its texts whose gold elements share one polarity; repeatable.")
@click.option("--review-dev", "review_dev_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A dev file with SemEval-2016 ids (REVIEW:SENTENCE) for the score of a long "
                   "text's merged `sentence` answer: its reviews of two or more sentences whose "
                   "gold elements share one polarity, read sentence by sentence; repeatable.")
@click.option("--keep-threshold", is_flag=True,
              help="Keep the card's `none` thresholds; only fit the score maps.")
@click.option("--threads", type=int, default=None, help="CPU threads.")
@click.option("--also", "also", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Write the same threshold and score maps into this tagger directory's card "
                   "too (another variant of the same checkpoint). Repeatable.")
@click.option("--category-groups", is_flag=True,
              help="Also fit one ACSA score map per --dev file, for the categories of its gold "
                   "(and its train file's); the pooled map scores any other category.")
def calibrate_command(model: str, dev_files: tuple[str, ...], term_dev_files: tuple[str, ...],
                      triplet_dev_files: tuple[str, ...], sentence_dev_files: tuple[str, ...],
                      review_dev_files: tuple[str, ...], keep_threshold: bool,
                      threads: int | None, also: tuple[str, ...], category_groups: bool) -> None:
    """Choose the category head's `none` threshold on ACSA dev data (--dev) and the pair head's
    on ASTE dev data (--triplet-dev), then fit per task a monotone map from raw to calibrated
    scores (ACSA on --dev, ATSA on --term-dev, ASTE on --triplet-dev, sentence on
    --sentence-dev, a long text's merged sentence answer on --review-dev) and write them into
    MODEL's card. MODEL is a trained tagger or its conversion (calibrate the one you ship;
    `fsa-edge convert` carries a trained tagger's threshold and maps over)."""
    from .calibration import calibrate_tagger

    if not dev_files and not triplet_dev_files and not (
            keep_threshold and (term_dev_files or sentence_dev_files or review_dev_files)):
        raise click.UsageError("give --dev (ACSA dev data) or --triplet-dev (ASTE dev data), or "
                               "--keep-threshold with --term-dev, --sentence-dev or --review-dev")
    if category_groups and not dev_files:
        raise click.UsageError("--category-groups needs the ACSA dev files (--dev)")
    click.echo(json.dumps(calibrate_tagger(model, dev_files, term_dev_files=term_dev_files,
                                           triplet_dev_files=triplet_dev_files,
                                           sentence_dev_files=sentence_dev_files,
                                           review_dev_files=review_dev_files,
                                           keep_threshold=keep_threshold, threads=threads,
                                           also=also, category_groups=category_groups)))


@tagger.command("average")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--weight", "weights", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="One per MODEL, in order (default: the uniform mean).")
@click.option("--common-tasks", is_flag=True,
              help="Serve the tasks every MODEL serves, leaving out the others' sentence or ASTE "
                   "heads (default: MODELS must serve the same tasks).")
def average_command(models: tuple[str, ...], out: str, weights: tuple[float, ...],
                    common_tasks: bool) -> None:
    """Average the weights of trained taggers (a "model soup"): MODELS fine-tuned from the same
    encoder with the same heads become one tagger in OUT, served at the cost of one. Convert and
    calibrate OUT as any trained tagger; choose between it and its ingredients on dev. One
    MODEL gives its weights with an average's card (its thresholds and score maps dropped)."""
    from .averaging import average_taggers

    if weights and len(weights) != len(models):
        raise click.UsageError(f"give one --weight per model ({len(models)}), or none")
    click.echo(json.dumps(average_taggers(models, out, weights or None,
                                          common_tasks=common_tasks)))


@tagger.command("sentence-head")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--pseudo-labels", "pseudo_labels", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="JSONL of {text, polarity[, source]}: texts labelled by agreeing fine-grained "
                   "answers (gold elements or a teacher's) or by a zero-shot teacher's sentence "
                   "head, never by a sentence-level human label.")
@click.option("--l2", type=click.FloatRange(min=0), default=1e-3, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--balanced", is_flag=True,
              help="Weigh each polarity class equally (default: as often as it occurs).")
@click.option("--threads", type=int, default=None, help="CPU threads.")
@click.option("--signal", default="texts whose fine-grained elements all share one polarity",
              show_default=True, help="Where the pseudo-labels came from (kept in the card).")
def sentence_head_command(model: str, pseudo_labels: str, l2: float, steps: int,
                          balanced: bool, threads: int | None, signal: str) -> None:
    """Fit the zero-shot sentence head (task `sentence`: positive, negative or neutral) on MODEL's
    frozen encoder and write it into MODEL (heads.npz and card); other tasks are unchanged."""
    from .sentence_head import add_sentence_head, fit_sentence_head, read_pseudo_labels

    from .backend import TaggerBackend

    texts, labels, sources = read_pseudo_labels(pseudo_labels)
    backend = TaggerBackend(model, device="cpu", cpu_threads=threads)
    features = backend.runtime.sentence_features(texts)
    backend.close()
    weight, bias = fit_sentence_head(features, labels, l2=l2, steps=steps, balanced=balanced)
    counts = {label: labels.count(label) for label in sorted(set(labels))}
    provenance = {"pseudo_labels": str(pseudo_labels), "texts": len(texts), "labels": counts,
                  "sources": sources, "l2": l2, "steps": steps, "balanced": balanced,
                  "signal": signal}
    add_sentence_head(model, weight, bias, provenance)
    click.echo(json.dumps(provenance))


def pretraining_options(batch_size: int):
    """The options both pre-training commands take (student, output, loop), with their
    default batch size."""
    options = (
        click.option("--student", default="minilm", show_default=True, help=STUDENT_HELP),
        click.option("--out", required=True, type=click.Path(file_okay=False)),
        click.option("--epochs", type=int, default=2, show_default=True),
        click.option("--batch-size", type=int, default=batch_size, show_default=True),
        click.option("--lr", type=float, default=5e-5, show_default=True,
                     help="Encoder learning rate."),
        click.option("--seed", type=int, default=42, show_default=True),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                     show_default=True),
        click.option("--threads", type=int, default=None),
        click.option("--resume", is_flag=True, help="Continue the run saved in OUT/last/."))

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


@tagger.command("pretrain")
@click.option("--corpus", required=True, type=click.Path(exists=True, dir_okay=False),
              help="JSONL teacher corpus ({ID, Text, <teacher>_response} or {id, text, response}).")
@pretraining_options(batch_size=16)
def pretrain_command(corpus: str, student: str, out: str, epochs: int, batch_size: int,
                     lr: float, seed: int, device: str, threads: int | None,
                     resume: bool) -> None:
    """Masked-language modelling of the encoder on the teacher responses (domain adaptation);
    OUT is a BERT directory for `fsa-edge train tagger finetune --student OUT`."""
    from fsa_edge.training import read_corpus

    from . import TaggerStudent

    summary = TaggerStudent().pretrain(read_corpus(corpus), student=student, out=out,
                                       epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                       device=device, threads=threads, resume=resume)
    click.echo(json.dumps(summary))


@tagger.command("pretrain-states")
@click.option("--texts", "text_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="JSONL of {\"text\": ...} (e.g. benchmarks/unlabeled.py's sentences); "
                   "repeatable. No label is read.")
@click.option("--teacher", required=True, type=click.Path(exists=True, file_okay=False),
              help="A tagger directory with a sentence head (converted or not).")
@click.option("--head-lr", type=float, default=1e-3, show_default=True,
              help="The projection's learning rate.")
@click.option("--temperature", type=float, default=2.0, show_default=True)
@click.option("--held-out", "held_out", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="A data file (e.g. a dev or test split) whose sentences are never trained "
                   "on; repeatable.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help=PRECISION_HELP)
@pretraining_options(batch_size=32)
def pretrain_states_command(text_files: tuple[str, ...], teacher: str, student: str, out: str,
                            epochs: int, batch_size: int, lr: float, head_lr: float,
                            temperature: float, held_out: tuple[str, ...], seed: int,
                            device: str, precision: str, threads: int | None,
                            resume: bool) -> None:
    """Teach the encoder a teacher's sentence states on unlabelled texts (its mean piece
    state through a projection, and its sentence head's answer there); OUT is an encoder
    directory for `fsa-edge train tagger finetune --student OUT`."""
    from fsa_edge.readers import read_dataset

    from .state_pretraining import pretrain_on_teacher_states

    held_out_texts = [ex.review.text for path in held_out for ex in read_dataset(path).examples]
    summary = pretrain_on_teacher_states(
        text_files, teacher=teacher, student=student, out=out, epochs=epochs,
        batch_size=batch_size, lr=lr, head_lr=head_lr, temperature=temperature,
        held_out_texts=held_out_texts, seed=seed, device=device, precision=precision,
        threads=threads, resume=resume)
    click.echo(json.dumps(summary))


def deprecated_tagger_group() -> click.Group:
    """``fsa-edge tagger train|pretrain|calibrate``: the old names, hidden, each saying so."""
    from fsa_edge.cli.train import deprecated_alias

    group = click.Group("tagger", hidden=True,
                        help="Deprecated: use 'fsa-edge train tagger'.")
    for old, new in (("train", "finetune"), ("pretrain", "pretrain"),
                     ("calibrate", "calibrate")):
        group.add_command(deprecated_alias(tagger.commands[new], old=f"fsa-edge tagger {old}",
                                           new=f"fsa-edge train tagger {new}", name=old))
    return group
