"""Shared fixtures: the shared data folder, and a fake backend plugin registered per test."""

from __future__ import annotations

import json
import time
import types
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import pytest

from fsa_edge import GenerativeBackend, Generation, hookimpl
from fsa_edge.plugins import load_plugins, pm

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data folder absent: {DATA}")
    return DATA


class KeywordBackend(GenerativeBackend):
    """A deterministic generative backend for tests: writes ATSA targets for known words.

    A text containing ``BOOM`` makes the whole batch fail (to test error records).
    """

    name = "keyword"
    WORDS = {"food": "positive", "service": "negative", "bread": "positive", "screen": "neutral"}

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return (path / "keyword.txt").exists()

    def generate(self, inputs: Sequence[str]) -> list[Generation]:
        if any("BOOM" in text for text in inputs):
            raise RuntimeError("kaboom")
        outputs = []
        for text in inputs:
            lowered = text.lower()
            found = sorted((lowered.find(w), w) for w in self.WORDS if w in lowered)
            target = " ; ".join(f"{w} | {self.WORDS[w]}" for _, w in found) or "none"
            outputs.append(Generation(target, 0.9))
        return outputs


@contextmanager
def registered_plugin(name: str, **hooks: Callable) -> Iterator[types.ModuleType]:
    """A plugin module named after ``name`` whose hook implementations are ``hooks`` (hook name
    → a function of the hook's arguments), registered for the block, unregistered after."""
    plugin = types.ModuleType(f"fsa_edge_{name.replace('-', '_')}")
    for hook, function in hooks.items():
        setattr(plugin, hook, hookimpl(function))
    load_plugins()
    pm.register(plugin, name=name)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


@pytest.fixture
def keyword_model(tmp_path: Path):
    """A model directory served by the fake ``keyword`` backend, registered as a plugin."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "keyword.txt").write_text("keyword model\n")
    (model / "fsa_edge.json").write_text(json.dumps({"tasks": ["atsa"], "default_task": "atsa"}))
    with registered_plugin(
            "test-keyword", register_backends=lambda register: register(KeywordBackend),
            register_models=lambda register: register("keyword-test", model,
                                                      description="test model")):
        yield model


def install_plugin(site: Path, module: str, source: str, *, distribution: str, version: str,
                   entry_point: str) -> Path:
    """A third-party plugin installed into the folder ``site`` the way pip lays one out: the
    module ``module``.py holding ``source`` and a dist-info whose ``fsa_edge`` entry point
    ``entry_point`` names it (put ``site`` on ``PYTHONPATH`` to install it). Returns ``site``."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(source)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[fsa_edge]\n{entry_point} = {module}\n")
    (info / "RECORD").write_text("")
    return site


def wait_for_lines(process: Any, path: Path, lines: int, seconds: float = 120) -> None:
    """Return once ``path`` holds ``lines`` lines, ``process`` has ended, or ``seconds`` went by
    (the moment a test kills a run mid-way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            return
        time.sleep(0.01)

