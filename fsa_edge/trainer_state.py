"""The trainer's resumable state on disk, without pickle: nested dicts, lists, tuples, numbers,
strings, tensors and numpy arrays as ``trainer_state.json`` (the structure, with references) +
``trainer_state.safetensors`` (every tensor); and the random states a resumed run restores.
torch is imported inside the functions."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .errors import TrainingError

STATE_FILE = "trainer_state.json"
STATE_TENSORS_FILE = "trainer_state.safetensors"


def _flatten(value: Any, tensors: dict[str, Any], path: str) -> Any:
    """JSON for ``value`` with every tensor (or numpy array) moved into ``tensors``."""
    import numpy
    import torch

    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": path}
    if isinstance(value, numpy.ndarray):  # kept exactly in a 64-bit type, its dtype beside it
        wide = numpy.int64 if value.dtype.kind in "iub" else numpy.float64
        tensors[path] = torch.from_numpy(numpy.ascontiguousarray(value, dtype=wide))
        return {"__ndarray__": path, "dtype": str(value.dtype)}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"__dict__": {k: _flatten(v, tensors, f"{path}.{k}") for k, v in value.items()}}
        return {"__items__": [[k, _flatten(v, tensors, f"{path}.{k}")] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_flatten(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_flatten(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TrainingError(f"cannot save a {type(value).__name__} in the trainer state ({path})")


def _unflatten(value: Any, tensors: dict[str, Any]) -> Any:
    """The value :func:`_flatten` turned into ``value``, its tensors taken from ``tensors``."""
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]].numpy().astype(value["dtype"])
    if "__tuple__" in value:
        return tuple(_unflatten(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {k: _unflatten(v, tensors) for k, v in value["__items__"]}
    return {k: _unflatten(v, tensors) for k, v in value["__dict__"].items()}


def save_state(directory: Path, state: dict[str, Any]) -> None:
    """``state`` (nested dicts, lists, tuples, numbers, strings, tensors, numpy arrays) as
    ``trainer_state.json`` + ``trainer_state.safetensors``."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    document = _flatten(state, tensors, "state")
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / STATE_TENSORS_FILE))
    (directory / STATE_FILE).write_text(json.dumps(document), encoding="utf-8")


def load_state(directory: Path) -> dict[str, Any]:
    """What :func:`save_state` wrote."""
    from safetensors.torch import load_file

    tensors = load_file(str(directory / STATE_TENSORS_FILE))
    return _unflatten(json.loads((directory / STATE_FILE).read_text(encoding="utf-8")), tensors)


def rng_states() -> dict[str, Any]:
    """The python, numpy, torch (and CUDA, when present) random states, for :func:`save_state`."""
    import numpy
    import torch

    states = {"python": random.getstate(), "numpy": numpy.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Set the random states :func:`rng_states` returned (CUDA's only where CUDA is present)."""
    import numpy
    import torch

    random.setstate(states["python"])
    numpy.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


__all__ = ["STATE_FILE", "STATE_TENSORS_FILE", "load_state", "restore_rng_states", "rng_states",
           "save_state"]
