"""Tokenising training pairs for a seq2seq student, and loading the student itself.

Targets keep their newlines as a reserved token (``[unused1]`` in WordPiece vocabularies, an
added ``<newline>`` token otherwise): WordPiece and SentencePiece both treat a newline as plain
whitespace. Inputs are left as they are, so training sees what inference will see. No task
prefix is added in pre-training. Requires torch and transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.card import CARD_FILE
from fsa_edge.errors import TrainingError

from fsa_edge.student_support import (WARM_STARTS, encoder_type, quiet_transformers,
                                      warm_start_path)

from .warmstart import NEWLINE_TOKEN, bart_from_encoder

ADDED_NEWLINE_TOKEN = "<newline>"


@dataclass
class LoadedStudent:
    """A model, its tokenizer, where it came from and its newline token."""

    model: Any
    tokenizer: Any
    origin: str
    newline_token: str | None = None


def load_student(spec: str | Path, *, decoder_layers: int = 3, seed: int = 0,
                 cross_attention: str = "random") -> LoadedStudent:
    """A warm start (``minilm``, ``mpnet``: :data:`fsa_edge.student_support.WARM_STARTS`), a BERT
    or MPNet directory (a BART warm-started from it), or any local Hugging Face seq2seq
    checkpoint directory (t5, flan-t5, bart, an fsa-edge student)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    quiet_transformers()
    alias = warm_start_path(spec)
    path = alias or Path(spec)
    if not path.is_dir():
        raise TrainingError(f"student {str(spec)!r} is neither a warm start "
                            f"({', '.join(WARM_STARTS)}) nor a directory")
    family = encoder_type(path)
    if family is not None:
        model, tokenizer = bart_from_encoder(path, decoder_layers=decoder_layers, seed=seed,
                                             cross_attention=cross_attention)
        return LoadedStudent(model, tokenizer, str(spec) if alias else f"{family}:{path}",
                             NEWLINE_TOKEN)
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(path))
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot load a seq2seq checkpoint from {path}: {exc}") from None
    newline = None
    card = path / CARD_FILE
    if card.is_file():
        newline = json.loads(card.read_text(encoding="utf-8")).get("newline_token")
    return LoadedStudent(model, tokenizer, str(path), newline)


def ensure_newline_token(student: LoadedStudent) -> str:
    """The student's newline token, adding one to the vocabulary when it has none."""
    if student.newline_token:
        return student.newline_token
    vocab = student.tokenizer.get_vocab()
    if NEWLINE_TOKEN in vocab:
        token = NEWLINE_TOKEN
    else:
        token = ADDED_NEWLINE_TOKEN
        if token not in vocab:
            student.tokenizer.add_tokens([token], special_tokens=True)
            student.model.resize_token_embeddings(len(student.tokenizer))
    student.newline_token = token
    return token


def encode_sources(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Encoder input ids (with the tokenizer's own special tokens), truncated."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def encode_targets(tokenizer: Any, texts: Sequence[str], max_length: int, decoder_start: int,
                   eos: int, newline_token: str | None = None) -> list[list[int]]:
    """Label ids: the target's tokens then eos, at most ``max_length``; a leading
    decoder-start token (a [CLS] that WordPiece templates add) is dropped, since the
    decoder is fed it."""
    if newline_token:
        texts = [t.replace("\r\n", "\n").replace("\n", f" {newline_token} ") for t in texts]
    encoded = tokenizer(text_target=list(texts), truncation=True,
                        max_length=max_length + 1)["input_ids"]
    labels = []
    for ids in encoded:
        if ids and ids[0] == decoder_start:
            ids = ids[1:]
        if not ids or ids[-1] != eos:
            ids = ids + [eos]
        if len(ids) > max_length:
            ids = ids[:max_length - 1] + [eos]
        labels.append(ids)
    return labels


def decode(tokenizer: Any, sequences: Any) -> list[str]:
    """Generated ids → text, special tokens dropped."""
    return [" ".join(text.split()) for text in
            tokenizer.batch_decode(sequences, skip_special_tokens=True)]


__all__ = ["LoadedStudent", "decode", "encode_sources", "encode_targets",
           "ensure_newline_token", "load_student"]
