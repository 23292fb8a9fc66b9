"""Recorded run: the MiniLM-warm-started student fine-tuned on fsa-benchmark ATSA rest14.

Fine-tunes ``--student minilm`` (BART with the all-MiniLM-L6-v2 encoder, decoder initialised from
MiniLM layers) on ``atsa/rest14/train.json`` (optionally with auxiliary restaurant data sets as
further tasks, ``--aux aste14,asqp16``; sentences of the rest14 dev and test sets are dropped from
them), keeps the best checkpoint by dev F1, then scores it on ``test.json`` with greedy decoding
and the core metric. ``--pretrain-corpus`` first pre-trains the student on a teacher corpus (the
ablation of issue 4/5). Writes one JSON record (settings, per-epoch dev scores, test scores, wall
time, CPU facts) to ``--record``.

    python benchmarks/finetune_rest14.py --out /tmp/rest14 --epochs 10 --budget-minutes 60 \
        --threads 2 --record benchmarks/results/finetune_rest14.json

Target of issue 5: test F1 >= 62 within one hour on 2 CPU cores.
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
ASTE = "aste-data-v2/ASTE-Data-V2-EMNLP2020"
#: auxiliary restaurant data sets: name → (task, train, dev) under the data folder
AUX = {
    "aste14": ("aste", f"{ASTE}/14res/train_triplets.txt", f"{ASTE}/14res/dev_triplets.txt"),
    "aste15": ("aste", f"{ASTE}/15res/train_triplets.txt", f"{ASTE}/15res/dev_triplets.txt"),
    "aste16": ("aste", f"{ASTE}/16res/train_triplets.txt", f"{ASTE}/16res/dev_triplets.txt"),
    "asqp15": ("asqp", "asqp/data/rest15/train.txt", "asqp/data/rest15/dev.txt"),
    "asqp16": ("asqp", "asqp/data/rest16/train.txt", "asqp/data/rest16/dev.txt"),
}


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
    parser.add_argument("--cross-attention", choices=("random", "self"), default="random",
                        help="warm start of the decoder's cross-attention")
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--multitask", action="store_true", help="same as --aux aste14")
    parser.add_argument("--aux", default="",
                        help=f"comma-separated auxiliary data sets: {', '.join(AUX)}")
    parser.add_argument("--warmup-ratio", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--pretrain-corpus", default=None,
                        help="pre-train on this teacher corpus first (e.g. the 500 samples)")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--pretrain-lr", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="score only the first N test reviews (smoke runs)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "plugins"))
    from records import emit
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge.student_support import pick_device
    from fsa_edge_seq2seq.loop import Settings
    from fsa_edge_seq2seq.recipes import finetune, generate
    from fsa_edge_seq2seq.text import load_student

    rest14 = Path(args.data) / "fsa-benchmark" / "atsa" / "rest14"
    data = [TaskData(get_task("atsa"), rest14 / "train.json", rest14 / "dev.json")]
    aux = [name for name in args.aux.split(",") if name] + (["aste14"] if args.multitask else [])
    for name in dict.fromkeys(aux):
        if name not in AUX:
            parser.error(f"unknown --aux {name!r}; choose from {', '.join(AUX)}")
        task_name, train, dev = AUX[name]
        data.append(TaskData(get_task(task_name), Path(args.data) / train, Path(args.data) / dev))
    all_test = read_dataset(rest14 / "test.json").examples
    student_spec, pretrain_record = args.student, None
    started = time.perf_counter()
    if args.pretrain_corpus:
        from fsa_edge.training import read_corpus
        from fsa_edge_seq2seq.recipes import pretrain

        pretrained = Path(args.out) / "pretrained"
        pretrain_record = pretrain(
            read_corpus(args.pretrain_corpus), student=args.student, out=pretrained,
            decoder_layers=args.decoder_layers, cross_attention=args.cross_attention,
            epochs=args.pretrain_epochs,
            batch_size=args.batch_size, lr=args.pretrain_lr, seed=args.seed,
            threads=args.threads, device=args.device)
        pretrain_record = {k: v for k, v in pretrain_record.items() if k != "history"} | {
            "dev_loss_per_epoch": [h["dev_loss"] for h in pretrain_record["history"]]}
        student_spec = str(pretrained)
    pretrain_seconds = time.perf_counter() - started
    summary = finetune(
        data, student=student_spec, out=Path(args.out) / "finetuned" if args.pretrain_corpus
        else args.out, decoder_layers=args.decoder_layers, cross_attention=args.cross_attention,
        train_fraction=args.train_fraction, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, decoder_lr_scale=args.decoder_lr_scale, label_smoothing=args.label_smoothing,
        warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay,
        seed=args.seed, threads=args.threads, device=args.device,
        held_out_texts=[ex.review.text for ex in all_test], score_aux_dev=False,
        max_seconds=args.budget_minutes * 60)
    train_seconds = time.perf_counter() - started - pretrain_seconds

    task = get_task("atsa")
    test = all_test[:args.test_limit]
    student = load_student(summary["out"])
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
        "student": args.student, "aux": list(dict.fromkeys(aux)), "epochs_asked": args.epochs,
        "settings": {k: v for k, v in vars(args).items() if k not in ("record", "data")},
        "pretrain": pretrain_record, "pretrain_seconds": round(pretrain_seconds, 1),
        "train_examples": summary["train_examples"], "dropped_overlap": summary["dropped_overlap"],
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
    emit(record, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
