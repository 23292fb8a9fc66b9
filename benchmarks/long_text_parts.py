"""How a long text is read: whole, in sentences, or in sentences packed into windows — on dev.

    python benchmarks/long_text_parts.py [--model default] [--window 24 --window 32 …] \
        [--record benchmarks/results/long_text_parts.json]

The SemEval-2016 dev reviews whose gold elements all agree (``calibrate --review-dev``'s data,
:func:`fsa_edge_tagger.dev_reviews.dev_reviews`: no sentence label) are short enough to be read
whole; each is also read in its sentences (what the analyzer does with a text over its window)
and in its sentences packed while the packed text fits ``--window`` pieces (a stand-in for
packing into the real window of a longer text). Per reading: the `sentence` answer's accuracy
and score ECE, raw share and through the model's merged map (the map the model's card holds,
fitted for the model's own merge; the record was written with the votes' map); for the reviews of two or more
sentences, the accuracy of the parts' votes against one head decision on their pooled states
(a tagger's sentence head on the length-weighted mean of the parts' mean piece states); and, on
every dev review of two or more sentences, ACSA F1 against the review's whole gold (its
sentences' elements together), read in sentences or packed. Dev data only: for deciding how long
texts should be read, not for reporting.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np

import fsa_edge
from fsa_edge.calibration_metric import expected_calibration_error
from fsa_edge.metric import evaluate
from fsa_edge.readers import read_dataset
from fsa_edge.tasks import get_task
from fsa_edge.text import split_sentences
from fsa_edge.windows import mapped_scores, merge_parts, merge_polarity, pack_units
from fsa_edge_tagger.dev_reviews import dev_reviews, review_sentences, review_text
from records import emit

DEV_FILES = ("fsa-benchmark/acsa/rest16/dev.json", "fsa-benchmark/acsa/laptop16/dev.json")


def read(analyzer, reviews, plans, merged_map) -> dict:
    """Accuracy, ECE and mean parts of the merged answers of ``reviews`` read in ``plans``."""
    texts = [text[start:end] for (text, _), plan in zip(reviews, plans) for start, end in plan]
    answers = iter(analyzer.analyze(texts, task="sentence"))
    scores, right = [], []
    for (_, polarity), plan in zip(reviews, plans):
        found = [(span, next(answers).elements) for span in plan]
        answer = (mapped_scores(merge_polarity(found), merged_map)[0] if len(found) > 1
                  else found[0][1][0])
        scores.append(answer.score)
        right.append(answer.polarity == polarity)
    return {"accuracy": round(100 * float(np.mean(right)), 2),
            "ece": round(expected_calibration_error(scores, right), 4),
            "mean_parts": round(float(np.mean([len(p) for p in plans])), 2)}


def review_texts(path: str, examples) -> tuple[dict[str, str], dict[str, tuple]]:
    """``({review: text}, {review: gold elements})`` of the reviews of two or more sentences
    (:func:`~fsa_edge_tagger.dev_reviews.review_sentences`), their elements together (one per
    category and polarity)."""
    texts, gold = {}, {}
    for review, sentences in review_sentences(path, examples).items():
        if len(sentences) > 1:
            texts[review] = review_text(sentences)
            gold[review] = tuple({(e.category, e.polarity): e
                                  for ex in sentences for e in ex.elements}.values())
    return texts, gold


def acsa_f1(analyzer, texts: dict[str, str], gold: dict[str, tuple],
            fits: Callable[[str], bool] | None) -> float:
    """ACSA F1 of the reviews read in sentences (``fits`` None) or in sentences packed while
    they ``fit``, the parts' elements merged as the analyzer merges them."""
    plans = {}
    for review, text in texts.items():
        sentences = split_sentences(text, min_words=0, max_words=None)
        plans[review] = sentences if fits is None else pack_units(text, sentences, fits)
    flat = [(review, span) for review in texts for span in plans[review]]
    results = iter(analyzer.analyze([texts[r][a:b] for r, (a, b) in flat], task="acsa"))
    found: dict[str, list] = {review: [] for review in texts}
    for review, (start, _) in flat:
        found[review].append((start, next(results).elements))
    predicted = {review: merge_parts(parts) for review, parts in found.items()}
    return round(evaluate("acsa", gold, predicted).overall.f1, 2)


def pooled_accuracy(analyzer, reviews, plans) -> dict:
    """Accuracy of the `sentence` head (a tagger's) on each review's parts pooled: the mean of
    the parts' head inputs (mean piece states), weighted by the parts' lengths — one head
    decision per review from the states of one pass, instead of the parts' votes."""
    from fsa_edge_tagger.sentence_head import decode_sentence, sentence_logits

    runtime = analyzer.backend.runtime
    texts = [text[start:end] for (text, _), plan in zip(reviews, plans) for start, end in plan]
    features, right, at = runtime.sentence_features(texts), [], 0
    for (_, polarity), plan in zip(reviews, plans):
        weights = np.array([[end - start] for start, end in plan], dtype=features.dtype)
        pooled = (features[at:at + len(plan)] * weights).sum(axis=0) / max(weights.sum(), 1)
        at += len(plan)
        logits = sentence_logits(pooled[None, :], runtime.heads)[0]
        right.append(decode_sentence(logits)[0] == polarity)
    return {"accuracy": round(100 * float(np.mean(right)), 2),
            "mean_parts": round(float(np.mean([len(p) for p in plans])), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    parser.add_argument("--window", type=int, action="append", default=None)
    parser.add_argument("--record")
    args = parser.parse_args()
    analyzer = fsa_edge.load(args.model)
    reviews, examples = [], {}
    for name in DEV_FILES:
        path = Path(args.data) / name
        examples[name] = read_dataset(path).examples
        reviews += [(text, polarity) for _, text, polarity
                    in dev_reviews(str(path), examples[name])]
    task = get_task("sentence")
    windows = args.window or [24, 32, 48, 64]

    def fits_in(window: int):
        return lambda part: analyzer.backend.input_lengths([part], task=task)[0] <= window

    merged_map = analyzer.merged_score_maps.get("sentence")
    sentences = [split_sentences(text, min_words=0, max_words=None) for text, _ in reviews]
    readings = {"whole": [[(0, len(text))] for text, _ in reviews], "sentences": sentences}
    for window in windows:
        readings[f"packed_{window}"] = [pack_units(text, spans, fits_in(window))
                                        for (text, _), spans in zip(reviews, sentences)]
    rows = {name: {"raw": read(analyzer, reviews, plans, None),
                   "merged_map": read(analyzer, reviews, plans, merged_map)}
            for name, plans in readings.items()}
    split = [index for index, plan in enumerate(sentences) if len(plan) > 1]
    several = [reviews[i] for i in split]
    pooled = {"reviews": len(several),
              "votes": read(analyzer, several, [sentences[i] for i in split], None),
              "pooled": pooled_accuracy(analyzer, several, [sentences[i] for i in split]),
              "whole": read(analyzer, several, [[(0, len(text))] for text, _ in several], None)}
    acsa = {}
    for name, found in examples.items():
        texts, gold = review_texts(name, found)
        acsa[name] = {"reviews": len(texts), "sentences": acsa_f1(analyzer, texts, gold, None),
                      **{f"packed_{w}": acsa_f1(analyzer, texts, gold, fits_in(w))
                         for w in windows}}
    emit({"model": args.model, "dev_files": list(DEV_FILES), "reviews": len(reviews),
          "readings": rows, "sentences_pooled": pooled, "acsa_f1": acsa}, args.record)
    for name, row in rows.items():
        print(f"{name:12} parts {row['raw']['mean_parts']:5.2f}  accuracy "
              f"{row['raw']['accuracy']:6.2f}  ECE raw {row['raw']['ece']:.3f}  "
              f"mapped {row['merged_map']['ece']:.3f}")
    print(f"reviews of >= 2 sentences ({pooled['reviews']}), read in sentences: votes "
          f"{pooled['votes']['accuracy']}, pooled {pooled['pooled']['accuracy']}; whole "
          f"{pooled['whole']['accuracy']}")
    for name, row in acsa.items():
        print(f"ACSA F1 {name}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
