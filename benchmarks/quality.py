"""Quality report: the paper's metric on the shared test sets, for one or more model variants.

    python benchmarks/quality.py --variant int8=DIR --variant float32=DIR2 \
        --variant torch=HF_DIR:transformers [--limit 100] [--out benchmarks/results/quality]

Each variant is ``NAME=MODEL[:BACKEND]`` (a model directory or alias). Every data set whose task the
model's card lists is scored — ``sentence`` sets by accuracy and macro-F1
(``fsa_edge.metric.score_sentences``), the others with ``fsa_edge.evaluate`` on greedy outputs, with the paper's counting
(gold de-duplicated per review; the table's headline) and with multiset counting (in brackets
where it differs). Writes ``<out>.json`` and ``<out>.md`` and prints the table. ``--limit``
scores only the first N records of each set; ``--split dev`` scores the benchmark's dev splits
instead (to choose between models without looking at test).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fsa_edge  # noqa: E402
from fsa_edge.metric import gold_by_id, score_sentences  # noqa: E402
from fsa_edge.readers import read_dataset  # noqa: E402
from records import write_table  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# (label, task, path relative to the data folder)
DATASETS = [
    ("rest14", "atsa", "fsa-benchmark/atsa/rest14/test.json"),
    ("laptop14", "atsa", "fsa-benchmark/atsa/laptop14/test.json"),
    ("rest16", "acsa", "fsa-benchmark/acsa/rest16/test.json"),
    ("laptop16", "acsa", "fsa-benchmark/acsa/laptop16/test.json"),
    ("aste-14res", "aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/14res/test_triplets.txt"),
    ("aste-14lap", "aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/14lap/test_triplets.txt"),
    ("aste-15res", "aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/15res/test_triplets.txt"),
    ("aste-16res", "aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/16res/test_triplets.txt"),
    ("asqp-rest16", "asqp", "asqp/data/rest16/test.txt"),
    ("acos-laptop", "acos", "acos/data/Laptop-ACOS/laptop_quad_test.tsv"),
    ("yelp2", "sentence", "sentence-sentiment/yelp2/test.json"),
    ("sst2", "sentence", "sentence-sentiment/sst2/test.json"),
]


def parse_variant(spec: str) -> tuple[str, str, str | None]:
    name, _, rest = spec.partition("=")
    if not rest:
        raise SystemExit(f"--variant {spec!r}: expected NAME=MODEL[:BACKEND]")
    model, _, backend = rest.rpartition(":") if ":" in rest else (rest, "", "")
    return name, model or rest, backend or None


def split_path(relative: str, split: str) -> str | None:
    """The path of ``split`` for a data set listed by its test file (None: no such split kept
    here; the fsa-benchmark and ASTE sets have a dev split in this layout)."""
    if split == "test":
        return relative
    if relative.startswith("aste-data-v2/"):
        return relative.replace("/test_triplets.txt", f"/{split}_triplets.txt")
    return relative[:-len("test.json")] + f"{split}.json" \
        if relative.startswith("fsa-benchmark/") else None


def score_variant(name: str, model: str, backend: str | None, data: Path, limit: int | None,
                  batch_size: int, split: str = "test") -> list[dict]:
    analyzer = fsa_edge.load(model, backend=backend, batch_size=batch_size)
    rows = []
    for label, task, relative in DATASETS:
        relative = split_path(relative, split)
        if relative is None:
            continue
        path = data / relative
        if task not in analyzer.backend.tasks or not path.exists():
            continue
        examples = read_dataset(path).examples[:limit]
        started = time.perf_counter()
        results = analyzer.analyze([ex.review for ex in examples], task=task)
        seconds = time.perf_counter() - started
        gold = gold_by_id(examples)
        predicted = {r.id: r.elements for r in results if r.error is None}
        row = {"variant": name, "model": model, "backend": analyzer.backend.name,
               "dataset": label, "split": split, "task": task, "records": len(examples),
               "errors": sum(r.error is not None for r in results),
               "reviews_per_s": round(len(examples) / seconds, 2)}
        if task == "sentence":  # one answer per text: accuracy and macro-F1
            sentences = score_sentences(gold, predicted)
            rows.append({**row, **sentences.to_dict()})
            headline = (f"accuracy {sentences.accuracy:6.2f} macro-F1 {sentences.macro_f1:6.2f}"
                        + ("" if sentences.score_ece is None
                           else f" score ECE {sentences.score_ece:.3f}"))
        else:
            evaluation = fsa_edge.evaluate(task, gold, predicted)
            multiset = fsa_edge.evaluate(task, gold, predicted, counting="multiset").overall
            rows.append({**row, **evaluation.to_dict(), "multiset": multiset.to_dict()})
            headline = f"F1 {evaluation.overall.f1:6.2f} (multiset {multiset.f1:6.2f})"
        print(f"{name:10} {label:12} {task:8} {headline} "
              f"({len(examples)} records, {len(examples) / seconds:.1f}/s)", file=sys.stderr)
    analyzer.close()
    return rows


def _cell(row: dict) -> str:
    if row["task"] == "sentence":
        ece = row.get("score_ece")
        return (f"acc {row['accuracy']:.2f} / macro-F1 {row['macro_f1']:.2f}"
                + ("" if ece is None else f" / ECE {ece:.3f}"))
    paper, multiset = row["f1"], row["multiset"]["f1"]
    return f"{paper:.2f}" if abs(paper - multiset) < 0.005 else f"{paper:.2f} ({multiset:.2f})"


def markdown(rows: list[dict]) -> str:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    table = {(r["variant"], r["dataset"]): r for r in rows}
    lines = ["| data set | task | " + " | ".join(f"{v} F1" for v in variants) + " |",
             "|---|---|" + "---|" * len(variants)]
    for dataset in datasets:
        task = next(r["task"] for r in rows if r["dataset"] == dataset)
        cells = [_cell(table[(v, dataset)]) if (v, dataset) in table else "–" for v in variants]
        lines.append(f"| {dataset} | {task} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("F1: the paper's counting (gold de-duplicated per review); in brackets, where it "
                 "differs, multiset counting. `sentence` sets: accuracy and macro-F1 (a neutral "
                 "answer is wrong on these two-class sets) and the expected calibration error "
                 "of the answer's score (15 bins).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, help="NAME=MODEL[:BACKEND]")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--split", choices=("test", "dev"), default="test",
                        help="dev: the benchmark and ASTE sets' dev splits (for choosing a model)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/quality"))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder absent: {args.data}", file=sys.stderr)
        return 2
    rows = []
    for spec in args.variant:
        rows.extend(score_variant(*parse_variant(spec), args.data, args.limit, args.batch_size,
                                  args.split))
    record = {"limit": args.limit, "split": args.split, "variants": args.variant, "rows": rows}
    write_table(args.out, record, markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
