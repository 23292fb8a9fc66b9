"""``fsa-edge analyze``: one JSON line out per input line, in input order."""

from __future__ import annotations

import sys

import click

from ..jsonlines import dumps_line
from ..readers import iter_jsonl_reviews, iter_text_reviews, line_batches
from ..readers.jsonl import DEFAULT_BATCH_SIZE
from .engine import engine_from, engine_options
from .input_file import STDIN, check_input_file, input_name, open_input
from .key_values import parse_options
from .progress import Progress


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write JSON lines here (default: stdout).")
@click.option("--model", "-m", default="default", show_default=True,
              help="Model directory or alias.")
@click.option("--backend", "-b", default=None, help="Backend name (default: from the model).")
@click.option("--task", "-t", default=None,
              help="Task, one the model serves, or 'all' (every task it serves, one pass; "
                   "default: the model's default task); another is a usage error, before any "
                   "input is read.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--cpu-threads", type=click.IntRange(min=1), default=None,
              help="CPU threads of the backend (default: the physical cores).")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Backend option, e.g. -O max_batch_tokens=4096 (the tagger's: compute_type, "
                   "max_batch_tokens, max_batch_size); an option the backend does not take is an "
                   "error.")
@click.option("--format", "input_format", type=click.Choice(["jsonl", "text"]), default="jsonl",
              show_default=True, help="jsonl: one JSON object per line; text: one review per line.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--id-field", default="id", show_default=True)
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True,
              type=click.IntRange(min=1),
              help="Input lines per batch, bad lines included (every engine batches the same "
                   "lines).")
@click.option("--strict", is_flag=True, help="Stop at the first bad line with exit code 2.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
@engine_options
@click.option("--preserve-order/--no-preserve-order", default=True, show_default=True,
              help="--engine ray: output lines in input order (else as actors finish; each "
                   "line still carries its id).")
def analyze(input_path: str, output: str | None, model: str, backend: str | None,
            task: str | None, device: str, input_format: str, text_field: str, id_field: str,
            batch_size: int, strict: bool, progress: bool | None,
            cpu_threads: int | None, options: tuple[str, ...], preserve_order: bool,
            **engine: object) -> None:
    """Analyse every review of INPUT (JSONL, or '-' for stdin).

    With --engine ray, OUTPUT may end with .parquet (one row per input line, with its line
    number)."""
    from ..api import LOAD_ARGUMENTS, load

    chosen = engine_from(engine)
    backend_options = parse_options(options)
    own = sorted(backend_options.keys() & LOAD_ARGUMENTS)
    if own:  # load's own arguments (analyze's options), not the backend's
        raise click.UsageError(f"-O {own[0]}: use --{own[0].replace('_', '-')}")
    if cpu_threads and "cpu_threads" in backend_options:
        raise click.UsageError("--cpu-threads and -O cpu_threads: give one")
    parquet = output is not None and output.endswith(".parquet")
    if chosen.engine == "ray":
        for flag, given in (("--strict", strict), ("--backend", backend),
                            ("--cpu-threads (use --cpus-per-actor)", cpu_threads),
                            ("-O cpu_threads (use --cpus-per-actor)",
                             "cpu_threads" in backend_options),
                            ("INPUT '-' (stdin)", input_path == STDIN),
                            ("--device (use --gpus-per-actor)", device != "auto")):
            if given:
                raise click.UsageError(f"{flag}: not with --engine ray")
        check_input_file(input_path)
        from ..ray import analyze_file

        counts = analyze_file(input_path, output, model=model, task=task,
                              input_format=input_format, text_field=text_field,
                              id_field=id_field, batch_size=batch_size,
                              preserve_order=preserve_order, progress=bool(progress),
                              options=backend_options, **chosen.ray_kwargs())
        click.echo(f"analyze: {counts['lines']} lines ({counts['errors']} error records) on "
                   f"{counts['actors']} Ray actor(s)", err=True)
        return
    if parquet:
        raise click.UsageError("Parquet output (-o *.parquet) needs --engine ray")

    if cpu_threads:
        backend_options["cpu_threads"] = cpu_threads
    analyzer = load(model, backend=backend, device=device, task=task, batch_size=batch_size,
                    **backend_options)
    stream = open_input(input_path)
    source = input_name(input_path)
    if input_format == "text":
        lines = iter_text_reviews(stream, source=source)
    else:
        lines = iter_jsonl_reviews(stream, text_field=text_field, id_field=id_field,
                                   source=source)
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    report = Progress(progress)
    try:
        for chunk in line_batches(lines, batch_size):
            bad = next((item for item in chunk if item.error is not None), None)
            if strict and bad is not None:
                chunk = chunk[:chunk.index(bad)]
            errors = 0
            for result in analyzer.analyze_lines(chunk):
                errors += result.error is not None
                out.write(dumps_line(result.to_dict()) + "\n")
            out.flush()
            report.update(len(chunk), errors)
            if strict and bad is not None:
                click.echo(f"Error: {bad.error}", err=True)
                sys.exit(2)
    finally:
        report.close()
        if output:
            out.close()
        if stream is not sys.stdin.buffer:
            stream.close()
        analyzer.close()
