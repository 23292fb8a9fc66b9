"""The architectures fsa-edge converts: T5, BART and Marian."""

from __future__ import annotations

from typing import Any

from .base import ArchitectureConverter
from .registry import register_converter


@register_converter("T5Config")
class T5Converter(ArchitectureConverter):
    """T5: CTranslate2 reads pad as BOS and the decoder start from the config."""


@register_converter("BartConfig")
class BartConverter(ArchitectureConverter):
    """BART: CTranslate2 reads ``normalize_before`` (gone from transformers 5's BartConfig)
    and bos/eos from the tokenizer."""

    def patch_config(self, config: Any) -> list[str]:
        if getattr(config, "normalize_before", None) is None:
            config.normalize_before = False
            return ["config.normalize_before set to False (BART is post-norm)"]
        return []

    def special_tokens(self, config: Any) -> dict[str, int | None]:
        return {"bos": config.bos_token_id, "eos": config.eos_token_id,
                "pad": config.pad_token_id}


@register_converter("MarianConfig")
class MarianConverter(ArchitectureConverter):
    """Marian (opus-mt style) models."""
