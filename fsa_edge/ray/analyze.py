"""``analyze`` on Ray Data: an actor pool where each actor loads the model once.

Rows come out exactly as plain ``fsa-edge analyze`` writes them, byte for byte (the same reader,
the same batches of lines, the same :meth:`~fsa_edge.api.Analyzer.analyze_lines`); the driver
checks that every input line came back once before it reports success.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import EngineError
from ..jsonlines import dumps_line
from ..model import AnalysisResult
from ..readers.jsonl import (DEFAULT_BATCH_SIZE, InputLine, line_batches, parse_jsonl_line,
                              parse_text_line, review_from_record)
from ..tasks import task_names
from .cluster import ActorPlan, connect, plan_actors, quiet_logs, require_ray

# The columns of a result row (Parquet output and analyze_dataset): AnalysisResult.to_dict.
RESULT_COLUMNS = ("id", "text", "task", "elements", "model", "error", "parts", "answers")
ROWS_PER_CALL = 256  # input lines (rows of a dataset, or lines of a file) per actor call


def result_schema(with_line: bool = False) -> Any:
    import pyarrow as pa

    span = pa.list_(pa.int64())
    element = pa.struct([("aspect", pa.string()), ("aspect_span", span),
                         ("category", pa.string()), ("opinion", pa.string()),
                         ("opinion_span", span), ("polarity", pa.string()),
                         ("score", pa.float64())])
    fields = [("line", pa.int64())] if with_line else []
    fields += [("id", pa.string()), ("text", pa.string()), ("task", pa.string()),
               ("elements", pa.list_(element)), ("model", pa.string()), ("error", pa.string()),
               ("parts", pa.int64()),
               # task "all": a field per registered task (null when the model does not serve it)
               ("answers", pa.struct([(task, pa.list_(element)) for task in task_names()]))]
    return pa.schema(fields)


class _Analyze:
    """One actor: a loaded model, called with batches of rows."""

    def __init__(self, model: str, task: str | None, device: str, cpu_threads: int,
                 batch_size: int, source: str, text_field: str, id_field: str,
                 input_name: str = "", options: Mapping[str, Any] | None = None) -> None:
        from ..api import load

        self.analyzer = load(model, device=device, task=task, batch_size=batch_size,
                             cpu_threads=cpu_threads, **(options or {}))
        self.source, self.text_field, self.id_field = source, text_field, id_field
        self.input_name = input_name  # the file the lines come from: errors name it

    def _results(self, lines: list[InputLine]) -> list[AnalysisResult]:
        return [result for chunk in line_batches(lines, self.analyzer.batch_size)
                for result in self.analyzer.analyze_lines(chunk)]

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if self.source == "rows":
            lines = [_row_line(index, record, self.text_field, self.id_field)
                     for index, record in enumerate(batch.to_pylist())]
            rows = [r.to_dict() for r in self._results(lines)]
            return pa.Table.from_pylist(rows, schema=result_schema())
        name = self.input_name
        parse = ((lambda raw, line: parse_text_line(raw, line, source=name))
                 if self.source == "text" else
                 lambda raw, line: parse_jsonl_line(raw, line, text_field=self.text_field,
                                                    id_field=self.id_field, source=name))
        numbers: list[int] = []
        results: list[AnalysisResult] = []
        for first, raws in zip(batch.column("line").to_pylist(), batch.column("raws").to_pylist()):
            lines = [parse(raw, first + index) for index, raw in enumerate(raws)]
            numbers += [line.line for line in lines]
            results += self.analyzer.analyze_lines(lines)  # one batch, as plain analyze cuts it
        return pa.table({"line": pa.array(numbers, pa.int64()),
                         "json": pa.array([dumps_line(r.to_dict()) for r in results], pa.string()),
                         "failed": pa.array([r.error is not None for r in results], pa.bool_())})


def _row_line(index: int, record: dict[str, Any], text_field: str, id_field: str) -> InputLine:
    """A dataset row as an input line (the checks of a JSON line); without an id (a null in a
    column) its place in the batch."""
    if record.get(id_field) is None:
        record = {k: v for k, v in record.items() if k != id_field}
    return review_from_record(record, index, str(index), text_field=text_field,
                              id_field=id_field)


def _actor_args(model: str, task: str | None, plan: ActorPlan, batch_size: int, source: str,
                text_field: str, id_field: str, input_name: str = "",
                options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"fn_constructor_kwargs": {
        "model": str(model), "task": task, "device": plan.device,
        "cpu_threads": plan.cpu_threads, "batch_size": batch_size, "source": source,
        "text_field": text_field, "id_field": id_field, "input_name": input_name,
        "options": dict(options or {})},
        # a dataset's rows are reviews, a file's are batches of lines (.lines)
        "batch_size": ROWS_PER_CALL if source == "rows" else max(1, ROWS_PER_CALL // batch_size),
        "batch_format": "pyarrow", **plan.map_args()}


def _check_task(model: str, task: str | None, options: Mapping[str, Any] | None = None) -> str:
    """The task (and the backend options), checked on the driver before any actor starts (a
    usage error stays one). The driver loads on the CPU, so a compute type meant for the
    actors' GPUs (``int8_float16``) is left to them."""
    from ..api import load

    options = {key: value for key, value in (options or {}).items() if key != "compute_type"}
    with load(model, task=task, device="cpu", cpu_threads=1, **options) as analyzer:
        return analyzer.task


def analyze_dataset(dataset: Any, *, model: str | Path = "default", task: str | None = None,
                    plan: ActorPlan | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                    text_field: str = "text", id_field: str = "id",
                    options: Mapping[str, Any] | None = None) -> Any:
    """Analyse every row of a Ray dataset; returns the dataset of results (columns
    :data:`RESULT_COLUMNS`, one row per input row, lazily computed).

    A row without a usable ``text_field`` becomes an error record, as in plain analyze; a row
    without ``id_field`` gets its position in its batch. ``plan``: the actor pool (default:
    :func:`plan_actors` on the connected cluster); ``options``: backend options (as
    :func:`fsa_edge.load` takes them). Call :func:`connect` first (or ``ray.init``)."""
    plan = plan or plan_actors()
    task = _check_task(str(model), task, options)
    return dataset.map_batches(_Analyze, **_actor_args(str(model), task, plan, batch_size,
                                                       "rows", text_field, id_field,
                                                       options=options))


def analyze_file(input_path: str | Path, output: str | Path | None, *, model: str = "default",
                 task: str | None = None, input_format: str = "jsonl", text_field: str = "text",
                 id_field: str = "id", batch_size: int = DEFAULT_BATCH_SIZE,
                 address: str | None = None, actors: int | None = None, cpus_per_actor: float = 1.0,
                 gpus_per_actor: float = 0.0, preserve_order: bool = True,
                 progress: bool = False, options: Mapping[str, Any] | None = None
                 ) -> dict[str, int]:
    """``fsa-edge analyze INPUT --engine ray``: one output line per input line (JSONL, or a
    Parquet file when ``output`` ends with ``.parquet``). Returns ``{"lines", "errors",
    "actors"}``; a line that did not come back exactly once is an :class:`EngineError`.
    ``options``: backend options, for every actor's model."""
    task = _check_task(model, task, options)
    started = connect(address)
    ray = require_ray()
    try:
        from ray.data import DataContext

        from .lines import read_line_batches

        quiet_logs(progress)
        DataContext.get_current().execution_options.preserve_order = preserve_order
        plan = plan_actors(actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor)
        lines, total = read_line_batches(input_path, batch_size)
        results = lines.map_batches(_Analyze, **_actor_args(
            model, task, plan, batch_size, input_format, text_field, id_field, str(input_path),
            options))
        parquet = output is not None and str(output).endswith(".parquet")
        counts = _write(results.iter_batches(batch_size=None, batch_format="pyarrow")
                        if total else iter(()), output, total, parquet)
        return {**counts, "actors": plan.actors}
    finally:
        if started:
            ray.shutdown()


def _write(batches: Iterator[Any], output: str | Path | None, total: int,
           parquet: bool) -> dict[str, int]:
    seen = bytearray(total + 1)
    errors = duplicated = 0
    writer = None
    out = None
    tmp = Path(str(output) + ".tmp") if parquet else None
    try:
        if not parquet:
            out = open(output, "w", encoding="utf-8") if output else sys.stdout
        for batch in batches:
            numbers = batch.column("line").to_pylist()
            texts = batch.column("json").to_pylist()
            errors += sum(batch.column("failed").to_pylist())
            for number in numbers:
                duplicated += seen[number]
                seen[number] = 1
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                records = [{"line": n, **json.loads(t)} for n, t in zip(numbers, texts)]
                table = pa.Table.from_pylist(records, schema=result_schema(with_line=True))
                writer = writer or pq.ParquetWriter(str(tmp), table.schema)
                writer.write_table(table)
            else:
                out.write("".join(t + "\n" for t in texts))
                out.flush()
    finally:
        if writer is not None:
            writer.close()
        if out is not None and output:
            out.close()
    missing = total - sum(seen)
    if duplicated or missing:
        raise EngineError(f"the Ray run returned {duplicated} duplicated and {missing} missing "
                          f"line(s) of {total}; the output is incomplete")
    if parquet:
        if writer is None:
            import pyarrow.parquet as pq

            pq.write_table(result_schema(with_line=True).empty_table(), str(tmp))
        tmp.replace(output)
    return {"lines": total, "errors": errors}
