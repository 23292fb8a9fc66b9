"""Recorded run: the tagger student (MiniLM encoder + term/category heads) on the benchmark.

Fine-tunes ``--student minilm`` on the train splits of the chosen fsa-benchmark sets (the first
selects the best epoch by dev F1; sentences of every chosen set's dev and test splits are dropped
from training), then scores the kept checkpoint on each set's test split through the same
decoding the shipped model uses (torch encoder here; ``fsa-edge convert`` gives the CTranslate2
one). Writes one JSON record to ``--record``.

    python benchmarks/finetune_tagger.py --sets atsa/rest14 --out /tmp/tagger_rest14 \\
        --epochs 12 --budget-minutes 60 --threads 2 --record benchmarks/results/tagger_rest14.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = ("atsa/rest14", "atsa/laptop14", "acsa/rest16", "acsa/laptop16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="atsa/rest14",
                        help=f"comma-separated, the first selects: {', '.join(SETS)}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--record", default=None)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--budget-minutes", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra-train", action="append", default=[], metavar="TASK:FILE",
                        help="training-only data (no dev), e.g. acsa:<ACOS laptop train.tsv>")
    parser.add_argument("--pooling", choices=("attention", "mean"), default="attention",
                        help="the category head's sentence vector")
    parser.add_argument("--select", choices=("first", "mean"), default="first",
                        help="best epoch by the first set's dev F1 or the mean over all sets")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "plugins"))
    from records import emit
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge.student_support import pick_device
    from fsa_edge_tagger.training import finetune_tagger, load_for_scoring, parse_extra_train

    names = [s for s in args.sets.split(",") if s]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {', '.join(SETS)}")
    bench = Path(args.data) / "fsa-benchmark"
    data = [TaskData(get_task(name.split("/")[0]), bench / name / "train.json",
                     bench / name / "dev.json") for name in names]
    tests = {name: read_dataset(bench / name / "test.json").examples for name in names}
    held_out = [ex.review.text for name in names for ex in tests[name]]
    held_out += [ex.review.text for item in data[1:] for ex in read_dataset(item.dev).examples]
    started = time.perf_counter()
    summary = finetune_tagger(
        data, student=args.student, out=args.out, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr,
        warmup_ratio=args.warmup_ratio, seed=args.seed, device=args.device,
        threads=args.threads, max_seconds=args.budget_minutes * 60, held_out_texts=held_out,
        select=args.select, pooling=args.pooling,
        extra_train=[parse_extra_train(spec) for spec in args.extra_train])
    train_seconds = time.perf_counter() - started

    device = pick_device(args.device)
    runtime = load_for_scoring(args.out, device=device, threads=args.threads)
    scores = {}
    for name in names:
        task = name.split("/")[0]
        examples = tests[name]
        found = []
        for start in range(0, len(examples), 64):
            chunk = examples[start:start + 64]
            found += runtime.run([ex.review.text for ex in chunk], task)
        result = evaluate(task, {ex.review.id: ex.elements for ex in examples},
                          {ex.review.id: f for ex, f in zip(examples, found)})
        scores[name] = {"f1": result.overall.f1, "precision": result.overall.precision,
                        "recall": result.overall.recall, "reviews": len(examples)}
    record = {
        "benchmark": "finetune_tagger", "command": " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
        "sets": names, "settings": {k: v for k, v in vars(args).items() if k != "record"},
        "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
        "machine": platform.processor() or platform.machine(), "device": device,
        "train_seconds": round(train_seconds, 1), "train_examples": summary["train_examples"],
        "dropped_overlap": summary["dropped_overlap"], "best_epoch": summary["best_epoch"],
        "best_dev_f1": summary["best_score"], "epochs_done": summary["epochs_done"],
        "interrupted": summary["interrupted"], "dev_history": summary["history"],
        "test": scores,
    }
    emit(record, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
