"""How a long text is read: whole, in sentences, or in sentences packed into windows — on dev.

    python benchmarks/long_text_parts.py [--model default] [--window 24 --window 32 …] \
        [--record benchmarks/results/long_text_parts.json]

The SemEval-2016 dev reviews whose gold elements all agree (``calibrate --review-dev``'s data,
:func:`fsa_edge_tagger.calibration.dev_reviews`: no sentence label) are short enough to be read
whole; each is also read in its sentences (what the analyzer does with a text over its window)
and in its sentences packed while the packed text fits ``--window`` pieces (a stand-in for
packing into the real window of a longer text). Per reading: the `sentence` answer's accuracy
and score ECE, raw share and through the model's merged map. Dev data only: for deciding how
long texts should be read, not for reporting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import fsa_edge
from fsa_edge.calibration_metric import expected_calibration_error
from fsa_edge.readers import read_dataset
from fsa_edge.tasks import get_task
from fsa_edge.text import split_sentences
from fsa_edge.windows import merge_polarity, pack_units
from fsa_edge_tagger.calibration import dev_reviews
from records import emit

DEV_FILES = ("fsa-benchmark/acsa/rest16/dev.json", "fsa-benchmark/acsa/laptop16/dev.json")


def read(analyzer, reviews, plans, merged_map) -> dict:
    """Accuracy, ECE and mean parts of the merged answers of ``reviews`` read in ``plans``."""
    texts = [text[start:end] for (text, _), plan in zip(reviews, plans) for start, end in plan]
    answers = iter(analyzer.analyze(texts, task="sentence"))
    scores, right = [], []
    for (_, polarity), plan in zip(reviews, plans):
        found = [(span, next(answers).elements) for span in plan]
        answer = merge_polarity(found, merged_map)[0] if len(found) > 1 else found[0][1][0]
        scores.append(answer.score)
        right.append(answer.polarity == polarity)
    return {"accuracy": round(100 * float(np.mean(right)), 2),
            "ece": round(expected_calibration_error(scores, right), 4),
            "mean_parts": round(float(np.mean([len(p) for p in plans])), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    parser.add_argument("--window", type=int, action="append", default=None)
    parser.add_argument("--record")
    args = parser.parse_args()
    analyzer = fsa_edge.load(args.model)
    reviews = []
    for name in DEV_FILES:
        path = Path(args.data) / name
        reviews += [(text, polarity) for _, text, polarity
                    in dev_reviews(str(path), read_dataset(path).examples)]
    task = get_task("sentence")

    def fits_in(window: int):
        return lambda part: analyzer.backend.input_lengths([part], task=task)[0] <= window

    merged_map = analyzer.merged_score_maps.get("sentence")
    sentences = [split_sentences(text, min_words=0, max_words=None) for text, _ in reviews]
    readings = {"whole": [[(0, len(text))] for text, _ in reviews], "sentences": sentences}
    for window in args.window or [24, 32, 48, 64]:
        readings[f"packed_{window}"] = [pack_units(text, spans, fits_in(window))
                                        for (text, _), spans in zip(reviews, sentences)]
    rows = {name: {"raw": read(analyzer, reviews, plans, None),
                   "merged_map": read(analyzer, reviews, plans, merged_map)}
            for name, plans in readings.items()}
    emit({"model": args.model, "dev_files": list(DEV_FILES), "reviews": len(reviews),
          "readings": rows}, args.record)
    for name, row in rows.items():
        print(f"{name:12} parts {row['raw']['mean_parts']:5.2f}  accuracy "
              f"{row['raw']['accuracy']:6.2f}  ECE raw {row['raw']['ece']:.3f}  "
              f"mapped {row['merged_map']['ece']:.3f}")


if __name__ == "__main__":
    main()
