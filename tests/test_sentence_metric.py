"""Sentence-level polarity scored as sentence classification: accuracy, macro-F1, confusion."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fsa_edge import SentimentElement as E
from fsa_edge.cli import build_cli
from fsa_edge.errors import InputError
from fsa_edge.metric import NO_PREDICTION, score_sentences, sentence_label
from fsa_edge.model import AnalysisResult
from fsa_edge.readers import read_dataset

GOLD = {"s1": [E("positive")], "s2": [E("positive")], "s3": [E("positive")],
        "s4": [E("negative")], "s5": [E("negative")], "s6": [E("negative")]}
PRED = {
    "s1": [E("positive", score=0.8)],                               # right
    "s2": [E("neutral", score=0.9)],                                # neutral: wrong
    # s3 absent: predicted "none", wrong
    "s4": [E("positive", score=0.3), E("negative", score=0.9)],     # highest score: negative
    "s5": [E("positive")],                                          # wrong
    "s6": [E("positive"), E("negative", score=0.1)],                # None lowest: negative
    "other": [E("negative")],                                       # not in gold: ignored
}


def test_hand_computed_accuracy_and_macro_f1():
    result = score_sentences(GOLD, PRED)
    # right: s1, s4, s6 → 3 / 6
    assert (result.correct, result.reviews, result.accuracy) == (3, 6, pytest.approx(50.0))
    assert result.missing_predictions == 1
    assert list(result.per_class) == ["positive", "negative"]
    pos, neg = result.per_class["positive"], result.per_class["negative"]
    # positive: predicted for s1, s5 → P 1/2; gold s1-s3 → R 1/3; F1 = 2·½·⅓ / (5/6) = 0.4
    assert (pos.true_positives, pos.predicted, pos.support) == (1, 2, 3)
    assert (pos.precision, pos.recall, pos.f1) == pytest.approx((50.0, 100 / 3, 40.0))
    # negative: predicted for s4, s6 → P 2/2; gold s4-s6 → R 2/3; F1 = 0.8
    assert (neg.true_positives, neg.predicted, neg.support) == (2, 2, 3)
    assert (neg.precision, neg.recall, neg.f1) == pytest.approx((100.0, 200 / 3, 80.0))
    assert result.macro_f1 == pytest.approx(60.0)
    assert result.confusion == {
        "positive": {"positive": 1, "negative": 0, "neutral": 1, NO_PREDICTION: 1},
        "negative": {"positive": 1, "negative": 2, "neutral": 0, NO_PREDICTION: 0},
    }
    data = result.to_dict()
    assert (data["accuracy"], data["macro_f1"], data["correct"]) == (50.0, 60.0, 3)
    assert data["classes"] == ["positive", "negative"]
    assert data["per_class"]["positive"] == {"precision": 50.0, "recall": 33.3333, "f1": 40.0,
                                             "true_positives": 1, "predicted": 2, "support": 3}
    assert data["confusion"]["positive"]["none"] == 1
    # scored answers: s1 0.8 right (bin 12), s2 0.9 wrong + s4 0.9 right (bin 13), s6 0.1 right
    # (bin 1): ECE = ¼·0.2 + ½·|0.5 − 0.9| + ¼·0.9 = 0.475 (s3 no answer, s5 no score)
    assert result.score_ece == pytest.approx(0.475) and data["score_ece"] == 0.475
    assert score_sentences(GOLD, {k: [E("positive")] for k in GOLD}).score_ece is None
    unbounded = score_sentences(GOLD, {**PRED, "s1": [E("positive", score=1.5)]})
    assert unbounded.score_ece is None and unbounded.correct == 3  # a vote sum: no ECE
    json.dumps(data)


def test_a_class_never_predicted_has_f1_zero_and_all_missing_is_zero():
    result = score_sentences(GOLD, {k: [E("positive")] for k in GOLD})
    assert result.per_class["negative"].f1 == 0.0
    # positive: P 3/6, R 3/3 → F1 2/3; macro = (66.67 + 0) / 2
    assert result.macro_f1 == pytest.approx(100 / 3)
    assert result.accuracy == pytest.approx(50.0) and result.missing_predictions == 0
    assert NO_PREDICTION not in result.confusion["positive"]
    nothing = score_sentences(GOLD, {})
    assert (nothing.accuracy, nothing.macro_f1, nothing.missing_predictions) == (0.0, 0.0, 6)


def test_sentence_label_picks_highest_score_first_on_ties():
    assert sentence_label([]) == NO_PREDICTION
    assert sentence_label([E("negative", score=0.5), E("positive", score=0.5)]) == "negative"
    assert sentence_label([E("negative"), E("positive")]) == "negative"
    assert sentence_label([E("negative"), E("positive", score=-1.0)]) == "positive"


def test_gold_needs_one_polarity_per_review():
    with pytest.raises(InputError, match="exactly one polarity"):
        score_sentences({"x": [E("positive"), E("negative")]}, {})
    with pytest.raises(InputError, match="found: none"):
        score_sentences({"x": []}, {})
    repeated = score_sentences({"x": [E("positive"), E("positive")]}, {"x": [E("positive")]})
    assert repeated.accuracy == 100.0


def _line(rid, elements, error=None):
    return json.dumps({"id": rid, "text": "t", "task": "sentence", "error": error,
                       "elements": [{"polarity": p, "score": s} for p, s in elements]}) + "\n"


def test_cli_sentence_end_to_end(tmp_path):
    gold = tmp_path / "tiny.json"
    gold.write_text(json.dumps([
        {"sentence": "a lovely film", "label": "positive"},
        {"sentence": "a dull film", "label": "negative"},
        {"sentence": "great acting", "label": "positive"},
        {"sentence": "boring plot", "label": "negative"},
        {"sentence": "fine", "label": "positive"},
    ]))
    # the reader's ids: "<file stem>:<record number>"
    ids = [ex.review.id for ex in read_dataset(gold).examples]
    assert ids == [f"tiny:{i}" for i in range(1, 6)]
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        _line("tiny:1", [("positive", 0.9)])                            # right
        + _line("tiny:2", [("positive", 0.2), ("negative", 0.7)])       # two: negative, right
        + _line("tiny:3", [], error="boom")                             # error record: wrong
        + _line("tiny:4", [("neutral", 0.6)]))                          # neutral: wrong
    # tiny:5 absent: wrong
    out = tmp_path / "scores.json"
    args = ["evaluate", "--task", "sentence", "--gold", str(gold), "--pred", str(pred),
            "--json", str(out)]
    result = CliRunner().invoke(build_cli(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "task sentence: 5 reviews, 2 without prediction"
    # positive: P 1/1, R 1/3 → F1 50; negative: P 1/1, R 1/2 → F1 66.67; macro 58.33
    # score ECE over the three scored answers, one per bin: ⅓·(0.1 + 0.3 + 0.6)
    assert lines[1] == "accuracy 40.00 (2/5), macro-F1 58.33, score ECE 0.333"
    assert lines[3].split() == ["positive", "100.00", "33.33", "50.00", "1", "1", "3"]
    assert lines[4].split() == ["negative", "100.00", "50.00", "66.67", "1", "1", "2"]
    assert lines[5].split() == ["gold/pred", "positive", "negative", "neutral", "none"]
    assert lines[6].split() == ["positive", "1", "0", "0", "2"]
    assert lines[7].split() == ["negative", "0", "1", "1", "0"]
    scores = json.loads(out.read_text())
    assert scores["gold"] == str(gold) and scores["pred"] == str(pred)
    assert scores["task"] == "sentence"
    assert (scores["accuracy"], scores["macro_f1"]) == (40.0, 58.3333)
    assert (scores["reviews"], scores["correct"], scores["missing_predictions"]) == (5, 2, 2)
    assert scores["confusion"] == {
        "positive": {"positive": 1, "negative": 0, "neutral": 0, "none": 2},
        "negative": {"positive": 0, "negative": 1, "neutral": 1, "none": 0}}
    assert set(scores["per_class"]) == {"positive", "negative"}
    assert "precision" not in scores  # not the element micro P/R/F1


@pytest.mark.data
def test_sst2_gold_against_itself_is_100(data_dir, tmp_path):
    gold = data_dir / "sentence-sentiment/sst2/test.json"
    dataset = read_dataset(gold)
    pred = tmp_path / "pred.jsonl"
    with pred.open("w") as handle:
        for ex in dataset.examples:
            row = AnalysisResult(ex.review.id, ex.review.text, "sentence", ex.elements, "gold")
            handle.write(json.dumps(row.to_dict()) + "\n")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(build_cli(), ["evaluate", "-t", "sentence", "--gold", str(gold),
                                              "--pred", str(pred), "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert (scores["accuracy"], scores["macro_f1"]) == (100.0, 100.0)
    assert scores["reviews"] == len(dataset.examples)
    assert scores["classes"] == ["positive", "negative"]
