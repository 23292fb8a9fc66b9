"""Run-time helpers every backend and converter shares, defined once.

Length-sorted batching under a token budget, device and compute-type resolution for
CTranslate2, the physical core count (the default of ``cpu_threads``), and the names of the
files a model directory carries beside its weights. Light at import: ``ctranslate2`` and
``psutil`` are imported inside the functions that need them.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence, TypeVar

from .errors import BackendError

T = TypeVar("T")

#: The CTranslate2 weights file of a converted model.
MODEL_FILE = "model.bin"
#: The task heads of an encoder-with-heads model (numpy arrays, applied outside CTranslate2).
HEADS_FILE = "heads.npz"
#: The tokenizer the torch-free runtime reads (``tokenizers`` library).
TOKENIZER_FILE = "tokenizer.json"
#: Every tokenizer file a model directory may carry (copied on save and on conversion).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model")
#: A Hugging Face model folder's configuration and its weights (what training saves and
#: conversion reads); every weight file such a folder may have, safetensors first.
HF_CONFIG_FILE = "config.json"
HF_WEIGHTS_FILE = "model.safetensors"
HF_WEIGHT_FILES = (HF_WEIGHTS_FILE, "pytorch_model.bin")
DEVICES = ("auto", "cpu", "cuda")


def physical_cores() -> int:
    """Physical CPU cores (psutil when installed), else the logical count."""
    try:
        import psutil

        count = psutil.cpu_count(logical=False)
    except ImportError:
        count = None
    return max(1, count or os.cpu_count() or 1)


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when CTranslate2 sees a GPU, else ``cpu``."""
    import ctranslate2

    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise BackendError(f"unknown device {device!r}; use {', '.join(DEVICES)}")
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise BackendError("device 'cuda' requested but CTranslate2 sees no CUDA device")
    return device


def resolve_compute_type(compute_type: str, quantization: str | None, device: str) -> str:
    """``auto`` → what the model was quantized to, made runnable on ``device``."""
    if compute_type != "auto":
        return compute_type
    quantization = (quantization or "").lower()
    if quantization.startswith("int8"):
        return "int8_float16" if device == "cuda" else "int8"
    if quantization in ("float16", "bfloat16"):
        return quantization if device == "cuda" else "float32"
    if quantization == "float32":
        return "float32"
    return "int8_float16" if device == "cuda" else "int8"


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int = 256
                 ) -> list[list[int]]:
    """Input indices grouped into batches, shortest inputs first.

    A batch holds inputs of similar length, at most ``max_batch_size`` of them, and its padded
    size (longest input × count) stays within ``max_batch_tokens`` (a single input longer than
    the budget gets a batch of its own).
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        width = max(longest, max(1, lengths[index]))
        if current and (width * (len(current) + 1) > max_batch_tokens
                        or len(current) >= max_batch_size):
            batches.append(current)
            current, width = [], max(1, lengths[index])
        current.append(index)
        longest = width
    if current:
        batches.append(current)
    return batches


#: how many counted encodings a :class:`TokenCounter` may keep across one-text counts (parts being
#: planned) before it starts afresh
KEPT_ENCODINGS = 65536


class TokenCounter:
    """How many tokens each text takes with a ``tokenizers`` tokenizer, never truncated (it
    counts with a copy, so the tokenizer keeps its own truncation).

    The encodings of the latest counted texts that the tokenizer would not cut are kept, and
    :meth:`encode` hands them out instead of tokenizing those texts again (a runtime counts every
    text before it encodes it: without this each would be tokenized twice). A single counted text
    (a part being planned) is added to the kept ones; any other count replaces them."""

    def __init__(self, tokenizer: Any) -> None:
        self._source = tokenizer  # the cutting tokenizer :meth:`encode` stands for
        self._tokenizer = type(tokenizer).from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._kept: dict[str, Any] = {}  # text → encoding, from the latest counts

    def __call__(self, texts: Sequence[str]) -> list[int]:
        encodings = self.encodings(texts)
        if len(texts) != 1 or len(self._kept) > KEPT_ENCODINGS:
            self._kept = {}
        window = (self._source.truncation or {}).get("max_length")
        for text, encoding in zip(texts, encodings):
            if window is None or len(encoding.ids) <= window:  # as the cutting tokenizer has it
                self._kept[text] = encoding
        return [len(encoding.ids) for encoding in encodings]

    def encodings(self, texts: Sequence[str]) -> list[Any]:
        """The texts' whole encodings (what the count counts), none kept."""
        return self._tokenizer.encode_batch(list(texts))

    def encode(self, texts: Sequence[str]) -> list[Any]:
        """The texts' encodings as the tokenizer gives them (cut at its window): the kept ones,
        the others tokenized now."""
        kept = [self._kept.pop(text, None) for text in texts]
        missing = [text for text, encoding in zip(texts, kept) if encoding is None]
        fresh = iter(self._source.encode_batch(missing) if missing else ())
        return [encoding if encoding is not None else next(fresh) for encoding in kept]


def run_sorted(items: Sequence[T], lengths: Sequence[int], run: Callable[[list[T]], list],
               *, max_batch_tokens: int, max_batch_size: int = 256) -> list:
    """``run`` over length-sorted batches of ``items``; the results in the order of ``items``."""
    results: list = [None] * len(items)
    for batch in plan_batches(lengths, max_batch_tokens, max_batch_size):
        outputs = run([items[i] for i in batch])
        if len(outputs) != len(batch):
            raise RuntimeError(f"a batch of {len(batch)} inputs gave {len(outputs)} outputs")
        for index, output in zip(batch, outputs):
            results[index] = output
    return results


__all__ = ["DEVICES", "HEADS_FILE", "MODEL_FILE", "TOKENIZER_FILE", "TOKENIZER_FILES",
           "KEPT_ENCODINGS", "TokenCounter", "physical_cores", "plan_batches",
           "resolve_compute_type", "resolve_device",
           "run_sorted"]
