"""How many word-piece positions the encoder runs per input lines per batch: padding, counted.

    python benchmarks/batch_padding.py [--model default] [--batch-size 32 --batch-size 256 …] \
        [--max-batch-tokens 4096 --max-batch-tokens 2048 …] [--reviews FILE] \
        [--out benchmarks/results/batch_padding]

The analyzer hands a backend ``batch_size`` input lines at a time; the tagger sorts them by length
into encoder batches (its ``run_batched``: within ``max_batch_tokens`` and ``max_batch_size``) and
pads each to its longest review. This counts, for the four fsa-benchmark test splits (3,084
sentences, ``../shared/data``; else synthetic sentences; ``--reviews FILE``: that file's texts,
read in place, each cut into the parts the analyzer hands the backend), the encoder calls and the
positions
they run (longest × reviews, summed) against the pieces the reviews hold: the work that timing
measures on a quiet machine, counted exactly on any machine (speed: ``default_speed.py
--batch-size``), and the widest batch (most positions in one call: what bounds the encoder's
working memory), per lines per batch and per ``max_batch_tokens`` (repeatable; default: the
backend's). Writes ``<out>.json`` and ``<out>.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from default_speed import inputs  # noqa: E402
from records import write_table  # noqa: E402

from fsa_edge.readers.jsonl import DEFAULT_BATCH_SIZE, line_batches  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SIZES = (16, 32, 64, 128, 256, 512)


def padding(backend, parts: list[list[str]], pieces: dict[str, int], batch_size: int) -> dict:
    """Encoder calls and positions run for the texts' ``parts`` (``pieces`` each) handed to the
    tagger ``backend`` ``batch_size`` texts at a time, batched as it batches them (its
    ``run_batched``)."""
    calls = positions = widest = 0

    def run(batch: list[str]) -> list[None]:
        nonlocal calls, positions, widest
        calls += 1
        size = max(pieces[text] for text in batch) * len(batch)
        positions += size
        widest = max(widest, size)
        return [None] * len(batch)

    for chunk in line_batches(parts, batch_size):
        backend.run_batched([part for text_parts in chunk for part in text_parts], run)
    real = sum(pieces[part] for text_parts in parts for part in text_parts)
    return {"batch_size": batch_size, "max_batch_tokens": backend.max_batch_tokens,
            "encoder_calls": calls, "positions": positions, "widest_call_positions": widest,
            "pieces": real, "positions_per_piece": round(positions / max(1, real), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a tagger directory or alias")
    parser.add_argument("--batch-size", type=int, action="append", default=None,
                        help="input lines per batch (repeatable; default: "
                             + ", ".join(map(str, SIZES)) + ")")
    parser.add_argument("--max-batch-tokens", type=int, action="append", default=None,
                        help="the tagger's word pieces per encoder batch (repeatable; default: "
                             "its own)")
    parser.add_argument("--reviews", type=Path, default=None,
                        help="count this file's texts (e.g. yelp2's long test reviews)")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--out", type=Path, default=RESULTS / "batch_padding")
    args = parser.parse_args(argv)
    import fsa_edge

    texts, source = inputs(args.limit, args.reviews)
    rows, parts, pieces = [], None, {}
    for budget in args.max_batch_tokens or [None]:
        options = {} if budget is None else {"max_batch_tokens": budget}
        with fsa_edge.load(args.model, cpu_threads=1, **options) as analyzer:
            backend = analyzer.backend
            if backend.name != "tagger":
                parser.error(f"{args.model}: a {backend.name} model; this counts a tagger's "
                             "batches")
            if parts is None:  # the parts and their pieces do not depend on the budget
                parts = [[text[start:end] for start, end in spans]
                         for text, spans in zip(texts, analyzer.parts(texts))]
                flat = sorted({part for text_parts in parts for part in text_parts})
                pieces = dict(zip(flat, backend.runtime.input_lengths(flat)))
            rows += [padding(backend, parts, pieces, size) for size in args.batch_size or SIZES]
    record = {"benchmark": "batch_padding", "model": args.model, "inputs": source,
              "reviews": len(texts), "parts": sum(map(len, parts)),
              "max_batch_size": backend.max_batch_size, "library_default": DEFAULT_BATCH_SIZE,
              "rows": rows}
    lines = [f"{len(texts)} reviews ({source}) in {record['parts']} parts, {rows[0]['pieces']} "
             f"word pieces; encoder batches of at most {backend.max_batch_size} parts", "",
             "| lines per batch | max_batch_tokens | encoder calls | positions run | "
             "positions per piece | widest call (positions) |", "|---|---|---|---|---|---|"]
    for row in rows:
        mark = " (default)" if row["batch_size"] == DEFAULT_BATCH_SIZE else ""
        lines.append(f"| {row['batch_size']}{mark} | {row['max_batch_tokens']} | "
                     f"{row['encoder_calls']} | {row['positions']} | "
                     f"{row['positions_per_piece']} | {row['widest_call_positions']} |")
    table = "\n".join(lines) + "\n"
    write_table(args.out, record, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
