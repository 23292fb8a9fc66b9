"""The lines of a file as a Ray dataset of ``(line, raw)`` rows, read in parallel byte ranges.

The driver finds the ranges (cut at line ends) and counts the lines before each one, so every
row keeps its line number — what error records and ``--preserve-order`` need — without the
driver holding the file. Each read task opens the file itself: on a cluster the path must be
on a file system every node sees at the same path. Reads request no CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

RANGE_BYTES = 16 * 2**20
ROWS_PER_BLOCK = 512  # rows stream out as blocks finish: small blocks, early output


@dataclass(frozen=True)
class LineRange:
    start: int        # byte offset of the range's first line
    end: int          # byte offset after its last line
    first_line: int   # number of its first line, from 1
    lines: int


def line_ranges(path: str | Path, range_bytes: int = RANGE_BYTES) -> list[LineRange]:
    """``path`` cut into ranges of about ``range_bytes`` that end at a line end."""
    ranges: list[LineRange] = []
    start = offset = lines = 0
    first = 1
    with open(path, "rb") as handle:
        for raw in handle:
            offset += len(raw)
            lines += 1
            if offset - start >= range_bytes:
                ranges.append(LineRange(start, offset, first, lines))
                start, first, lines = offset, first + lines, 0
    if lines:
        ranges.append(LineRange(start, offset, first, lines))
    return ranges


def read_range(path: str, span: LineRange, rows_per_block: int = ROWS_PER_BLOCK
               ) -> Iterator[Any]:
    """Blocks (Arrow tables of ``line``, ``raw``) of one range; lines split as a binary file
    iterates them (at ``\\n``, a last line without one kept)."""
    import pyarrow as pa

    numbers: list[int] = []
    raws: list[bytes] = []
    with open(path, "rb") as handle:
        handle.seek(span.start)
        for index in range(span.lines):
            numbers.append(span.first_line + index)
            raws.append(handle.readline())
            if len(numbers) >= rows_per_block:
                yield pa.table({"line": pa.array(numbers, pa.int64()),
                                "raw": pa.array(raws, pa.binary())})
                numbers, raws = [], []
    if numbers:
        yield pa.table({"line": pa.array(numbers, pa.int64()), "raw": pa.array(raws, pa.binary())})


def read_lines(path: str | Path, range_bytes: int = RANGE_BYTES) -> tuple[Any, int]:
    """The dataset of ``path``'s lines and how many there are."""
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    path = str(Path(path).resolve())
    ranges = line_ranges(path, range_bytes)

    class LineSource(Datasource):
        def estimate_inmemory_data_size(self) -> int:
            return sum(r.end - r.start for r in ranges) + 8 * sum(r.lines for r in ranges)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[ReadTask]:
            return [ReadTask(lambda span=span: read_range(path, span),
                             BlockMetadata(num_rows=span.lines, size_bytes=span.end - span.start,
                                           exec_stats=None, input_files=(path,)),
                             per_task_row_limit=per_task_row_limit)
                    for span in ranges]

        def get_name(self) -> str:
            return "Lines"

    total = sum(r.lines for r in ranges)
    if not ranges:
        return ray.data.from_items([]), 0
    return ray.data.read_datasource(LineSource(), num_cpus=0), total
