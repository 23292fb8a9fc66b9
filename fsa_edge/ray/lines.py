"""The lines of a file as a Ray dataset of line batches, read in parallel byte ranges.

Each row is one batch of consecutive lines (``line``: the number of its first line, ``raws``),
cut as plain ``analyze`` cuts them (:func:`~fsa_edge.readers.line_batches`): a review meets the
same neighbours on either engine, so its int8 scores are the same. The driver finds the ranges
(cut at line ends, at a batch boundary) and counts the lines before each one, so every line
keeps its number — what error records and ``--preserve-order`` need — without the driver
holding the file. Each read task opens the file itself: on a cluster the path must be on a file
system every node sees at the same path. Reads request no CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

RANGE_BYTES = 16 * 2**20
LINES_PER_BLOCK = 512  # rows stream out as blocks finish: small blocks, early output


@dataclass(frozen=True)
class LineRange:
    start: int        # byte offset of the range's first line
    end: int          # byte offset after its last line
    first_line: int   # number of its first line, from 1
    lines: int


def line_ranges(path: str | Path, range_bytes: int = RANGE_BYTES, lines_per_batch: int = 1
                ) -> list[LineRange]:
    """``path`` cut into ranges of about ``range_bytes`` that end at a line end; every range
    but the last holds a whole number of batches of ``lines_per_batch`` lines."""
    ranges: list[LineRange] = []
    start = offset = lines = 0
    first = 1
    with open(path, "rb") as handle:
        for raw in handle:
            offset += len(raw)
            lines += 1
            if offset - start >= range_bytes and lines % lines_per_batch == 0:
                ranges.append(LineRange(start, offset, first, lines))
                start, first, lines = offset, first + lines, 0
    if lines:
        ranges.append(LineRange(start, offset, first, lines))
    return ranges


def _table(firsts: list[int], batches: list[list[bytes]]) -> Any:
    import pyarrow as pa

    return pa.table({"line": pa.array(firsts, pa.int64()),
                     "raws": pa.array(batches, pa.list_(pa.binary()))})


def read_range(path: str, span: LineRange, lines_per_batch: int,
               lines_per_block: int = LINES_PER_BLOCK) -> Iterator[Any]:
    """Blocks (Arrow tables of ``line``, ``raws``) of one range, a row per batch of
    ``lines_per_batch`` lines; lines split as a binary file iterates them (at ``\\n``, a last
    line without one kept)."""
    rows_per_block = max(1, lines_per_block // lines_per_batch)
    firsts: list[int] = []
    batches: list[list[bytes]] = []
    with open(path, "rb") as handle:
        handle.seek(span.start)
        for index in range(span.lines):
            if index % lines_per_batch == 0:
                if len(firsts) >= rows_per_block:
                    yield _table(firsts, batches)
                    firsts, batches = [], []
                firsts.append(span.first_line + index)
                batches.append([])
            batches[-1].append(handle.readline())
    if firsts:
        yield _table(firsts, batches)


def read_line_batches(path: str | Path, lines_per_batch: int, range_bytes: int = RANGE_BYTES
                      ) -> tuple[Any, int]:
    """The dataset of ``path``'s line batches and how many lines there are."""
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    path = str(Path(path).resolve())
    ranges = line_ranges(path, range_bytes, lines_per_batch)

    class LineSource(Datasource):
        def estimate_inmemory_data_size(self) -> int:
            return sum(r.end - r.start for r in ranges) + 8 * sum(r.lines for r in ranges)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[ReadTask]:
            return [ReadTask(lambda span=span: read_range(path, span, lines_per_batch),
                             BlockMetadata(num_rows=-(-span.lines // lines_per_batch),
                                           size_bytes=span.end - span.start,
                                           exec_stats=None, input_files=(path,)),
                             per_task_row_limit=per_task_row_limit)
                    for span in ranges]

        def get_name(self) -> str:
            return "Lines"

    total = sum(r.lines for r in ranges)
    if not ranges:
        return ray.data.from_items([]), 0
    return ray.data.read_datasource(LineSource(), num_cpus=0), total
