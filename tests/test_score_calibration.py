"""Calibrated element scores: the ECE definition, the Platt / beta / isotonic score maps, per
category group maps, a tagger runtime applying a card's maps (only the scores change), and
``fsa-edge train tagger calibrate`` fitting them (``--term-dev``, ``--keep-threshold``,
``--also``, ``--category-groups``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fsa_edge.calibration_metric import (expected_calibration_error, reliability_bins,
                                         scored_elements)
from fsa_edge.card import ModelCard
from fsa_edge.cli import build_cli
from fsa_edge.errors import BackendError
from fsa_edge.model import SentimentElement
from fsa_edge.score_map import ScoreMap, logit

from fsa_edge_tagger.category_groups import (CategoryGroup, dev_category_groups, fit_group_maps,
                                             train_file_of)
from fsa_edge_tagger.runtime import TaggerRuntime, category_score_maps, score_maps
from fsa_edge_tagger.score_fitting import fit_beta, fit_isotonic, fit_platt, fit_score_map
from fsa_edge_tagger.scheme import CATEGORY_CLASSES, TAGS

CATEGORIES = ["FOOD#GENERAL", "SERVICE#GENERAL", "PIZZA#GENERAL", "STAFF#GENERAL"]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _overconfident(count: int, seed: int, a: float = 0.3, b: float = -0.5):
    """Raw scores whose true chance of being right is sigmoid(a · logit(s) + b)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(2.0, 2.5, count)
    scores = _sigmoid(z)
    return scores, rng.uniform(size=count) < _sigmoid(a * z + b)


# ---------------------------------------------------------------------------- the metric
def test_ece_of_calibrated_scores_is_zero():
    scores = [0.25] * 4 + [0.75] * 4 + [1.0] * 2  # 1.0 falls in the last bin
    correct = [True, False, False, False, True, True, True, False, True, True]
    assert expected_calibration_error(scores, correct) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0


def test_ece_of_overconfident_scores_is_the_weighted_gap():
    # 10 elements scored 0.95, 6 right: gap 0.35
    assert expected_calibration_error([0.95] * 10, [True] * 6 + [False] * 4) == \
        pytest.approx(0.35)
    # a gap of 0.4 on half the elements (0.9, 5 of 10 right), none on the other half
    scores = [0.9] * 10 + [0.3] * 10
    correct = [True] * 5 + [False] * 5 + [True] * 3 + [False] * 7
    assert expected_calibration_error(scores, correct) == pytest.approx(0.2)
    # equal-width bins: 0.41 and 0.45 share the bin [0.4, 0.467) of 15, 0.47 is the next one
    assert expected_calibration_error([0.41, 0.45, 0.47], [True, False, True]) == \
        pytest.approx((abs(1 - 0.86) + abs(1 - 0.47)) / 3)
    with pytest.raises(ValueError):
        expected_calibration_error([0.5, 0.2], [True])
    with pytest.raises(ValueError):
        expected_calibration_error([1.5], [True])


def test_reliability_bins_hold_every_element_and_give_the_ece():
    scores, correct = _overconfident(500, 1)
    bins = reliability_bins(scores, correct)
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 500
    ece = sum(b["count"] * abs(b["accuracy"] - b["mean_score"]) for b in bins if b["count"])
    assert ece / 500 == pytest.approx(expected_calibration_error(scores, correct), abs=1e-5)


def test_scored_elements_use_the_papers_matching():
    gold = {"r1": (SentimentElement("positive", aspect="Bread", aspect_span=(4, 9)),
                   SentimentElement("negative", aspect="delivery  times", aspect_span=(20, 35))),
            "r2": (SentimentElement("neutral", category="food#quality"),),
            "r3": ()}
    predicted = {
        "r1": (SentimentElement("positive", aspect="bread", aspect_span=(4, 9), score=0.9),
               SentimentElement("positive", aspect="delivery times", score=0.8),  # polarity
               SentimentElement("negative", aspect="Delivery times", score=0.7),
               SentimentElement("negative", aspect="times", score=0.6),  # not the span
               SentimentElement("negative", aspect="bread", score=None)),  # unscored: left out
        "r3": (SentimentElement("positive", aspect="oven", score=0.4),),
        "elsewhere": (SentimentElement("positive", aspect="bread", score=0.99),)}
    assert scored_elements("atsa", gold, predicted) == (
        [0.9, 0.8, 0.7, 0.6, 0.4], [True, False, True, False, False])
    acsa = {"r2": (SentimentElement("neutral", category="FOOD#QUALITY", score=0.5),
                   SentimentElement("positive", category="FOOD#QUALITY", score=0.3))}
    assert scored_elements("acsa", gold, acsa) == ([0.5, 0.3], [True, False])


# ---------------------------------------------------------------------------- the maps
def test_platt_recovers_a_known_miscalibration_and_lowers_ece_out_of_sample():
    scores, correct = _overconfident(4000, 2)
    score_map = fit_platt(scores, correct)
    assert score_map.method == "platt"
    assert score_map.a == pytest.approx(0.3, abs=0.06) and score_map.b == pytest.approx(-0.5,
                                                                                        abs=0.15)
    fresh, right = _overconfident(4000, 3)
    before = expected_calibration_error(fresh, right)
    after = expected_calibration_error([score_map(s) for s in fresh], right)
    assert before > 0.15 and after < 0.04


def test_maps_are_monotone_and_platt_never_reverses_ranks():
    scores, correct = _overconfident(600, 4)
    grid = np.concatenate([[0.0, 1e-15], np.linspace(0, 1, 501), [1 - 1e-15, 1.0]])
    grid.sort()
    for score_map in (fit_platt(scores, correct), fit_beta(scores, correct),
                      fit_isotonic(scores, correct)):
        mapped = np.array([score_map(s) for s in grid])
        assert np.all(np.diff(mapped) >= -1e-12) and mapped.min() >= 0 and mapped.max() <= 1
    backwards = fit_platt(scores, ~correct)  # a score that predicts the opposite
    assert backwards.a == 0.0 and backwards(0.1) == pytest.approx(backwards(0.9))
    assert fit_platt([0.9] * 30, [True] * 30)(0.9) < 1  # all right: still finite parameters


def _bent(count: int, seed: int, a: float = 0.3, b: float = 1.5, c: float = 0.4):
    """Raw scores whose chance of being right is sigmoid(a · ln s − b · ln(1 − s) + c): low scores
    right far more often than they say, high ones about as often (no Platt map fits both)."""
    rng = np.random.default_rng(seed)
    scores = _sigmoid(rng.normal(0.5, 2.0, count))
    chance = _sigmoid(a * np.log(scores) - b * np.log1p(-scores) + c)
    return scores, rng.uniform(size=count) < chance


def test_beta_recovers_a_bent_miscalibration_that_platt_cannot():
    scores, correct = _bent(6000, 11)
    score_map = fit_beta(scores, correct)
    assert score_map.method == "beta"
    assert (score_map.a, score_map.b, score_map.c) == pytest.approx((0.3, 1.5, 0.4), abs=0.25)
    fresh, right = _bent(6000, 12)
    beta_ece = expected_calibration_error([score_map(s) for s in fresh], right)
    platt = fit_platt(scores, correct)
    platt_ece = expected_calibration_error([platt(s) for s in fresh], right)
    assert beta_ece < 0.03 and beta_ece < platt_ece - 0.01
    # Platt's map is the case a = b: on Platt-shaped data beta's map is about Platt's
    scores, correct = _overconfident(4000, 2)
    beta, platt = fit_beta(scores, correct), fit_platt(scores, correct)
    grid = np.linspace(0.02, 0.98, 49)
    assert max(abs(beta(s) - platt(s)) for s in grid) < 0.04


def test_beta_drops_a_weight_that_would_reverse_ranks():
    rng = np.random.default_rng(13)
    scores = rng.uniform(0.01, 0.99, 3000)
    # right more often the lower the score near 0, yet rising overall: a < 0 unconstrained
    right = rng.uniform(size=3000) < np.clip(0.9 - 3 * scores + 3 * scores ** 2, 0, 1)
    score_map = fit_beta(scores, right)
    assert score_map.a >= 0 and score_map.b >= 0
    grid = np.linspace(0, 1, 201)
    assert np.all(np.diff([score_map(s) for s in grid]) >= -1e-12)
    backwards = fit_beta(scores, scores < 0.5)  # predicts the opposite: both weights dropped
    assert backwards.a == backwards.b == 0.0 and backwards(0.1) == pytest.approx(backwards(0.9))
    assert ScoreMap.from_card(backwards.parameters()) == backwards


def test_score_map_choice_takes_beta_when_it_is_better_out_of_sample():
    scores, correct = _bent(3000, 14)
    score_map, record = fit_score_map(scores, correct)
    assert record["method"] == score_map.method == "beta"
    assert record["cv_log_loss"]["beta"] < record["cv_log_loss"]["platt"]
    assert record["cv_ece"]["beta"] < record["cv_ece"]["platt"]
    assert (record["a"], record["b"], record["c"]) == (score_map.a, score_map.b, score_map.c)


def test_score_map_choice_on_dev_prefers_platt_unless_isotonic_is_clearly_better():
    scores, correct = _overconfident(3000, 5)
    score_map, record = fit_score_map(scores, correct)
    assert record["method"] == score_map.method == "platt"
    assert record["dev_ece_after"] < record["dev_ece_before"] and record["dev_elements"] == 3000
    assert set(record["cv_ece"]) == set(record["cv_log_loss"]) == {"platt", "beta", "isotonic"}
    rng = np.random.default_rng(6)  # two plateaus: no sigmoid fits them
    steps = rng.uniform(0, 1, 3000)
    right = rng.uniform(size=3000) < np.where(steps < 0.3, 0.05, np.where(steps < 0.7, 0.5, 0.95))
    score_map, record = fit_score_map(steps, right)
    assert record["method"] == "isotonic" and record["x"] == list(score_map.x)
    assert record["cv_ece"]["isotonic"] < record["cv_ece"]["platt"] - 0.01


def test_score_maps_from_the_card_are_checked():
    assert score_maps(None) == {}
    maps = score_maps({"atsa": {"method": "platt", "a": 0.5, "b": -1, "dev_elements": 3},
                       "acsa": {"method": "isotonic", "x": [0.1, 0.9], "y": [0.2, 0.8]}})
    assert maps["atsa"](0.5) == pytest.approx(_sigmoid(-1))
    assert maps["acsa"](0.5) == pytest.approx(0.5) and maps["acsa"](0.0) == 0.2
    assert maps["atsa"](1.0) == pytest.approx(_sigmoid(0.5 * logit(1.0) - 1))
    for bad in ({"method": "beta"}, {"method": "beta", "a": 1, "b": -1, "c": 0},
                {"method": "cubic"}, {"method": "platt", "a": -1},
                {"method": "isotonic", "x": [0.5, 0.1], "y": [0.1, 0.2]},
                {"method": "isotonic", "x": [0.1]}):
        with pytest.raises(BackendError):
            score_maps({"atsa": bad})
    assert ScoreMap.from_card(maps["atsa"].parameters()) == maps["atsa"]


# ---------------------------------------------------------------------------- a runtime
TEXTS = ["The food was great and the staff was rude.", "The pizza was bland.",
         "The service was friendly but the wine was awful.", "", "Sushi!"]


def _tagger_directory(directory: Path, calibration: dict | None) -> ModelCard:
    """A torch-free tagger: a WordPiece tokenizer and random heads (mean pooling), encoded by
    a fixed random embedding per piece (:func:`_embed`)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(TEXTS * 3, WordPieceTrainer(
        vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer.save(str(directory / "tokenizer.json"))
    rng = np.random.default_rng(7)
    term_bias = np.zeros(len(TAGS))
    term_bias[0] = 0.5
    heads = {"term.weight": rng.normal(size=(len(TAGS), 16)), "term.bias": term_bias,
             "category.weight": rng.normal(size=(len(CATEGORIES) * 5, 16)),
             "category.bias": rng.normal(size=len(CATEGORIES) * len(CATEGORY_CLASSES))}
    np.savez(directory / "heads.npz", **{k: v.astype(np.float32) for k, v in heads.items()})
    tagger = {"tags": list(TAGS), "categories": CATEGORIES, "pooling": "mean",
              "none_below": 0.6}
    if calibration is not None:
        tagger["score_calibration"] = calibration
    card = ModelCard(tasks=("atsa", "acsa"), backend="tagger", extra={"tagger": tagger})
    card.save(directory)
    return card


def _embed(tokens: list[list[str]]) -> np.ndarray:
    table = np.random.default_rng(8).normal(size=(200, 16)).astype(np.float32)
    ids = [[sum(map(ord, t)) % 200 for t in row] for row in tokens]
    out = np.zeros((len(ids), max(map(len, ids)), 16), dtype=np.float32)
    for i, row in enumerate(ids):
        out[i, :len(row)] = table[row]
    return out


def test_a_card_with_score_maps_changes_only_the_scores(tmp_path):
    maps = {"atsa": {"method": "platt", "a": 0.2, "b": -0.8},
            "acsa": {"method": "isotonic", "x": [0.2, 0.5, 0.9], "y": [0.1, 0.4, 0.7]}}
    plain = TaggerRuntime.from_directory(tmp_path / "plain", _tagger_directory(
        tmp_path / "plain", None), _embed)
    calibrated = TaggerRuntime.from_directory(tmp_path / "cal", _tagger_directory(
        tmp_path / "cal", maps), _embed)
    assert plain.score_maps == {} and set(calibrated.score_maps) == {"atsa", "acsa"}
    for task in ("atsa", "acsa"):
        before, after = plain.run(TEXTS, task), calibrated.run(TEXTS, task)
        raw = calibrated.decode(TEXTS, task)
        assert sum(map(len, before)) >= 2
        without = [[e.to_dict() | {"score": None} for e in found] for found in before]
        assert without == [[e.to_dict() | {"score": None} for e in found] for found in after]
        score_map = ScoreMap.from_card(maps[task])
        for found_before, found_after, found_raw in zip(before, after, raw):
            for b, a, r in zip(found_before, found_after, found_raw):
                assert b.score == round(r.score, 6)  # no map: the raw score, as before
                assert a.score == round(score_map(r.score), 6) != b.score
        assert calibrated.run(TEXTS, task, calibrated=False) == before
    with pytest.raises(BackendError, match="score map"):
        TaggerRuntime.from_directory(tmp_path / "bad", _tagger_directory(
            tmp_path / "bad", {"atsa": {"method": "spline"}}), _embed)


# ---------------------------------------------------------------------------- category groups
#: two groups of categories (the toy runtime's): at one raw score, FOOD and SERVICE elements are
#: right far more often than PIZZA ones; STAFF#GENERAL is in no group
GROUP_A = ("FOOD#GENERAL", "SERVICE#GENERAL")
GROUP_B = ("PIZZA#GENERAL",)
SHIFT = {"a": 1.2, "b": -1.2}


def _group_decodes(count: int, seed: int) -> list:
    """Two toy ACSA "dev files" (gold, predicted): one predicted element per review, its category
    from group a or b, its raw score drawn alike, right with chance sigmoid(0.5 · logit(s) ±
    1.2) by group."""
    rng = np.random.default_rng(seed)
    decodes = []
    for name, categories in (("a", GROUP_A), ("b", GROUP_B)):
        gold, predicted = {}, {}
        for i in range(count):
            score = float(_sigmoid(rng.normal(1.0, 1.5)))
            category = categories[i % len(categories)]
            right = rng.uniform() < _sigmoid(0.5 * logit(score) + SHIFT[name])
            rid = f"{name}{i}"
            predicted[rid] = (SentimentElement("positive", category=category, score=score),)
            gold[rid] = (SentimentElement("positive" if right else "negative",
                                          category=category),)
        decodes.append((gold, predicted))
    return decodes


def _pooled_entry(decodes) -> dict:
    scores, correct = [], []
    for gold, predicted in decodes:
        s, c = scored_elements("acsa", gold, predicted)
        scores += s
        correct += c
    return fit_score_map(scores, correct)[1]


def test_group_maps_fit_what_the_pooled_map_cannot():
    groups = [CategoryGroup("a", "a/dev.json", ("a/dev.json",), frozenset(GROUP_A)),
              CategoryGroup("b", "b/dev.json", ("b/dev.json",), frozenset(GROUP_B))]
    dev = _group_decodes(1500, 11)
    entries, skipped = fit_group_maps(groups, dev)
    assert skipped == {} and [e["name"] for e in entries] == ["a", "b"]
    assert entries[0]["categories"] == sorted(GROUP_A) and entries[0]["dev_elements"] == 1500
    spec = {"acsa": {**_pooled_entry(dev), "groups": entries}}
    pooled, by_category = score_maps(spec)["acsa"], category_score_maps(spec)["acsa"]
    assert set(by_category) == {*GROUP_A, *GROUP_B}
    for gold, predicted in _group_decodes(1500, 12):  # fresh elements, one group at a time
        scores, correct = scored_elements("acsa", gold, predicted)
        categories = [found[0].category for found in predicted.values()]
        with_pooled = expected_calibration_error([pooled(s) for s in scores], correct)
        with_groups = expected_calibration_error(
            [by_category[c](s) for c, s in zip(categories, scores)], correct)
        assert with_pooled > 0.1 and with_groups < 0.04


def test_group_maps_need_enough_elements():
    groups = [CategoryGroup("a", "a/dev.json", (), frozenset(GROUP_A)),
              CategoryGroup("none", "n/dev.json", (), frozenset({"STAFF#GENERAL"}))]
    entries, skipped = fit_group_maps(groups, _group_decodes(100, 13))
    assert [e["name"] for e in entries] == ["a"]
    assert skipped == {"none": "not fitted: 0 dev elements, fewer than 20"}


def _acsa_file(path: Path, categories: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"ID": str(i), "sentence": f"Sentence {i}.", "aspects": [
        {"from": "0", "to": "0", "target": None, "category": c, "polarity": "positive"}]}
        for i, c in enumerate(categories)]))
    return path


def test_each_dev_file_makes_a_group_of_its_and_its_train_files_categories(tmp_path):
    laptops = _acsa_file(tmp_path / "laptop16" / "dev.json", ["LAPTOP#GENERAL", "laptop price"])
    _acsa_file(tmp_path / "laptop16" / "train.json", ["BATTERY#QUALITY", "COMPANY#GENERAL"])
    food = _acsa_file(tmp_path / "rest16" / "dev.json", ["FOOD#QUALITY", "COMPANY#GENERAL"])
    assert train_file_of(laptops) == tmp_path / "laptop16" / "train.json"
    assert train_file_of(food) is None and train_file_of(tmp_path / "x.json") is None
    groups, shared = dev_category_groups([laptops, food])
    assert shared == ["COMPANY#GENERAL"]  # in both groups' gold: in neither, the pooled map's
    assert [(g.name, g.dev_file) for g in groups] == [("laptop16", str(laptops)),
                                                      ("rest16", str(food))]
    assert groups[0].categories == {"LAPTOP#GENERAL", "LAPTOP#PRICE", "BATTERY#QUALITY"}
    assert groups[0].sources == (str(laptops), str(tmp_path / "laptop16" / "train.json"))
    assert groups[1].categories == {"FOOD#QUALITY"} and groups[1].sources == (str(food),)
    same_folder = _acsa_file(tmp_path / "other" / "laptop16" / "dev.json", ["OS#GENERAL"])
    names = [g.name for g in dev_category_groups([laptops, same_folder])[0]]
    assert names == [str(laptops), str(same_folder)]  # the folder names clash: the paths


GROUPED = {"acsa": {"method": "platt", "a": 0.5, "b": -0.4,
                    "groups": [{"name": "food", "categories": ["food general", "SERVICE#GENERAL"],
                                "method": "platt", "a": 0.5, "b": 1.0, "dev_elements": 40},
                               {"name": "pizza", "categories": ["PIZZA#GENERAL"],
                                "method": "isotonic", "x": [0.2, 0.9], "y": [0.1, 0.3]}]}}


def test_the_runtime_picks_the_map_by_category_and_falls_back_to_the_pooled_one(tmp_path):
    runtime = TaggerRuntime.from_directory(tmp_path / "grouped", _tagger_directory(
        tmp_path / "grouped", GROUPED), _embed)
    pooled = ScoreMap("platt", a=0.5, b=-0.4)
    food = ScoreMap("platt", a=0.5, b=1.0)
    pizza = ScoreMap("isotonic", x=(0.2, 0.9), y=(0.1, 0.3))
    assert runtime.score_map("acsa", "FOOD#GENERAL") == food
    assert runtime.score_map("acsa", "service general") == food  # canonical spelling
    assert runtime.score_map("acsa", "PIZZA#GENERAL") == pizza
    assert runtime.score_map("acsa", "STAFF#GENERAL") == pooled  # in no group
    assert runtime.score_map("acsa", None) == pooled and runtime.score_map("atsa") is None
    raw = [e for found in runtime.decode(TEXTS, "acsa") for e in found]
    reported = [e for found in runtime.run(TEXTS, "acsa") for e in found]
    expected = {"FOOD#GENERAL": food, "SERVICE#GENERAL": food, "PIZZA#GENERAL": pizza,
                "STAFF#GENERAL": pooled}
    assert {e.category for e in raw} >= {"STAFF#GENERAL"} and len(raw) >= 3
    assert [e.score for e in reported] == [round(expected[e.category](e.score), 6) for e in raw]
    assert [e.category for e in reported] == [e.category for e in raw]


def test_a_card_without_groups_scores_as_before(tmp_path):
    old = {"acsa": {key: value for key, value in GROUPED["acsa"].items() if key != "groups"}}
    assert category_score_maps(old) == {} and category_score_maps(None) == {}
    runtime = TaggerRuntime.from_directory(tmp_path / "old", _tagger_directory(
        tmp_path / "old", old), _embed)
    pooled = ScoreMap.from_card(old["acsa"])
    assert ScoreMap.from_card(GROUPED["acsa"]) == pooled  # a runtime before groups: the pooled
    for found_raw, found in zip(runtime.decode(TEXTS, "acsa"), runtime.run(TEXTS, "acsa")):
        for raw, element in zip(found_raw, found):
            assert runtime.score_map("acsa", element.category) == pooled
            assert element.score == round(pooled(raw.score), 6) \
                == runtime.reported_score("acsa", raw.score)


@pytest.mark.parametrize("groups, message", [
    ({"name": "food"}, "must be a list of groups"),
    (["FOOD#GENERAL"], r"groups\[0\]: each group must be an object"),
    ([{"name": "food", "method": "platt"}], r"groups\[0\] \(food\): 'categories' must be"),
    ([{"categories": [], "method": "platt"}], "'categories' must be a non-empty list"),
    ([{"categories": ["FOOD#GENERAL", 3], "method": "platt"}], "'categories' must be"),
    ([{"categories": ["FOOD#GENERAL"], "method": "spline"}], r"groups\[0\]: score map method"),
    ([{"categories": ["FOOD#GENERAL"], "method": "platt", "a": -1}], "must be finite and ≥ 0"),
    ([{"name": "x", "categories": ["FOOD#GENERAL"], "method": "platt"},
      {"name": "y", "categories": ["food general"], "method": "platt"}],
     r"\(y\): category FOOD#GENERAL is already in .*\(x\)"),
])
def test_a_malformed_group_is_a_clear_error(tmp_path, groups, message):
    spec = {"acsa": {"method": "platt", "a": 1, "b": 0, "groups": groups}}
    with pytest.raises(BackendError, match=message):
        category_score_maps(spec)
    with pytest.raises(BackendError, match="score_calibration.acsa.groups"):
        TaggerRuntime.from_directory(tmp_path / "bad", _tagger_directory(tmp_path / "bad", spec),
                                     _embed)


# ---------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    """An unconverted tiny tagger (random BERT, random heads; served by torch) and toy ATSA and
    ACSA dev files."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seq2seq_fixtures import synthetic_acsa, synthetic_atsa, tiny_bert

    root = tmp_path_factory.mktemp("score-calibration")
    model = tiny_bert(root / "tagger", hidden=32, layers=1, heads=4)
    categories = sorted({a["category"] for r in synthetic_acsa(200, 1) for a in r["aspects"]})
    rng = np.random.default_rng(3)
    term_bias = np.zeros(len(TAGS))
    term_bias[0] = 1.0
    heads = {"term.weight": rng.normal(scale=0.5, size=(len(TAGS), 32)), "term.bias": term_bias,
             "category.weight": rng.normal(scale=0.3, size=(len(categories) * 5, 32)),
             "category.bias": rng.normal(size=len(categories) * 5)}
    np.savez(model / "heads.npz", **{k: v.astype(np.float32) for k, v in heads.items()})
    ModelCard(tasks=("atsa", "acsa"), default_task="atsa", max_output_length=0, backend="tagger",
              extra={"stage": "finetune", "student": "tagger",
                     "tagger": {"tags": list(TAGS), "categories": categories,
                                "pooling": "mean", "none_below": 0.9}}).save(model)
    (root / "atsa_dev.json").write_text(json.dumps(synthetic_atsa(80, 2)))
    (root / "acsa_dev.json").write_text(json.dumps(synthetic_acsa(80, 4)))
    return model, root / "atsa_dev.json", root / "acsa_dev.json"


def _calibrate(*args) -> dict:
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate",
                                              *map(str, args), "--threads", "1"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])  # stderr: torch's loading


def _scores(model: Path, task: str, dev: Path) -> tuple[list[float], list[float], list]:
    """(reported scores, raw unrounded scores, elements without scores) of ``model`` on
    ``dev``."""
    from fsa_edge.readers import read_dataset

    from fsa_edge_tagger.backend import TaggerBackend

    runtime = TaggerBackend(model, device="cpu", cpu_threads=1).runtime
    texts = [ex.review.text for ex in read_dataset(dev).examples]
    found = [e for row in runtime.run(texts, task) for e in row]
    raw = [e.score for row in runtime.decode(texts, task) for e in row]
    return [e.score for e in found], raw, [e.to_dict() | {"score": None} for e in found]


def test_calibrate_writes_the_score_maps_into_both_cards(tagger_dir, tmp_path):
    source, atsa_dev, acsa_dev = tagger_dir
    model = shutil.copytree(source, tmp_path / "model")
    other = shutil.copytree(source, tmp_path / "other")
    before, raw, elements = _scores(model, "atsa", atsa_dev)
    assert before == [round(r, 6) for r in raw]
    record = _calibrate(model, "--dev", acsa_dev, "--term-dev", atsa_dev, "--also", other)
    assert record["chosen"] in record["mean_dev_f1"]  # the threshold is chosen as before
    for directory in (model, other):
        tagger = ModelCard.load(directory).extra["tagger"]
        assert tagger["none_below"] == record["none_below"]
        assert set(tagger["score_calibration"]) == {"atsa", "acsa"}
        for task, entry in tagger["score_calibration"].items():
            assert entry == record["score_calibration"][task]
            assert entry["method"] in ("platt", "isotonic") and entry["dev_elements"] >= 20
            assert entry["calibrated_on"] == str(model)
    assert record["score_calibration"]["atsa"]["dev_files"] == [str(atsa_dev)]
    # the ATSA map is fitted on, and names, the term-of-this-polarity score; ACSA's names none
    assert record["score_calibration"]["atsa"]["raw_score"] == "term_polarity"
    assert "raw_score" not in record["score_calibration"]["acsa"]
    # the runtime reports the card's map of that raw score, for the same elements: the share of a
    # term's non-O probability its polarity holds, so never above the old score (1 − mean P(O))
    score_map = ScoreMap.from_card(record["score_calibration"]["atsa"])
    after, raw_after, elements_after = _scores(model, "atsa", atsa_dev)
    assert elements_after == elements and raw_after != raw
    assert all(new <= old + 1e-12 for new, old in zip(raw_after, raw, strict=True))
    assert after == [round(score_map(r), 6) for r in raw_after] != before
    for task in ("atsa", "acsa"):  # the --also directory reports the same
        assert _scores(other, task, atsa_dev)[0] == _scores(model, task, atsa_dev)[0]


def test_calibrate_can_keep_the_threshold_and_keeps_maps_it_does_not_refit(tagger_dir,
                                                                            tmp_path):
    source, atsa_dev, acsa_dev = tagger_dir
    model = shutil.copytree(source, tmp_path / "model")
    record = _calibrate(model, "--keep-threshold", "--term-dev", atsa_dev)
    tagger = ModelCard.load(model).extra["tagger"]
    assert record["none_below"] == tagger["none_below"] == 0.9 and "calibration" not in tagger
    assert set(tagger["score_calibration"]) == {"atsa"}
    atsa_map = tagger["score_calibration"]["atsa"]
    _calibrate(model, "--keep-threshold", "--dev", acsa_dev)
    tagger = ModelCard.load(model).extra["tagger"]
    assert tagger["none_below"] == 0.9 and tagger["score_calibration"]["atsa"] == atsa_map
    assert tagger["score_calibration"]["acsa"]["dev_files"] == [str(acsa_dev)]
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate", str(model),
                                              "--term-dev", str(atsa_dev)])
    assert result.exit_code != 0 and "--keep-threshold" in result.output


def test_calibrate_with_category_groups_fits_a_map_per_dev_file(tagger_dir, tmp_path,
                                                                monkeypatch):
    import fsa_edge_tagger.calibration as calibration
    import fsa_edge_tagger.category_groups as category_groups
    from seq2seq_fixtures import synthetic_acsa

    source, atsa_dev, acsa_dev = tagger_dir
    model = shutil.copytree(source, tmp_path / "model")
    categories = ModelCard.load(model).extra["tagger"]["categories"]
    domains = {"one": set(categories[:5]), "two": set(categories[5:])}  # disjoint, like domains
    records = json.loads(acsa_dev.read_text()) + synthetic_acsa(120, 5)
    devs = {}
    for name, domain in domains.items():  # each file: the sentences all about its domain
        devs[name] = tmp_path / name / "dev.json"
        devs[name].parent.mkdir()
        devs[name].write_text(json.dumps(
            [r for r in records if {a["category"] for a in r["aspects"]} <= domain]))
    train = [r for r in synthetic_acsa(200, 9) if {a["category"] for a in r["aspects"]}
             <= domains["two"]]
    (tmp_path / "two" / "train.json").write_text(json.dumps(train))
    reads: list[str] = []
    real_read = calibration.read_dataset
    for module in (calibration, category_groups):
        monkeypatch.setattr(module, "read_dataset", lambda path, *a, **k: reads.append(str(path))
                            or real_read(path, *a, **k))
    record = _calibrate(model, "--keep-threshold", "--dev", devs["one"], "--dev", devs["two"],
                        "--category-groups")
    # each dev file is read once (the groups reuse it); the train file once, for its categories
    assert sorted(reads) == sorted(map(str, [devs["one"], devs["two"],
                                             tmp_path / "two" / "train.json"]))
    entry = ModelCard.load(model).extra["tagger"]["score_calibration"]["acsa"]
    assert entry == record["score_calibration"]["acsa"] and entry["method"] == "platt"
    assert "shared_categories" not in entry and "groups_not_fitted" not in entry
    assert [g["name"] for g in entry["groups"]] == ["one", "two"]
    for group in entry["groups"]:
        assert set(group["categories"]) == domains[group["name"]]
        assert group["dev_file"] == str(devs[group["name"]]) and group["dev_elements"] >= 20
        assert group["method"] in ("platt", "isotonic")
    assert entry["groups"][1]["category_files"] == [str(devs["two"]),
                                                    str(tmp_path / "two" / "train.json")]
    runtime = TaggerRuntime.from_directory(model, ModelCard.load(model), lambda tokens: None)
    for group in entry["groups"]:
        for category in group["categories"]:
            assert runtime.score_map("acsa", category) == ScoreMap.from_card(group)
    assert runtime.score_map("acsa", "NOT#SEEN") == ScoreMap.from_card(entry)
    _calibrate(model, "--keep-threshold", "--dev", devs["one"])  # without: the groups go
    assert "groups" not in ModelCard.load(model).extra["tagger"]["score_calibration"]["acsa"]
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate", str(model),
                                              "--keep-threshold", "--term-dev", str(atsa_dev),
                                              "--category-groups"])
    assert result.exit_code != 0 and "--category-groups needs" in result.output


# ---------------------------------------------------------------------------- the benchmark
def test_benchmark_reports_raw_and_calibrated_ece_of_the_default_model(tmp_path):
    pytest.importorskip("ctranslate2")
    from benchmark_scripts import benchmark_script

    from fsa_edge.builtin_models import DEFAULT_MODEL_DIR

    if not (DEFAULT_MODEL_DIR / "model.bin").exists():
        pytest.skip("this build ships no default model")
    atsa = [{"ID": "1", "sentence": "The bread is top notch as well.", "aspects": [
        {"from": 4, "to": 9, "target": "bread", "polarity": "positive"}]},
        {"ID": "2", "sentence": "The keyboard feels cheap.", "aspects": [
            {"from": 4, "to": 12, "target": "keyboard", "polarity": "negative"}]}]
    acsa = [{"ID": "3", "sentence": "Service was slow.", "aspects": [
        {"from": "0", "to": "0", "target": None, "category": "SERVICE#GENERAL",
         "polarity": "negative"}]}]
    for task, names, records in (("atsa", ("rest14", "laptop14"), atsa),
                                 ("acsa", ("rest16", "laptop16"), acsa)):
        for name in names:
            (tmp_path / task / name).mkdir(parents=True)
            (tmp_path / task / name / "test.json").write_text(json.dumps(records))
    out = tmp_path / "calibration"
    script = benchmark_script("calibration")
    assert script.main(["--data", str(tmp_path), "--threads", "1", "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["maps"] == {"atsa": "platt", "acsa": "platt", "aste": "platt",
                              "sentence": "beta"}  # the default's
    assert set(report["sets"]) == {"rest14", "laptop14", "rest16", "laptop16",
                                   "atsa (both sets)", "acsa (both sets)"}
    for row in report["sets"].values():
        assert row["elements"] >= 1 and 0 <= row["ece_calibrated"] <= 1 and 0 <= row["ece_raw"]
        assert sum(b["count"] for b in row["bins_raw"]) == row["elements"]
    assert "| laptop16 | acsa |" in out.with_suffix(".md").read_text()
    assert "groups" not in report and "baseline" not in report
    # --baseline: the same model against itself, the same elements and ECE
    assert script.main(["--data", str(tmp_path), "--threads", "1", "--out", str(out),
                        "--baseline", "default"]) == 0
    again = json.loads(out.with_suffix(".json").read_text())
    assert again["baseline"] == "default"
    for row in again["sets"].values():
        assert row["ece_baseline"] == row["ece_calibrated"]
    assert "ECE baseline" in out.with_suffix(".md").read_text()
    assert script.main(["--data", str(tmp_path / "none")]) == 2
