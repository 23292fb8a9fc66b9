"""How much faster does a tagger teacher write a corpus in batches than one review at a time?

    python benchmarks/distill_speed.py --teacher DIR --reviews FILE.jsonl [--limit 2000]
        [--batch-sizes 1,64] [--threads 2] [--out PREFIX]

Runs ``fsa-edge distill FILE --teacher DIR --prompt label --limit L -O max_batch_size=N`` (a
subprocess, as a user would; each into a fresh corpus) over the first ``--limit`` reviews of
``--reviews`` for each batch size, in one run, and compares every corpus with the first one (batch size 1):
rows per second of the distill run (its own ``seconds``, model load included, and the wall time
of the command), reviews whose hard answer differs, and the largest difference of a stored soft
target (log-probabilities rounded to 3 decimals: a difference of 0.001 is one rounding step).
Prints a table and writes ``PREFIX.json`` and ``PREFIX.md`` (default
``benchmarks/results/distill_speed``).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from records import cpu_model, emit  # noqa: E402

from fsa_edge.teaching import iter_corpus_rows, row_key  # noqa: E402


def run_distill(reviews: Path, limit: int, teacher: Path, corpus: Path, batch_size: int,
                threads: int) -> dict:
    """One ``fsa-edge distill`` run over the first ``limit`` reviews into a fresh ``corpus``:
    its JSON summary plus the command's wall seconds."""
    command = [sys.executable, "-m", "fsa_edge.cli", "distill", str(reviews), "--teacher",
               str(teacher), "--prompt", "label", "-o", str(corpus), "--no-progress",
               "--limit", str(limit), "-O", f"max_batch_size={batch_size}",
               "-O", f"cpu_threads={threads}"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"distill failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {**summary, "wall_seconds": round(wall, 2)}


def rows_by_key(corpus: Path) -> dict[tuple, dict]:
    return {row_key(row): row for row in iter_corpus_rows(corpus)}


def soft_delta(a: dict, b: dict) -> float:
    """Largest difference between two rows' stored soft targets (``inf`` if shapes differ)."""
    sa = a.get("teacher_extra", {}).get("soft_targets", {})
    sb = b.get("teacher_extra", {}).get("soft_targets", {})
    if sa.get("pieces") != sb.get("pieces") or len(sa.get("categories", [])) != len(
            sb.get("categories", [])):
        return float("inf")
    delta = 0.0
    for key in ("tags", "sentence"):
        if key in sa:
            delta = max(delta, float(np.abs(np.array(sa[key]) - np.array(sb[key])).max(
                initial=0.0)))
    for (ia, la), (ib, lb) in zip(sa.get("categories", []), sb.get("categories", [])):
        if ia != ib:
            return float("inf")
        delta = max(delta, float(np.abs(np.array(la) - np.array(lb)).max()))
    return delta


def compare(reference: dict[tuple, dict], other: dict[tuple, dict]) -> dict:
    if set(reference) != set(other):
        raise SystemExit("the corpora hold different rows")
    answers = sum(reference[k]["response"] != other[k]["response"] for k in reference)
    deltas = [soft_delta(reference[k], other[k]) for k in reference]
    return {"answers_differ": answers, "max_soft_target_delta": round(max(deltas), 6),
            "rows_with_a_soft_target_moved": sum(d > 0 for d in deltas)}


def markdown(record: dict) -> str:
    lines = ["| max_batch_size | rows | rows/s (distill) | wall s | speed-up | answers differ "
             "| max soft-target Δ |", "|---|---|---|---|---|---|---|"]
    for run in record["runs"]:
        lines.append(f"| {run['batch_size']} | {run['written']} | {run['rows_per_s']} | "
                     f"{run['wall_seconds']} | {run['speed_up']}× | "
                     f"{run['answers_differ']} | {run['max_soft_target_delta']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", type=Path, required=True, help="a tagger directory")
    parser.add_argument("--reviews", type=Path, required=True, help="JSONL with id and text")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "distill_speed")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        corpora = []
        for size in sizes:
            corpus = Path(folder) / f"corpus-{size}.jsonl"
            summary = run_distill(args.reviews, args.limit, args.teacher, corpus, size,
                                  args.threads)
            corpora.append(rows_by_key(corpus))
            runs.append({"batch_size": size, "written": summary["written"],
                         "errors": summary["errors"], "seconds": summary["seconds"],
                         "wall_seconds": summary["wall_seconds"],
                         "rows_per_s": round(summary["written"] / summary["seconds"], 1)})
        for run, rows in zip(runs, corpora):
            run.update(compare(corpora[0], rows))
            run["speed_up"] = round(run["rows_per_s"] / runs[0]["rows_per_s"], 2)
    record = {"benchmark": "distill_speed", "teacher": str(args.teacher),
              "reviews_file": str(args.reviews), "limit": args.limit, "threads": args.threads,
              "machine": platform.machine(), "processor": cpu_model(),
              "command": "python benchmarks/distill_speed.py " + " ".join(
                  argv if argv is not None else sys.argv[1:]), "runs": runs}
    table = markdown(record)
    print(table)
    emit(record, args.out.with_suffix(".json"))
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
