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


def test_duplicates_count_as_a_multiset_and_categories_are_canonical():
    gold = {"1": [E("positive", category="FOOD#QUALITY"), E("positive", category="FOOD#QUALITY")]}
    pred = {"1": [E("positive", category="food quality")]}
    result = evaluate("acsa", gold, pred)
    assert (result.overall.true_positives, result.overall.predicted, result.overall.gold) == (1, 1, 2)


def test_nothing_predicted_nothing_gold_is_zero_not_error():
    result = evaluate("atsa", {"1": []}, {"1": []})
    assert result.overall.f1 == 0.0 and result.overall.gold == 0


@pytest.mark.data
@pytest.mark.parametrize("relative,task", [("fsa-benchmark/atsa/rest14/test.json", "atsa"),
                                           ("fsa-benchmark/acsa/laptop16/test.json", "acsa"),
                                           ("asqp/data/rest16/test.txt", "asqp")])
def test_gold_against_itself_is_100(data_dir, relative, task):
    gold = gold_by_id(read_dataset(data_dir / relative).examples)
    assert evaluate(task, gold, gold).overall.f1 == pytest.approx(100.0)
