"""What an architecture converter does: validate and patch a HF model before CTranslate2."""

from __future__ import annotations

from typing import Any, ClassVar

from fsa_edge.errors import ConversionError


class ArchitectureConverter:
    """Per-architecture knowledge the generic CTranslate2 converter lacks.

    ``patch_config`` fixes a loaded config in place (returns notes of what changed);
    ``patch_tokenizer`` gives the HF tokenizer the special tokens CTranslate2 reads from it;
    ``validate`` raises :class:`ConversionError` for a model that cannot convert faithfully.
    """

    config_name: ClassVar[str] = ""

    def patch_config(self, config: Any) -> list[str]:
        return []

    def special_tokens(self, config: Any) -> dict[str, int | None]:
        """Token ids the tokenizer must name: bos, eos, unk, pad."""
        return {"eos": config.eos_token_id, "pad": config.pad_token_id}

    def patch_tokenizer(self, tokenizer: Any, config: Any) -> list[str]:
        notes = []
        for role, token_id in self.special_tokens(config).items():
            attribute = f"{role}_token"
            if token_id is None or getattr(tokenizer, attribute, None) is not None:
                continue
            token = tokenizer.convert_ids_to_tokens(int(token_id))
            setattr(tokenizer, attribute, token)
            notes.append(f"tokenizer {attribute} set to {token!r} (id {token_id}) from the config")
        return notes

    def validate(self, config: Any, tokenizer: Any) -> None:
        vocab = len(tokenizer)
        if vocab > config.vocab_size:
            raise ConversionError(f"tokenizer has {vocab} tokens but the model's vocab_size is "
                                  f"{config.vocab_size}: tokenizer and model do not match")
        for role in ("eos", "pad", "bos"):
            token = getattr(tokenizer, f"{role}_token", None)
            expected = getattr(config, f"{role}_token_id", None)
            if token is None or expected is None or role not in self.special_tokens(config):
                continue
            actual = tokenizer.convert_tokens_to_ids(token)
            if actual != expected:
                raise ConversionError(
                    f"tokenizer and model disagree: the tokenizer's {role} token {token!r} has "
                    f"id {actual} but config.json says {role}_token_id = {expected}")
        for name in ("eos_token_id", "decoder_start_token_id", "pad_token_id"):
            value = getattr(config, name, None)
            if value is None:
                raise ConversionError(f"config.json: field {name!r} is missing")
            if not 0 <= int(value) < config.vocab_size:
                raise ConversionError(f"config.json: field {name!r} = {value} is outside the "
                                      f"vocabulary (size {config.vocab_size})")
