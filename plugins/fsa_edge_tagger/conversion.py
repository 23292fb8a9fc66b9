"""The tagger's converter: a BERT encoder with task heads → CTranslate2 encoder + numpy heads.

Registered through ``register_converters`` for ``BertConfig`` sources that hold ``heads.npz``
(key ``BertConfig+heads.npz``). CTranslate2 keeps only the encoder; the heads and the tokenizer
are copied beside it by the pipeline. The parity check compares the torch encoder with the
converted one through the same heads and decoding: the log-probability of the label torch picks
(the tag of each piece; with ACSA also the class of each category) as max and mean |Δ|, and the
share of samples whose decoded elements are identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import ConversionError
from fsa_edge.runtime import HEADS_FILE, TOKENIZER_FILES
from fsa_edge_converters import (ArchitectureConverter, ParityReport, ParityThresholds,
                                 parity_report)

from .runtime import TaggerRuntime, ctranslate2_encoder, load_tokenizer


class TaggerConverter(ArchitectureConverter):
    """BERT encoder to CTranslate2 (served by backend ``tagger``); ``heads.npz`` copied."""

    config_name = "BertConfig"
    marker_file = HEADS_FILE
    backend = "tagger"
    files = (*TOKENIZER_FILES, HEADS_FILE)
    agreement = "decoded agreement"
    description = "BERT encoder + tagger heads: encoder in CTranslate2, heads in numpy"

    def validate(self) -> None:
        if not (self.source / CARD_FILE).is_file():
            raise ConversionError(f"{self.source}: no {CARD_FILE} (the tagger's labels live in "
                                  "its card)")

    def model_to_convert(self, load: Callable[[], Any]) -> Any:
        model = load()
        # transformers 5 no longer writes it; CTranslate2's BERT loader reads it
        if getattr(model.config, "position_embedding_type", None) is None:
            model.config.position_embedding_type = "absolute"
            self.notes.append("config.position_embedding_type set to 'absolute'")
        return model

    def parity(self, output: Path, texts: Sequence[str], *, quantization: str,
               thresholds: ParityThresholds, device: str) -> ParityReport:
        return encoder_parity(self.source, output, texts, quantization=quantization,
                              thresholds=thresholds, device=device)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _decoded(results: list) -> list:
    """What must agree: the elements without their scores."""
    return [[(e.aspect, e.aspect_span, e.category, e.polarity) for e in found]
            for found in results]


def encoder_parity(source: Path, output: Path, texts: Sequence[str], *, quantization: str,
                   thresholds: ParityThresholds, device: str) -> ParityReport:
    """Torch encoder vs CTranslate2 encoder through the same heads and decoding."""
    import torch
    from transformers import BertModel

    from .training import torch_encoder

    card = ModelCard.load(source)
    tokenizer = load_tokenizer(source, card.max_input_length)
    model = BertModel.from_pretrained(str(source), dtype=torch.float32).eval()
    torch_encode = torch_encoder(model, tokenizer, "cpu")

    converted = ctranslate2_encoder(output, device=device, compute_type="default", threads=1)
    deltas: list[float] = []
    agree: list[bool] = []
    disagreements: list[dict[str, str]] = []
    tasks = [t for t in card.tasks if t in ("atsa", "acsa")]
    reference = TaggerRuntime.from_directory(source, card, torch_encode)
    candidate = TaggerRuntime(reference.tokenizer, reference.heads, reference.categories,
                              converted, reference.none_below)
    heads = reference.heads
    for text in texts:
        tokens = [tokenizer.encode(text).tokens]
        ref = _log_softmax(torch_encode(tokens)[0] @ heads["term.weight"].T + heads["term.bias"])
        got = _log_softmax(converted(tokens)[0] @ heads["term.weight"].T + heads["term.bias"])
        pairs = [(ref, got)]
        if "acsa" in tasks:  # and of the class torch picks for each category
            shape = (len(reference.categories), -1)
            pairs.append((_log_softmax(reference.category_logits([text]).reshape(shape)),
                          _log_softmax(candidate.category_logits([text]).reshape(shape))))
        for ref, got in pairs:  # Δ log-prob of the label torch picks, row by row
            chosen = ref.argmax(axis=-1)
            rows = np.arange(len(chosen))
            deltas.extend(np.abs(ref[rows, chosen] - got[rows, chosen]).tolist())
        differing = [t for t in tasks
                     if _decoded(reference.run([text], t)) != _decoded(candidate.run([text], t))]
        agree.append(not differing)
        if differing and len(disagreements) < 5:  # shown for the first task that differs
            task = differing[0]
            disagreements.append({"input": text, "task": task,
                                  "torch": repr(reference.run([text], task)),
                                  "converted": repr(candidate.run([text], task))})
    return parity_report(deltas, agree, quantization=quantization, thresholds=thresholds,
                         disagreements=disagreements, delta="label log-prob",
                         agreement=TaggerConverter.agreement)


__all__ = ["TaggerConverter", "encoder_parity"]
