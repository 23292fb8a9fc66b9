"""One table from the records of ``benchmarks/gpu_check.sh``: the teacher's training time on the
GPU against the CPU records of the same recipe, and each model's CTranslate2 ``int8_float16``
speed against its torch ``float16`` twin.

    python benchmarks/gpu_summary.py --gpu-teacher RECORD --cpu-teacher LABEL=RECORD ... \\
        --speed NAME=DEFAULT_SPEED_JSON ... --out benchmarks/results/gpu_check

Every number is read from the records named on the command line (written by
``train_default.py`` and ``default_speed.py``); writes ``OUT.json`` and ``OUT.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import write_table  # noqa: E402


def labelled(value: str) -> tuple[str, Path]:
    label, sep, path = value.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"{value!r}: expected LABEL=PATH")
    return label, Path(path)


def read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: not a readable JSON record ({exc})") from None


def teacher_rows(gpu: dict, cpus: list[tuple[str, dict]]) -> list[dict]:
    """Training seconds and test F1 of the GPU run and of each CPU record, with the ratio."""
    rows = [{"run": "gpu", "command": gpu["command"], "train_seconds": gpu["train_seconds"],
             "test_f1": {s: v["f1"] for s, v in gpu["test_int8"].items()}}]
    for label, cpu in cpus:
        rows.append({"run": label, "command": cpu["command"],
                     "train_seconds": cpu["train_seconds"],
                     "test_f1": {s: v["f1"] for s, v in cpu["test_int8"].items()},
                     "cpu_seconds_over_gpu": round(cpu["train_seconds"] / gpu["train_seconds"], 2)})
    return rows


def speed_rows(name: str, record: dict) -> dict:
    """A default_speed record of a converted model (first row) and its torch twin (second)."""
    if len(record["rows"]) != 2:
        raise SystemExit(f"{name}: expected two rows (CT2, then its torch twin), "
                         f"found {len(record['rows'])}")
    ct2, twin = record["rows"]
    return {"name": name, "gpu": record.get("gpu"), "reviews": record["reviews"],
            "ct2": {k: ct2[k] for k in ("model", "compute_type", "reviews_per_s", "size_mb",
                                        "cli_wall_seconds", "cli_peak_rss_mb")},
            "torch": {k: twin[k] for k in ("model", "compute_type", "reviews_per_s", "size_mb",
                                           "cli_wall_seconds", "cli_peak_rss_mb")},
            "ct2_over_torch": round(ct2["reviews_per_s"] / twin["reviews_per_s"], 2),
            "agreement": twin["agreement_with_first"]}


def markdown(teacher: list[dict], speeds: list[dict]) -> str:
    sets = list(teacher[0]["test_f1"])
    lines = ["| teacher run | train s | CPU s ÷ GPU s | " + " | ".join(sets) + " |",
             "|---|---|---|" + "---|" * len(sets)]
    for row in teacher:
        lines.append(f"| {row['run']} | {row['train_seconds']:.1f} | "
                     f"{row.get('cpu_seconds_over_gpu', '–')} | "
                     + " | ".join(f"{row['test_f1'][s]:.2f}" for s in sets) + " |")
    lines += ["", "| model | CT2 compute type | reviews/s | torch | reviews/s | CT2 ÷ torch | "
              "agreement | CLI wall s (CT2 / torch) | CLI peak RSS MB (CT2 / torch) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in speeds:
        c, t = s["ct2"], s["torch"]
        lines.append(f"| {s['name']} | {c['compute_type']} | {c['reviews_per_s']:.1f} | "
                     f"{t['compute_type']} | {t['reviews_per_s']:.1f} | {s['ct2_over_torch']} | "
                     f"{s['agreement']:.4f} | {c['cli_wall_seconds']} / {t['cli_wall_seconds']} "
                     f"| {c['cli_peak_rss_mb']} / {t['cli_peak_rss_mb']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu-teacher", type=Path, required=True)
    parser.add_argument("--cpu-teacher", type=labelled, action="append", default=[])
    parser.add_argument("--speed", type=labelled, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    teacher = teacher_rows(read(args.gpu_teacher),
                           [(label, read(path)) for label, path in args.cpu_teacher])
    speeds = [speed_rows(name, read(path)) for name, path in args.speed]
    record = {"benchmark": "gpu_check", "teacher": teacher, "serving": speeds,
              "sources": {"gpu_teacher": str(args.gpu_teacher),
                          "cpu_teacher": {label: str(p) for label, p in args.cpu_teacher},
                          "speed": {name: str(p) for name, p in args.speed}},
              "command": "python benchmarks/gpu_summary.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    table = markdown(teacher, speeds)
    write_table(args.out, record, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
