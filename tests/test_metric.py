"""The paper's micro P/R/F1, against hand-computed cases."""

from __future__ import annotations

import pytest

from fsa_edge import SentimentElement as E, evaluate
from fsa_edge.readers import read_dataset
from fsa_edge.metric import gold_by_id


def test_hand_computed_atsa():
    gold = {
        "1": [E("positive", aspect="food"), E("negative", aspect="service")],
        "2": [E("neutral", aspect="menu")],
        "3": [],
    }
    pred = {
        "1": [E("positive", aspect="Food"), E("positive", aspect="service")],  # 1 tp, 1 wrong polarity
        "2": [E("neutral", aspect="menu"), E("positive", aspect="wine")],      # 1 tp, 1 spurious
        # "3" missing: counts as predicting nothing
    }
    result = evaluate("atsa", gold, pred)
    assert (result.overall.true_positives, result.overall.predicted, result.overall.gold) == (2, 4, 3)
    assert result.overall.precision == pytest.approx(50.0)
    assert result.overall.recall == pytest.approx(200 / 3)
    assert result.overall.f1 == pytest.approx(2 * 50 * (200 / 3) / (50 + 200 / 3))
    assert result.missing_predictions == 1
    positive = result.by_polarity["positive"]
    assert (positive.true_positives, positive.predicted, positive.gold) == (1, 3, 1)
    negative = result.by_polarity["negative"]
    assert (negative.true_positives, negative.predicted, negative.gold) == (0, 0, 1)
    assert negative.f1 == 0.0


def test_paper_counting_deduplicates_gold_pairs_and_categories_are_canonical():
    # The paper's evaluation code builds an ACSA sentence's gold list without repeats.
    gold = {"1": [E("positive", category="FOOD#QUALITY"), E("positive", category="FOOD#QUALITY"),
                  E("negative", category="SERVICE#GENERAL")]}
    pred = {"1": [E("positive", category="food quality")]}
    result = evaluate("acsa", gold, pred)
    assert result.counting == "paper"
    assert (result.overall.true_positives, result.overall.found, result.overall.predicted,
            result.overall.gold) == (1, 1, 1, 2)
    assert result.overall.recall == pytest.approx(50.0)


def test_multiset_counting_keeps_gold_repeats():
    gold = {"1": [E("positive", category="FOOD#QUALITY"), E("positive", category="FOOD#QUALITY")]}
    pred = {"1": [E("positive", category="food quality")]}
    result = evaluate("acsa", gold, pred, counting="multiset")
    assert (result.overall.true_positives, result.overall.found, result.overall.predicted,
            result.overall.gold) == (1, 1, 1, 2)
    assert result.overall.recall == pytest.approx(50.0) and result.counting == "multiset"


def test_paper_counting_of_a_term_that_occurs_twice():
    # Two occurrences (different offsets) stay two gold elements; the paper compares
    # (term, polarity) by membership, so one prediction finds both — multiset finds one.
    gold = {"1": [E("positive", aspect="pizza", aspect_span=(4, 9)),
                  E("positive", aspect="pizza", aspect_span=(20, 25))]}
    pred = {"1": [E("positive", aspect="pizza", aspect_span=(4, 9))]}
    paper = evaluate("atsa", gold, pred).overall
    assert (paper.true_positives, paper.found, paper.predicted, paper.gold) == (1, 2, 1, 2)
    assert paper.f1 == pytest.approx(100.0)
    multiset = evaluate("atsa", gold, pred, counting="multiset").overall
    assert (multiset.true_positives, multiset.found, multiset.gold) == (1, 1, 2)
    assert multiset.recall == pytest.approx(50.0)


def test_paper_counting_counts_each_repeated_prediction():
    gold = {"1": [E("negative", category="SERVICE#GENERAL")]}
    pred = {"1": [E("negative", category="SERVICE#GENERAL"), E("negative", category="SERVICE#GENERAL"),
                  E("positive", category="FOOD#QUALITY")]}
    paper = evaluate("acsa", gold, pred).overall
    assert (paper.true_positives, paper.found, paper.predicted, paper.gold) == (2, 1, 3, 1)
    multiset = evaluate("acsa", gold, pred, counting="multiset").overall
    assert (multiset.true_positives, multiset.predicted) == (1, 3)


def test_unknown_counting_rule_is_refused():
    with pytest.raises(ValueError, match="counting 'sets'"):
        evaluate("acsa", {}, {}, counting="sets")


def test_nothing_predicted_nothing_gold_is_zero_not_error():
    result = evaluate("atsa", {"1": []}, {"1": []})
    assert result.overall.f1 == 0.0 and result.overall.gold == 0


@pytest.mark.data
@pytest.mark.parametrize("relative,task", [("fsa-benchmark/atsa/rest14/test.json", "atsa"),
                                           ("fsa-benchmark/acsa/laptop16/test.json", "acsa"),
                                           ("asqp/data/rest16/test.txt", "asqp")])
@pytest.mark.parametrize("counting", ["paper", "multiset"])
def test_gold_against_itself_is_100(data_dir, relative, task, counting):
    gold = gold_by_id(read_dataset(data_dir / relative).examples)
    assert evaluate(task, gold, gold, counting=counting).overall.f1 == pytest.approx(100.0)


@pytest.mark.data
def test_rest16_gold_repeats_are_what_the_two_rules_differ_by(data_dir):
    gold = gold_by_id(read_dataset(data_dir / "fsa-benchmark/acsa/rest16/test.json").examples)
    assert evaluate("acsa", gold, {}, counting="multiset").overall.gold == 859
    assert evaluate("acsa", gold, {}).overall.gold == 859 - 108
