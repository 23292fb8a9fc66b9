"""``fsa-edge train seq2seq``: init / pretrain / finetune a seq2seq student (summary JSON on
stdout).

Only click and the core are imported here; torch loads when a command runs.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import click

from fsa_edge.training import TaskData, read_corpus

_DEVICE = click.Choice(["auto", "cpu", "cuda"])


def _common(defaults: dict[str, Any]) -> Callable:
    """Options shared by pretrain and finetune; ``defaults`` differ per command."""
    options = [
        click.option("--student", required=True,
                     help="'minilm' or 'mpnet' (offline warm starts), a BERT or MPNet dir, or a "
                          "local HF seq2seq dir."),
        click.option("--out", required=True, type=click.Path(file_okay=False),
                     help="Output directory (kept model; last/ checkpoint; metrics.jsonl)."),
        click.option("--epochs", type=int, default=defaults["epochs"], show_default=True),
        click.option("--batch-size", type=int, default=16, show_default=True),
        click.option("--lr", type=float, default=defaults["lr"], show_default=True),
        click.option("--decoder-lr-scale", type=float, default=defaults["decoder_lr_scale"],
                     show_default=True, help="Decoder layers learn at lr × this."),
        click.option("--warmup-ratio", type=float, default=0.06, show_default=True),
        click.option("--weight-decay", type=float, default=0.01, show_default=True),
        click.option("--label-smoothing", type=float, default=defaults["label_smoothing"],
                     show_default=True),
        click.option("--decoder-layers", type=int, default=3, show_default=True,
                     help="Decoder depth of a warm-started (minilm / mpnet / encoder dir) student."),
        click.option("--cross-attention", type=click.Choice(["random", "self"]), default="random",
                     show_default=True,
                     help="Warm start: decoder cross-attention random or copied from the encoder "
                          "layer's self-attention."),
        click.option("--max-input-length", type=int, default=128, show_default=True),
        click.option("--max-output-length", type=int, default=defaults["max_output_length"],
                     show_default=True),
        click.option("--seed", type=int, default=42, show_default=True),
        click.option("--device", type=_DEVICE, default="auto", show_default=True,
                     help="auto = CUDA (bf16 autocast) when present, else CPU fp32."),
        click.option("--threads", type=int, default=None, help="torch CPU threads."),
        click.option("--eval-batch-size", type=int, default=64, show_default=True),
        click.option("--resume", is_flag=True, help="Continue the run saved in OUT/last/."),
        click.option("--save-every", type=int, default=0, show_default=True,
                     help="Also checkpoint OUT/last/ every N steps (0: each epoch only)."),
        click.option("--max-steps", type=int, default=None,
                     help="Stop after N optimizer steps in all (resumable with --resume)."),
        click.option("--log-every", type=int, default=50, show_default=True),
    ]

    def decorate(function: Callable) -> Callable:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _student() -> Any:
    from . import Seq2SeqStudent

    return Seq2SeqStudent()


@click.group()
def seq2seq() -> None:
    """Train a seq2seq student: pre-train on a teacher corpus, fine-tune on tasks."""


@seq2seq.command("init")
@click.option("--student", default="minilm", show_default=True,
              help="'minilm', 'mpnet', a BERT or MPNet dir, or a local HF seq2seq dir.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--decoder-layers", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--cross-attention", type=click.Choice(["random", "self"]), default="random",
              show_default=True)
def init_command(student: str, out: str, decoder_layers: int, seed: int,
                 cross_attention: str) -> None:
    """Write the untrained student (e.g. the MiniLM warm start) as a model directory."""
    click.echo(json.dumps(_student().init(student, out, decoder_layers=decoder_layers, seed=seed,
                                          cross_attention=cross_attention)))


@seq2seq.command("pretrain")
@click.option("--corpus", required=True, type=click.Path(exists=True, dir_okay=False),
              help="JSONL: {ID, Text, <teacher>_response} or {id, text, response}.")
@click.option("--dev-rows", type=int, default=None,
              help="Corpus rows held out for the loss (default: 5%, at most 64).")
@_common({"epochs": 1, "lr": 3e-4, "decoder_lr_scale": 1.0, "label_smoothing": 0.0,
          "max_output_length": 400})
def pretrain_command(corpus: str, dev_rows: int | None, student: str, out: str,
                     decoder_layers: int, **settings: Any) -> None:
    """Pre-train on review → teacher response pairs (plain cross-entropy, no task prefix)."""
    summary = _student().pretrain(read_corpus(corpus), student=student, out=out,
                                  decoder_layers=decoder_layers, dev_rows=dev_rows, **settings)
    click.echo(json.dumps(summary))


@seq2seq.command("finetune")
@click.option("--task", default=None, help="Single-task form: the task of --train/--dev.")
@click.option("--train", "train_file", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--dev", "dev_file", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--data", "data_specs", multiple=True, metavar="TASK:TRAIN:DEV",
              help="Multi-task form, repeatable; the first task selects the best checkpoint.")
@click.option("--task-prefix/--no-task-prefix", default=None,
              help="Prefix inputs with the task (default: only when several tasks).")
@click.option("--train-fraction", type=float, default=1.0, show_default=True)
@_common({"epochs": 10, "lr": 1e-4, "decoder_lr_scale": 3.0, "label_smoothing": 0.1,
          "max_output_length": 128})
def finetune_command(task: str | None, train_file: str | None, dev_file: str | None,
                     data_specs: tuple[str, ...], task_prefix: bool | None, train_fraction: float,
                     student: str, out: str, decoder_layers: int, **settings: Any) -> None:
    """Fine-tune on gold data; keeps the checkpoint with the best dev F1 in OUT."""
    data = [TaskData.parse(spec) for spec in data_specs]
    if task or train_file or dev_file:
        if not (task and train_file and dev_file):
            raise click.UsageError("--task, --train and --dev go together")
        data.insert(0, TaskData.parse(f"{task}:{train_file}:{dev_file}"))
    if not data:
        raise click.UsageError("give --task/--train/--dev or at least one --data TASK:TRAIN:DEV")
    summary = _student().finetune(data, student=student, out=out, decoder_layers=decoder_layers,
                                  train_fraction=train_fraction, task_prefix=task_prefix,
                                  **settings)
    click.echo(json.dumps(summary))
