"""Converters: a Hugging Face model → CTranslate2, gated on parity with torch.

``convert(src, dst, quantization="int8")`` runs the fixed pipeline; the architectures come from
plugins (hook ``register_converters``: the ``ctranslate2`` plugin registers T5, BART and Marian,
the ``tagger`` plugin its BERT encoder with heads). This package imports no plugin, and torch,
transformers and ctranslate2 only when a conversion runs.
"""

from __future__ import annotations

from .base import ArchitectureConverter
from .parity import ParityReport, ParityThresholds, parity_report
from .pipeline import QUANTIZATIONS, ConversionReport, convert, weights_checksum
from .registry import converter_for, supported_architectures
from .samples import BUILTIN_SAMPLES, load_samples

__all__ = [
    "ArchitectureConverter", "BUILTIN_SAMPLES", "ConversionReport", "ParityReport",
    "ParityThresholds", "QUANTIZATIONS", "convert", "converter_for", "load_samples",
    "parity_report", "supported_architectures", "weights_checksum",
]
