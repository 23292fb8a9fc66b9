"""The CTranslate2 backend: a converted seq2seq student served without torch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.backends import Generation, GenerativeBackend
from fsa_edge.card import CARD_FILE
from fsa_edge.errors import BackendError

from .batching import run_sorted
from .tokenization import TOKENIZER_FILE, TokenizerAdapter

MODEL_FILE = "model.bin"
DEFAULT_MAX_BATCH_TOKENS = 4096
DEFAULT_MAX_BATCH_SIZE = 64


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
        raise BackendError(f"unknown device {device!r}; use auto, cpu or cuda")
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


class CTranslate2Backend(GenerativeBackend):
    """Greedy (or beam) decoding with CTranslate2; tokenization with ``tokenizers``.

    Options: ``compute_type`` (``auto``), ``intra_threads`` (default: physical cores),
    ``inter_threads`` (1), ``max_batch_tokens`` (4096), ``max_batch_size`` (64),
    ``beam_size`` (1), ``max_decoding_length`` (default: the card's ``max_output_length``).
    """

    name = "ctranslate2"
    requires = ("ctranslate2", "tokenizers")
    extra = None
    description = "CTranslate2 (int8) seq2seq student, torch-free"

    def __init__(self, path: str | Path, *, device: str = "auto", compute_type: str = "auto",
                 intra_threads: int | None = None, inter_threads: int = 1,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, beam_size: int = 1,
                 max_decoding_length: int | None = None, **options: Any) -> None:
        super().__init__(path, device=device, **options)
        import ctranslate2

        if not (self.path / MODEL_FILE).is_file():
            raise BackendError(f"{self.path}: no {MODEL_FILE} (not a CTranslate2 model; "
                               "convert one with 'fsa-edge convert')")
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.card.quantization,
                                                 self.device)
        self.intra_threads = int(intra_threads or physical_cores())
        self.max_batch_tokens = int(max_batch_tokens)
        self.max_batch_size = int(max_batch_size)
        self.beam_size = int(beam_size)
        self.max_decoding_length = int(max_decoding_length or self.card.max_output_length)
        self.tokenizer = TokenizerAdapter(self.path, self.card.max_input_length)
        try:
            self.translator = ctranslate2.Translator(
                str(self.path), device=self.device, compute_type=self.compute_type,
                intra_threads=self.intra_threads, inter_threads=int(inter_threads))
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"{self.path}: CTranslate2 cannot load the model "
                               f"({exc})") from None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return (path / MODEL_FILE).is_file() and not (path / "heads.npz").is_file() and (
            (path / CARD_FILE).is_file() or (path / TOKENIZER_FILE).is_file())

    def generate(self, inputs: Sequence[str]) -> list[Generation]:
        tokens = self.tokenizer.encode(inputs)
        return run_sorted(tokens, [len(t) for t in tokens], self._translate,
                          max_batch_tokens=self.max_batch_tokens,
                          max_batch_size=self.max_batch_size)

    def _translate(self, batch: list[list[str]]) -> list[Generation]:
        import math

        results = self.translator.translate_batch(
            batch, beam_size=self.beam_size, max_decoding_length=self.max_decoding_length,
            return_scores=True, num_hypotheses=1,
            max_batch_size=len(batch))
        generations = []
        for result in results:
            score = result.scores[0] if result.scores else None
            generations.append(Generation(self.tokenizer.decode(result.hypotheses[0]),
                                          math.exp(score) if score is not None else None))
        return generations

    def score(self, inputs: Sequence[str], targets: Sequence[Sequence[str]]) -> list[list[float]]:
        """Teacher-forced log-probabilities of target tokens (EOS last) for each input."""
        sources = self.tokenizer.encode(inputs)
        results = self.translator.score_batch(sources, [list(t) for t in targets])
        return [list(result.log_probs) for result in results]

    def close(self) -> None:
        translator = getattr(self, "translator", None)
        if translator is not None:
            del self.translator
