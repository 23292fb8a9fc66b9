"""``convert``: a Hugging Face model directory → a CTranslate2 directory with a model card.

Fixed order, the same for every architecture: refuse an existing output (unless forced) → load →
validate → convert/quantize → copy tokenizer (and other) files → parity gate → write
``fsa_edge.json``. The converter registered for the source's config class does what differs.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.console import logger
from fsa_edge.errors import ConversionError, install_hint
from fsa_edge.runtime import HF_CONFIG_FILE, TOKENIZER_FILE

from .base import ArchitectureConverter
from .parity import ParityReport, ParityThresholds, enforce_gate
from .registry import converter_for
from .samples import load_samples

QUANTIZATIONS = ("int8", "int8_float16", "int8_float32", "float16", "float32")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert` did: from where to where, the source's architecture, the
    quantization, what the converter patched on the way (``notes``), the parity gate's report,
    and whether a failed gate was overridden (``forced``)."""

    source: str
    output: str
    architecture: str
    quantization: str
    parity: ParityReport
    notes: tuple[str, ...] = ()
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``fsa-edge convert`` prints)."""
        return {"source": self.source, "output": self.output, "architecture": self.architecture,
                "quantization": self.quantization, "notes": list(self.notes),
                "forced": self.forced, "parity": self.parity.to_dict()}


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


def _read_config(source: Path) -> Any:
    try:
        from transformers import AutoConfig
    except ImportError:
        raise ConversionError(f"converting needs transformers ({install_hint('train')})") from None
    try:
        return AutoConfig.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{source}: transformers cannot read config.json ({exc})") from None


def convert(source: str | Path, output: str | Path, *, quantization: str = "int8",
            force: bool = False, device: str = "cpu", samples: str | Path | None = None,
            texts: Sequence[str] | None = None,
            thresholds: ParityThresholds = ParityThresholds(),
            log: Callable[[str], None] = logger("convert")) -> ConversionReport:
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
    if not (source / HF_CONFIG_FILE).is_file():
        raise ConversionError(f"{source}: not a Hugging Face model directory (no config.json)")
    if output.resolve() == source.resolve():
        raise ConversionError("the output directory must differ from the source")
    sample_texts = list(texts) if texts else load_samples(samples)

    # 2. load
    log(f"loading {source}")
    config = _read_config(source)
    architecture = type(config).__name__
    converter = converter_for(architecture, source)
    converter.load(source, config)

    # 3. validate (the converter patches what CTranslate2 needs first)
    converter.validate()
    if not (source / TOKENIZER_FILE).is_file():
        raise ConversionError(f"{source}: no {TOKENIZER_FILE} (the runtime tokenizes with the "
                              "tokenizers library)")

    existed = output.exists()
    try:
        parity = _convert_and_gate(converter, output, quantization, device, sample_texts,
                                   thresholds, force, log)
        # 7. model card
        _card(converter, architecture, quantization, parity).save(output)
    except BaseException:
        if not existed and not force:  # never leave a half-written model behind
            shutil.rmtree(output, ignore_errors=True)
        raise
    return ConversionReport(str(source), str(output), architecture, quantization, parity,
                            notes=tuple(converter.notes), forced=force)


def _convert_and_gate(converter: ArchitectureConverter, output: Path, quantization: str,
                      device: str, sample_texts: Sequence[str], thresholds: ParityThresholds,
                      force: bool, log: Callable[[str], None]) -> ParityReport:
    """Steps 4-6: CTranslate2 conversion, copied files, parity gate."""
    source = converter.source
    # 4. quantize / convert
    log(f"converting to CTranslate2 ({quantization})")
    try:
        converter.convert_weights(output, quantization)
    except (ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise ConversionError(f"CTranslate2 could not convert {source}: {exc}") from None

    # 5. copy tokenizer (and the converter's other) files
    for name in converter.files:
        if (source / name).is_file():
            shutil.copy2(source / name, output / name)

    # 6. parity gate
    log(f"parity gate on {len(sample_texts)} samples")
    parity = converter.parity(output, sample_texts, quantization=quantization,
                              thresholds=thresholds, device=device)
    log(f"parity: max |Δ| {parity.max_abs_delta:.2e}, mean |Δ| {parity.mean_abs_delta:.2e}, "
        f"{converter.agreement} {parity.greedy_agreement:.2f}")
    enforce_gate(parity, output, force, log)
    return parity


def _card(converter: ArchitectureConverter, architecture: str, quantization: str,
          parity: ParityReport) -> ModelCard:
    """The converted model's card: the source card's tasks, format and limits, the backend the
    converter names, and the provenance of the conversion (the free-form fields as the
    converter's ``card_extra`` returns them)."""
    import ctranslate2
    import transformers

    source = converter.source
    base = ModelCard.load(source)
    extra = {
        "source": {"path": str(source.resolve()), "architecture": architecture,
                   "sha256": weights_checksum(source),
                   "transformers": transformers.__version__},
        "ctranslate2_version": ctranslate2.__version__,
        "parity": parity.to_dict(),
        "conversion_notes": list(converter.notes),
    }
    return ModelCard(
        tasks=base.tasks, default_task=base.default_task,
        target_format_version=base.target_format_version, task_prefix=base.task_prefix,
        max_input_length=base.max_input_length, max_output_length=base.max_output_length,
        backend=converter.backend, quantization=quantization,
        extra=converter.card_extra({**base.extra, **extra}))
