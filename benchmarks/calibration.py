"""How well a model's element scores are calibrated: ECE before and after its score maps.

    python benchmarks/calibration.py [--model default] [--split test|dev] [--threads 2] \
        [--baseline MODEL] [--out benchmarks/results/calibration]

For rest14 and laptop14 (ATSA) and rest16 and laptop16 (ACSA) of fsa-benchmark
(``../shared/data``), one decoding per set gives each predicted element's raw score (the tagger's
decoding confidence) and the score the model reports (through the card's score map for the task,
``tagger.score_calibration``, per category group where the task's map has groups; the raw score
where the card has none). Per set and per task (both sets pooled): the elements, the share right
(an element is right when its term or category and its polarity are in the review's gold, the
paper's matching), the expected calibration error (:mod:`fsa_edge.calibration_metric`, 15
equal-width bins) of the raw and of the reported scores, and both reliability diagrams. The maps
are fitted on the dev splits (``fsa-edge train tagger calibrate``): report on ``--split test``.

``--baseline MODEL``: another calibration of the same model (a card with other score maps), for a
before/after table: its reported scores' ECE is added per set (``ece_baseline``), and the script
fails unless both models decode the same elements (everything but the score).

Writes ``<out>.json`` and ``<out>.md`` (default ``benchmarks/results/calibration`` for test,
``calibration_dev`` for dev) and prints the table. A model that is not a tagger has no raw score
here: its reported score is measured alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "fsa-benchmark"
RESULTS = ROOT / "benchmarks" / "results"
SETS = (("rest14", "atsa"), ("laptop14", "atsa"), ("rest16", "acsa"), ("laptop16", "acsa"))


def decode_set(analyzer, task: str, examples, batch_size: int = 64
               ) -> tuple[dict, dict | None]:
    """``({id: reported elements}, {id: raw elements} or None)`` for one data set."""
    from dataclasses import replace

    runtime = getattr(analyzer.backend, "runtime", None)
    if runtime is None or not hasattr(runtime, "decode"):
        results = analyzer.analyze([ex.review for ex in examples], task=task)
        return {r.id: r.elements for r in results if r.error is None}, None
    reported, raw = {}, {}
    for i in range(0, len(examples), batch_size):
        batch = examples[i:i + batch_size]
        for ex, found in zip(batch, runtime.decode([ex.review.text for ex in batch], task)):
            raw[ex.review.id] = tuple(
                replace(e, score=runtime.reported_score(task, e.score, calibrated=False))
                for e in found)
            reported[ex.review.id] = tuple(
                replace(e, score=runtime.reported_score(task, e.score, category=e.category))
                for e in found)
    return reported, raw


def unscored(elements: dict) -> dict:
    """``{id: [element as a dict, score left out]}``: what must not change between two
    calibrations of one model."""
    return {rid: [e.to_dict() | {"score": None} for e in found]
            for rid, found in elements.items()}


def measure(task: str, gold: dict, reported: dict, raw: dict | None,
            baseline: dict | None = None) -> dict:
    from fsa_edge.calibration_metric import (expected_calibration_error, reliability_bins,
                                             scored_elements)

    scores, correct = scored_elements(task, gold, reported)
    row = {"task": task, "reviews": len(gold), "elements": len(scores),
           "right": int(sum(correct)),
           "share_right": round(sum(correct) / len(correct), 4) if correct else None,
           "ece_calibrated": round(expected_calibration_error(scores, correct), 4),
           "bins_calibrated": reliability_bins(scores, correct)}
    if raw is not None:
        raw_scores, raw_correct = scored_elements(task, gold, raw)
        assert raw_correct == correct  # the same elements: only the scores differ
        row["ece_raw"] = round(expected_calibration_error(raw_scores, raw_correct), 4)
        row["bins_raw"] = reliability_bins(raw_scores, raw_correct)
    if baseline is not None:
        base_scores, base_correct = scored_elements(task, gold, baseline)
        assert base_correct == correct
        row["ece_baseline"] = round(expected_calibration_error(base_scores, base_correct), 4)
    return row


def _ece(row: dict, key: str) -> str:
    return f"{row[key]:.4f}" if key in row else "–"


def _map_label(report: dict, task: str) -> str:
    label = report["maps"].get(task, "–")
    groups = report.get("groups", {}).get(task)
    if groups:
        label += " + groups (" + ", ".join(f"{g['name']}: {g['method']}" for g in groups) + ")"
    return label


def markdown(report: dict) -> str:
    baseline = report.get("baseline")
    lines = [f"Score calibration of `{report['model']}` on the {report['split']} splits "
             "(ECE: 15 equal-width bins over predicted elements; right = term or category and "
             "polarity in the gold)" + (f"; baseline: `{baseline}`, the same elements" if baseline
                                        else ""), "",
             "| set | task | elements | right | ECE raw | "
             + ("ECE baseline | " if baseline else "") + "ECE calibrated | map |",
             "|---|---|---|---|---|---|---|" + ("---|" if baseline else "")]
    for name, row in report["sets"].items():
        lines.append(f"| {name} | {row['task']} | {row['elements']} | "
                     f"{100 * (row['share_right'] or 0):.1f}% | {_ece(row, 'ece_raw')} | "
                     + (f"{_ece(row, 'ece_baseline')} | " if baseline else "")
                     + f"{_ece(row, 'ece_calibrated')} | {_map_label(report, row['task'])} |")
    lines += ["", "Reliability (calibrated scores): bin → elements, mean score / share right", ""]
    for name, row in report["sets"].items():
        cells = [f"{b['lower']:.2f}–{b['upper']:.2f}: {b['count']}, "
                 f"{b['mean_score']:.2f}/{b['accuracy']:.2f}"
                 for b in row["bins_calibrated"] if b["count"]]
        lines.append(f"- {name}: " + "; ".join(cells))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--baseline", default=None,
                        help="the same model calibrated otherwise: its ECE beside, same elements")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None,
                        help="path without suffix (.json and .md are written)")
    args = parser.parse_args(argv)
    paths = {name: args.data / task / name / f"{args.split}.json" for name, task in SETS}
    if not all(p.is_file() for p in paths.values()):
        print(f"fsa-benchmark {args.split} splits absent under {args.data}", file=sys.stderr)
        return 2

    import fsa_edge
    from fsa_edge.metric import gold_by_id
    from fsa_edge.readers import read_dataset

    options = {"cpu_threads": args.threads} if args.threads else {}
    analyzer = fsa_edge.load(args.model, **options)
    card = getattr(analyzer.backend, "card", None)
    maps = (card.extra.get("tagger", {}).get("score_calibration", {}) if card else {}) or {}
    kept = ("name", "method", "a", "b", "dev_ece_before", "dev_ece_after", "dev_elements")
    report = {"model": args.model, "split": args.split, "bins": 15,
              "maps": {task: entry.get("method") for task, entry in maps.items()},
              "map_parameters": {task: {k: v for k, v in entry.items() if k in kept}
                                 for task, entry in maps.items()},
              "sets": {}}
    groups = {task: [{**{k: v for k, v in group.items() if k in kept},
                      "categories": len(group.get("categories", ()))}
                     for group in entry["groups"]]
              for task, entry in maps.items() if entry.get("groups")}
    if groups:
        report["groups"] = groups
    base = None
    if args.baseline:
        base = fsa_edge.load(args.baseline, **options)
        report["baseline"] = args.baseline
    pooled: dict[str, list] = {}
    for name, task in SETS:
        if task not in analyzer.backend.tasks:
            continue
        examples = read_dataset(paths[name]).examples
        gold = gold_by_id(examples)
        reported, raw = decode_set(analyzer, task, examples)
        baseline = decode_set(base, task, examples)[0] if base is not None else None
        if baseline is not None and unscored(baseline) != unscored(reported):
            print(f"{name}: {args.baseline} decodes other elements than {args.model}",
                  file=sys.stderr)
            return 1
        report["sets"][name] = measure(task, gold, reported, raw, baseline)
        parts = pooled.setdefault(task, [{}, {}, {} if raw is not None else None,
                                         {} if baseline is not None else None])
        for part, values in zip(parts, (gold, reported, raw, baseline)):
            if values is not None:
                part.update({f"{name}/{k}": v for k, v in values.items()})
    for task, (gold, reported, raw, baseline) in pooled.items():
        report["sets"][f"{task} (both sets)"] = measure(task, gold, reported, raw, baseline)
    analyzer.close()
    if base is not None:
        base.close()
    out = args.out or RESULTS / ("calibration" if args.split == "test" else "calibration_dev")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown(report)
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
