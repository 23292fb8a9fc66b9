"""SHA-256 of teacher files, cached: a 4 GB GGUF is hashed once, not on every run.

The cache is a JSON file keyed by absolute path, size and modification time (nanoseconds), in
``$FSA_EDGE_CACHE`` or ``$XDG_CACHE_HOME/fsa-edge`` (default ``~/.cache/fsa-edge``). A file
changed in place gets a new key and is hashed again. An unwritable cache is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..files import cache_dir

CACHE_FILE = "sha256.json"
_CHUNK = 1 << 22


def _key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_cache(cache: Path) -> dict[str, str]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_sha256(path: str | Path, *, use_cache: bool = True) -> str:
    """Hex SHA-256 of the file at ``path``."""
    path = Path(path)
    key = _key(path)
    cache = cache_dir() / CACHE_FILE
    if use_cache:
        known = _read_cache(cache).get(key)
        if isinstance(known, str) and len(known) == 64:
            return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    if use_cache:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            data = _read_cache(cache)
            data[key] = value
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=0), encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:
            pass
    return value
