"""Shared fixtures: the shared data folder, and a fake backend plugin registered per test."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Sequence

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


@pytest.fixture
def keyword_model(tmp_path: Path):
    """A model directory served by the fake ``keyword`` backend, registered as a plugin."""
    plugin = types.ModuleType("fsa_edge_test_keyword")

    @hookimpl
    def register_backends(register):
        register(KeywordBackend)

    @hookimpl
    def register_models(register):
        register("keyword-test", tmp_path / "model", description="test model")

    plugin.register_backends = register_backends
    plugin.register_models = register_models
    load_plugins()
    pm.register(plugin, name="test-keyword")
    model = tmp_path / "model"
    model.mkdir()
    (model / "keyword.txt").write_text("keyword model\n")
    (model / "fsa_edge.json").write_text(json.dumps({"tasks": ["atsa"], "default_task": "atsa"}))
    try:
        yield model
    finally:
        pm.unregister(plugin)
