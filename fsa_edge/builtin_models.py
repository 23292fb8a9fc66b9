"""Built-in plugin: the model aliases that ship with fsa-edge."""

from __future__ import annotations

from pathlib import Path

from .hookspecs import hookimpl

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "default"


@hookimpl
def register_models(register):
    register("default", DEFAULT_MODEL_DIR,
             description="the embedded default student (CTranslate2 int8)")
