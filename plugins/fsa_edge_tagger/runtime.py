"""Texts → elements with an encoder and linear heads: tokenise, encode, apply heads, decode.

The encoder is any callable from word-piece token lists to a ``(batch, time, dim)`` array of
last hidden states (CTranslate2's ``Encoder`` at run time, the torch model while training), so
training's dev scores and the shipped model run the same decoding.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import BackendError
from fsa_edge.model import SentimentElement
from fsa_edge.runtime import HEADS_FILE, TOKENIZER_FILE

from .scheme import (CATEGORY_CLASSES, TAGS, category_logits, decode_categories, decode_terms,
                     pieces_of)

Encoder = Callable[[list[list[str]]], np.ndarray]
HEAD_BLAS_THREADS_ENV = "FSA_EDGE_HEAD_BLAS_THREADS"
#: the field of the card's ``tagger`` section, written by the converter, saying that the
#: CTranslate2 encoder takes each piece's position (0, 1, …) as a second input stream (MPNet:
#: its absolute position table is the second source embedding)
POSITION_INPUT = "position_input"
_blas_controller = None


def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread (``threadpoolctl``), for the heads.

    Right after an encoder call CTranslate2's OpenMP threads are still spinning on the cores; a
    multi-threaded BLAS call next to them waits for a core at every step (the README's speed
    section measures both). Only numpy's BLAS is limited, not CTranslate2. The environment
    variable ``FSA_EDGE_HEAD_BLAS_THREADS`` sets another count; ``0`` leaves BLAS alone."""
    global _blas_controller
    threads = os.environ.get(HEAD_BLAS_THREADS_ENV, "1").strip()
    if not threads.isdigit():
        raise BackendError(f"{HEAD_BLAS_THREADS_ENV}={threads!r}: expected a thread count "
                           "(0 = leave numpy's BLAS alone)")
    if threads == "0":
        return nullcontext()
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=int(threads), user_api="blas")


def load_tokenizer(directory: Path, max_length: int):
    """The model's WordPiece tokenizer (``tokenizers``): no padding, truncation at max_length."""
    from tokenizers import Tokenizer

    path = directory / TOKENIZER_FILE
    if not path.is_file():
        raise BackendError(f"{directory}: no {TOKENIZER_FILE}")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def load_heads(directory: Path) -> dict[str, np.ndarray]:
    """``{"term.weight", "term.bias"[, "category.weight", "category.bias"[, "category.query",
    "category.shared.weight", "category.shared.bias"]]}`` as float32."""
    path = directory / HEADS_FILE
    if not path.is_file():
        raise BackendError(f"{directory}: no {HEADS_FILE} (not a tagger model)")
    with np.load(path) as data:
        heads = {name: data[name].astype(np.float32) for name in data.files}
    if heads.get("term.weight") is None or heads["term.weight"].shape[0] != len(TAGS):
        raise BackendError(f"{path}: term.weight must have {len(TAGS)} rows")
    return heads


class TaggerRuntime:
    """Decoding shared by the backend and training."""

    def __init__(self, tokenizer, heads: dict[str, np.ndarray], categories: Sequence[str],
                 encode: Encoder, none_below: float | None = None) -> None:
        self.tokenizer = tokenizer
        self.heads = heads
        self.categories = tuple(categories)
        self.encode = encode
        self.none_below = none_below
        if self.categories:
            rows = heads.get("category.weight")
            if rows is None or rows.shape[0] != len(self.categories) * len(CATEGORY_CLASSES):
                raise BackendError(f"category.weight must have {len(self.categories)} × "
                                   f"{len(CATEGORY_CLASSES)} rows")
            query = heads.get("category.query")
            if query is not None and query.shape != (len(self.categories), rows.shape[1]):
                raise BackendError(f"category.query must have shape "
                                   f"({len(self.categories)}, {rows.shape[1]})")

    @classmethod
    def from_directory(cls, directory: Path, card: ModelCard, encode: Encoder
                       ) -> "TaggerRuntime":
        """Tokenizer and heads of a tagger directory, labels and threshold from its card."""
        tagger = card.extra.get("tagger", {})
        return cls(load_tokenizer(directory, card.max_input_length), load_heads(directory),
                   tuple(tagger.get("categories", ())), encode, tagger.get("none_below"))

    def category_logits(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), categories * 5)`` category-head logits."""
        encodings = self.tokenizer.encode_batch(list(texts))
        hidden = self.encode([e.tokens for e in encodings])
        with one_blas_thread():
            return category_logits(hidden, [len(e.tokens) for e in encodings], self.heads,
                                   len(self.categories))

    def run(self, texts: Sequence[str], task: str) -> list[tuple[SentimentElement, ...]]:
        """Elements per text for ``task`` ("atsa" or "acsa")."""
        if task == "acsa" and not self.categories:
            raise BackendError("this tagger has no category head (task acsa)")
        if task not in ("atsa", "acsa"):
            raise BackendError(f"a tagger serves atsa and acsa, not {task!r}")
        if not texts:
            return []
        if task == "acsa":
            return [tuple(SentimentElement(polarity=p, category=c, score=round(s, 6))
                          for c, p, s in decode_categories(row, self.categories,
                                                           self.none_below))
                    for row in self.category_logits(texts)]
        encodings = self.tokenizer.encode_batch(list(texts))
        hidden = self.encode([e.tokens for e in encodings])
        with one_blas_thread():
            logits = hidden @ self.heads["term.weight"].T + self.heads["term.bias"]
        results = []
        for text, encoding, row in zip(texts, encodings, logits):
            pieces = pieces_of(encoding.tokens, encoding.offsets, encoding.special_tokens_mask)
            results.append(tuple(
                SentimentElement(polarity=p, aspect=text[s:e], aspect_span=(s, e),
                                 score=round(score, 6))
                for s, e, p, score in decode_terms(row, pieces)))
        return results


def feeds_positions(card: ModelCard) -> bool:
    """Whether the converted encoder of ``card`` takes the positions stream
    (:data:`POSITION_INPUT`)."""
    return bool(card.extra.get("tagger", {}).get(POSITION_INPUT, False))


def ctranslate2_encoder(directory: Path, *, device: str, compute_type: str, threads: int,
                        position_input: bool = False) -> Encoder:
    """CTranslate2's ``Encoder`` over the model directory, as an :data:`Encoder`; with
    ``position_input`` each piece's position is fed as the second input stream (CTranslate2's
    ``token_type_ids``)."""
    import ctranslate2

    try:
        model = ctranslate2.Encoder(str(directory), device=device, compute_type=compute_type,
                                    intra_threads=threads)
    except (RuntimeError, ValueError) as exc:
        raise BackendError(f"{directory}: CTranslate2 cannot load the encoder: {exc}") from None

    def encode(tokens: list[list[str]]) -> np.ndarray:
        if position_input:
            output = model.forward_batch(tokens,
                                         token_type_ids=[list(range(len(t))) for t in tokens])
        else:
            output = model.forward_batch(tokens)
        hidden = output.last_hidden_state
        if device != "cpu":
            import ctranslate2 as c2

            hidden = hidden.to_device(c2.Device.cpu)
        return np.asarray(hidden, dtype=np.float32)

    return encode


__all__ = ["Encoder", "HEAD_BLAS_THREADS_ENV", "POSITION_INPUT", "TaggerRuntime",
           "ctranslate2_encoder", "feeds_positions", "load_heads", "load_tokenizer",
           "one_blas_thread"]
