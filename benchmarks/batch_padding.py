"""How many word-piece positions the encoder runs per input lines per batch: padding, counted.

    python benchmarks/batch_padding.py [--model default] [--batch-size 32 --batch-size 256 …] \
        [--out benchmarks/results/batch_padding]

The analyzer hands a backend ``batch_size`` input lines at a time; the tagger sorts them by length
into encoder batches (its ``run_batched``: within ``max_batch_tokens`` and ``max_batch_size``) and
pads each to its longest review. This counts, for the four fsa-benchmark test splits (3,084
sentences, ``../shared/data``; else synthetic sentences), the encoder calls and the positions
they run (longest × reviews, summed) against the pieces the reviews hold: the work that timing
measures on a quiet machine, counted exactly on any machine (speed: ``default_speed.py
--batch-size``). Writes ``<out>.json`` and ``<out>.md`` and prints the table.
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


def padding(backend, texts: list[str], pieces: dict[str, int], batch_size: int) -> dict:
    """Encoder calls and positions run for ``texts`` (``pieces`` each) handed to the tagger
    ``backend`` ``batch_size`` at a time, batched as it batches them (its ``run_batched``)."""
    calls = positions = 0

    def run(batch: list[str]) -> list[None]:
        nonlocal calls, positions
        calls += 1
        positions += max(pieces[text] for text in batch) * len(batch)
        return [None] * len(batch)

    for chunk in line_batches(texts, batch_size):
        backend.run_batched(chunk, run)
    real = sum(pieces[text] for text in texts)
    return {"batch_size": batch_size, "encoder_calls": calls, "positions": positions,
            "pieces": real, "positions_per_piece": round(positions / max(1, real), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a tagger directory or alias")
    parser.add_argument("--batch-size", type=int, action="append", default=None,
                        help="input lines per batch (repeatable; default: "
                             + ", ".join(map(str, SIZES)) + ")")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--out", type=Path, default=RESULTS / "batch_padding")
    args = parser.parse_args(argv)
    import fsa_edge

    texts, source = inputs(args.limit)
    with fsa_edge.load(args.model, cpu_threads=1) as analyzer:
        backend = analyzer.backend
        if backend.name != "tagger":
            parser.error(f"{args.model}: a {backend.name} model; this counts a tagger's batches")
        pieces = dict(zip(texts, backend.runtime.input_lengths(texts)))
        rows = [padding(backend, texts, pieces, size) for size in args.batch_size or SIZES]
    record = {"benchmark": "batch_padding", "model": args.model, "inputs": source,
              "reviews": len(texts), "max_batch_tokens": backend.max_batch_tokens,
              "max_batch_size": backend.max_batch_size, "library_default": DEFAULT_BATCH_SIZE,
              "rows": rows}
    lines = [f"{len(texts)} reviews ({source}), {rows[0]['pieces']} word pieces; encoder batches "
             f"of at most {backend.max_batch_size} reviews and {backend.max_batch_tokens} pieces",
             "", "| lines per batch | encoder calls | positions run | positions per piece |",
             "|---|---|---|---|"]
    for row in rows:
        mark = " (default)" if row["batch_size"] == DEFAULT_BATCH_SIZE else ""
        lines.append(f"| {row['batch_size']}{mark} | {row['encoder_calls']} | {row['positions']} | "
                     f"{row['positions_per_piece']} |")
    table = "\n".join(lines) + "\n"
    write_table(args.out, record, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
