"""Tokenization for the torch-free runtime: the HF ``tokenizers`` library over tokenizer.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.errors import BackendError
from fsa_edge.runtime import TOKENIZER_FILE, TokenCounter


class TokenizerAdapter:
    """Texts → source tokens (with the model's special tokens), target tokens → text."""

    def __init__(self, directory: str | Path, max_length: int | None = None) -> None:
        from tokenizers import Tokenizer

        path = Path(directory) / TOKENIZER_FILE
        if not path.is_file():
            raise BackendError(f"{path}: missing (the runtime tokenizes with the tokenizers "
                               "library and needs tokenizer.json beside the model)")
        try:
            self.tokenizer: Any = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - a corrupt file is a user error
            raise BackendError(f"{path}: cannot be read by tokenizers ({exc})") from None
        self.tokenizer.no_padding()
        self.counter = TokenCounter(self.tokenizer)
        if max_length:
            self.tokenizer.enable_truncation(max_length=int(max_length))
        else:
            self.tokenizer.no_truncation()
        self.unk_id = self._unk_id(Path(directory))

    def _unk_id(self, directory: Path) -> int | None:
        config = directory / "tokenizer_config.json"
        names = []
        if config.is_file():
            try:
                value = json.loads(config.read_text(encoding="utf-8")).get("unk_token")
                names.append(value.get("content") if isinstance(value, dict) else value)
            except (json.JSONDecodeError, AttributeError):
                pass
        for name in [*names, "[UNK]", "<unk>"]:
            if isinstance(name, str) and self.tokenizer.token_to_id(name) is not None:
                return self.tokenizer.token_to_id(name)
        return None

    def encode(self, texts: Sequence[str]) -> list[list[str]]:
        """Source tokens of each text, special tokens included, truncated to max_length (a
        text counted by :meth:`lengths` is not tokenized again: its encoding was kept)."""
        return [encoding.tokens for encoding in self.counter.encode(texts)]

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Source tokens each text takes, special tokens included, uncut."""
        return self.counter(texts)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token ids; a token outside the vocabulary becomes the unknown token."""
        out = []
        for token in tokens:
            index = self.tokenizer.token_to_id(token)
            if index is None:
                index = self.unk_id
            if index is not None:
                out.append(index)
        return out

    def decode(self, tokens: Sequence[str]) -> str:
        """Generated tokens → text (special tokens skipped; WordPiece ``##`` pieces merged)."""
        return self.tokenizer.decode(self.ids(tokens), skip_special_tokens=True).strip()
