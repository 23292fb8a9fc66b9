"""``convert`` for an encoder with task heads (the ``tagger`` student): BERT → CTranslate2.

CTranslate2 keeps only the encoder; the heads (``heads.npz``, linear layers applied with numpy)
and the tokenizer are copied beside it. Same fixed order as seq2seq models: load → validate →
convert/quantize → copy files → parity gate → card. The gate compares the torch encoder with the
converted one through the same heads and decoding: the log-probability of the label torch picks
(the tag of each piece; with ACSA also the class of each category) as max and mean |Δ|, and the
share of samples whose decoded elements are identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import ConversionError

from .parity import ParityReport, ParityThresholds, apply_thresholds, enforce_gate

HEADS_FILE = "heads.npz"
ENCODER_CONFIGS = ("BertConfig",)
FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
         HEADS_FILE)


def is_encoder_with_heads(source: Path) -> bool:
    return (source / HEADS_FILE).is_file()


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

    from fsa_edge_tagger.runtime import TaggerRuntime, ctranslate2_encoder, load_tokenizer
    from fsa_edge_tagger.training import torch_encoder

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
    report = ParityReport(
        samples=len(texts), tokens=len(deltas), max_abs_delta=max(deltas, default=0.0),
        mean_abs_delta=float(np.mean(deltas)) if deltas else 0.0,
        greedy_agreement=sum(agree) / len(agree) if agree else 1.0,
        tokenization_mismatches=0, quantization=quantization, disagreements=disagreements)
    apply_thresholds(report, thresholds, delta="label log-prob", agreement="decoded agreement")
    return report


def convert_encoder(source: Path, output: Path, *, quantization: str, force: bool, device: str,
                    texts: Sequence[str], thresholds: ParityThresholds,
                    log: Callable[[str], None]) -> dict[str, Any]:
    """Steps 2-7 for an encoder with heads; returns the report fields of ``convert``."""
    import ctranslate2
    import ctranslate2.converters
    import transformers
    from transformers import AutoConfig

    # 2. load, 3. validate
    config = AutoConfig.from_pretrained(str(source))
    architecture = type(config).__name__
    if architecture not in ENCODER_CONFIGS:
        raise ConversionError(f"{source}: an encoder with heads must be one of "
                              f"{', '.join(ENCODER_CONFIGS)}, not {architecture}")
    if not (source / CARD_FILE).is_file():
        raise ConversionError(f"{source}: no {CARD_FILE} (the tagger's labels live in its card)")
    if not (source / "tokenizer.json").is_file():
        raise ConversionError(f"{source}: no tokenizer.json")
    # 4. convert / quantize
    log(f"converting the encoder to CTranslate2 ({quantization}); heads stay in numpy")
    notes: list[str] = []

    class _Converter(ctranslate2.converters.TransformersConverter):
        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, name, **kwargs)
            # transformers 5 no longer writes it; CTranslate2's BERT loader reads it
            if getattr(model.config, "position_embedding_type", None) is None:
                model.config.position_embedding_type = "absolute"
                notes.append("config.position_embedding_type set to 'absolute'")
            return model

    try:
        _Converter(str(source)).convert(str(output), quantization=quantization, force=True)
    except (ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise ConversionError(f"CTranslate2 could not convert {source}: {exc}") from None
    # 5. copy heads and tokenizer
    for name in FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, output / name)
    # 6. parity gate
    log(f"parity gate on {len(texts)} samples")
    parity = encoder_parity(source, output, texts, quantization=quantization,
                            thresholds=thresholds, device=device)
    log(f"parity: max |Δ| {parity.max_abs_delta:.2e}, mean |Δ| {parity.mean_abs_delta:.2e}, "
        f"decoded agreement {parity.greedy_agreement:.2f}")
    enforce_gate(parity, output, force, log)
    # 7. card
    base = ModelCard.load(source)
    card = ModelCard(
        tasks=base.tasks, default_task=base.default_task,
        target_format_version=base.target_format_version, task_prefix=False,
        max_input_length=base.max_input_length, max_output_length=base.max_output_length,
        backend="tagger", quantization=quantization,
        extra={**base.extra, "source": {"path": str(source.resolve()),
                                        "architecture": architecture,
                                        "transformers": transformers.__version__},
               "ctranslate2_version": ctranslate2.__version__, "parity": parity.to_dict(),
               "conversion_notes": notes})
    card.save(output)
    return {"architecture": architecture, "parity": parity, "notes": notes}


__all__ = ["convert_encoder", "encoder_parity", "is_encoder_with_heads"]
