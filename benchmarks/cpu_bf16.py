"""Training on the CPU in bf16 autocast against float32: time per epoch and dev F1.

    python benchmarks/cpu_bf16.py --out /tmp/runs/bf16 [--student minilm --student mpnet] \
        [--epochs 1] [--lr 5e-5] [--threads 2] [--record benchmarks/results/cpu_bf16.json]

For each student, the same ``fsa-edge train tagger finetune`` run (rest14 ATSA, seed 42,
``--device cpu``) twice: ``--precision fp32`` and ``--precision bf16``, one after the other on an
otherwise idle machine; the record holds each run's seconds per epoch and dev F1 per epoch (the
trainer's float32 evaluation, from ``OUT/<student>_<precision>/model/metrics.jsonl``) and whether
the CPU has AMX (``amx_bf16`` in ``/proc/cpuinfo``), where bf16 matrix products run in hardware.
Resumes: a finished run's summary (``OUT/<student>_<precision>/summary.json``) is read, not run
again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from records import cpu_flags, cpu_model, emit
from train_default import DATA, fsa_edge_command, run, split_file

#: the two precisions compared, float32 first (a subset of fsa_edge.trainer.PRECISIONS)
COMPARED = ("fp32", "bf16")


def finetune(student: str, precision: str, out: Path, args: argparse.Namespace) -> dict:
    """One run's summary (read back when the run finished before)."""
    summary_file = out / "summary.json"
    if summary_file.is_file():
        return json.loads(summary_file.read_text(encoding="utf-8"))
    data = ":".join(["atsa", str(split_file("rest14", "train", args.data)),
                     str(split_file("rest14", "dev", args.data))])
    stdout = run([*fsa_edge_command(), "train", "tagger", "finetune", "--data", data,
                  "--student", student, "--out", str(out / "model"), "--epochs",
                  str(args.epochs), "--lr", str(args.lr), "--seed", "42", "--device", "cpu",
                  "--precision", precision,
                  "--threads", str(args.threads)])
    summary = json.loads(stdout.strip().splitlines()[-1])
    summary_file.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--student", action="append", default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5,
                        help="encoder learning rate (default: the MPNet teacher's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--record", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for student in args.student or ["minilm", "mpnet"]:
        for precision in COMPARED:
            out = args.out / f"{student}_{precision}"
            out.mkdir(parents=True, exist_ok=True)
            summary = finetune(student, precision, out, args)
            history = [json.loads(line) for line in (out / "model" / "metrics.jsonl").read_text(
                encoding="utf-8").splitlines() if line.strip()]
            epochs = [h for h in history if "epoch_seconds" in h]
            rows.append({"student": student, "precision": summary.get("precision", precision),
                         "epochs": summary["epochs_done"], "seconds": summary["seconds"],
                         "train_seconds": round(sum(h["epoch_seconds"] for h in epochs), 2),
                         "epoch_seconds": [h["epoch_seconds"] for h in epochs],
                         "dev_f1_by_epoch": [h.get("dev_score") for h in epochs],
                         "dev_f1": summary["best_score"], "best_epoch": summary["best_epoch"]})
    flags = cpu_flags()
    record = {"task": "atsa/rest14", "seed": 42, "threads": args.threads, "epochs": args.epochs,
              "lr": args.lr,
              "cpu": cpu_model() or platform.processor(), "amx_bf16": "amx_bf16" in flags,
              "avx512_bf16": "avx512_bf16" in flags, "cpu_count": os.cpu_count(), "runs": rows}
    for student in dict.fromkeys(r["student"] for r in rows):
        fp32, bf16 = (next(r for r in rows if r["student"] == student and r["precision"] == p)
                      for p in COMPARED)
        speedups = record.setdefault("bf16_speedup", {})  # training steps only; whole run
        speedups[student] = {"training": round(fp32["train_seconds"] / bf16["train_seconds"], 2),
                             "run": round(fp32["seconds"] / bf16["seconds"], 2)}
    emit(record, args.record)
    if args.record:
        lines = ["| student | precision | training s | run s (+ dev scoring) | dev F1 by epoch "
                 "(rest14) |", "|---|---|---|---|---|"]
        lines += [f"| {r['student']} | {r['precision']} | {r['train_seconds']:.1f} | "
                  f"{r['seconds']:.1f} | {' / '.join(f'{f:.2f}' for f in r['dev_f1_by_epoch'])} |"
                  for r in rows]
        args.record.with_suffix(".md").write_text(
            f"CPU: {record['cpu']} (AMX bf16: {record['amx_bf16']}), {args.threads} threads, "
            f"{args.epochs} epoch(s), lr {args.lr:g}\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8")


if __name__ == "__main__":
    main()
