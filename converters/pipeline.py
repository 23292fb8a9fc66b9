"""``convert``: a HF seq2seq directory → a CTranslate2 directory with a model card.

(An encoder with task heads, a directory with ``heads.npz``, takes ``encoder.convert_encoder``.)

Fixed order: refuse an existing output (unless forced) → load → validate → quantize/convert →
copy tokenizer files → parity gate → write ``fsa_edge.json``.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import ConversionError

from . import architectures  # noqa: F401 - registers the converters
from .encoder import convert_encoder, is_encoder_with_heads
from .parity import ParityReport, ParityThresholds, check_parity, enforce_gate
from .registry import converter_for
from .samples import load_samples

QUANTIZATIONS = ("int8", "int8_float16", "int8_float32", "float16", "float32")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model")


@dataclass
class ConversionReport:
    source: str
    output: str
    architecture: str
    quantization: str
    notes: list[str] = field(default_factory=list)
    parity: ParityReport | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "architecture": self.architecture,
                "quantization": self.quantization, "notes": self.notes, "forced": self.forced,
                "parity": self.parity.to_dict() if self.parity else None}


def weights_checksum(directory: Path) -> str:
    """sha256 over the weight files of a HF directory (sorted by name)."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in WEIGHT_PATTERNS for p in directory.glob(pattern)})
    if not files:
        raise ConversionError(f"{directory}: no weight files ({', '.join(WEIGHT_PATTERNS)})")
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _log(message: str) -> None:
    print(f"fsa-edge convert: {message}", file=sys.stderr)


def convert(source: str | Path, output: str | Path, *, quantization: str = "int8",
            force: bool = False, device: str = "cpu", samples: str | Path | None = None,
            texts: Sequence[str] | None = None,
            thresholds: ParityThresholds = ParityThresholds(),
            log: Callable[[str], None] = _log) -> ConversionReport:
    """Convert ``source`` to CTranslate2 at ``output`` and gate it on parity.

    A failed gate raises :class:`ConversionError` and removes ``output`` unless ``force``
    (then the model is kept and the card records the failure).
    """
    source, output = Path(source), Path(output)
    if quantization not in QUANTIZATIONS:
        raise ConversionError(f"unknown quantization {quantization!r}; "
                              f"choose from {', '.join(QUANTIZATIONS)}")
    # 1. refuse to overwrite
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not force:
        raise ConversionError(f"{output} already exists; pass --force to overwrite it")
    if not (source / "config.json").is_file():
        raise ConversionError(f"{source}: not a Hugging Face model directory (no config.json)")
    if output.resolve() == source.resolve():
        raise ConversionError("the output directory must differ from the source")
    sample_texts = list(texts) if texts else load_samples(samples)
    if is_encoder_with_heads(source):  # the tagger: encoder in CTranslate2, heads in numpy
        existed = output.exists()
        try:
            result = convert_encoder(source, output, quantization=quantization, force=force,
                                     device=device, texts=sample_texts, thresholds=thresholds,
                                     log=log)
        except BaseException:
            if not existed and not force:
                shutil.rmtree(output, ignore_errors=True)
            raise
        return ConversionReport(str(source), str(output), result["architecture"], quantization,
                                notes=result["notes"], parity=result["parity"], forced=force)

    # 2. load
    log(f"loading {source}")
    import ctranslate2.converters
    import transformers
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    config = AutoConfig.from_pretrained(str(source))
    converter = converter_for(type(config).__name__)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(source))
    report = ConversionReport(str(source), str(output), type(config).__name__, quantization,
                              forced=force)

    # 3. validate (and patch what CTranslate2 needs)
    report.notes += converter.patch_config(model.config)
    report.notes += converter.patch_tokenizer(tokenizer, model.config)
    converter.validate(model.config, tokenizer)
    if not (source / "tokenizer.json").is_file():
        raise ConversionError(f"{source}: no tokenizer.json (the runtime tokenizes with the "
                              "tokenizers library)")

    existed = output.exists()
    try:
        parity = _convert_and_gate(source, output, model, tokenizer, quantization, device,
                                   sample_texts, thresholds, force, log)
    except BaseException:
        if not existed and not force:  # never leave a half-written model behind
            shutil.rmtree(output, ignore_errors=True)
        raise
    report.parity = parity

    # 7. model card
    source_card = ModelCard.load(source) if (source / CARD_FILE).is_file() else None
    extra = {
        "source": {"path": str(source.resolve()), "architecture": report.architecture,
                   "sha256": weights_checksum(source),
                   "transformers": transformers.__version__},
        "ctranslate2_version": ctranslate2.__version__,
        "parity": parity.to_dict(),
        "conversion_notes": report.notes,
    }
    base = source_card or ModelCard()
    card = ModelCard(
        tasks=base.tasks, default_task=base.default_task,
        target_format_version=base.target_format_version, task_prefix=base.task_prefix,
        max_input_length=base.max_input_length, max_output_length=base.max_output_length,
        backend="ctranslate2", quantization=quantization,
        extra={**{k: v for k, v in (source_card.extra if source_card else {}).items()
                  if k not in extra}, **extra})
    card.save(output)
    return report


def _convert_and_gate(source: Path, output: Path, model: Any, tokenizer: Any, quantization: str,
                      device: str, sample_texts: Sequence[str], thresholds: ParityThresholds,
                      force: bool, log: Callable[[str], None]) -> ParityReport:
    """Steps 4-6: CTranslate2 conversion, tokenizer files, parity gate."""
    import ctranslate2.converters

    # 4. quantize / convert the already loaded (patched) model. CTranslate2 quantizes the
    # tensors it is given in place, so it gets a copy: the original stays the parity reference.
    import copy

    to_convert = copy.deepcopy(model)

    class _Converter(ctranslate2.converters.TransformersConverter):
        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            return to_convert

        def load_tokenizer(self, tokenizer_class: Any, name: str, **kwargs: Any) -> Any:
            return tokenizer

    log(f"converting to CTranslate2 ({quantization})")
    try:
        _Converter(str(source)).convert(str(output), quantization=quantization, force=True)
    except (ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise ConversionError(f"CTranslate2 could not convert {source}: {exc}") from None
    finally:
        del to_convert

    # 5. copy tokenizer files
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, output / name)

    # 6. parity gate
    log(f"parity gate on {len(sample_texts)} samples")
    parity = check_parity(source, output, sample_texts, quantization=quantization,
                          thresholds=thresholds, device=device, model=model, tokenizer=tokenizer)
    log(f"parity: max |Δ| {parity.max_abs_delta:.2e}, mean |Δ| {parity.mean_abs_delta:.2e}, "
        f"greedy agreement {parity.greedy_agreement:.2f}")
    enforce_gate(parity, output, force, log)
    return parity
