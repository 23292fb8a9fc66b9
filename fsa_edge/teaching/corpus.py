"""The distillation corpus on disk: JSON lines, appended, crash-safe and resumable.

Invariants:

* Rows are appended in groups; after each group the file is flushed and ``os.fsync``-ed, so a
  run killed at any moment (SIGKILL, power loss) loses at most the rows of the group in flight,
  and at worst leaves one torn last line.
* Opening a corpus repairs it: a torn last line (no newline, or not valid JSON) is cut off by
  truncating the file back to the end of the last complete row. A malformed row anywhere else
  is not ours to guess about: it raises :class:`~fsa_edge.errors.InputError` naming the line.
* Every row has a key ``(prompt, id, occurrence)`` (``occurrence`` counts repeats of one id in
  the input, from 0). A rerun skips keys that are already present, so the file holds each key
  once. Error rows count as done; ``retry_errors=True`` removes them first (an atomic rewrite:
  temporary file, fsync, rename) so that they are tried again.
* One writer at a time: the file is locked (``flock``) while open.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import InputError, TeacherError
from ..files import fsync_dir

try:  # POSIX only; elsewhere the corpus works without the lock.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

ROW_FORMAT = 1
Key = tuple[str, str, int]


def row_key(row: Mapping[str, Any]) -> Key:
    return (str(row["prompt"]), str(row["id"]), int(row.get("occurrence", 0)))


def _decode_row(raw: bytes, line: int) -> dict[str, Any] | None:
    try:
        row = json.loads(raw.decode("utf-8-sig" if line == 1 else "utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(row, dict) or "id" not in row or "prompt" not in row:
        return None
    return row


def _lines(handle: Any) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, raw bytes, is last line) without holding the file in memory."""
    previous: bytes | None = None
    line = 0
    for raw in handle:
        if previous is not None:
            yield line, previous, False
        line += 1
        previous = raw
    if previous is not None:
        yield line, previous, True


def iter_corpus_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """The complete rows of a corpus (a torn last line is skipped, not repaired)."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError("no such corpus file", path=path) from None
    with handle:
        for line, raw, last in _lines(handle):
            if not raw.strip():
                continue
            row = _decode_row(raw, line)
            if row is None or not raw.endswith(b"\n"):
                if last:
                    return
                raise InputError("malformed corpus row (not a JSON object with id and prompt)",
                                 path=path, line=line)
            yield row


class CorpusWriter:
    """Append rows to a corpus file, resuming where an earlier run stopped."""

    def __init__(self, path: str | Path, *, retry_errors: bool = False, sync_every: int = 8,
                 sync_seconds: float = 2.0) -> None:
        self.path = Path(path)
        self.sync_every = max(1, sync_every)
        self.sync_seconds = sync_seconds
        self.done: set[Key] = set()
        self.errors_kept = 0
        self.errors_removed = 0
        self.repaired_bytes = 0
        self._pending: list[bytes] = []
        self._last_sync = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+b")
        try:
            self._lock()
            self._recover(retry_errors)
        except BaseException:
            self._handle.close()
            raise

    # ---------------------------------------------------------------- opening
    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TeacherError(f"{self.path}: another process is writing this corpus") from None

    def _recover(self, retry_errors: bool) -> None:
        handle = self._handle
        handle.seek(0)
        good_end = 0
        offset = 0
        error_rows = 0
        for line, raw, last in _lines(handle):
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                good_end = offset if raw.endswith(b"\n") else good_end
                continue
            row = _decode_row(raw, line)
            if row is None or not raw.endswith(b"\n"):
                if last:  # the torn tail of a killed run
                    self.repaired_bytes = offset - start
                    break
                raise InputError("malformed corpus row (not a JSON object with id and prompt); "
                                 "fix or remove it", path=self.path, line=line)
            good_end = offset
            if row.get("error") is not None:
                error_rows += 1
                if retry_errors:
                    continue
            self.done.add(row_key(row))
        if self.repaired_bytes:
            handle.truncate(good_end)
            handle.flush()
            os.fsync(handle.fileno())
        if retry_errors and error_rows:
            self._rewrite_without_errors()
            self.errors_removed = error_rows
        else:
            self.errors_kept = error_rows
        self._handle.seek(0, os.SEEK_END)

    def _rewrite_without_errors(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._handle.seek(0)
        with open(tmp, "wb") as out:
            for line, raw in enumerate(self._handle, start=1):
                row = _decode_row(raw, line)
                if row is not None and row.get("error") is None:
                    out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        old = self._handle
        self._handle = open(self.path, "a+b")
        self._lock()
        old.close()

    # ---------------------------------------------------------------- writing
    def __contains__(self, key: Key) -> bool:
        return key in self.done

    def write(self, row: Mapping[str, Any]) -> None:
        """Queue one row; it reaches the disk at the next sync (at most ``sync_every`` rows)."""
        key = row_key(row)
        if key in self.done:
            raise TeacherError(f"{self.path}: row {key} is already in the corpus")
        record = {"format": ROW_FORMAT, **row}
        self._pending.append((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self.done.add(key)
        if (len(self._pending) >= self.sync_every
                or time.monotonic() - self._last_sync >= self.sync_seconds):
            self.sync()

    def sync(self) -> None:
        """Append the queued rows, flush and fsync."""
        if self._pending:
            self._handle.write(b"".join(self._pending))
            self._pending.clear()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._handle.closed:
            return
        try:
            self.sync()
        finally:
            self._handle.close()

    def __enter__(self) -> "CorpusWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
