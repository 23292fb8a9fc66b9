"""A teacher's ASTE answers on unlabeled sentences as a training file (hard pseudo-labels).

    python benchmarks/pseudo_triplets.py --model /tmp/runs/aste_teacher/ct2-int8 \
        --unlabeled /tmp/unlabeled_sst2/sentences.jsonl --sources yelp2,acos,hu-liu \
        --per-source 1000 --out /tmp/runs/pseudo/triplets.json
    python benchmarks/train_default.py … --extra aste:/tmp/runs/pseudo/triplets.json

Takes the first ``--per-source`` sentences of each named source of a ``benchmarks/unlabeled.py``
file (in file order), asks the teacher for their triplets (``task="aste"``), and writes the
sentences with at least one triplet as an fsa-benchmark JSON file (``aspects[].from/to`` the
aspect, ``opinion_words[0].from/to`` the opinion, one entry per triplet), which
``read_dataset`` reads back with both spans. ASTE's convention is followed: a sentence without
a triplet is left out (ASTE-V2 has none), and so is a sentence with any triplet scored below
``--min-score`` (keeping the rest of its triplets would tag true spans ``O``). The counts go to
``OUT.counts.json`` and stdout. Held-out sentences need no care here: the training recipe drops
every dev and test sentence of every scored set, whatever file holds it.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import emit  # noqa: E402

BATCH = 64


def pick(rows: Iterable[dict], sources: list[str], per_source: int) -> list[dict]:
    """The first ``per_source`` rows of each source in ``sources``, in file order."""
    taken: collections.Counter[str] = collections.Counter()
    picked = []
    for row in rows:
        if row.get("source") in sources and taken[row["source"]] < per_source:
            taken[row["source"]] += 1
            picked.append(row)
    return picked


def benchmark_entry(row: dict, triplets: list) -> dict:
    """One sentence in the fsa-benchmark format, one ``aspects`` entry per triplet."""
    return {"ID": row["id"], "sentence": row["text"], "aspects": [
        {"from": t.aspect_span[0], "to": t.aspect_span[1], "target": t.aspect,
         "polarity": t.polarity, "opinion_words": [
             {"from": t.opinion_span[0], "to": t.opinion_span[1], "opinion": t.opinion}]}
        for t in triplets]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model serving aste (the teacher)")
    parser.add_argument("--unlabeled", type=Path, required=True)
    parser.add_argument("--sources", required=True, help="comma-separated source names")
    parser.add_argument("--per-source", type=int, required=True)
    parser.add_argument("--min-score", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import fsa_edge
    from fsa_edge.jsonlines import iter_json_objects

    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    rows = pick((row for _, row in iter_json_objects(args.unlabeled)), sources, args.per_source)
    model = fsa_edge.load(args.model, device=args.device, cpu_threads=args.threads)
    counts = {source: collections.Counter() for source in sources}
    polarities: collections.Counter[str] = collections.Counter()
    entries = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        for row, result in zip(batch, model.analyze([r["text"] for r in batch], task="aste")):
            count = counts[row["source"]]
            count["sentences"] += 1
            triplets = [e for e in result.elements if e.aspect_span and e.opinion_span]
            if result.error or not triplets:
                count["no_triplet" if not result.error else "error"] += 1
            elif min(t.score for t in triplets) < args.min_score:
                count["below_min_score"] += 1
            else:
                count["kept"] += 1
                count["triplets"] += len(triplets)
                polarities.update(t.polarity for t in triplets)
                entries.append(benchmark_entry(row, triplets))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    record = {"benchmark": "pseudo_triplets", "model": str(args.model),
              "command": "python benchmarks/pseudo_triplets.py " + " ".join(argv or sys.argv[1:]),
              "out": str(args.out), "min_score": args.min_score,
              "by_source": {s: dict(c) for s, c in counts.items()},
              "kept": len(entries), "triplets_by_polarity": dict(polarities)}
    emit(record, args.out.with_suffix(".counts.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
