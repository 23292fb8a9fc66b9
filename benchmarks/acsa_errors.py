"""Where a tagger's ACSA errors come from: category detection, polarity, the other domain.

    python benchmarks/acsa_errors.py [--model default] [--split test|dev] [--threads 2]

For rest16 and laptop16 (fsa-benchmark, ``../shared/data``), from one run of the model:
* pair F1 (the paper's metric) of the model as it decodes;
* category detection alone (micro P / R / F1 of the set of categories per sentence, polarity
  ignored) and the share of correctly found categories whose polarity is right;
* predictions naming a category of the *other* domain's training set (a sentence about a laptop
  tagged ``FOOD#QUALITY``: always wrong);
* pair F1 under a "one domain per sentence" decoding: the sentence keeps only the categories of
  the domain of its most confident category (highest 1 − P(none)) — what removing those
  cross-domain predictions would be worth; an analysis, not a decoding the backend offers.
Writes ``benchmarks/results/acsa_errors_<split>.{json,md}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "fsa-benchmark" / "acsa"
SETS = ("rest16", "laptop16")
RESULTS = ROOT / "benchmarks" / "results"


def prf(tp: int, predicted: int, gold: int) -> dict[str, float]:
    p = tp / predicted if predicted else 0.0
    r = tp / gold if gold else 0.0
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2),
            "f1": round(100 * (2 * p * r / (p + r) if p + r else 0.0), 2)}


def one_domain(probs: np.ndarray, decided: np.ndarray, domain_of: np.ndarray) -> np.ndarray:
    """``decided`` (class per category, 0 = none) restricted to the domain of the most
    confident category."""
    present = 1.0 - probs[:, 0]
    domain = domain_of[int(np.argmax(present))]
    return np.where(domain_of == domain, decided, 0)


def analyse(runtime, examples, domain_of: np.ndarray, other: set[str]) -> dict:
    from fsa_edge.metric import evaluate
    from fsa_edge.model import SentimentElement
    from fsa_edge_tagger.scheme import CATEGORY_CLASSES, decode_categories

    categories = runtime.categories
    texts = [ex.review.text for ex in examples]
    logits = np.concatenate([runtime.category_logits(texts[i:i + 64])
                             for i in range(0, len(texts), 64)])
    gold = {ex.review.id: ex.elements for ex in examples}
    decoded, restricted = {}, {}
    tp = n_pred = n_gold = right_polarity = cross = 0
    for ex, row in zip(examples, logits):
        found = decode_categories(row, categories, runtime.none_below)
        decoded[ex.review.id] = tuple(SentimentElement(polarity=p, category=c)
                                      for c, p, _ in found)
        probs = np.exp(row.reshape(len(categories), -1) - row.max())
        probs /= probs.sum(axis=-1, keepdims=True)
        decided = np.zeros(len(categories), dtype=np.int64)
        for c, p, _ in found:
            decided[categories.index(c)] = CATEGORY_CLASSES.index(p)
        kept = one_domain(probs, decided, domain_of)
        restricted[ex.review.id] = tuple(
            SentimentElement(polarity=CATEGORY_CLASSES[kept[i]], category=categories[i])
            for i in np.flatnonzero(kept))
        gold_polarities: dict[str, set[str]] = {}
        for element in ex.elements:
            gold_polarities.setdefault(element.category, set()).add(element.polarity)
        predicted = {c: p for c, p, _ in found}
        n_pred += len(predicted)
        n_gold += len(gold_polarities)
        both = set(predicted) & set(gold_polarities)
        tp += len(both)
        right_polarity += sum(predicted[c] in gold_polarities[c] for c in both)
        cross += sum(c in other for c in predicted)
    return {"records": len(examples),
            "pair_f1": round(evaluate("acsa", gold, decoded).overall.f1, 2),
            "detection": prf(tp, n_pred, n_gold),
            "polarity_right_of_found": round(100 * right_polarity / tp, 1) if tp else None,
            "predicted_categories": n_pred, "cross_domain_predictions": cross,
            "pair_f1_one_domain": round(evaluate("acsa", gold, restricted).overall.f1, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (.md beside it)")
    args = parser.parse_args(argv)
    if not all((args.data / s / f"{args.split}.json").is_file() for s in SETS):
        print(f"no rest16/laptop16 {args.split} data under {args.data}", file=sys.stderr)
        return 2

    import fsa_edge
    from fsa_edge.readers import read_dataset

    analyzer = fsa_edge.load(args.model, cpu_threads=args.threads)
    runtime = getattr(analyzer.backend, "runtime", None)
    if runtime is None or not runtime.categories:
        print(f"{args.model}: not a tagger with a category head", file=sys.stderr)
        return 2
    domains = {s: {e.category for ex in read_dataset(args.data / s / "train.json").examples
                   for e in ex.elements} for s in SETS}
    domain_of = np.array([next((i for i, s in enumerate(SETS) if c in domains[s]), -1)
                          for c in runtime.categories])
    rows = {}
    for index, name in enumerate(SETS):
        other = set().union(*(domains[s] for s in SETS if s != name)) - domains[name]
        examples = read_dataset(args.data / name / f"{args.split}.json").examples
        rows[name] = analyse(runtime, examples, domain_of, other)
    report = {"model": args.model, "split": args.split, "none_below": runtime.none_below,
              "sets": rows}
    out = args.out or RESULTS / f"acsa_errors_{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [f"ACSA errors of `{args.model}` on the {args.split} splits",
             "", "| set | pair F1 | detection P / R / F1 | polarity right (of found) | "
             "predicted categories | of the other domain | pair F1, one domain per sentence |",
             "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        d = row["detection"]
        lines.append(f"| {name} | {row['pair_f1']} | {d['precision']} / {d['recall']} / "
                     f"{d['f1']} | {row['polarity_right_of_found']}% | "
                     f"{row['predicted_categories']} | {row['cross_domain_predictions']} | "
                     f"{row['pair_f1_one_domain']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
