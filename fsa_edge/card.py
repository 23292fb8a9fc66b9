"""The model card ``fsa_edge.json`` written beside every model fsa-edge trains or converts.

It says which tasks and target-format version the model was trained on, whether inputs carry a
task prefix, the length limits, the backend that serves it, and free-form provenance and metrics.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .tasks import FORMAT_VERSION, get_task

CARD_FILE = "fsa_edge.json"


@dataclass(frozen=True)
class ModelCard:
    """A model's card: the tasks it serves (``default_task`` when none is asked; the first task
    when unset), the target format, whether inputs carry a task prefix, the length limits, the
    backend and quantization it runs with, and ``extra`` — every other key of the file (recipe,
    provenance, metrics, a backend's own settings), written back unchanged."""

    tasks: tuple[str, ...] = ("atsa",)
    default_task: str | None = None
    target_format_version: int = FORMAT_VERSION
    task_prefix: bool = False
    max_input_length: int = 128
    max_output_length: int = 128
    backend: str | None = None
    quantization: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The task answered when none is asked."""
        return self.default_task or self.tasks[0]

    def input_for(self, task: str, text: str) -> str:
        """The encoder input for ``text`` under ``task`` (with the task prefix if trained so)."""
        return get_task(task).prefix + text if self.task_prefix else text

    def to_dict(self) -> dict[str, Any]:
        """The card as the JSON object of ``fsa_edge.json`` (``extra``'s keys at the top level)."""
        data = asdict(self)
        data["tasks"] = list(self.tasks)
        extra = data.pop("extra")
        return {**extra, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        """The card of a ``fsa_edge.json`` object; unknown keys go to ``extra``."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        values = {k: v for k, v in data.items() if k in known}
        if "tasks" in values:
            values["tasks"] = tuple(values["tasks"])
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    def save(self, directory: str | Path) -> Path:
        """Write ``fsa_edge.json`` into ``directory``; returns its path."""
        path = Path(directory) / CARD_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "ModelCard":
        """The card of a model directory; a directory without one gets the defaults."""
        path = Path(directory) / CARD_FILE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"invalid model card ({exc})", path=path) from None
        if not isinstance(data, dict):
            raise InputError("the model card must be a JSON object", path=path)
        try:
            return cls.from_dict(data)
        except TypeError as exc:
            raise InputError(f"invalid model card ({exc})", path=path) from None
