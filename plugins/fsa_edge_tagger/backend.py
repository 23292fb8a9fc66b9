"""The ``tagger`` backend: a CTranslate2 encoder (int8) and numpy heads. No torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from fsa_edge.backends import (Backend, Prediction, positive_int_option, reject_unknown_options,
                               renamed_option)
from fsa_edge.card import CARD_FILE
from fsa_edge.errors import BackendError, install_hint
from fsa_edge.model import SentimentElement
from fsa_edge.runtime import (HEADS_FILE, HF_CONFIG_FILE, MODEL_FILE, physical_cores,
                              resolve_compute_type, resolve_device, run_sorted)
from fsa_edge.tasks import SlotTask

from .runtime import TORCH_DTYPES, TaggerRuntime, ctranslate2_encoder, feeds_positions

#: word pieces per encoder batch (counted as characters / 4): the encoder's working memory
#: grows with it; 2048 keeps long reviews well under 300 MB at the speed of 4096 on sentences
#: (1024 saves more memory but splits batches of sentences: slower); benchmarks/README.md,
#: "Word pieces per encoder batch"
DEFAULT_MAX_BATCH_TOKENS = 2048
DEFAULT_MAX_BATCH_SIZE = 64
#: texts are batched by characters: about this many per word piece
CHARACTERS_PER_PIECE = 4


class TaggerBackend(Backend):
    """Span tagging (ATSA) and category classification (ACSA) over a CTranslate2 encoder
    (an unconverted Hugging Face tagger directory is served by torch instead, for comparisons).

    Options: ``compute_type`` (``auto``: the card's quantization; an unconverted directory
    served by torch takes ``auto`` = ``float32``, ``float16`` or ``bfloat16``), ``cpu_threads`` (default:
    physical cores; its old name ``intra_threads`` is accepted for one release, with a
    ``DeprecationWarning``), ``max_batch_tokens`` (2048), ``max_batch_size`` (64).
    """

    name = "tagger"
    requires = ("ctranslate2", "tokenizers", "numpy")
    extra = None
    description = "encoder + task heads (CTranslate2 encoder, numpy heads), torch-free"

    def __init__(self, path: str | Path, *, device: str = "auto", compute_type: str = "auto",
                 cpu_threads: int | None = None,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, **options: Any) -> None:
        cpu_threads = renamed_option(options, "intra_threads", "cpu_threads", cpu_threads)
        super().__init__(path, device=device, **options)
        reject_unknown_options(self, options)
        self.max_batch_tokens = positive_int_option("max_batch_tokens", max_batch_tokens)
        self.max_batch_size = positive_int_option("max_batch_size", max_batch_size)
        if not (self.path / MODEL_FILE).is_file():
            self._load_torch(device, cpu_threads, compute_type)
            return
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.card.quantization,
                                                 self.device)
        encode = ctranslate2_encoder(self.path, device=self.device,
                                     compute_type=self.compute_type,
                                     threads=int(cpu_threads or physical_cores()),
                                     position_input=feeds_positions(self.card))
        self.runtime = TaggerRuntime.from_directory(self.path, self.card, encode)

    def _load_torch(self, device: str, threads: int | None, compute_type: str) -> None:
        """An unconverted (Hugging Face) tagger directory, served by torch: for comparisons."""
        dtype = "float32" if compute_type == "auto" else compute_type
        if dtype not in TORCH_DTYPES:
            raise BackendError(f"{self.path}: compute_type {compute_type!r} is not one torch "
                               f"serves an unconverted tagger in (auto, {', '.join(TORCH_DTYPES)})")
        if not (self.path / HF_CONFIG_FILE).is_file():
            raise BackendError(f"{self.path}: no {MODEL_FILE} (convert the tagger with "
                               "'fsa-edge convert') and no config.json")
        try:
            from .training import load_for_scoring
        except ImportError as exc:
            raise BackendError(f"{self.path} is an unconverted tagger: serving it needs torch "
                               f"and transformers ({install_hint('train')}): {exc}") from None
        from fsa_edge.student_support import pick_device

        self.device = pick_device(device)
        self.compute_type = f"torch-{dtype}"
        self.runtime = load_for_scoring(self.path, device=self.device, threads=threads,
                                        dtype=dtype)

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return (path / MODEL_FILE).is_file() and (path / HEADS_FILE).is_file() and (
            path / CARD_FILE).is_file()

    def input_lengths(self, texts: Sequence[str], *, task: SlotTask) -> list[int]:
        return self.runtime.input_lengths(texts)

    def run_batched(self, texts: Sequence[str], run: Callable[[list[str]], list]) -> list:
        """``run`` over length-sorted batches of ``texts`` within ``max_batch_size`` texts and
        ``max_batch_tokens`` word pieces (counted as characters / 4); results in text order."""
        return run_sorted(list(texts), [len(t) for t in texts], run,
                          max_batch_tokens=self.max_batch_tokens * CHARACTERS_PER_PIECE,
                          max_batch_size=self.max_batch_size)

    def predict(self, texts: Sequence[str], *, task: SlotTask) -> list[Prediction]:
        return [answers[task.name] for answers in self.predict_tasks(texts, tasks=(task,))]

    def predict_tasks(self, texts: Sequence[str], *, tasks: Sequence[SlotTask]
                      ) -> list[dict[str, Prediction]]:
        """Every task from one encoder pass over each text."""
        names = [task.name for task in tasks]

        def run(batch: list[str]) -> list[tuple[dict, Any]]:
            states: list[np.ndarray] = []
            answers = self.runtime.run_tasks(batch, names, states=states)
            return list(zip(answers, states or [None] * len(batch)))

        answers = self.run_batched(texts, run)
        return [{name: Prediction(found, state=state if name == "sentence" else None)
                 for name, found in answer.items()} for answer, state in answers]

    def merge_polarity(self, task: SlotTask, found: Sequence[tuple[tuple[int, int], Prediction]]
                       ) -> tuple[SentimentElement, ...] | None:
        """``sentence`` of a text read in parts: one head decision on the parts' pooled states
        (:meth:`~.runtime.TaggerRuntime.merge_sentence`), scored by its raw probability (the
        card's merged-score map calibrates it); other tasks: the core's votes."""
        if task.name != "sentence" or any(p.state is None for _, p in found):
            return None
        polarity, probability = self.runtime.merge_sentence(
            np.stack([p.state for _, p in found]), [end - start for (start, end), _ in found])
        return (SentimentElement(polarity=polarity, score=round(probability, 6)),)


__all__ = ["TaggerBackend"]
