"""Converters: Hugging Face seq2seq students → CTranslate2, gated on parity with torch.

``convert(src, dst, quantization="int8")`` runs the whole pipeline; architectures register
with ``@register_converter("T5Config")``. torch, transformers and ctranslate2 are imported
only when a conversion runs.
"""

from __future__ import annotations

from . import architectures  # noqa: F401 - registers T5, BART, Marian
from .base import ArchitectureConverter
from .parity import ParityReport, ParityThresholds, check_parity
from .pipeline import QUANTIZATIONS, ConversionReport, convert, weights_checksum
from .registry import converter_for, register_converter, supported_architectures
from .samples import BUILTIN_SAMPLES, load_samples

__all__ = [
    "ArchitectureConverter", "BUILTIN_SAMPLES", "ConversionReport", "ParityReport",
    "ParityThresholds", "QUANTIZATIONS", "check_parity", "convert", "converter_for",
    "load_samples", "register_converter", "supported_architectures", "weights_checksum",
]
