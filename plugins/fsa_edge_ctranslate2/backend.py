"""The CTranslate2 backend: a converted seq2seq student served without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from fsa_edge.backends import (Generation, GenerativeBackend, positive_int_option,
                               reject_unknown_options, renamed_option)
from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import BackendError
from fsa_edge.runtime import (MODEL_FILE, TOKENIZER_FILE, physical_cores, resolve_compute_type,
                              resolve_device, run_sorted)
from fsa_edge.tasks import SlotTask

from .tokenization import TokenizerAdapter

DEFAULT_MAX_BATCH_TOKENS = 4096
DEFAULT_MAX_BATCH_SIZE = 64


class CTranslate2Backend(GenerativeBackend):
    """Greedy (or beam) decoding with CTranslate2; tokenization with ``tokenizers``.

    Options: ``compute_type`` (``auto``), ``cpu_threads`` (default: physical cores; its old
    name ``intra_threads`` is accepted for one release, with a ``DeprecationWarning``),
    ``inter_threads`` (1), ``max_batch_tokens`` (4096), ``max_batch_size`` (64),
    ``beam_size`` (1), ``max_decoding_length`` (default: the card's ``max_output_length``).
    """

    name = "ctranslate2"
    requires = ("ctranslate2", "tokenizers")
    extra = None
    description = "CTranslate2 (int8) seq2seq student, torch-free"

    def __init__(self, path: str | Path, *, device: str = "auto", compute_type: str = "auto",
                 cpu_threads: int | None = None, inter_threads: int = 1,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, beam_size: int = 1,
                 max_decoding_length: int | None = None, **options: Any) -> None:
        cpu_threads = renamed_option(options, "intra_threads", "cpu_threads", cpu_threads)
        super().__init__(path, device=device, **options)
        reject_unknown_options(self, options)
        import ctranslate2

        if not (self.path / MODEL_FILE).is_file():
            raise BackendError(f"{self.path}: no {MODEL_FILE} (not a CTranslate2 model; "
                               "convert one with 'fsa-edge convert')")
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.card.quantization,
                                                 self.device)
        self.cpu_threads = int(cpu_threads or physical_cores())
        self.max_batch_tokens = positive_int_option("max_batch_tokens", max_batch_tokens)
        self.max_batch_size = positive_int_option("max_batch_size", max_batch_size)
        self.beam_size = positive_int_option("beam_size", beam_size)
        self.max_decoding_length = int(max_decoding_length or self.card.max_output_length)
        self.tokenizer = TokenizerAdapter(self.path, self.card.max_input_length)
        try:
            self.translator = ctranslate2.Translator(
                str(self.path), device=self.device, compute_type=self.compute_type,
                intra_threads=self.cpu_threads, inter_threads=int(inter_threads))
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"{self.path}: CTranslate2 cannot load the model "
                               f"({exc})") from None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        """A CTranslate2 model whose card names no other backend (a converted tagger's card
        says ``tagger``: its ``model.bin`` is an encoder)."""
        if not (path / MODEL_FILE).is_file():
            return False
        if (path / CARD_FILE).is_file():
            return ModelCard.load(path).backend in (None, cls.name)
        return (path / TOKENIZER_FILE).is_file()

    def input_lengths(self, texts: Sequence[str], *, task: SlotTask) -> list[int]:
        return self.tokenizer.lengths([self.card.input_for(task.name, text) for text in texts])

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
