"""The ``tagger`` teacher: a trained tagger answers the ``label`` prompt and writes soft targets.

``fsa-edge distill reviews.jsonl --teacher runs/tagger-ct2 --prompt label -o soft.jsonl`` runs
the tagger (converted: CTranslate2 encoder + numpy heads; unconverted: served by torch, through
:class:`~fsa_edge_tagger.backend.TaggerBackend`) over every review. Its answer is the JSON the
``label`` prompt asks for, so the runner reads it back with ``parse_label`` into hard labels
exactly like an LLM's answer: a term (ATSA) becomes ``{"aspect", "opinion": "NULL",
"polarity"}`` (the tagger predicts no category for a term, so ``entity`` / ``attribute`` are
left out), a category (ACSA) ``{"aspect": "NULL", "entity", "attribute", "opinion": "NULL",
"polarity"}`` (a category without ``#``, e.g. MAMS' ``food``, is written as ``"category"``). The
schema's bounds (``maxItems``, ``maxLength``) keep an LLM from rambling; the tagger's answer is
all it decoded, uncut. Only the ``label`` prompt is answered (others fail, as error rows).

The soft targets go into ``TeacherReply.extra`` (the runner writes them as the row's
``teacher_extra``) under ``soft_targets``::

    {"version": 1,
     "pieces": [[0, 3], [4, 9], [9, 12], ...],   # the teacher's word-pieces (char spans),
     "continuation": [0, 0, 1, ...],             #   specials left out; 1: continues a word
     "tags": [[-0.002, -7.31, ...], ...],        # per piece, log-probs in describe()["tags"]
     "categories": [[0, [-2.1, -0.2, ...]], ...]}  # [index into describe()["categories"],
                                                    #  log-probs in describe()["category_classes"]
]

     "sentence": [-0.05, -3.2, -4.1]}             # log-probs in describe()["sentence_classes"]

``tags`` (and ``pieces``, ``continuation``) are there when the model serves ``atsa``,
``categories`` when it serves ``acsa``, ``sentence`` when it has a sentence head (the text's
overall polarity, zero-shot: :mod:`.sentence_head`). Log-probabilities are rounded to :data:`DECIMALS`
decimals, and the hard answer is decoded from those rounded values, so the two agree exactly
(the argmax of the stored tags decodes to the answer's terms). A category the model does not
report and whose stored P(none) = exp(log-prob) is at least :data:`CERTAIN_NONE` is left out: a
reader takes it as certain ``none`` (:mod:`fsa_edge_tagger.soft_targets`). Pieces after the
model's ``max_input_length`` get no targets. The model (tokenizer, encoder, heads) is loaded
once; the runner hands it up to ``max_batch_size`` reviews at a time (``batch_size``), which it
encodes in length-sorted batches like the ``tagger`` backend (one encoder pass serves every
head). A review's soft targets do not depend on the batch beyond the encoder's numerics: rarely
one rounding step of a stored log-probability (int8 more often than float32;
``benchmarks/batch_dependence.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.backends import reject_unknown_options
from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import FsaEdgeError, TeacherError
from fsa_edge.runtime import HEADS_FILE, HF_CONFIG_FILE, HF_WEIGHT_FILES, MODEL_FILE
from fsa_edge.teaching import Teacher, TeacherReply, TeacherRequest, file_sha256

from .backend import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS, TaggerBackend
from .scheme import (CATEGORY_CLASSES, TAGS, decode_categories, decode_terms, log_softmax,
                     pieces_of)
from .sentence_head import SENTENCE_CLASSES, has_sentence_head, sentence_logits
from .soft_targets import SOFT_TARGETS_VERSION

#: decimals of the stored log-probabilities
DECIMALS = 3
#: a category not reported with a stored P(none) at least this is left out of the row
CERTAIN_NONE = 0.999
LABEL_PROMPT = "label"
#: the encoder's weight files hashed into the provenance (the first present, else all
#: ``*.safetensors``)
WEIGHT_FILES = (MODEL_FILE, *HF_WEIGHT_FILES)


def _rounded_log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities rounded to :data:`DECIMALS` decimals (-0.0 written as 0.0)."""
    return np.round(log_softmax(logits), DECIMALS) + 0.0


def weight_files(directory: Path) -> list[Path]:
    """The encoder weights of a tagger directory (converted or not)."""
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return [directory / name]
    return sorted(directory.glob("*.safetensors"))


def category_element(category: str, polarity: str) -> dict[str, str]:
    """A category as a ``label`` answer element."""
    if "#" in category:
        entity, _, attribute = category.partition("#")
        return {"aspect": "NULL", "entity": entity, "attribute": attribute, "opinion": "NULL",
                "polarity": polarity}
    return {"aspect": "NULL", "category": category, "opinion": "NULL", "polarity": polarity}


class TaggerTeacher(Teacher):
    """A trained tagger directory as a teacher: ``label`` answers and soft targets.

    Options (``-O KEY=VALUE``): ``device`` (default ``cpu``), ``compute_type`` (``auto``: the
    card's quantization), ``cpu_threads``, ``max_batch_tokens`` and ``max_batch_size`` (the
    reviews answered together; 1 asks one at a time), as for the ``tagger`` backend.
    """

    name = "tagger"
    requires = ("tokenizers", "numpy")
    extra = None
    description = "a trained tagger directory: label answers plus soft targets (tag, " \
                  "category and sentence log-probabilities)"

    def __init__(self, source, *, sampling=None, device: str = "cpu",
                 compute_type: str = "auto", cpu_threads: int | None = None,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, **options: Any) -> None:
        super().__init__(source, sampling=sampling, **options)
        reject_unknown_options(self, options, error=TeacherError)
        if not self.can_load(self.source):
            raise TeacherError(f"{self.source}: not a tagger model directory ({HEADS_FILE}, "
                               f"{CARD_FILE} with backend 'tagger', and {MODEL_FILE} or a "
                               "Hugging Face encoder)")
        try:
            backend = TaggerBackend(self.source, device=device, compute_type=compute_type,
                                    cpu_threads=cpu_threads, max_batch_tokens=max_batch_tokens,
                                    max_batch_size=max_batch_size)
        except (FsaEdgeError, ValueError) as exc:
            raise TeacherError(f"{self.source}: cannot load the tagger: {exc}") from None
        self.backend = backend
        self.batch_size = backend.max_batch_size
        self.card = backend.card
        self.compute_type = backend.compute_type
        self.runtime = backend.runtime
        self.terms = "atsa" in self.card.tasks
        self.categories = self.runtime.categories if "acsa" in self.card.tasks else ()
        self.sentence = "sentence" in self.card.tasks and has_sentence_head(self.runtime.heads)
        self._info: dict[str, Any] | None = None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        if not ((path / HEADS_FILE).is_file() and (path / CARD_FILE).is_file()):
            return False
        if not ((path / MODEL_FILE).is_file() or (path / HF_CONFIG_FILE).is_file()):
            return False
        try:
            return ModelCard.load(path).backend == "tagger"
        except FsaEdgeError:
            return False

    @property
    def label(self) -> str:
        return self.source.resolve().name

    def describe(self) -> dict[str, Any]:
        if self._info is None:
            tagger = self.card.extra.get("tagger", {})
            self._info = {
                **super().describe(), "model": self.source.resolve().name,
                "weights_sha256": {p.name: file_sha256(p) for p in weight_files(self.source)},
                "heads_sha256": file_sha256(self.source / HEADS_FILE),
                "compute_type": self.compute_type, "tasks": list(self.card.tasks),
                "tags": list(TAGS), "category_classes": list(CATEGORY_CLASSES),
                "categories": list(self.categories),
                **({"sentence_classes": list(SENTENCE_CLASSES)} if self.sentence else {}),
                "none_below": tagger.get("none_below"),
                "soft_targets": {"version": SOFT_TARGETS_VERSION, "decimals": DECIMALS,
                                 "certain_none": CERTAIN_NONE},
            }
        return self._info

    def generate(self, request: TeacherRequest) -> TeacherReply:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        for request in requests:
            if request.prompt_name != LABEL_PROMPT:
                raise TeacherError(f"the tagger teacher answers only the {LABEL_PROMPT!r} "
                                   f"prompt, not {request.prompt_name!r}")
        return self.backend.run_batched([request.review.text for request in requests],
                                        self._answer)

    def _answer(self, texts: list[str]) -> list[TeacherReply]:
        """Replies to ``texts`` from one encoder pass over them (one batch)."""
        runtime = self.runtime
        encodings, hidden = runtime.encoded(texts)
        lengths = [len(encoding.tokens) for encoding in encodings]
        tag_logits = runtime.term_head(hidden) if self.terms else None
        category_rows = runtime.category_head(hidden, lengths) if self.categories else None
        sentence_rows = (sentence_logits(runtime.pooled(hidden, encodings), runtime.heads)
                         if self.sentence else None)
        return [self._reply(text, encoding,
                            None if tag_logits is None else tag_logits[row],
                            None if category_rows is None else category_rows[row],
                            None if sentence_rows is None else sentence_rows[row])
                for row, (text, encoding) in enumerate(zip(texts, encodings))]

    def _reply(self, text: str, encoding: Any, tag_logits: np.ndarray | None,
               category_logits: np.ndarray | None, sentence_row: np.ndarray | None
               ) -> TeacherReply:
        """One review's answer and soft targets from its rows of the heads' logits."""
        runtime = self.runtime
        elements: list[dict[str, str]] = []
        soft: dict[str, Any] = {"version": SOFT_TARGETS_VERSION}
        if tag_logits is not None:
            pieces = pieces_of(encoding)
            tags = _rounded_log_softmax(tag_logits[:len(pieces)])
            for start, end, polarity, _ in decode_terms(tags, pieces):
                elements.append({"aspect": text[start:end], "opinion": "NULL",
                                 "polarity": polarity})
            kept = [i for i, piece in enumerate(pieces) if not piece.special]
            soft["pieces"] = [[pieces[i].start, pieces[i].end] for i in kept]
            soft["continuation"] = [int(pieces[i].continuation) for i in kept]
            soft["tags"] = tags[kept].tolist()
        if category_logits is not None:
            logp = _rounded_log_softmax(category_logits.reshape(len(runtime.categories),
                                                                len(CATEGORY_CLASSES)))
            found = decode_categories(logp.reshape(-1), runtime.categories, runtime.none_below)
            reported = {runtime.categories.index(c) for c, _, _ in found}
            elements.extend(category_element(c, p) for c, p, _ in found)
            soft["categories"] = [[index, row.tolist()] for index, row in enumerate(logp)
                                  if index in reported or math.exp(row[0]) < CERTAIN_NONE]
        if sentence_row is not None:
            soft["sentence"] = _rounded_log_softmax(sentence_row).tolist()
        answer = json.dumps({"elements": elements}, ensure_ascii=False)
        return TeacherReply(answer, len(encoding.tokens), 0, "stop", {"soft_targets": soft})

    def close(self) -> None:
        self.runtime = None  # type: ignore[assignment]
        self.backend = None  # type: ignore[assignment]


__all__ = ["CERTAIN_NONE", "DECIMALS", "SOFT_TARGETS_VERSION", "TaggerTeacher",
           "category_element", "weight_files"]
