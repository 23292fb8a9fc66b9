"""``fsa-edge evaluate``: the paper's micro P/R/F1 of an ``analyze`` output against gold;
accuracy and macro-F1 for sentence-level polarity."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..metric import (COUNTING_RULES, Evaluation, SentenceEvaluation, evaluate as score,
                      gold_by_id, score_sentences)
from ..readers import READERS, read_dataset, read_predictions
from ..tasks import SENTENCE, get_task, task_names


def format_table(evaluation: Evaluation) -> str:
    rows = [("all", evaluation.overall)] + list(evaluation.by_polarity.items())
    lines = [f"task {evaluation.task}: {evaluation.reviews} reviews, "
             f"{evaluation.missing_predictions} without prediction, {evaluation.counting} counting",
             f"{'':10} {'P':>7} {'R':>7} {'F1':>7} {'tp':>6} {'pred':>6} {'found':>6} {'gold':>6}"]
    for name, s in rows:
        lines.append(f"{name:10} {s.precision:7.2f} {s.recall:7.2f} {s.f1:7.2f} "
                     f"{s.true_positives:6d} {s.predicted:6d} {s.found:6d} {s.gold:6d}")
    return "\n".join(lines)


def format_sentence_table(evaluation: SentenceEvaluation) -> str:
    """Accuracy and macro-F1, per-class P/R/F1, then the confusion counts (rows: gold)."""
    lines = [f"task {evaluation.task}: {evaluation.reviews} reviews, "
             f"{evaluation.missing_predictions} without prediction",
             f"accuracy {evaluation.accuracy:.2f} ({evaluation.correct}/{evaluation.reviews}), "
             f"macro-F1 {evaluation.macro_f1:.2f}"
             + ("" if evaluation.score_ece is None
                else f", score ECE {evaluation.score_ece:.3f}"),
             f"{'':10} {'P':>7} {'R':>7} {'F1':>7} {'tp':>6} {'pred':>6} {'support':>7}"]
    for name, s in evaluation.per_class.items():
        lines.append(f"{name:10} {s.precision:7.2f} {s.recall:7.2f} {s.f1:7.2f} "
                     f"{s.true_positives:6d} {s.predicted:6d} {s.support:7d}")
    columns = list(next(iter(evaluation.confusion.values()), {}))
    width = max([8] + [len(c) for c in columns])
    lines.append(f"{'gold/pred':10} " + " ".join(f"{c:>{width}}" for c in columns))
    for gold_class, row in evaluation.confusion.items():
        lines.append(f"{gold_class:10} " + " ".join(f"{row[c]:{width}d}" for c in columns))
    return "\n".join(lines)


@click.command()
@click.option("--task", "-t", required=True, type=click.Choice(task_names(), case_sensitive=False))
@click.option("--gold", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A gold file of any format the readers know.")
@click.option("--gold-format", type=click.Choice(sorted(READERS)), default=None,
              help="Force the gold format (default: detected).")
@click.option("--pred", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An `fsa-edge analyze` output (JSONL), matched by id.")
@click.option("--counting", type=click.Choice(COUNTING_RULES), default="paper", show_default=True,
              help="paper: gold de-duplicated per review, matches by membership (the paper's "
                   "code); multiset: every gold repeat must be predicted again.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the scores as JSON here.")
def evaluate(task: str, gold: str, gold_format: str | None, pred: str, counting: str,
             json_out: str | None) -> None:
    """Score predictions against gold: micro P/R/F1 on exact elements, per polarity.

    With --task sentence: accuracy and macro-F1 over the gold classes, per-class P/R/F1 and
    the confusion counts (the highest-scored element of a line is its answer; a missing one
    counts as wrong); --counting does not apply."""
    task_object = get_task(task)
    dataset = read_dataset(gold, gold_format)
    predictions = read_predictions(pred)
    gold_elements = gold_by_id(dataset.examples)
    predicted = {rid: r.elements_for(task_object.name) for rid, r in predictions.items()}
    evaluation: Evaluation | SentenceEvaluation
    if task_object.name == SENTENCE.name:
        evaluation = score_sentences(gold_elements, predicted, task=task_object.name)
        click.echo(format_sentence_table(evaluation))
    else:
        evaluation = score(task_object, gold_elements, predicted, counting=counting)
        click.echo(format_table(evaluation))
    if json_out:
        record = {"gold": str(Path(gold)), "pred": str(Path(pred)), **evaluation.to_dict()}
        Path(json_out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
