"""Arms of ``train_default.py`` runs side by side: per-set int8 F1, seed means; dev chooses.

    python benchmarks/compare_runs.py --arm base=/tmp/runs/aste_base,/tmp/runs/aste_base_43 \
        --arm acos=/tmp/runs/aste_acos,/tmp/runs/aste_acos_43 --what "…" \
        --record benchmarks/results/aste_acos_triplets.json

Each run folder holds the ``record.json`` its ``train_default.py --record`` wrote (every seed of
an arm scored on the same sets). The record lists, per arm, the runs' commands, seeds, kept
epochs and training time, the F1 of every set per seed (dev and test) and the mean over sets
of the seed means; ``chosen_on_dev`` is the arm with the best dev mean (test reports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from distillation import f1s  # noqa: E402
from records import emit  # noqa: E402

SPLITS = ("dev", "test")


def parse_arm(spec: str) -> tuple[str, list[Path]]:
    """``NAME=RUN[,RUN…]`` → the arm's name and run folders."""
    name, sep, runs = spec.partition("=")
    folders = [Path(run) for run in runs.split(",") if run]
    if not sep or not name or not folders:
        raise SystemExit(f"--arm: expected NAME=RUN[,RUN…], got {spec!r}")
    return name, folders


def read_record(run: Path) -> dict:
    path = run / "record.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no record (run train_default.py --record there first)")
    return json.loads(path.read_text(encoding="utf-8"))


def arm_summary(runs: list[Path]) -> dict:
    """One arm: its runs' provenance, per-set F1 per seed and the mean over sets."""
    records = [read_record(run) for run in runs]
    sets = list(f1s(records[0], "dev"))
    for run, record in zip(runs, records):
        if list(f1s(record, "dev")) != sets:
            raise SystemExit(f"{run}: scored on {list(f1s(record, 'dev'))}, not {sets}")
    arm = {"runs": [str(run) for run in runs], "commands": [r["command"] for r in records],
           "seeds": [r["seed"] for r in records], "kept_epochs": [r["kept_epoch"] for r in records],
           "train_seconds": [r["train_seconds"] for r in records],
           "extra_train": records[0].get("extra_train", []),
           "dropped_implicit": records[0].get("dropped_implicit")}
    for split in SPLITS:
        arm[split] = {name: [round(f1s(r, split)[name], 2) for r in records] for name in sets}
        arm[f"{split}_mean"] = round(statistics.mean(
            statistics.mean(values) for values in arm[split].values()), 2)
    return arm


def markdown(record: dict) -> str:
    arms = record["arms"]
    sets = list(next(iter(arms.values()))["dev"])
    lines = [f"# {record['what']}", "", "int8 F1, seed mean (per seed); dev chooses, test reports.",
             "", "| arm | split | " + " | ".join(sets) + " | mean |",
             "|---|---|" + "---|" * (len(sets) + 1)]
    for name, arm in arms.items():
        for split in SPLITS:
            cells = [f"{statistics.mean(v):.2f} ({' / '.join(f'{x:.2f}' for x in v)})"
                     for v in arm[split].values()]
            lines.append(f"| {name} | {split} | " + " | ".join(cells)
                         + f" | {arm[f'{split}_mean']:.2f} |")
    lines += ["", f"Chosen on dev: **{record['chosen_on_dev']}**.", "", "Commands:", ""]
    lines += [f"- `{command}`" for arm in arms.values() for command in arm["commands"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", required=True, metavar="NAME=RUN[,RUN…]")
    parser.add_argument("--what", required=True, help="one line: what the arms compare")
    parser.add_argument("--record", type=Path, default=None,
                        help="JSON path (a .md beside it gets the table)")
    args = parser.parse_args(argv)
    arms = dict(map(parse_arm, args.arm))
    if len(arms) != len(args.arm):
        raise SystemExit("--arm: every arm needs its own name")
    summaries = {name: arm_summary(runs) for name, runs in arms.items()}
    record = {"benchmark": "compare_runs", "what": args.what,
              "command": "python benchmarks/compare_runs.py " + " ".join(argv or sys.argv[1:]),
              "arms": summaries,
              "chosen_on_dev": max(summaries, key=lambda name: summaries[name]["dev_mean"])}
    emit(record, args.record)
    if args.record:
        args.record.with_suffix(".md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
