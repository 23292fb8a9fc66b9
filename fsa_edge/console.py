"""Progress lines on stderr, one format for every part of fsa-edge (stdout carries data)."""

from __future__ import annotations

import sys
from typing import Callable


def log(component: str, message: str) -> None:
    """``fsa-edge COMPONENT: message`` on stderr, flushed at once."""
    print(f"fsa-edge {component}: {message}", file=sys.stderr, flush=True)


def logger(component: str) -> Callable[[str], None]:
    """A :func:`log` bound to ``component``."""
    return lambda message: log(component, message)


__all__ = ["log", "logger"]
