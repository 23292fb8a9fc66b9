"""Calibrating a tagger on dev data: the category head's ``none`` threshold, then the scores.

Argmax decoding finds a category only when one polarity beats ``none``; a trained head is
often too shy (high precision, low recall). :func:`calibrate_tagger` scores the ACSA dev
sets once per candidate threshold ("found when P(none) < t", and plain argmax) and writes the
one with the best mean dev F1 into the card (``extra.tagger.none_below``), where every runtime
reads it. The candidates and their dev F1s are recorded beside it.

The triplet heads (ASTE) get the same treatment on the ASTE dev sets (``triplet_dev_files``),
two thresholds chosen together (:data:`TRIPLET_THRESHOLDS`, best mean dev F1): a word-piece is
inside an aspect/opinion span when P(O) < s (:data:`SPAN_THRESHOLDS`), and a pair of spans is a
triplet when P(none) < t (:data:`PAIR_THRESHOLDS`), either by plain argmax instead
(``extra.tagger.span_none_below`` and ``pair_none_below``, their dev F1s under
``extra.tagger.triplet_calibration``, labelled ``span/pair``). A trained span head is often too
shy (it misses words of a span, or whole opinions), a trained pair head too bold (it pairs spans
that do not belong together): more spans, fewer pairs.

Calibrate the model that ships: the default recipe calibrates the converted int8 model (its
category decisions near a threshold are what int8 moves) and writes the same threshold into the
torch checkpoint's card (``also``), so every variant of one checkpoint decodes alike.

Scores: an element's raw score (its decoding's confidence: for a term, the mean P(B-p) + P(I-p)
of its decoded polarity p over its pieces (:data:`FITTED_TERM_SCORE`; maps fitted before it
existed used 1 − mean P(O), and their cards say nothing, which the runtime reads as that),
the decoded class's probability for a category) is far from the chance that the element is right.
Per task, :func:`~.score_fitting.fit_score_map` fits a monotone map from the raw score to that chance on the dev
sets' predicted elements (ATSA on ``term_dev_files``, ACSA on ``dev_files`` decoded with the chosen
threshold): Platt scaling, sigmoid(a · logit(s) + b), unless beta calibration (sigmoid(a · ln s −
b · ln(1 − s) + c)) or isotonic regression is better in cross-validation on dev
(:func:`~.score_fitting.fit_score_map`). The maps go into the card
(``extra.tagger.score_calibration``), where the runtime applies them; decoding does not change.

Category groups (``category_groups``, the command's ``--category-groups``): one map per ACSA
dev file's categories besides the pooled one (:mod:`.category_groups`); the pooled map stays the
task's map, for any category in no group. ATSA gets no groups: a term has no category, and
nothing else at run time tells the domains apart.

The ``sentence`` score (its class probability) gets a map the same way, zero-shot: on the texts
of fine-grained dev files (``sentence_dev_files``, any format the readers know) whose gold
elements all share one polarity (:func:`~.sentence_head.agreeing_polarity`, the signal the head
learns from), an answer being right when it has that polarity. No sentence-level label is used.
A long text's parts are mapped one by one before their votes are merged.

The merged answer of a text read in parts (its sentences, when it is longer than the encoder's
window) has a score of its own: the probability of the tagger's one head decision on the parts'
pooled states (:meth:`~.runtime.TaggerRuntime.merge_sentence`). ``review_dev_files``
(``--review-dev``) fit its map, zero-shot too: SemEval-2016-style dev files whose ids are
``REVIEW:SENTENCE`` give back their reviews (sentences joined in id order) with at least two
sentences whose gold elements all share one polarity (the review's answer is right when it has
that polarity); each review is read in its sentences, as the analyzer reads a long text. The map
goes into the card's :data:`~fsa_edge.windows.MERGED_SCORE_CALIBRATION`, where the analyzer
applies it to every merged ``sentence`` answer.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsa_edge.calibration_metric import scored_elements
from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import FsaEdgeError, TrainingError
from fsa_edge.metric import evaluate
from fsa_edge.model import SentimentElement
from fsa_edge.readers import read_dataset
from fsa_edge.runtime import HEADS_FILE

from fsa_edge.text import split_sentences
from fsa_edge.windows import MERGED_SCORE_CALIBRATION

from .category_groups import scored_decodes, with_groups
from .dev_reviews import dev_reviews
from .runtime import PAIR_NONE_BELOW, RAW_SCORE, SCORE_CALIBRATION, SPAN_NONE_BELOW, TaggerRuntime
from .score_fitting import MIN_ELEMENTS, fit_score_map
from .sentence_head import agreeing_polarity, has_sentence_head
from .triplets import TripletThreshold, has_triplet_heads

THRESHOLDS = (None, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
#: the pair head's candidates ("a triplet when P(none) < t"; None: argmax)
PAIR_THRESHOLDS = (None, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7)
#: the span head's candidates ("a piece is in a span when P(O) < s"; None: argmax)
SPAN_THRESHOLDS = (None, 0.6, 0.7, 0.8, 0.9)
#: the ``(span, pair)`` threshold pairs the triplet heads are calibrated over
TRIPLET_THRESHOLDS = tuple((span, pair) for span in SPAN_THRESHOLDS for pair in PAIR_THRESHOLDS)
TRIPLET_CALIBRATION = "triplet_calibration"
#: the raw score a new ATSA map is fitted on (and names in the card): ``term_polarity`` carries the
#: polarity's confidence, which ``term`` ignores though a term with the wrong polarity is wrong —
#: on the default's dev sets its Platt map's cross-validated log loss was 0.545 against 0.588
#: (benchmarks/README, "The ATSA score: a term of this polarity")
FITTED_TERM_SCORE = "term_polarity"
#: the card's ``tagger`` fields calibration writes (thresholds, their dev records, score maps);
#: ``pair_calibration`` is the pair threshold's record before spans had one
CALIBRATED_FIELDS = ("calibration", "none_below", "pair_calibration", PAIR_NONE_BELOW,
                     SPAN_NONE_BELOW, TRIPLET_CALIBRATION, SCORE_CALIBRATION)


def _category_logits(runtime: TaggerRuntime, examples: Sequence, batch_size: int
                     ) -> np.ndarray:
    return np.concatenate([
        runtime.category_logits([ex.review.text for ex in examples[i:i + batch_size]])
        for i in range(0, len(examples), batch_size)]) if examples else np.zeros((0, 0))


def _decoded_categories(runtime: TaggerRuntime, examples: Sequence, logits: np.ndarray,
                        threshold: float | None) -> dict[str, tuple[SentimentElement, ...]]:
    """``{review id: elements}`` with raw scores, as the runtime decodes them."""
    return {ex.review.id: runtime.category_elements(row, threshold)
            for ex, row in zip(examples, logits)}


#: dev examples read once, keyed by file (``str(path)``), in the order given
DevExamples = dict[str, Sequence]


def _read(files: Sequence[str | Path]) -> DevExamples:
    return {str(path): read_dataset(path).examples for path in files}


def _require_heads(runtime: TaggerRuntime, *, categories: bool = False,
                   triplets: bool = False, sentence: bool = False) -> None:
    if categories and not runtime.categories:
        raise TrainingError("this tagger has no category head to calibrate")
    if triplets and not has_triplet_heads(runtime.heads):
        raise TrainingError("this tagger has no triplet heads to calibrate (ASTE dev data)")
    if sentence and not has_sentence_head(runtime.heads):
        raise TrainingError("this tagger has no sentence head to calibrate (sentence dev data)")


def dev_f1_by_threshold(runtime: TaggerRuntime, dev_files: Sequence[str | Path],
                        thresholds: Sequence[float | None] = THRESHOLDS,
                        batch_size: int = 64, *, logits: dict[str, np.ndarray] | None = None
                        ) -> dict[str, dict[str, float]]:
    """``{file: {"argmax" | "0.6": F1}}``: the head runs once per file, decoding per threshold
    (``logits``: a dict that receives each file's category logits, keyed like the result)."""
    _require_heads(runtime, categories=True)
    return _category_sweep(runtime, _read(dev_files), thresholds, batch_size, logits)


def _category_sweep(runtime: TaggerRuntime, dev: DevExamples,
                    thresholds: Sequence[float | None], batch_size: int,
                    logits: dict[str, np.ndarray] | None) -> dict[str, dict[str, float]]:
    results = {}
    for path, examples in dev.items():
        rows = _category_logits(runtime, examples, batch_size)
        if logits is not None:
            logits[path] = rows
        gold = {ex.review.id: ex.elements for ex in examples}
        results[path] = {
            _label(threshold): evaluate("acsa", gold, _decoded_categories(
                runtime, examples, rows, threshold)).overall.f1
            for threshold in thresholds}
    return results


def triplet_dev_f1_by_threshold(runtime: TaggerRuntime, dev_files: Sequence[str | Path],
                                thresholds: Sequence[TripletThreshold] = TRIPLET_THRESHOLDS,
                                batch_size: int = 64, *,
                                decodes: dict[str, dict[TripletThreshold, dict]] | None = None
                                ) -> dict[str, dict[str, float]]:
    """``{file: {"argmax/0.2": F1, …}}`` of the ASTE dev files decoded with each ``(span, pair)``
    threshold (labelled ``span/pair``; the encoder runs once per batch, every threshold decodes
    its states; ``decodes``: a dict that receives each file's ``{threshold: {review id:
    triplets}}``, keyed like the result)."""
    _require_heads(runtime, triplets=True)
    return _triplet_sweep(runtime, _read(dev_files), thresholds, batch_size, decodes)


def _triplet_sweep(runtime: TaggerRuntime, dev: DevExamples,
                   thresholds: Sequence[TripletThreshold], batch_size: int,
                   decodes: dict[str, dict[TripletThreshold, dict]] | None
                   ) -> dict[str, dict[str, float]]:
    results = {}
    for path, examples in dev.items():
        predicted: dict[TripletThreshold, dict[str, tuple[SentimentElement, ...]]] = {
            threshold: {} for threshold in thresholds}
        for i in range(0, len(examples), batch_size):
            batch = examples[i:i + batch_size]
            by_threshold = runtime.triplets_by_threshold([ex.review.text for ex in batch],
                                                         thresholds)
            for threshold, found in by_threshold.items():
                predicted[threshold].update(zip((ex.review.id for ex in batch), found))
        if decodes is not None:
            decodes[path] = predicted
        gold = {ex.review.id: ex.elements for ex in examples}
        results[path] = {_label(threshold): evaluate("aste", gold, found).overall.f1
                         for threshold, found in predicted.items()}
    return results


def _best_threshold(by_file: dict[str, dict[str, float]], thresholds: Sequence[Any]
                    ) -> tuple[Any, dict[str, float]]:
    """The threshold (or threshold pair) with the best mean F1 over the files, and the means;
    among ties, the one with the most plain-argmax decisions."""
    means = {_label(t): round(float(np.mean([s[_label(t)] for s in by_file.values()])), 4)
             for t in thresholds}

    def argmaxes(threshold: Any) -> int:
        return sum(t is None for t in (threshold if isinstance(threshold, tuple) else (threshold,)))

    return max(thresholds, key=lambda t: (means[_label(t)], argmaxes(t))), means


def _decoded(runtime: TaggerRuntime, task: str, examples: Sequence, batch_size: int
             ) -> dict[str, tuple[SentimentElement, ...]]:
    """``{review id: elements}`` of ``task`` with raw scores, as the runtime decodes them."""
    predicted = {}
    for i in range(0, len(examples), batch_size):
        batch = examples[i:i + batch_size]
        predicted.update({ex.review.id: found for ex, found in
                          zip(batch, runtime.decode([ex.review.text for ex in batch], task))})
    return predicted


def _dev_elements(runtime: TaggerRuntime, task: str, dev: DevExamples, batch_size: int,
                  decoded: dict[str, dict] | None = None) -> tuple[list[float], list[bool]]:
    """``(raw scores, correct)`` of the elements ``task`` decodes on the ``dev`` examples
    (``decoded``: the files' ``{review id: elements}`` when already decoded, keyed by file)."""
    scores: list[float] = []
    correct: list[bool] = []
    for path, examples in dev.items():
        found = (decoded or {}).get(path)
        s, c = scored_elements(task, {ex.review.id: ex.elements for ex in examples},
                               found if found is not None
                               else _decoded(runtime, task, examples, batch_size))
        scores += s
        correct += c
    return scores, correct


def _sentence_dev_answers(runtime: TaggerRuntime, dev: DevExamples, batch_size: int
                          ) -> tuple[list[float], list[bool]]:
    """``(raw scores, correct)`` of the ``sentence`` answer on each dev text whose gold
    elements all share one polarity (right: the answer has it); other texts are left out."""
    scores: list[float] = []
    correct: list[bool] = []
    for examples in dev.values():
        agreeing = [(ex, agreeing_polarity(e.polarity for e in ex.elements)) for ex in examples]
        kept = [(ex, polarity) for ex, polarity in agreeing if polarity is not None]
        decoded = _decoded(runtime, "sentence", [ex for ex, _ in kept], batch_size)
        for ex, polarity in kept:
            answer = decoded[ex.review.id][0]
            scores.append(float(answer.score))
            correct.append(answer.polarity == polarity)
    return scores, correct


def _review_dev_answers(runtime: TaggerRuntime, dev: DevExamples, batch_size: int
                        ) -> tuple[list[float], list[bool]]:
    """``(merged scores, correct)`` of the dev reviews (:func:`dev_reviews`) that split into
    two parts or more, each read in its sentences and merged as the tagger merges a long text's
    parts (:meth:`~.runtime.TaggerRuntime.merge_sentence`: the raw probability of one head
    decision on the parts' pooled states)."""
    scores: list[float] = []
    correct: list[bool] = []
    for path, examples in dev.items():
        reviews = [(text, polarity, split_sentences(text, min_words=0, max_words=None))
                   for _, text, polarity in dev_reviews(path, examples)]
        reviews = [review for review in reviews if len(review[2]) > 1]
        states = runtime.sentence_features(
            [text[start:end] for text, _, parts in reviews for start, end in parts], batch_size)
        at = 0
        for _, polarity, parts in reviews:
            merged, probability = runtime.merge_sentence(
                states[at:at + len(parts)], [end - start for start, end in parts])
            at += len(parts)
            scores.append(probability)
            correct.append(merged == polarity)
    return scores, correct


# ------------------------------------------------------------------------- category groups
#: one ACSA dev file's decodes: ({review id: gold elements}, {review id: predicted elements})
def _fit_task(files: Sequence[str | Path], scores: Sequence[float], correct: Sequence[bool]
              ) -> dict[str, Any] | None:
    if len(scores) < MIN_ELEMENTS:
        return None
    _, record = fit_score_map(scores, correct)
    return {**record, "dev_files": [str(f) for f in files]}


def _triplet_threshold(runtime: TaggerRuntime) -> TripletThreshold:
    return runtime.span_none_below, runtime.pair_none_below


def _label(threshold: float | None | TripletThreshold) -> str:
    """``argmax`` or ``0.2``; a ``(span, pair)`` threshold pair as ``span/pair``."""
    if isinstance(threshold, tuple):
        return "/".join(map(_label, threshold))
    return "argmax" if threshold is None else f"{threshold:g}"


def calibrate_tagger(directory: str | Path, dev_files: Sequence[str | Path] = (), *,
                     term_dev_files: Sequence[str | Path] = (),
                     triplet_dev_files: Sequence[str | Path] = (),
                     sentence_dev_files: Sequence[str | Path] = (),
                     review_dev_files: Sequence[str | Path] = (), keep_threshold: bool = False,
                     thresholds: Sequence[float | None] = THRESHOLDS, device: str = "cpu",
                     threads: int | None = None, also: Sequence[str | Path] = (),
                     category_groups: bool = False, batch_size: int = 64) -> dict[str, Any]:
    """Calibrate the tagger in ``directory`` (trained or converted) and write the result into
    its card and into the cards of the ``also`` directories (other variants of the same
    checkpoint); returns the record.

    1. The ``none`` threshold with the best mean F1 on the ACSA ``dev_files`` (argmax wins
       ties), and the span and pair heads' on the ASTE ``triplet_dev_files``
       (:data:`TRIPLET_THRESHOLDS`), unless ``keep_threshold`` (the card's stay, and their
       records).
    2. Per task, a score map (:func:`fit_score_map`) on the dev elements as decoded: ATSA on
       ``term_dev_files``, ACSA on ``dev_files`` with the threshold of step 1, ASTE on
       ``triplet_dev_files`` (each triplet scored by its pair probability; the thresholds of
       step 1), ``sentence`` on ``sentence_dev_files`` (:func:`_sentence_dev_answers`). A task
       with dev files but fewer than :data:`MIN_ELEMENTS` elements loses its map; a task
       without dev files keeps the map it had. Then the map of a merged ``sentence`` answer on
       ``review_dev_files`` (:func:`_review_dev_answers`), into the card's
       ``MERGED_SCORE_CALIBRATION``.
    3. With ``category_groups``, ACSA also gets a map per dev file's category group (the module
       docstring; :func:`fit_group_maps`), the pooled map of step 2 as their fallback."""
    from .backend import TaggerBackend

    if not (dev_files or term_dev_files or triplet_dev_files or sentence_dev_files
            or review_dev_files):
        raise TrainingError("calibration needs at least one ACSA dev file (or, for the term, "
                            "triplet, sentence or merged scores alone, an ATSA, ASTE, sentence "
                            "or review dev file)")
    if not dev_files and not triplet_dev_files and not keep_threshold:
        raise TrainingError("calibration needs an ACSA or ASTE dev file to choose a none "
                            "threshold (or keep the card's: keep_threshold)")
    if category_groups and not dev_files:
        raise TrainingError("category groups need the ACSA dev files (one group per file)")
    directory = Path(directory)
    targets = [directory, *map(Path, also)]
    for target in targets:
        if not (target / HEADS_FILE).is_file() or not (target / CARD_FILE).is_file():
            raise TrainingError(f"{target}: not a tagger directory (no {HEADS_FILE} or card) — "
                                "calibrate the output of 'fsa-edge train tagger finetune' or its "
                                "conversion")
    try:
        runtime = TaggerBackend(directory, device=device, cpu_threads=threads).runtime
    except FsaEdgeError as exc:
        raise TrainingError(f"{directory}: cannot load the tagger: {exc}") from None
    _require_heads(runtime, categories=bool(dev_files), triplets=bool(triplet_dev_files),
                   sentence=bool(sentence_dev_files or review_dev_files))
    acsa_dev, term_dev, triplet_dev, sentence_dev, review_dev = map(
        _read, (dev_files, term_dev_files, triplet_dev_files, sentence_dev_files,
                review_dev_files))
    record: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    logits: dict[str, np.ndarray] = {}
    triplet_decodes: dict[str, dict[TripletThreshold, dict]] = {}
    best = runtime.none_below
    if keep_threshold:
        if dev_files:
            logits = {path: _category_logits(runtime, examples, batch_size)
                      for path, examples in acsa_dev.items()}
        record.update({"chosen": _label(best), "none_below": best, "threshold": "kept"})
        if triplet_dev_files:
            record["triplets"] = {"chosen": _label(_triplet_threshold(runtime)),
                                  SPAN_NONE_BELOW: runtime.span_none_below,
                                  PAIR_NONE_BELOW: runtime.pair_none_below, "threshold": "kept"}
    else:
        if dev_files:
            by_file = _category_sweep(runtime, acsa_dev, thresholds, batch_size, logits)
            best, means = _best_threshold(by_file, thresholds)
            fields["calibration"] = {"dev_f1": by_file, "mean_dev_f1": means,
                                     "chosen": _label(best), "calibrated_on": str(directory)}
            fields["none_below"] = best
            record.update({"chosen": _label(best), "none_below": best, "mean_dev_f1": means,
                           "dev_f1": by_file})
        if triplet_dev_files:
            by_file = _triplet_sweep(runtime, triplet_dev, TRIPLET_THRESHOLDS, batch_size,
                                     triplet_decodes)
            chosen, means = _best_threshold(by_file, TRIPLET_THRESHOLDS)
            runtime.span_none_below, runtime.pair_none_below = chosen
            fields[TRIPLET_CALIBRATION] = {"dev_f1": by_file, "mean_dev_f1": means,
                                           "chosen": _label(chosen),
                                           "calibrated_on": str(directory)}
            fields[SPAN_NONE_BELOW], fields[PAIR_NONE_BELOW] = chosen
            record["triplets"] = {"chosen": _label(chosen), SPAN_NONE_BELOW: chosen[0],
                                  PAIR_NONE_BELOW: chosen[1], "mean_dev_f1": means,
                                  "dev_f1": by_file}
    maps: dict[str, dict[str, Any] | None] = {}
    if dev_files:
        decodes = [({ex.review.id: ex.elements for ex in examples},
                    _decoded_categories(runtime, examples, logits[path], best))
                   for path, examples in acsa_dev.items()]
        maps["acsa"] = _fit_task(dev_files, *scored_decodes(decodes))
        if category_groups and maps["acsa"] is not None:
            maps["acsa"] = with_groups(maps["acsa"], acsa_dev, decodes)
    chosen_triplets = {path: by_threshold[_triplet_threshold(runtime)]  # the ASTE map fits on these
                       for path, by_threshold in triplet_decodes.items()}
    runtime.term_score = FITTED_TERM_SCORE  # the ATSA map is fitted on (and names) this score
    for task, files, dev, decoded in (("atsa", term_dev_files, term_dev, None),
                                      ("aste", triplet_dev_files, triplet_dev, chosen_triplets)):
        if files:
            maps[task] = _fit_task(files, *_dev_elements(runtime, task, dev, batch_size,
                                                         decoded))
    if maps.get("atsa") is not None:
        maps["atsa"][RAW_SCORE] = FITTED_TERM_SCORE
    if sentence_dev_files:
        maps["sentence"] = _fit_task(sentence_dev_files,
                                     *_sentence_dev_answers(runtime, sentence_dev, batch_size))
    merged: dict[str, Any] | None = None
    if review_dev_files:
        merged = _fit_task(review_dev_files, *_review_dev_answers(runtime, review_dev,
                                                                  batch_size))
    for entry in [*maps.values(), merged]:
        if entry is not None:
            entry["calibrated_on"] = str(directory)
    for target in targets:
        card = ModelCard.load(target)
        tagger = {**card.extra.get("tagger", {}), **fields}
        if TRIPLET_CALIBRATION in fields:
            tagger.pop("pair_calibration", None)  # the pair threshold's record before spans had one
        kept = {task: entry for task, entry in tagger.get(SCORE_CALIBRATION, {}).items()
                if task not in maps}
        score_calibration = {**kept, **{t: e for t, e in maps.items() if e is not None}}
        tagger.pop(SCORE_CALIBRATION, None)
        if score_calibration:
            tagger[SCORE_CALIBRATION] = dict(sorted(score_calibration.items()))
        extra = {**card.extra, "tagger": tagger}
        if review_dev_files:
            merged_maps = {**extra.pop(MERGED_SCORE_CALIBRATION, {}), "sentence": merged}
            merged_maps = {task: entry for task, entry in merged_maps.items()
                           if entry is not None}
            if merged_maps:
                extra[MERGED_SCORE_CALIBRATION] = merged_maps
        replace(card, extra=extra).save(target)
    record["score_calibration"] = {t: e if e is not None else
                                   f"not fitted: fewer than {MIN_ELEMENTS} dev elements"
                                   for t, e in maps.items()}
    if review_dev_files:
        record[MERGED_SCORE_CALIBRATION] = {"sentence": merged if merged is not None else
                                            f"not fitted: fewer than {MIN_ELEMENTS} dev reviews"}
    record["calibrated_on"] = str(directory)
    return record


def calibrate_none_threshold(directory: str | Path, dev_files: Sequence[str | Path],
                             **options: Any) -> dict[str, Any]:
    """:func:`calibrate_tagger` with ACSA dev files (the threshold, then the ACSA score map)."""
    if not dev_files:
        raise TrainingError("calibration needs at least one ACSA dev file")
    return calibrate_tagger(directory, dev_files, **options)


__all__ = ["CALIBRATED_FIELDS", "PAIR_THRESHOLDS", "SPAN_THRESHOLDS", "THRESHOLDS",
           "TRIPLET_CALIBRATION", "TRIPLET_THRESHOLDS", "calibrate_none_threshold",
           "calibrate_tagger", "dev_f1_by_threshold", "triplet_dev_f1_by_threshold"]
