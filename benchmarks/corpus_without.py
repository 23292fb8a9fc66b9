"""A teacher corpus without the rows of some sentences: the sentences of a data set.

    python benchmarks/corpus_without.py CORPUS.jsonl --without DATASET [--without …] --out OUT.jsonl

Each row of CORPUS (an ``fsa-edge distill`` corpus, e.g. a tagger teacher's soft targets) is
copied to OUT unless its ``text`` is, by :func:`fsa_edge.training.sentence_key`, a sentence of a
``--without`` file (any format the readers know, e.g. pseudo-triplets written by
``pseudo_triplets.py``). Used to train on pseudo-triplets without the tag teacher's soft targets on
the same sentences (benchmarks/README "Pseudo-triplets without the teacher's soft targets"). Every
row is counted (kept + dropped = rows); the counts go to stdout as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fsa_edge.errors import InputError
from fsa_edge.jsonlines import dumps_line, iter_json_objects
from fsa_edge.readers import read_dataset
from fsa_edge.training import sentence_key


def drop_sentences(corpus: Path, without: list[Path], out: Path) -> dict:
    """Write ``corpus`` less the rows whose text is a sentence of ``without`` to ``out``."""
    keys = {sentence_key(example.review.text)
            for path in without for example in read_dataset(path).examples}
    counts = {"rows": 0, "kept": 0, "dropped": 0, "sentences_without": len(keys)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        for line, row in iter_json_objects(corpus):
            text = row.get("text")
            if not isinstance(text, str):
                raise InputError("a corpus row without a text", path=corpus, line=line,
                                 field="text")
            counts["rows"] += 1
            if sentence_key(text) in keys:
                counts["dropped"] += 1
            else:
                sink.write(dumps_line(row) + "\n")
                counts["kept"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--without", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        counts = drop_sentences(args.corpus, args.without, args.out)
    except InputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
