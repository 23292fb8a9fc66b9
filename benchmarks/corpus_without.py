"""A teacher corpus without the rows of some sentences: the sentences of a data set or of
another corpus; optionally only one source's rows, and only the first N kept.

    python benchmarks/corpus_without.py CORPUS.jsonl --without DATASET [--without …]
        [--without-corpus OTHER.jsonl …] [--source NAME] [--limit N] --out OUT.jsonl

Each row of CORPUS (an ``fsa-edge distill`` corpus, e.g. a tagger teacher's soft targets) is
copied to OUT unless its ``text`` is, by :func:`fsa_edge.training.sentence_key`, a sentence of a
``--without`` file (any format the readers know, e.g. pseudo-triplets written by
``pseudo_triplets.py``) or the text of a row of a ``--without-corpus`` file (so two corpora
trained together never hold one sentence twice). ``--source NAME`` keeps only the rows whose
``id`` is ``NAME:…`` (the source prefix ``benchmarks/unlabeled.py`` writes); ``--limit N`` stops
after N kept rows (corpus order). Used to train on pseudo-triplets without the tag teacher's soft
targets on the same sentences (benchmarks/README "Pseudo-triplets without the teacher's soft
targets") and to add more of a teacher's unlabeled answers to a corpus. Every row read is
counted (kept + dropped + other source + over the limit = rows); the counts go to stdout as JSON.
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


def _text(corpus: Path, line: int, row: dict) -> str:
    text = row.get("text")
    if not isinstance(text, str):
        raise InputError("a corpus row without a text", path=corpus, line=line, field="text")
    return text


def corpus_keys(corpus: Path) -> set[str]:
    """The :func:`sentence_key` of every row's text of a corpus."""
    return {sentence_key(_text(corpus, line, row)) for line, row in iter_json_objects(corpus)}


def drop_sentences(corpus: Path, without: list[Path], out: Path, *,
                   without_corpora: list[Path] = (), source: str | None = None,
                   limit: int | None = None) -> dict:
    """Write ``corpus`` less the rows whose text is a sentence of ``without`` or a row text of
    ``without_corpora`` to ``out``; with ``source``, only rows whose id is ``source:…``; with
    ``limit``, at most that many rows (the first ones)."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    keys = {sentence_key(example.review.text)
            for path in without for example in read_dataset(path).examples}
    for path in without_corpora:
        keys |= corpus_keys(path)
    counts = {"rows": 0, "kept": 0, "dropped": 0, "sentences_without": len(keys)}
    if source is not None:
        counts["other_source"] = 0
    if limit is not None:
        counts["over_limit"] = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        for line, row in iter_json_objects(corpus):
            text = _text(corpus, line, row)
            counts["rows"] += 1
            if source is not None and not str(row.get("id", "")).startswith(f"{source}:"):
                counts["other_source"] += 1
            elif sentence_key(text) in keys:
                counts["dropped"] += 1
            elif limit is not None and counts["kept"] >= limit:
                counts["over_limit"] += 1
            else:
                sink.write(dumps_line(row) + "\n")
                counts["kept"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--without", type=Path, action="append", default=[],
                        help="a data set whose sentences are left out (repeatable)")
    parser.add_argument("--without-corpus", type=Path, action="append", default=[],
                        help="a corpus whose row texts are left out (repeatable)")
    parser.add_argument("--source", help="keep only rows whose id is SOURCE:…")
    parser.add_argument("--limit", type=int, help="keep at most this many rows (the first)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.without and not args.without_corpus:
        parser.error("give --without or --without-corpus")
    try:
        counts = drop_sentences(args.corpus, args.without, args.out,
                                without_corpora=args.without_corpus, source=args.source,
                                limit=args.limit)
    except InputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
