"""The transformers backend: a HF seq2seq directory served with torch (reference, baseline)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.backends import (Generation, GenerativeBackend, positive_int_option,
                               reject_unknown_options, renamed_option)
from fsa_edge.errors import BackendError
from fsa_edge.runtime import HF_CONFIG_FILE, HF_WEIGHT_FILES, run_sorted
from fsa_edge.tasks import SlotTask

WEIGHT_FILES = (*HF_WEIGHT_FILES, *(f"{name}.index.json" for name in HF_WEIGHT_FILES))


class TransformersBackend(GenerativeBackend):
    """Greedy ``generate`` with torch; the score is the mean token probability.

    Options: ``dtype`` (``float32``; ``float16`` on CUDA), ``beam_size`` (1),
    ``max_batch_tokens`` (4096), ``max_batch_size`` (64), ``cpu_threads`` (torch intra-op
    threads; its old name ``threads`` is accepted for one release, with a
    ``DeprecationWarning``).
    """

    name = "transformers"
    requires = ("torch", "transformers")
    extra = "train"
    description = "Hugging Face transformers + torch (reference and benchmark baseline)"

    def __init__(self, path: str | Path, *, device: str = "auto", dtype: str = "float32",
                 beam_size: int = 1, max_batch_tokens: int = 4096, max_batch_size: int = 64,
                 cpu_threads: int | None = None, **options: Any) -> None:
        cpu_threads = renamed_option(options, "threads", "cpu_threads", cpu_threads)
        super().__init__(path, device=device, **options)
        reject_unknown_options(self, options)
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from fsa_edge.student_support import pick_device

        device = pick_device(device)
        if cpu_threads:
            torch.set_num_threads(int(cpu_threads))
        self.device = device
        self.beam_size = positive_int_option("beam_size", beam_size)
        self.max_batch_tokens = positive_int_option("max_batch_tokens", max_batch_tokens)
        self.max_batch_size = positive_int_option("max_batch_size", max_batch_size)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self.model = AutoModelForSeq2SeqLM.from_pretrained(
                str(self.path), dtype=getattr(torch, dtype)).to(device).eval()
        except (OSError, ValueError) as exc:
            raise BackendError(f"{self.path}: transformers cannot load the model ({exc})") from None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return (path / HF_CONFIG_FILE).is_file() and any((path / f).is_file() for f in WEIGHT_FILES)

    def input_lengths(self, texts: Sequence[str], *, task: SlotTask) -> list[int]:
        inputs = [self.card.input_for(task.name, text) for text in texts]
        return [len(ids) for ids in self.tokenizer(inputs, truncation=False)["input_ids"]]

    def generate(self, inputs: Sequence[str]) -> list[Generation]:
        ids = self.tokenizer(list(inputs), truncation=True,
                             max_length=self.card.max_input_length)["input_ids"]
        return run_sorted(ids, [len(i) for i in ids], self._generate,
                          max_batch_tokens=self.max_batch_tokens,
                          max_batch_size=self.max_batch_size)

    def _generate(self, batch: list[list[int]]) -> list[Generation]:
        import torch

        pad = self.model.config.pad_token_id
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in batch],
                                 device=self.device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch],
                            device=self.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask,
                                      num_beams=self.beam_size, do_sample=False,
                                      forced_eos_token_id=None,  # as CTranslate2: no forced EOS
                                      max_new_tokens=self.card.max_output_length,
                                      output_scores=True, return_dict_in_generate=True)
            transition = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None),
                normalize_logits=self.beam_size == 1)
        eos = self.model.config.eos_token_id
        generations = []
        for row, scores in zip(out.sequences.tolist(), transition.tolist()):
            generated = row[1:]  # drop the decoder start token
            length = generated.index(eos) + 1 if eos in generated else len(generated)
            kept = [s for s in scores[:length] if math.isfinite(s)]
            score = math.exp(sum(kept) / len(kept)) if kept else None
            text = self.tokenizer.decode(generated[:length], skip_special_tokens=True).strip()
            generations.append(Generation(text, score))
        return generations

    def close(self) -> None:
        self.model = None
