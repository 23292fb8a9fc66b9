"""Where fsa-edge keeps its files, and durable writes: the cache root and folder fsync."""

from __future__ import annotations

import os
from pathlib import Path

#: the environment variable naming the cache root
CACHE_ENV = "FSA_EDGE_CACHE"


def cache_dir() -> Path:
    """``$FSA_EDGE_CACHE``, else ``$XDG_CACHE_HOME/fsa-edge``, else ``~/.cache/fsa-edge``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fsa-edge"


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["CACHE_ENV", "cache_dir", "fsync_dir"]
