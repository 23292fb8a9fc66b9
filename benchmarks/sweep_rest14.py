"""Several ``finetune_rest14.py`` configurations side by side (the search behind issue 5's recipe).

Each named configuration is one ``finetune_rest14.py`` run with the same seed and data; its epoch
count is what fits in one hour on 2 CPU cores (ATSA alone: ~170 s per epoch with the dev decode,
so 20 epochs; more data, proportionally fewer). Runs go ``--parallel`` at a time (on one GPU they
share it: their wall times are then not timings), each writing ``OUT/NAME/record.json``; the
summary (per run: dev F1 per epoch so far, best dev, test F1) is rewritten every ``--every``
seconds to ``--summary`` so an interrupted sweep still reports what it saw.

    python benchmarks/sweep_rest14.py --out /tmp/sweep --parallel 11 --device cuda \\
        --summary benchmarks/results/sweep_rest14.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
TEACHER = "{data}/teacher-samples/mixtral_500.jsonl"

#: name → finetune_rest14.py arguments (the seed, device and out are added)
CONFIGS: dict[str, list[str]] = {
    # first sweep (GPU, 2026-11-28): lr 3e-4, label smoothing 0, ASTE 14res as a second task and
    # pre-training on the 500 teacher responses were all worse than the reference
    "ref_e14": ["--epochs", "14", "--lr", "1.5e-4"],
    "e20": ["--epochs", "20", "--lr", "1.5e-4"],
    "e20_lr3": ["--epochs", "20", "--lr", "3e-4"],
    "e20_lr3_ls0": ["--epochs", "20", "--lr", "3e-4", "--label-smoothing", "0"],
    "e20_ls0": ["--epochs", "20", "--lr", "1.5e-4", "--label-smoothing", "0"],
    "aste14_e15": ["--epochs", "15", "--lr", "1.5e-4", "--aux", "aste14"],
    "aste14_e15_lr3": ["--epochs", "15", "--lr", "3e-4", "--aux", "aste14"],
    "aste_all_e10_lr3": ["--epochs", "10", "--lr", "3e-4", "--aux", "aste14,aste15,aste16"],
    "pre3_ref_e14": ["--epochs", "14", "--lr", "1.5e-4", "--pretrain-corpus", TEACHER],
    "pre3_e20_lr3": ["--epochs", "20", "--lr", "3e-4", "--pretrain-corpus", TEACHER],
    "e20_lr3_seed7": ["--epochs", "20", "--lr", "3e-4", "--seed", "7"],
    # second sweep: lower rates, decoder rate scale, batch size, weight decay
    "e20_lr1": ["--epochs", "20", "--lr", "1e-4"],
    "e20_lr07": ["--epochs", "20", "--lr", "7e-5"],
    "e20_dls1": ["--epochs", "20", "--lr", "1.5e-4", "--decoder-lr-scale", "1"],
    "e20_lr1_dls1": ["--epochs", "20", "--lr", "1e-4", "--decoder-lr-scale", "1"],
    "e20_lr1_dls5": ["--epochs", "20", "--lr", "1e-4", "--decoder-lr-scale", "5"],
    "e16_bs8_lr1": ["--epochs", "16", "--lr", "1e-4", "--batch-size", "8"],
    "e20_lr1_wd1": ["--epochs", "20", "--lr", "1e-4", "--weight-decay", "0.1"],
    "e20_lr1_seed7": ["--epochs", "20", "--lr", "1e-4", "--seed", "7"],
    "e20_seed7": ["--epochs", "20", "--lr", "1.5e-4", "--seed", "7"],
}


def progress(out: Path, name: str) -> dict:
    """What run ``name`` has written so far."""
    run = out / name
    record = run / "record.json"
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        return {"state": "done", "best_dev_f1": data["best_dev_f1"],
                "best_epoch": data["best_epoch"], "test_f1": data["test"]["f1"],
                "train_seconds": data["train_seconds"],
                "pretrain_seconds": data.get("pretrain_seconds"),
                "dev_f1": [h.get("dev_f1_atsa") for h in data["dev_history"]],
                "train_examples": data.get("train_examples"),
                "dropped_overlap": data.get("dropped_overlap")}
    metrics = [p for p in (run / "metrics.jsonl", run / "finetuned" / "metrics.jsonl")
               if p.is_file()]
    dev = []
    for path in metrics:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "dev_f1_atsa" in row:
                dev.append(row["dev_f1_atsa"])
    return {"state": "running", "dev_f1": dev}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default=str(DATA), help="the shared data folder")
    parser.add_argument("--summary", required=True, help="JSON summary, rewritten as runs go")
    parser.add_argument("--only", default="", help="comma-separated names (default: all)")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--extra", default="", help="more arguments for every run (smoke tests)")
    args = parser.parse_args(argv)

    names = [n for n in args.only.split(",") if n] or list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; known: {', '.join(CONFIGS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pending = list(names)
    running: dict[str, subprocess.Popen] = {}
    codes: dict[str, int] = {}
    started = time.perf_counter()

    def write_summary() -> None:
        summary = {"benchmark": "sweep_rest14", "device": args.device, "parallel": args.parallel,
                   "elapsed_seconds": round(time.perf_counter() - started, 1),
                   "configs": {n: CONFIGS[n] for n in names},
                   "runs": {n: {**progress(out, n), "exit_code": codes.get(n)} for n in names}}
        Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")

    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            command = [sys.executable, str(HERE / "finetune_rest14.py"), "--out", str(out / name),
                       "--record", str(out / name / "record.json"), "--device", args.device,
                       "--threads", str(args.threads), "--budget-minutes", "600",
                       "--data", args.data,
                       *(a.replace("{data}", args.data) for a in CONFIGS[name]),
                       *args.extra.split()]
            log = (out / f"{name}.log").open("w", encoding="utf-8")
            running[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
        time.sleep(min(args.every, 2.0) if not running else args.every)
        for name, process in list(running.items()):
            if process.poll() is not None:
                codes[name] = process.returncode
                del running[name]
        write_summary()
    write_summary()
    table = json.loads(Path(args.summary).read_text(encoding="utf-8"))["runs"]
    print(f"{'run':<20} {'best dev':>8} {'epoch':>5} {'test F1':>7}")
    for name, row in table.items():
        print(f"{name:<20} {row.get('best_dev_f1', float('nan')):>8.2f} "
              f"{row.get('best_epoch') or 0:>5} {row.get('test_f1', float('nan')):>7.2f}")
    return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
