"""Recorded run: the MiniLM-warm-started student fine-tuned on fsa-benchmark ATSA rest14.

Fine-tunes ``--student minilm`` (BART with the all-MiniLM-L6-v2 encoder, decoder initialised from
MiniLM layers) on ``atsa/rest14/train.json`` (optionally with ASTE 14res as a second task),
keeps the best checkpoint by dev F1, then scores it on ``test.json`` with greedy decoding and the
core metric. Writes one JSON record (settings, per-epoch dev scores, test scores, wall time,
CPU facts) to ``--record``.

    python benchmarks/finetune_rest14.py --out /tmp/rest14 --epochs 10 --budget-minutes 60 \
        --threads 2 --record benchmarks/results/finetune_rest14.json

Target of issue 5: test F1 >= 62 within one hour on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="training output directory (new)")
    parser.add_argument("--record", default=None, help="write the JSON record here")
    parser.add_argument("--data", default=str(DATA), help="the shared data folder")
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--budget-minutes", type=float, default=60.0,
                        help="stop training after this long (the best epoch so far is kept)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--decoder-lr-scale", type=float, default=3.0)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--decoder-layers", type=int, default=3)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--multitask", action="store_true",
                        help="also train ASTE 14res (with task prefixes)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="score only the first N test reviews (smoke runs)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "plugins"))
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_seq2seq.loop import Settings, pick_device
    from fsa_edge_seq2seq.recipes import finetune, generate
    from fsa_edge_seq2seq.text import load_student

    rest14 = Path(args.data) / "fsa-benchmark" / "atsa" / "rest14"
    data = [TaskData(get_task("atsa"), rest14 / "train.json", rest14 / "dev.json")]
    if args.multitask:
        aste = Path(args.data) / "aste-data-v2" / "ASTE-Data-V2-EMNLP2020" / "14res"
        data.append(TaskData(get_task("aste"), aste / "train_triplets.txt",
                             aste / "dev_triplets.txt"))
    started = time.perf_counter()
    summary = finetune(
        data, student=args.student, out=args.out, decoder_layers=args.decoder_layers,
        train_fraction=args.train_fraction, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, decoder_lr_scale=args.decoder_lr_scale, label_smoothing=args.label_smoothing,
        seed=args.seed, threads=args.threads, device=args.device,
        max_seconds=args.budget_minutes * 60)
    train_seconds = time.perf_counter() - started

    task = get_task("atsa")
    test = read_dataset(rest14 / "test.json").examples[:args.test_limit]
    student = load_student(args.out)
    settings = Settings(max_output_length=128, eval_batch_size=64)
    device = pick_device(args.device)
    prefix = len(data) > 1
    scored = time.perf_counter()
    generated = generate(student, [(task.prefix if prefix else "") + ex.review.text
                                   for ex in test], settings, device)
    predicted = {ex.review.id: task.parse(text, ex.review.text).elements
                 for ex, text in zip(test, generated)}
    result = evaluate(task, {ex.review.id: ex.elements for ex in test}, predicted)
    record = {
        "benchmark": "finetune_rest14", "command": " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
        "student": args.student, "multitask": args.multitask, "epochs_asked": args.epochs,
        "budget_minutes": args.budget_minutes, "threads": args.threads,
        "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
        "machine": platform.processor() or platform.machine(), "device": device,
        "train_seconds": round(train_seconds, 1),
        "test_seconds": round(time.perf_counter() - scored, 1),
        "best_epoch": summary["best_epoch"], "best_dev_f1": summary["best_score"],
        "epochs_done": summary["epochs_done"], "interrupted": summary["interrupted"],
        "dev_history": [{k: v for k, v in h.items() if k != "dev"} for h in summary["history"]],
        "test_reviews": len(test), "test": result.to_dict(),
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
