"""Texts → elements with an encoder and linear heads: tokenise, encode, apply heads, decode.

The encoder is any callable from word-piece token lists to a ``(batch, time, dim)`` array of
last hidden states (CTranslate2's ``Encoder`` at run time, the torch model while training), so
training's dev scores and the shipped model run the same decoding.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fsa_edge.card import ModelCard
from fsa_edge.errors import BackendError
from fsa_edge.model import SentimentElement
from fsa_edge.runtime import HEADS_FILE, TOKENIZER_FILE, TokenCounter, run_sorted
from fsa_edge.score_map import ScoreMap
from fsa_edge.tasks import canonical_category

from .scheme import (CATEGORY_CLASSES, TAGS, TERM_SCORES, category_logits, decode_categories,
                     decode_terms, pieces_of)
from .sentence_head import decode_sentence, has_sentence_head, mean_pieces, sentence_logits
from .triplets import (Triplet, TripletThreshold, candidate_pairs, decode_triplets,
                       has_triplet_heads, paired)

Encoder = Callable[[list[list[str]]], np.ndarray]
HEAD_BLAS_THREADS_ENV = "FSA_EDGE_HEAD_BLAS_THREADS"
#: the tasks a tagger can serve (each needs its head in ``heads.npz``)
SERVED_TASKS = ("atsa", "acsa", "sentence", "aste")
#: the weight types torch serves an unconverted (Hugging Face) tagger in, by torch dtype name
TORCH_DTYPES = ("float32", "float16", "bfloat16")
#: the field of the card's ``tagger`` section, written by the converter, saying that the
#: CTranslate2 encoder takes each piece's position (0, 1, …) as a second input stream (MPNet:
#: its absolute position table is the second source embedding)
POSITION_INPUT = "position_input"
#: the field of the card's ``tagger`` section holding the score maps, one per task
#: (``fsa-edge train tagger calibrate``)
SCORE_CALIBRATION = "score_calibration"
#: the field of a task's score map entry naming the raw score the map was fitted on (ATSA: one of
#: :data:`scheme.TERM_SCORES`; absent: ``term``, what maps were fitted on before the field existed)
RAW_SCORE = "raw_score"
#: the card's field (under ``tagger``) holding the pair head's ``none`` threshold (ASTE), chosen
#: on dev data like the category head's ``none_below``
PAIR_NONE_BELOW = "pair_none_below"
#: the card's field (under ``tagger``) holding the span head's ``O`` threshold (ASTE), chosen on
#: dev data together with the pair threshold
SPAN_NONE_BELOW = "span_none_below"
#: the field of a task's score map entry holding its category groups' maps (see
#: :func:`category_score_maps`)
GROUPS = "groups"
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


def score_maps(spec: Mapping[str, Any] | None) -> dict[str, ScoreMap]:
    """``{task: ScoreMap}`` from the card's ``tagger.score_calibration`` (absent: no map): each
    task's own map, the one for elements outside its category groups
    (:func:`category_score_maps`)."""
    if not spec:
        return {}
    if not isinstance(spec, Mapping):
        raise BackendError(f"{SCORE_CALIBRATION} must be an object of tasks")
    return {task: ScoreMap.from_card(entry, SCORE_CALIBRATION) for task, entry in spec.items()}


def _group_categories(where: str, group: Mapping[str, Any]) -> list[str]:
    categories = group.get("categories")
    if not isinstance(categories, (list, tuple)) or not categories \
            or not all(isinstance(c, str) and c.strip() for c in categories):
        raise BackendError(f"{where}: 'categories' must be a non-empty list of category names")
    return [canonical_category(c) for c in categories]


def term_score(spec: Mapping[str, Any] | None) -> str:
    """The raw score decoded terms carry: the one the card's ATSA map was fitted on (its
    ``raw_score``), ``term`` without one."""
    name = ((spec or {}).get("atsa") or {}).get(RAW_SCORE, TERM_SCORES[0])
    if name not in TERM_SCORES:
        raise BackendError(f"tagger.score_calibration.atsa.{RAW_SCORE} is {name!r}: expected one "
                           f"of {', '.join(TERM_SCORES)}")
    return name


def category_score_maps(spec: Mapping[str, Any] | None) -> dict[str, dict[str, ScoreMap]]:
    """``{task: {category: ScoreMap}}``: the maps of the category groups in the card's
    ``tagger.score_calibration`` (a task without groups: absent).

    A task's entry may hold, besides its own map (the fallback), a list ``groups`` of maps for
    groups of categories, each an object with the fields of a map (``method``, ``a``, ``b`` or
    ``x``, ``y``), a list ``categories`` of the categories it scores and anything else as its
    record (``name``, ``dev_file``, ``dev_elements`` …)::

        "acsa": {"method": "platt", "a": 0.48, "b": -0.40, …,
                 "groups": [{"name": "laptop16", "categories": ["BATTERY#QUALITY", …],
                             "method": "platt", "a": 0.49, "b": -0.55, …}, …]}

    An element whose category is in a group gets that group's map, any other element the task's
    own map. Categories compare in their canonical spelling (``FOOD#QUALITY``); one category in
    two groups, a group without categories or a malformed map is a :class:`BackendError`. A card
    without ``groups`` scores exactly as before (and a runtime that predates groups reads the
    task's own map and ignores them)."""
    if not spec:
        return {}
    if not isinstance(spec, Mapping):
        raise BackendError(f"{SCORE_CALIBRATION} must be an object of tasks")
    result: dict[str, dict[str, ScoreMap]] = {}
    for task, entry in spec.items():
        groups = entry.get(GROUPS) if isinstance(entry, Mapping) else None
        if groups is None:
            continue
        if not isinstance(groups, (list, tuple)):
            raise BackendError(f"{SCORE_CALIBRATION}.{task}.{GROUPS} must be a list of groups")
        by_category: dict[str, ScoreMap] = {}
        owner: dict[str, str] = {}
        for index, group in enumerate(groups):
            where = f"{SCORE_CALIBRATION}.{task}.{GROUPS}[{index}]"
            if not isinstance(group, Mapping):
                raise BackendError(f"{where}: each group must be an object")
            where += f" ({group['name']})" if isinstance(group.get("name"), str) else ""
            categories = _group_categories(where, group)
            score_map = ScoreMap.from_card(group, where)
            for category in categories:
                if owner.setdefault(category, where) != where:
                    raise BackendError(f"{where}: category {category} is already in "
                                       f"{owner[category]}; a category has one group at most")
                by_category[category] = score_map
        if by_category:
            result[task] = by_category
    return result


class TaggerRuntime:
    """Decoding shared by the backend and training.

    ``score_calibration`` (the card's ``tagger.score_calibration``): per task, the map applied to
    each element's raw score (per category group where the task's entry has groups:
    :func:`category_score_maps`); a task without one reports the raw score. Which elements come
    out never depends on it. ``none_below``, ``span_none_below`` and ``pair_none_below`` (the card's
    thresholds) decide which categories, which aspect/opinion spans and which of their pairs are
    found (:func:`scheme.decide`)."""

    def __init__(self, tokenizer, heads: dict[str, np.ndarray], categories: Sequence[str],
                 encode: Encoder, none_below: float | None = None,
                 score_calibration: Mapping[str, Any] | None = None,
                 pair_none_below: float | None = None,
                 span_none_below: float | None = None) -> None:
        self.tokenizer = tokenizer
        self.counter = TokenCounter(tokenizer)
        self.heads = heads
        self.categories = tuple(categories)
        self.encode = encode
        self.none_below = none_below
        self.pair_none_below = pair_none_below
        self.span_none_below = span_none_below
        self.score_maps = score_maps(score_calibration)
        self.category_score_maps = category_score_maps(score_calibration)
        self.term_score = term_score(score_calibration)
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
        """Tokenizer and heads of a tagger directory, labels, thresholds and score maps from its
        card."""
        tagger = card.extra.get("tagger", {})
        return cls(load_tokenizer(directory, card.max_input_length), load_heads(directory),
                   tuple(tagger.get("categories", ())), encode, tagger.get("none_below"),
                   tagger.get(SCORE_CALIBRATION), tagger.get(PAIR_NONE_BELOW),
                   tagger.get(SPAN_NONE_BELOW))

    def input_lengths(self, texts: Sequence[str]) -> list[int]:
        """Word pieces each text takes, special tokens included, uncut (the encodings of those
        that fit are kept for :meth:`encoded`: :class:`~fsa_edge.runtime.TokenCounter`)."""
        return self.counter(texts)

    def encoded(self, texts: Sequence[str]) -> tuple[list[Any], np.ndarray]:
        """The texts' tokenizer encodings (kept from their count, or tokenized now) and their
        encoder states ``(batch, time, dim)``."""
        encodings = self.counter.encode(texts)
        return encodings, self.encode([e.tokens for e in encodings])

    def category_logits(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), categories * 5)`` category-head logits."""
        encodings, hidden = self.encoded(texts)
        return self.category_head(hidden, [len(e.tokens) for e in encodings])

    def category_head(self, hidden: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        """The category head on encoder states ``(batch, time, dim)`` of texts ``lengths``
        pieces long: ``(batch, categories * 5)`` logits."""
        with one_blas_thread():
            return category_logits(hidden, lengths, self.heads, len(self.categories))

    def term_head(self, hidden: np.ndarray) -> np.ndarray:
        """The term head on encoder states ``(…, dim)``: tag logits ``(…, tags)``."""
        with one_blas_thread():
            return hidden @ self.heads["term.weight"].T + self.heads["term.bias"]

    def category_elements(self, row: np.ndarray, none_below: float | None
                          ) -> tuple[SentimentElement, ...]:
        """The categories one text's logits ``row`` decode to with the ``none`` threshold
        ``none_below``, with raw scores."""
        return tuple(SentimentElement(polarity=p, category=c, score=s)
                     for c, p, s in decode_categories(row, self.categories, none_below))

    def run(self, texts: Sequence[str], task: str, *, calibrated: bool = True
            ) -> list[tuple[SentimentElement, ...]]:
        """Elements per text for ``task`` ("atsa" or "acsa"); each score through the task's
        score map when the card has one (``calibrated=False``: the raw score), rounded to six
        decimals."""
        return [answers[task] for answers in self.run_tasks(texts, (task,), calibrated=calibrated)]

    def run_tasks(self, texts: Sequence[str], tasks: Sequence[str], *, calibrated: bool = True,
                  states: list[np.ndarray] | None = None
                  ) -> list[dict[str, tuple[SentimentElement, ...]]]:
        """Per text, the elements of each of ``tasks`` from one encoder pass, scored as
        :meth:`run` scores them (``states``: see :meth:`decode_tasks`)."""
        return [{task: tuple(replace(e, score=self.reported_score(task, e.score, calibrated,
                                                                 category=e.category))
                             for e in found) for task, found in answers.items()}
                for answers in self.decode_tasks(texts, tasks, states=states)]

    def score_map(self, task: str, category: str | None = None) -> ScoreMap | None:
        """The map for an element of ``task`` with ``category``: its category group's, else the
        task's (``None``: no map, the raw score)."""
        groups = self.category_score_maps.get(task)
        if groups and category is not None:
            group_map = groups.get(canonical_category(category))
            if group_map is not None:
                return group_map
        return self.score_maps.get(task)

    def reported_score(self, task: str, raw: float, calibrated: bool = True, *,
                       category: str | None = None) -> float:
        """What :meth:`run` reports for an element of ``task`` (with ``category``) scored
        ``raw`` by decoding."""
        score_map = self.score_map(task, category) if calibrated else None
        return round(score_map(raw) if score_map is not None else raw, 6)

    def decode(self, texts: Sequence[str], task: str) -> list[tuple[SentimentElement, ...]]:
        """Elements per text for ``task`` with their raw, unrounded decoding scores (no score
        map): what score maps are fitted on."""
        return [answers[task] for answers in self.decode_tasks(texts, (task,))]

    def decode_tasks(self, texts: Sequence[str], tasks: Sequence[str], *,
                     states: list[np.ndarray] | None = None
                     ) -> list[dict[str, tuple[SentimentElement, ...]]]:
        """Per text, the raw-scored elements of each of ``tasks`` from one encoder pass; with
        ``sentence`` among them, each text's sentence-head input (its mean piece state) is
        appended to ``states`` when given (what :meth:`merge_sentence` merges)."""
        for task in tasks:
            if task not in SERVED_TASKS:
                raise BackendError(f"a tagger serves {', '.join(SERVED_TASKS)}, not {task!r}")
            if task == "acsa" and not self.categories:
                raise BackendError("this tagger has no category head (task acsa)")
            if task == "sentence" and not has_sentence_head(self.heads):
                raise BackendError("this tagger has no sentence head (task sentence; add one "
                                   "with fsa-edge train tagger sentence-head)")
            if task == "aste":
                self._check_triplet_heads()
        if not texts:
            return []
        encodings, hidden = self.encoded(texts)
        answers: list[dict[str, tuple[SentimentElement, ...]]] = [{} for _ in texts]
        pieces = self.pieces(encodings) if "atsa" in tasks or "aste" in tasks else []
        if "atsa" in tasks:
            for answer, text, own, row in zip(answers, texts, pieces, self.term_head(hidden)):
                answer["atsa"] = tuple(
                    SentimentElement(polarity=p, aspect=text[s:e], aspect_span=(s, e),
                                     score=score)
                    for s, e, p, score in decode_terms(row, own, self.term_score))
        if "acsa" in tasks:
            logits = self.category_head(hidden, [len(e.tokens) for e in encodings])
            for answer, row in zip(answers, logits):
                answer["acsa"] = self.category_elements(row, self.none_below)
        if "sentence" in tasks:
            pooled = self.pooled(hidden, encodings)
            if states is not None:
                states.extend(pooled)
            with one_blas_thread():
                logits = sentence_logits(pooled, self.heads)
            for answer, row in zip(answers, logits):
                polarity, probability = decode_sentence(row)
                answer["sentence"] = (SentimentElement(polarity=polarity, score=probability),)
        if "aste" in tasks:
            with one_blas_thread():
                for answer, text, own, text_states in zip(answers, texts, pieces, hidden):
                    answer["aste"] = self.triplet_elements(
                        text, decode_triplets(text_states, own, self.heads, self.pair_none_below,
                                              span_none_below=self.span_none_below))
        return answers

    def merge_sentence(self, states: np.ndarray, lengths: Sequence[int]) -> tuple[str, float]:
        """``(polarity, raw probability)`` of a text read in parts from its parts' sentence-head
        inputs ``(parts, dim)`` and lengths: one head decision on the length-weighted mean of
        the inputs of the parts the head itself calls positive or negative (a neutral part
        abstains, as in the votes; all parts when none is polar). On dev reviews read in
        sentences, right more often than the parts' votes (``benchmarks/long_text_parts.py``)."""
        with one_blas_thread():
            own = [decode_sentence(row)[0] for row in sentence_logits(states, self.heads)]
            polar = [i for i, polarity in enumerate(own) if polarity != "neutral"]
            kept = polar or list(range(len(own)))
            weights = np.asarray([lengths[i] for i in kept], dtype=states.dtype)[:, None]
            pooled = (states[kept] * weights).sum(axis=0) / max(float(weights.sum()), 1.0)
            return decode_sentence(sentence_logits(pooled[None, :], self.heads)[0])

    def _check_triplet_heads(self) -> None:
        if not has_triplet_heads(self.heads):
            raise BackendError("this tagger has no triplet heads (task aste; train it with "
                               "aste data)")

    @staticmethod
    def triplet_elements(text: str, triplets: Sequence[Triplet]) -> tuple[SentimentElement, ...]:
        """One text's decoded triplets as elements with raw scores."""
        return tuple(SentimentElement(polarity=t.polarity, aspect=text[slice(*t.aspect)],
                                      aspect_span=t.aspect, opinion=text[slice(*t.opinion)],
                                      opinion_span=t.opinion, score=t.score) for t in triplets)

    def triplets_by_threshold(self, texts: Sequence[str], thresholds: Sequence[TripletThreshold]
                              ) -> dict[TripletThreshold, list[tuple[SentimentElement, ...]]]:
        """Per ``(span_none_below, pair_none_below)``, each text's raw-scored triplets, from one
        encoder pass and one pair-head pass per span threshold (what the thresholds are chosen
        on)."""
        self._check_triplet_heads()
        found: dict[TripletThreshold, list[tuple[SentimentElement, ...]]] = {
            threshold: [] for threshold in thresholds}
        if not texts:
            return found
        encodings, hidden = self.encoded(texts)
        pieces = self.pieces(encodings)
        with one_blas_thread():
            for span in dict.fromkeys(span for span, _ in thresholds):
                candidates = [candidate_pairs(states, own, self.heads, span)
                              for own, states in zip(pieces, hidden)]
                for threshold in (t for t in thresholds if t[0] == span):
                    found[threshold] = [self.triplet_elements(text, paired(pairs, threshold[1]))
                                        for text, pairs in zip(texts, candidates)]
        return found

    @staticmethod
    def pieces(encodings: Sequence[Any]) -> list:
        """Each text's word pieces with their character offsets (the span tasks' input)."""
        return [pieces_of(e) for e in encodings]

    @staticmethod
    def pooled(hidden: np.ndarray, encodings: Sequence[Any]) -> np.ndarray:
        """Each text's mean piece state, special tokens and padding left out (the sentence
        head's input)."""
        mask = np.zeros(hidden.shape[:2], dtype=bool)
        for row, encoding in enumerate(encodings):
            own = np.logical_not(np.asarray(encoding.special_tokens_mask, dtype=bool))
            mask[row, :len(own)] = own
        return mean_pieces(hidden, mask)

    def sentence_features(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``(len(texts), dim)`` inputs of the sentence head (what it is fitted on), computed
        ``batch_size`` texts at a time (similar lengths together)."""
        def pooled(batch: list[str]) -> list[np.ndarray]:
            encodings, hidden = self.encoded(batch)
            return list(self.pooled(hidden, encodings))

        rows = run_sorted(list(texts), [len(t) for t in texts], pooled,
                          max_batch_tokens=batch_size * 512, max_batch_size=batch_size)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


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


__all__ = ["Encoder", "GROUPS", "HEAD_BLAS_THREADS_ENV", "PAIR_NONE_BELOW",
           "POSITION_INPUT", "RAW_SCORE", "SCORE_CALIBRATION", "SERVED_TASKS", "SPAN_NONE_BELOW",
           "TaggerRuntime", "category_score_maps", "ctranslate2_encoder", "feeds_positions",
           "load_heads", "load_tokenizer", "one_blas_thread", "score_maps", "term_score"]
