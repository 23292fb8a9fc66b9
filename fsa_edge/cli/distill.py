"""``fsa-edge distill``: a teacher answers a prompt for every review into a resumable corpus.

The teacher's heavy library (``llama_cpp``) is imported only when the teacher is built.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from .engine import engine_from, engine_options
from .input_file import STDIN, check_input_file, input_name, open_input
from .key_values import parse_options


def _input_format(input_path: str, chosen: str) -> str:
    check_input_file(input_path)  # before it is read to tell the format
    if chosen != "auto":
        return chosen
    if input_path == STDIN or input_path.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    if input_path.endswith(".txt"):
        with open(input_path, encoding="utf-8", errors="replace") as handle:
            if "####" not in handle.read(4096):
                return "text"
    return "dataset"


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _items(input_path: str, input_format: str, text_field: str, id_field: str,
           keep_fields: tuple[str, ...], dataset_format: str | None
           ) -> tuple[Iterator[Any], int | None]:
    from ..readers import iter_jsonl_reviews, iter_text_reviews, read_dataset
    from ..teaching import DistillItem, items_from_reviews

    if input_format == "dataset":
        dataset = read_dataset(input_path, dataset_format)
        return items_from_reviews(e.review for e in dataset.examples), len(dataset.examples)
    stream = open_input(input_path)
    source = input_name(input_path)
    lines = (iter_text_reviews(stream, source=source) if input_format == "text" else
             iter_jsonl_reviews(stream, text_field=text_field, id_field=id_field, source=source))
    total = None if input_path == STDIN else _count_lines(Path(input_path))

    def generate() -> Iterator[Any]:
        try:
            for item in lines:
                if item.review is None:
                    yield DistillItem(item.id, None, {}, error=item.error)
                else:
                    metadata = {k: v for k, v in item.review.metadata.items() if k in keep_fields}
                    yield DistillItem(item.id, item.review.text, metadata)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    return generate(), total


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("--teacher", "teacher_path", required=True, type=click.Path(exists=True),
              help="The teacher's model or source: a GGUF file (llamacpp), a recorded JSONL "
                   "(replay), a trained tagger directory (tagger: label answers + soft "
                   "targets), ...")
@click.option("--teacher-name", default=None,
              help="Teacher plugin (default: the first one that recognises --teacher).")
@click.option("--prompt", "prompt_name", default="analysis", show_default=True,
              help="Built-in prompt: analysis, rewriting or label.")
@click.option("--prompt-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Your own prompt file (JSON); overrides --prompt.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The corpus (JSONL). An existing one is resumed.")
@click.option("--format", "input_format", default="auto", show_default=True,
              type=click.Choice(["auto", "jsonl", "text", "dataset"]),
              help="jsonl: JSON lines; text: one review per line; dataset: any data set the "
                   "readers know (auto: by extension).")
@click.option("--dataset-format", default=None, help="Force the data-set reader.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--id-field", default="id", show_default=True)
@click.option("--keep-field", "keep_fields", multiple=True, default=("Overall", "overall"),
              show_default=True, help="Input fields copied into each row's metadata.")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--temperature", default=0.7, show_default=True, type=float)
@click.option("--top-p", default=0.95, show_default=True, type=float)
@click.option("--max-tokens", default=512, show_default=True, type=click.IntRange(min=1))
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Teacher option, e.g. -O n_ctx=4096 -O n_threads=2 -O n_gpu_layers=auto.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0),
              help="Extra attempts after a teacher failure or an unparseable label answer.")
@click.option("--retry-errors", is_flag=True,
              help="Retry reviews whose row in the corpus is an error row.")
@click.option("--limit", default=None, type=click.IntRange(min=1),
              help="Stop after this many new rows.")
@click.option("--sync-every", default=8, show_default=True, type=click.IntRange(min=1),
              help="fsync the corpus after this many rows (and at least every 2 s).")
@click.option("--price-in", default=None, type=float,
              help="API price per million prompt tokens, for the cost summary.")
@click.option("--price-out", default=None, type=float,
              help="API price per million generated tokens, for the cost summary.")
@click.option("--export", "export_format", default=None, type=click.Choice(["paper"]),
              help="Also write the corpus in the paper's layout {ID, Text, Overall, "
                   "<teacher>_response}.")
@click.option("--export-output", default=None, type=click.Path(dir_okay=False),
              help="Where --export writes (default: OUTPUT with .paper.jsonl).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
@engine_options
def distill(input_path: str, teacher_path: str, teacher_name: str | None, prompt_name: str,
            prompt_file: str | None, output: str, input_format: str,
            dataset_format: str | None, text_field: str, id_field: str,
            keep_fields: tuple[str, ...], seed: int, temperature: float, top_p: float,
            max_tokens: int, options: tuple[str, ...], retries: int, retry_errors: bool,
            limit: int | None, sync_every: int, price_in: float | None,
            price_out: float | None, export_format: str | None, export_output: str | None,
            progress: bool | None, **engine: object) -> None:
    """Have a teacher answer a prompt for every review of INPUT, into the corpus OUTPUT.

    Resumable: rerun the same command after an interruption and it continues where it
    stopped. Prints a JSON summary on stdout, progress and the cost summary on stderr.
    """
    from ..teaching import Sampling, distill as run, export_paper, load_prompt, select_teacher

    chosen = engine_from(engine)
    prompt = load_prompt(prompt_file or prompt_name)
    items, total = _items(input_path, _input_format(input_path, input_format), text_field,
                          id_field, keep_fields, dataset_format)
    sampling = Sampling(seed=seed, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
    teacher_cls = select_teacher(teacher_path, teacher_name)
    common = {"retries": retries, "retry_errors": retry_errors, "total": total,
              "progress": progress, "sync_every": sync_every, "price_in": price_in,
              "price_out": price_out, "limit": limit}
    if chosen.engine == "ray":
        from ..ray import distill_on_ray

        summary = distill_on_ray(items, teacher_path=teacher_path,
                                 teacher_name=teacher_cls.name, options=parse_options(options),
                                 sampling=sampling, prompt=prompt, output=output,
                                 **common, **chosen.ray_kwargs())
    else:
        with teacher_cls(teacher_path, sampling=sampling, **parse_options(options)) as teacher:
            summary = run(items, teacher, prompt, output, **common)
    click.echo(summary.format(), err=True)
    record: dict[str, Any] = {"output": output, "prompt": prompt.name,
                              "prompt_version": prompt.version, "teacher": teacher_cls.name,
                              **summary.to_dict()}
    if export_format == "paper":
        target = export_output or str(Path(output).with_suffix("")) + ".paper.jsonl"
        result = export_paper(output, target)
        click.echo(f"exported {result.rows} rows ({result.skipped_errors} error rows left out) "
                   f"to {result.path} as {result.response_key}", err=True)
        record["export"] = {"path": str(result.path), "rows": result.rows,
                            "skipped_errors": result.skipped_errors}
    click.echo(json.dumps(record))
