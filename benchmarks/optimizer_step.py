"""What a CPU training step of the tagger spends on AdamW and on the weight average, per variant.

    python benchmarks/optimizer_step.py [--student minilm --student mpnet] [--threads 2] \
        [--steps 8] [--epoch-sentences 480] [--record benchmarks/results/optimizer_step.json]

Part 1, per student (its warm-start encoder and a term-sized linear head, one 16 x 32-piece
batch, one process): the mean time of forward + backward, of the optimizer step with torch's
AdamW as a per-tensor loop (torch's CPU default), with ``foreach=True`` and with ``fused=True``
(what :func:`fsa_edge.trainer.adamw` picks), and of the weight average's update as
``mul_ + add_`` (the trainer's before) and ``lerp_`` (now); steps 3..N are timed. Then the
largest parameter difference after N steps from one start, fused against the loop.
Part 2 (when ``../shared/data`` is there): one epoch of the default's tagger recipe (EMA 0.999,
seed 42; ``--epoch-student``, MiniLM by default) on the first ``--epoch-sentences`` rest14
train sentences, once with the per-tensor AdamW and once with :func:`fsa_edge.trainer.adamw`,
one after the other: seconds, train loss and dev F1 of each.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import cpu_model, emit  # noqa: E402
from train_default import DATA, split_file  # noqa: E402

VARIANTS = ("loop", "foreach", "fused")


def _optimizer(variant: str, params: list) -> Any:
    import torch

    options = {} if variant == "loop" else {variant: True}
    return torch.optim.AdamW([{"params": params, "lr": 1e-5, "weight_decay": 0.01}], **options)


def _ms(seconds: list[float]) -> float:
    return round(1000 * sum(seconds) / len(seconds), 1)


def step_costs(student: str, steps: int) -> dict[str, Any]:
    """Part 1 for one warm-start ``student``."""
    import torch
    from transformers import AutoModel

    from fsa_edge.student_support import warm_start_path
    from fsa_edge_tagger.scheme import TAGS

    torch.manual_seed(0)
    encoder = AutoModel.from_pretrained(str(warm_start_path(student)))
    head = torch.nn.Linear(encoder.config.hidden_size, len(TAGS))
    params = list(encoder.parameters()) + list(head.parameters())
    start = [p.detach().clone() for p in params]
    ids = torch.randint(1000, 20000, (16, 32))
    mask = torch.ones_like(ids)
    row: dict[str, Any] = {"student": student,
                           "parameters": sum(p.numel() for p in params)}
    final = {}
    for variant in VARIANTS:
        with torch.no_grad():
            for p, s in zip(params, start):
                p.copy_(s)
        optimizer = _optimizer(variant, params)
        forward, update = [], []
        for step in range(steps):
            began = time.perf_counter()
            logits = head(encoder(input_ids=ids, attention_mask=mask).last_hidden_state)
            logits.float().logsumexp(-1).mean().backward()
            middle = time.perf_counter()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= 2:
                forward.append(middle - began)
                update.append(time.perf_counter() - middle)
        row[f"forward_backward_ms_{variant}"] = _ms(forward)
        row[f"adamw_ms_{variant}"] = _ms(update)
        final[variant] = [p.detach().clone() for p in params]
    row["adamw_share_of_step_loop"] = round(
        row["adamw_ms_loop"] / (row["adamw_ms_loop"] + row["forward_backward_ms_loop"]), 3)
    row["step_speedup_fused"] = round(
        (row["adamw_ms_loop"] + row["forward_backward_ms_loop"])
        / (row["adamw_ms_fused"] + row["forward_backward_ms_loop"]), 2)
    row["max_abs_param_delta_fused_vs_loop"] = max(
        float((a - b).abs().max()) for a, b in zip(final["fused"], final["loop"]))
    average = [p.detach().clone() for p in params]
    with torch.no_grad():
        for name, update_average in (
                ("mul_add", lambda: [a.mul_(0.999).add_(p, alpha=0.001)
                                     for a, p in zip(average, params)]),
                ("lerp", lambda: [a.lerp_(p, 0.001) for a, p in zip(average, params)])):
            update_average()
            began = time.perf_counter()
            for _ in range(steps):
                update_average()
            row[f"ema_ms_{name}"] = round(1000 * (time.perf_counter() - began) / steps, 1)
    return row


def epoch_runs(student: str, sentences: int, threads: int, data: Path) -> list[dict[str, Any]]:
    """Part 2: the same one-epoch run with the per-tensor AdamW, then with ``adamw``."""
    import torch

    import fsa_edge.trainer as trainer
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import finetune_tagger

    fused = trainer.adamw
    variants: dict[str, Callable[[list], Any]] = {
        "loop": lambda groups: torch.optim.AdamW(groups), "fsa_edge.trainer.adamw": fused}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for split, count in (("train", sentences), ("dev", 200)):
            records = json.loads(split_file("rest14", split, data).read_text(
                encoding="utf-8-sig"))[:count]
            (root / f"{split}.json").write_text(json.dumps(records), encoding="utf-8")
        task = TaskData(get_task("atsa"), root / "train.json", root / "dev.json")
        for name, make in variants.items():
            trainer.adamw = make
            try:
                summary = finetune_tagger([task], student=student, out=root / name, epochs=1,
                                          lr=1e-4, seed=42, device="cpu", threads=threads,
                                          ema=0.999, log_every=0)
            finally:
                trainer.adamw = fused
            epoch = summary["history"][-1]
            rows.append({"student": student, "optimizer": name, "train_sentences": sentences,
                         "epoch_seconds": epoch["epoch_seconds"],
                         "train_loss": epoch["train_loss"],
                         "dev_f1": round(epoch["dev_score"], 2)})
    return rows


def markdown(record: dict[str, Any]) -> str:
    lines = ["| student | parameters | fwd+bwd ms | AdamW loop ms | foreach ms | fused ms | "
             "AdamW share (loop) | step speed-up (fused) | max param Δ | EMA mul+add ms | "
             "EMA lerp ms |", "|---" * 11 + "|"]
    for r in record["steps"]:
        lines.append(f"| {r['student']} | {r['parameters']:,} | {r['forward_backward_ms_loop']} "
                     f"| {r['adamw_ms_loop']} | {r['adamw_ms_foreach']} | {r['adamw_ms_fused']} "
                     f"| {100 * r['adamw_share_of_step_loop']:.1f}% | "
                     f"{r['step_speedup_fused']}x | "
                     f"{r['max_abs_param_delta_fused_vs_loop']:.1e} | {r['ema_ms_mul_add']} | "
                     f"{r['ema_ms_lerp']} |")
    if record["epochs"]:
        lines += ["", "| student | optimizer | train sentences | epoch s | train loss | dev F1 |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['student']} | {r['optimizer']} | {r['train_sentences']} | "
                  f"{r['epoch_seconds']} | {r['train_loss']:.4f} | {r['dev_f1']:.2f} |"
                  for r in record["epochs"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--student", action="append", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--epoch-sentences", type=int, default=480,
                        help="rest14 train sentences of part 2 (0: skip it)")
    parser.add_argument("--epoch-student", default="minilm", help="the student of part 2")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--record", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error("--steps: at least 3 (the first two are not timed)")
    import torch

    torch.set_num_threads(args.threads)
    steps = [step_costs(student, args.steps) for student in args.student or ["minilm"]]
    epochs = (epoch_runs(args.epoch_student, args.epoch_sentences, args.threads, args.data)
              if args.epoch_sentences and args.data.is_dir() else [])
    record = {"benchmark": "optimizer_step",
              "command": "python benchmarks/optimizer_step.py "
                         + " ".join(argv if argv is not None else sys.argv[1:]),
              "cpu": cpu_model(), "machine": platform.machine(), "threads": args.threads,
              "torch": torch.__version__, "steps": steps, "epochs": epochs}
    emit(record, args.record)
    print(markdown(record), file=sys.stderr)
    if args.record:
        Path(args.record).with_suffix(".md").write_text(markdown(record), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
