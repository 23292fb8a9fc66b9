"""A one-line progress report on stderr (only when asked for or when stderr is a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, enabled: bool | None, label: str = "reviews") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self.count = 0
        self.errors = 0
        self.started = time.perf_counter()

    def update(self, done: int, errors: int = 0) -> None:
        self.count += done
        self.errors += errors
        if self.enabled:
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            sys.stderr.write(f"\r{self.count} {self.label} ({self.count / elapsed:.1f}/s), "
                             f"{self.errors} errors")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
