"""``distill`` on Ray Data: teacher actors answer, the driver keeps the one corpus.

The driver opens the corpus as a local run does (:class:`~fsa_edge.teaching.CorpusWriter`: a
lock, a torn tail repaired, the keys already done), sends only the missing items to a pool of
teacher actors (one teacher loaded per actor; a GGUF gets ``n_gpu_layers`` on GPU nodes through
``-O``), and appends each row that comes back, fsync'd in groups. Rows are keyed by
``(prompt, id, occurrence)``: a row Ray computes twice (an actor or node died and its block was
redone) is written once, and a driver killed at any moment loses only rows in flight, which a
rerun asks for again. The corpus is the same file a local run writes; either engine resumes it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..teaching.corpus import CorpusWriter, row_key
from ..teaching.cost import CostCounter, CostSummary
from ..teaching.prompts import Prompt
from ..teaching.runner import DistillItem, DistillProgress, RowMaker, with_occurrences
from ..teaching.teacher import Sampling, select_teacher
from .cluster import connect, plan_actors, quiet_logs, require_ray

# small: rows stream back, and a lost actor redoes little; a teacher that answers in batches
# (the tagger) gets at most this many reviews per batch on Ray
ITEMS_PER_CALL = 4


class _Teach:
    """One actor: a loaded teacher that turns items into corpus rows (JSON text)."""

    def __init__(self, teacher_path: str, teacher_name: str | None, options: Mapping[str, Any],
                 sampling: Mapping[str, Any], prompt: Prompt, retries: int) -> None:
        teacher_class = select_teacher(teacher_path, teacher_name)
        self.teacher = teacher_class(teacher_path, sampling=Sampling(**sampling), **options)
        self.rows = RowMaker(self.teacher, prompt, retries)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        items = [(DistillItem(record["id"], record["text"], json.loads(record["metadata"]),
                              error=record["error"]), record["occurrence"])
                 for record in batch.to_pylist()]
        rows = [json.dumps(row, ensure_ascii=False) for row in self.rows.make_many(items)]
        return pa.table({"row": pa.array(rows, pa.string())})


def distill_on_ray(items: Iterable[DistillItem], *, teacher_path: str,
                   teacher_name: str | None, options: Mapping[str, Any], sampling: Sampling,
                   prompt: Prompt, output: str | Path, retries: int = 2,
                   retry_errors: bool = False, total: int | None = None,
                   progress: bool | None = None, sync_every: int = 8,
                   price_in: float | None = None, price_out: float | None = None,
                   limit: int | None = None, address: str | None = None,
                   actors: int | None = None, cpus_per_actor: float = 1.0,
                   gpus_per_actor: float = 0.0) -> CostSummary:
    """``fsa-edge distill … --engine ray``: the same corpus and summary as
    :func:`fsa_edge.teaching.distill`, the answers computed by a pool of teacher actors."""
    counter = CostCounter()
    began = time.perf_counter()
    report = DistillProgress(progress, total)
    with CorpusWriter(output, retry_errors=retry_errors, sync_every=sync_every) as corpus:
        pending = []
        for item, occurrence in with_occurrences(items):
            if (prompt.name, item.id, occurrence) in corpus:
                counter.skip()
                report.update(skipped=1)
            elif limit is None or len(pending) < limit:
                pending.append({"id": item.id, "text": item.text, "error": item.error,
                                "metadata": json.dumps(dict(item.metadata), ensure_ascii=False),
                                "occurrence": occurrence})
        try:
            if pending:
                _run(pending, corpus, counter, report, teacher_path=teacher_path,
                     teacher_name=teacher_name, options=options, sampling=sampling,
                     prompt=prompt, retries=retries, address=address, actors=actors,
                     cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor)
        finally:
            report.close()
            seconds = time.perf_counter() - began
    return counter.summary(seconds=seconds, price_in=price_in, price_out=price_out)


def _run(pending: list[dict[str, Any]], corpus: CorpusWriter, counter: CostCounter,
         report: DistillProgress, *, teacher_path: str, teacher_name: str | None,
         options: Mapping[str, Any], sampling: Sampling, prompt: Prompt, retries: int,
         address: str | None, actors: int | None, cpus_per_actor: float,
         gpus_per_actor: float) -> None:
    started = connect(address)
    ray = require_ray()
    try:
        quiet_logs(bool(report.enabled))
        plan = plan_actors(actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor)
        blocks = max(1, min(len(pending), plan.actors * 8, len(pending) // ITEMS_PER_CALL or 1))
        dataset = ray.data.from_items(pending, override_num_blocks=blocks)
        rows = dataset.map_batches(
            _Teach, fn_constructor_kwargs={
                "teacher_path": str(teacher_path), "teacher_name": teacher_name,
                "options": dict(options), "sampling": sampling.to_dict(), "prompt": prompt,
                "retries": retries},
            batch_size=ITEMS_PER_CALL, batch_format="pyarrow", **plan.map_args())
        for batch in rows.iter_batches(batch_size=None, batch_format="pyarrow"):
            for text in batch.column("row").to_pylist():
                row = json.loads(text)
                if row_key(row) in corpus:  # computed twice (a redone block): written once
                    continue
                corpus.write(row)
                counter.count(row)
                report.update(done=1, errors=row["error"] is not None,
                              tokens_out=row["tokens_out"])
    finally:
        if started:
            ray.shutdown()
