"""Greedy and uniform weight averages ("model soups", Wortsman et al. 2022) of trained taggers,
chosen on dev.

    python benchmarks/soup.py --out /tmp/runs/soup --ingredient DIR [--ingredient DIR ...] \
        [--datasets rest14,...] [--threads 2] [--record benchmarks/results/soup.json]

Every ``--ingredient`` is a tagger folder ``fsa-edge train tagger finetune`` wrote (the ``hf``
folder of a ``train_default.py`` run), all from the same encoder with the same heads, given in
the order the greedy soup tries them (best first). Each candidate is made by ``fsa-edge train
tagger average`` and scored as a default candidate is: ``train_default.py --checkpoint`` (int8
conversion with its parity gate, the current calibration on the dev splits, dev and test F1).

* **greedy**: start from the first ingredient alone (an average of one: its weights, calibrated
  anew); add the next one when the uniform average with it has a higher mean int8 dev F1 over the
  data sets than without; go on down the list. An average the recipe refuses (the int8 parity
  gate) is not added; the summary says why.
* **uniform**: the average of all ingredients.

Dev chooses; test F1 is in each step's record and the summary, never read to choose
(``--blind`` keeps it off the terminal while the rule runs, for rules written down in advance).
Every step keeps its folder (``OUT/greedy_N``, ``OUT/uniform``) and ``record.json``; a rerun
skips the steps already recorded. The summary (``--record`` and a markdown table beside it) names
the chosen soup: ``OUT/<step>/ct2-int8`` is the model to compare with the installed default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from records import emit  # noqa: E402
from train_default import DATA, fsa_edge_command, is_test_score_line  # noqa: E402

EIGHT_SETS = "rest14,laptop14,rest16,laptop16,aste14res,aste14lap,aste15res,aste16res"


def dev_mean(record: dict) -> float:
    scores = [row["f1"] for row in record["dev_int8"].values()]
    return sum(scores) / len(scores)


def make(step: Path, ingredients: list[Path], common_tasks: bool = False) -> Path:
    """``step/hf``: the average of ``ingredients`` (of one: its weights with an average's card,
    so that every step is gated and calibrated from the same uncalibrated start); with
    ``common_tasks``, of the tasks they all serve (``train tagger average --common-tasks``)."""
    hf = step / "hf"
    if not hf.exists():
        subprocess.run([*fsa_edge_command(), "train", "tagger", "average",
                        *map(str, ingredients), "--out", str(hf),
                        *(["--common-tasks"] if common_tasks else [])], check=True)
    return hf


def relay(lines: Iterable[str], *, blind: bool = False) -> str | None:
    """Pass a recipe's progress lines through to stderr (``blind``: not its test F1 lines), and
    hand back its ``Error: …`` line, if any."""
    error = None
    for line in lines:
        if not (blind and is_test_score_line(line)):
            sys.stderr.write(line)
        if line.startswith("Error:"):
            error = line.strip()
    return error


def without_test(summary: dict) -> dict:
    """The summary with every step's (and the chosen soup's) test F1 left out."""
    def dev_only(row: dict) -> dict:
        return {k: v for k, v in row.items() if k != "test"}
    return {**summary, "steps": [dev_only(row) for row in summary["steps"]],
            "chosen": dev_only(summary["chosen"])}


def evaluate(step: Path, ingredients: list[Path], args: argparse.Namespace) -> dict:
    """The step's row: its int8 dev and test F1, or ``failed`` with the recipe's error (the
    recipe's progress passes through to stderr as it runs)."""
    row = {"step": step.name, "ingredients": [str(p) for p in ingredients]}
    record_path = step / "record.json"
    if not record_path.is_file():
        hf = make(step, ingredients, args.common_tasks)
        with subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "train_default.py"),
                               "--checkpoint", str(hf), "--out", str(step), "--data",
                               str(args.data), "--datasets", args.datasets, "--threads",
                               str(args.threads), "--record", str(record_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) as recipe:
            error = relay(recipe.stderr, blind=args.blind)
        if recipe.returncode != 0:
            return {**row, "failed": error or f"train_default.py exit {recipe.returncode}"}
    record = json.loads(record_path.read_text(encoding="utf-8"))
    return {**row, "dev_mean": round(dev_mean(record), 2),
            "dev": {k: round(v["f1"], 2) for k, v in record["dev_int8"].items()},
            "test": {k: round(v["f1"], 2) for k, v in record["test_int8"].items()},
            "span_none_below": record.get("span_none_below"),
            "pair_none_below": record.get("pair_none_below"),
            "none_below": record.get("none_below"), "model": str(step / "ct2-int8")}


def markdown(summary: dict) -> str:
    sets = list(summary["chosen"]["dev"])
    lines = ["| step | ingredients | kept | " + " | ".join(sets) + " | dev mean |",
             "|---" * (len(sets) + 4) + "|"]
    for row in summary["steps"]:
        names = ", ".join(Path(p).parent.name if Path(p).name == "hf" else Path(p).name
                          for p in row["ingredients"])
        if "failed" in row:
            lines.append(f"| {row['step']} | {names} | {row.get('kept', '')} | "
                         + " | ".join("–" for _ in sets) + f" | {row['failed']} |")
            continue
        lines.append(f"| {row['step']} | {names} | {row.get('kept', '')} | "
                     + " | ".join(f"{row['dev'][s]:.2f}" for s in sets)
                     + f" | {row['dev_mean']:.2f} |")
    lines.append("")
    lines.append(f"Chosen on dev: **{summary['chosen']['step']}** (dev mean "
                 f"{summary['chosen']['dev_mean']:.2f}); its test F1: "
                 + ", ".join(f"{k} {v:.2f}" for k, v in summary["chosen"]["test"].items()))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ingredient", type=Path, action="append", required=True,
                        help="a trained tagger folder; repeatable, best first")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", default=EIGHT_SETS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-uniform", action="store_true", help="skip the uniform soup")
    parser.add_argument("--common-tasks", action="store_true",
                        help="average ingredients whose sentence/ASTE heads differ into their "
                             "common tasks (train tagger average --common-tasks)")
    parser.add_argument("--blind", action="store_true",
                        help="keep test F1 off the terminal while the rule runs: the recipes' "
                             "test lines are not passed through and the printed summary holds dev "
                             "only (--record and its markdown keep test)")
    parser.add_argument("--record", type=Path, default=None)
    args = parser.parse_args(argv)
    if len(args.ingredient) < 2:
        parser.error("give at least two --ingredient folders")
    args.out.mkdir(parents=True, exist_ok=True)

    soup = [args.ingredient[0]]
    best = evaluate(args.out / "greedy_1", soup, args)
    if "failed" in best:
        raise SystemExit(f"the first ingredient alone: {best['failed']}")
    best["kept"] = "start"
    steps = [best]
    for number, candidate in enumerate(args.ingredient[1:], start=2):
        row = evaluate(args.out / f"greedy_{number}", soup + [candidate], args)
        if "failed" in row:
            row["kept"] = "no (refused)"
            steps.append(row)
            print(f"greedy_{number}: {row['failed']} (not added)", file=sys.stderr)
            continue
        row["kept"] = "yes" if row["dev_mean"] > best["dev_mean"] else "no"
        steps.append(row)
        if row["kept"] == "yes":
            soup, best = soup + [candidate], row
        print(f"greedy_{number}: dev mean {row['dev_mean']:.2f} ({row['kept']})", file=sys.stderr)
    chosen = best
    if not args.no_uniform:
        uniform = evaluate(args.out / "uniform", list(args.ingredient), args)
        uniform["kept"] = "uniform"
        steps.append(uniform)
        if "failed" not in uniform and uniform["dev_mean"] > chosen["dev_mean"]:
            chosen = uniform
    summary = {"benchmark": "soup", "command": "python benchmarks/soup.py "
               + " ".join(argv if argv is not None else sys.argv[1:]),
               "rule": "greedy: add an ingredient when the average's mean int8 dev F1 rises; "
                       "the chosen soup is the greedy or uniform one with the higher dev mean",
               "steps": steps, "greedy_soup": [str(p) for p in soup], "chosen": chosen}
    emit(summary, args.record, printed=without_test(summary) if args.blind else None)
    if args.record:
        Path(args.record).with_suffix(".md").write_text(markdown(summary), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
