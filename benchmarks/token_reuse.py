"""What reusing the window check's encodings saves: the tagger analysed with them and without.

    python benchmarks/token_reuse.py [--model default] [--task all] [--threads 2] [--passes 5]

The analyzer counts every text's word pieces before analysing it (is it longer than the model's
window?); the tagger runtime keeps those encodings for its encoder pass
(``fsa_edge.runtime.TokenCounter``). Without reuse — as before — each text is tokenized twice. One
process, one model, the same inputs (the four fsa-benchmark test splits, or synthetic sentences),
passes interleaved (with, without, with, …) so that other load on the machine touches both alike;
best pass of each. Also checks that both give the same answers. Writes ``OUT.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from default_speed import answers, inputs  # noqa: E402
from records import cpu_model, speed_features, write_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--task", default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "token_reuse")
    args = parser.parse_args(argv)
    import fsa_edge

    texts, source = inputs(args.limit)
    analyzer = fsa_edge.load(args.model, batch_size=32, cpu_threads=args.threads)
    runtime = analyzer.backend.runtime
    reuse = runtime.input_lengths
    def count_alone(texts: list[str]) -> list[int]:  # as before: nothing kept
        return [len(encoding.ids) for encoding in runtime.counter.encodings(texts)]

    settings = {"with reuse": reuse, "without reuse": count_alone}
    analyzer.analyze(texts[:32], task=args.task)
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    found: dict[str, list] = {}
    for _ in range(args.passes):
        for name, count in settings.items():
            runtime.input_lengths = count
            runtime.counter([])  # an empty count: no encoding kept from the pass before
            started = time.perf_counter()
            results = analyzer.analyze(texts, task=args.task)
            seconds[name].append(time.perf_counter() - started)
            found[name] = answers(results)
    runtime.input_lengths = reuse
    rows = {name: {"best_seconds": min(s), "passes_s": [round(x, 3) for x in s],
                   "reviews_per_s": len(texts) / min(s)} for name, s in seconds.items()}
    ratio = rows["with reuse"]["reviews_per_s"] / rows["without reuse"]["reviews_per_s"]
    record = {"benchmark": "token_reuse", "model": args.model, "task": args.task,
              "inputs": source, "reviews": len(texts), "threads": args.threads,
              "passes": args.passes, "cpu_model": cpu_model(),
              "cpu_speed_features": speed_features(), "cpu_count": os.cpu_count(),
              "load_average_at_end": os.getloadavg(), "rows": rows,
              "with_over_without": round(ratio, 4),
              "same_answers": found["with reuse"] == found["without reuse"]}
    table = (f"CPU: {record['cpu_model'] or 'unknown'}, {args.threads} threads; task {args.task}; "
             f"{len(texts)} reviews; best of {args.passes} interleaved passes\n\n"
             "| encodings | reviews/s | passes (s) |\n|---|---|---|\n"
             + "".join(f"| {name} | {row['reviews_per_s']:.1f} | {row['passes_s']} |\n"
                       for name, row in rows.items())
             + f"\nwith ÷ without: {ratio:.3f}; same answers: {record['same_answers']}\n")
    write_table(args.out, record, table)
    return 0 if record["same_answers"] else 1


if __name__ == "__main__":
    sys.exit(main())
