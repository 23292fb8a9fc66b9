"""Do a review's answers depend on the other reviews of its batch? Per compute type.

    python benchmarks/batch_dependence.py [--model default] [--reviews FILE] [--out PREFIX]

``--reviews``: any file ``read_dataset`` reads (default: rest14 ATSA test, ../shared/data).

Analyses the same reviews twice per compute type — batches from the first review, and batches
shifted by ``--shift`` reviews (so every batch holds other neighbours and another padded length)
— and counts the reviews whose decoded elements differ and the largest score difference. Prints a
table and writes ``PREFIX.json`` (default ``benchmarks/results/batch_dependence``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def answers(model: str, compute_type: str, reviews: list, shift: int, threads: int
            ) -> tuple[list[dict], list[dict]]:
    """The reviews' answers batched from the first review, and batched after ``shift`` reviews
    (one model load for both)."""
    from fsa_edge.api import load

    with load(model, compute_type=compute_type, cpu_threads=threads) as analyzer:
        plain = analyzer.analyze_reviews(reviews)
        shifted = analyzer.analyze_reviews(reviews[:shift]) if shift else []
        shifted += analyzer.analyze_reviews(reviews[shift:])
    return [r.to_dict() for r in plain], [r.to_dict() for r in shifted]


def elements(row: dict) -> list[tuple[str, dict]]:
    """A result row's elements with their task (``"elements"``, or each task's answers of task
    ``all``), in a fixed order."""
    answers = row.get("answers") or {}
    return [("elements", e) for e in row.get("elements") or []] + [
        (task, e) for task in sorted(answers) for e in answers[task] or []]


def compare(first: list[dict], second: list[dict]) -> dict:
    """Two runs' result rows (``to_dict``), row by row: rows decoded differently (scores
    aside), rows with a score moved by more than 1e-5, the largest score move of the others."""
    def decoded(row: dict) -> list:
        return [(task, {k: v for k, v in e.items() if k != "score"})
                for task, e in elements(row)]

    flips, largest, moved = 0, 0.0, 0
    for a, b in zip(first, second):
        if decoded(a) != decoded(b):
            flips += 1
            continue
        deltas = [abs(x["score"] - y["score"]) for (_, x), (_, y) in zip(elements(a), elements(b))
                  if x["score"] is not None and y["score"] is not None]
        largest = max([largest, *deltas])
        moved += any(d > 1e-5 for d in deltas)
    return {"reviews": len(first), "decoded_differently": flips,
            "reviews_with_a_score_moved_over_1e-5": moved, "max_score_delta": round(largest, 6)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--reviews", type=Path, default=ROOT.parent / "shared" / "data" /
                        "fsa-benchmark" / "atsa" / "rest14" / "test.json")
    parser.add_argument("--shift", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compute-types", default="int8,float32")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "batch_dependence")
    args = parser.parse_args(argv)
    from fsa_edge.readers import read_dataset

    lines = [example.review for example in read_dataset(args.reviews).examples]
    rows = {}
    for compute_type in filter(None, args.compute_types.split(",")):
        rows[compute_type] = compare(*answers(args.model, compute_type, lines, args.shift,
                                              args.threads))
    record = {"benchmark": "batch_dependence", "model": args.model,
              "reviews_file": str(args.reviews), "shift": args.shift,
              "machine": platform.machine(), "processor": platform.processor(),
              "command": "python benchmarks/batch_dependence.py " + " ".join(argv or sys.argv[1:]),
              "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n",
                                             encoding="utf-8")
    print("| compute type | reviews | decoded differently | scores moved | max score Δ |")
    print("|---|---|---|---|---|")
    for compute_type, row in rows.items():
        print(f"| {compute_type} | {row['reviews']} | {row['decoded_differently']} | "
              f"{row['reviews_with_a_score_moved_over_1e-5']} | {row['max_score_delta']:.6f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
