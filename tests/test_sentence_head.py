"""The zero-shot sentence head: pseudo-labels from agreeing fine-grained answers only, a numpy
fit on the frozen encoder that leaves the other tasks untouched, one answer per review."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import fsa_edge
from fsa_edge.api import resolve_model
from fsa_edge.cli import build_cli
from fsa_edge.errors import BackendError
from fsa_edge.model import SentimentElement
from fsa_edge.score_map import ScoreMap
from fsa_edge.windows import (MERGED_SCORE_CALIBRATION, mapped_scores, merge_polarity,
                              merged_score_maps)
from fsa_edge_tagger.sentence_head import agreeing_polarity, fit_sentence_head

ROOT = Path(__file__).resolve().parents[1]
POSITIVE = ["The pasta was delicious and the staff were lovely.", "I love this laptop.",
            "Great food, great service, great prices.", "The screen is bright and beautiful.",
            "Wonderful dinner, we will be back!", "The battery lasts forever, excellent.",
            "Fantastic sushi and friendly waiters.", "Best keyboard I have ever used."]
NEGATIVE = ["The soup was cold and the waiter was rude.", "I hate this laptop.",
            "Terrible food, awful service, high prices.", "The screen is dim and ugly.",
            "Horrible dinner, we will never come back.", "The battery dies in an hour, awful.",
            "Stale sushi and rude waiters.", "Worst keyboard I have ever used."]
NEUTRAL = ["We ordered the pasta and a salad.", "I bought this laptop in May.",
           "The restaurant is on the corner of Main Street.", "The screen is 15 inches.",
           "We went there for dinner on Friday.", "It comes with a charger.",
           "They serve sushi and noodles.", "The keyboard has a number pad."]


def test_agreeing_polarity():
    assert agreeing_polarity(["positive", "positive"]) == "positive"
    assert agreeing_polarity(["positive", "negative"]) is None
    assert agreeing_polarity([]) is None and agreeing_polarity(["conflict"]) is None


def test_the_fit_separates_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 16))
    labels = ["positive", "negative", "neutral"] * 60
    features = np.stack([centres[i % 3] + rng.normal(0, 1, 16) for i in range(180)])
    weight, bias = fit_sentence_head(features, labels)
    predicted = (features @ weight.T + bias).argmax(axis=1)
    assert (predicted == np.arange(180) % 3).mean() >= 0.95


def test_neutral_parts_abstain_when_a_part_has_an_opinion():
    neutral = (SentimentElement("neutral", score=0.9),)
    negative = (SentimentElement("negative", score=0.6),)
    merged = merge_polarity([((0, 100), neutral), ((101, 140), negative), ((141, 300), neutral)])
    assert merged[0].polarity == "negative"
    assert merge_polarity([((0, 10), neutral)])[0].polarity == "neutral"


def test_the_merged_score_goes_through_the_models_map_and_keeps_the_decision():
    positive = (SentimentElement("positive", score=0.8),)
    negative = (SentimentElement("negative", score=0.9),)
    found = [((0, 100), positive), ((101, 140), negative), ((141, 300), positive)]
    share = merge_polarity(found)[0]
    assert share.polarity == "positive" and share.score == pytest.approx((100 + 159) * 0.8 / 298,
                                                                          abs=1e-6)
    score_map = ScoreMap("platt", a=1.0, b=2.0)
    mapped = mapped_scores(merge_polarity(found), score_map)[0]
    assert mapped.polarity == "positive" and mapped.score == pytest.approx(score_map(share.score),
                                                                           abs=1e-6)
    assert mapped_scores(merge_polarity(found), None) == merge_polarity(found)
    maps = merged_score_maps({MERGED_SCORE_CALIBRATION: {"sentence": score_map.parameters()}})
    assert maps == {"sentence": score_map} and merged_score_maps({}) == {}
    with pytest.raises(BackendError, match=f"{MERGED_SCORE_CALIBRATION}.sentence"):
        merged_score_maps({MERGED_SCORE_CALIBRATION: {"sentence": {"method": "odd"}}})
    with pytest.raises(BackendError, match=MERGED_SCORE_CALIBRATION):
        merged_score_maps({MERGED_SCORE_CALIBRATION: ["platt"]})


def test_the_tagger_merges_a_long_text_on_its_polar_parts_pooled_states():
    """One head decision on the length-weighted mean of the inputs of the parts the head calls
    polar; neutral parts abstain unless no part is polar."""
    from types import SimpleNamespace

    from fsa_edge_tagger.runtime import TaggerRuntime
    from fsa_edge_tagger.sentence_head import SENTENCE_CLASSES

    one_hot = {c: np.eye(3, dtype=np.float32)[i] * 4 for i, c in enumerate(SENTENCE_CLASSES)}
    runtime = SimpleNamespace(heads={"sentence.weight": np.eye(3, dtype=np.float32),
                                     "sentence.bias": np.zeros(3, dtype=np.float32)})
    merge = TaggerRuntime.merge_sentence.__get__(runtime)
    states = np.stack([one_hot["neutral"], one_hot["positive"], one_hot["negative"]])
    assert merge(states, [500, 30, 10])[0] == "positive"  # the long neutral part abstains
    assert merge(states, [500, 10, 30])[0] == "negative"
    polarity, probability = merge(states[:1], [20])
    assert polarity == "neutral" and 0.9 < probability < 1  # nothing polar: all parts
    mixed = np.stack([one_hot["positive"] + one_hot["negative"] * 0.9, one_hot["negative"]])
    assert merge(mixed, [100, 100])[0] == "negative"  # pooled, not voted: (4, 3.6)+(0, 4)


@pytest.fixture(scope="module")
def headed(tmp_path_factory):
    """A copy of the default model with a sentence head fitted on hand-written sentences."""
    root = tmp_path_factory.mktemp("head")
    model = shutil.copytree(resolve_model("default").path, root / "model")
    labels = root / "labels.jsonl"
    labels.write_text("".join(json.dumps({"text": t, "polarity": p, "source": "hand"}) + "\n"
                              for p, texts in (("positive", POSITIVE), ("negative", NEGATIVE),
                                               ("neutral", NEUTRAL)) for t in texts))
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "sentence-head", str(model),
                                              "--pseudo-labels", str(labels), "--threads", "1"])
    assert result.exit_code == 0, result.output
    return model


def test_the_head_is_served_and_changes_nothing_else(headed):
    card = json.loads((headed / "fsa_edge.json").read_text())
    assert "sentence" in card["tasks"] and card["tagger"]["sentence_head"]["texts"] == 24
    texts = POSITIVE[:3] + NEGATIVE[:3] + ["The soup was wonderful but the waiter was rude."]
    with fsa_edge.load("default", cpu_threads=1) as before, \
            fsa_edge.load(headed, cpu_threads=1) as after:
        for task in ("atsa", "acsa"):
            assert ([r.to_dict() for r in before.analyze(texts, task=task)]
                    == [dict(r.to_dict(), model="default")
                        for r in after.analyze(texts, task=task)])
        results = after.analyze(POSITIVE + NEGATIVE + NEUTRAL, task="sentence")
        assert all(len(r.elements) == 1 and 0 < r.elements[0].score <= 1 for r in results)
        right = [r.elements[0].polarity == p for r, p in
                 zip(results, ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8)]
        assert sum(right) >= 20  # fitted on these 24
        every = after.analyze(texts[0], task="all")
        assert set(every.answers) == set(card["tasks"])  # the head's task among the others


def test_a_long_review_gets_one_sentence_answer(headed):
    text = "The pasta was delicious and the staff were lovely. " + " ".join(
        f"We went there on a Tuesday number {i} with some friends from work." for i in range(14))
    with fsa_edge.load(headed, cpu_threads=1) as analyzer:
        result = analyzer.analyze(text, task="sentence")
    assert result.parts > 1 and len(result.elements) == 1
    assert result.elements[0].polarity == "positive"


def test_a_bad_pseudo_label_names_file_line_and_field(tmp_path, headed):
    labels = tmp_path / "bad.jsonl"
    labels.write_text(json.dumps({"text": "Fine.", "polarity": "positive"}) + "\n"
                      + json.dumps({"text": "Odd.", "polarity": "great"}) + "\n")
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "sentence-head", str(headed),
                                              "--pseudo-labels", str(labels)])
    assert result.exit_code == 2
    assert f"{labels}, line 2, field 'polarity'" in result.output


def test_the_recipe_reads_no_sentence_label(tmp_path, monkeypatch):
    """Pseudo-labels come from fine-grained elements only: a sentence-sentiment text (even one
    whose label disagrees) never becomes a training row, and its label is never used."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sentence_head

    data = tmp_path / "data"
    bench = data / "fsa-benchmark" / "atsa" / "toy"
    bench.mkdir(parents=True)
    records = [{"ID": f"t{i}", "sentence": text, "aspects": [
        {"target": text.split()[1], "polarity": polarity, "from": "4",
         "to": str(4 + len(text.split()[1])), "category": None, "opinion_words": None}]}
        for i, (text, polarity) in enumerate([(POSITIVE[0], "positive"),
                                              (NEGATIVE[0], "negative")])]
    (bench / "train.json").write_text(json.dumps(records))
    sentences = data / "sentence-sentiment" / "yelp2"
    sentences.mkdir(parents=True)
    (sentences / "train.json").write_text(json.dumps(
        [{"sentence": POSITIVE[0], "label": "negative"},
         {"sentence": "An unrelated review that is only in yelp.", "label": "positive"}]))
    (sentences / "test.json").write_text(json.dumps([{"sentence": NEGATIVE[0],
                                                       "label": "negative"}]))
    read = []
    original = fsa_edge.readers.read_dataset

    def recording(path, *args, **kwargs):
        read.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(fsa_edge.readers, "read_dataset", recording)
    monkeypatch.setattr(sentence_head, "GOLD_TRAIN", ("fsa-benchmark/atsa/toy/train.json",))
    rows, counts = sentence_head.pseudo_labels(data, ["gold"], [])
    assert rows == [{"text": POSITIVE[0], "polarity": "positive",
                     "source": "gold:fsa-benchmark/atsa/toy/train.json"}]
    assert counts["gold:fsa-benchmark/atsa/toy/train.json"]["held_out"] == 1  # a test sentence
    assert sentences / "train.json" not in read  # only held-out splits are read, for the guard


def test_an_untuned_warm_start_is_probed_as_pretrained(tmp_path, monkeypatch):
    """``sentence_head.py --encoder``: the warm start becomes a converted tagger whose encoder
    is the pre-trained one, weight for weight (nothing fine-tuned), so a sentence head can be
    fitted on it."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from safetensors.numpy import load_file
    from seq2seq_fixtures import tagger_data, tiny_bert

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sentence_head

    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    atsa, acsa = tagger_data(tmp_path, (12, 4), (12, 4))
    for task, name, item in (("atsa", "rest14", atsa), ("acsa", "rest16", acsa)):
        folder = data / "fsa-benchmark" / task / name
        folder.mkdir(parents=True)
        shutil.copy(item.train, folder / "train.json")
        shutil.copy(item.dev, folder / "dev.json")
    encoder = tiny_bert(tmp_path / "bert", hidden=32, heads=4)
    model = sentence_head.untuned_model(str(encoder), tmp_path / "out", data)
    assert model == tmp_path / "out" / "untuned" / "ct2-int8" and (model / "model.bin").is_file()
    pretrained = load_file(str(encoder / "model.safetensors"))
    saved = load_file(str(tmp_path / "out" / "untuned" / "hf" / "model.safetensors"))
    shared = [name for name in pretrained if name in saved]
    assert len(shared) >= len(pretrained) - 2  # at most the unused pooler may be left out
    assert all(np.array_equal(pretrained[name], saved[name]) for name in shared)
    with fsa_edge.load(model, device="cpu") as served:
        assert served.analyze(["The pasta was great."], task="atsa")[0].error is None


def _teacher_row(text: str, sentence: list[float] | None) -> dict:
    """A row of a tagger teacher's corpus with only a sentence distribution; its classes are
    stored in another order than SENTENCE_CLASSES (the reader must reorder them)."""
    soft = {"version": 1} if sentence is None else {"version": 1, "sentence": sentence}
    return {"format": 1, "id": f"u:{len(text)}", "occurrence": 0, "text": text, "error": None,
            "teacher": {"name": "tagger", "sentence_classes": ["neutral", "negative", "positive"]},
            "teacher_extra": {"soft_targets": soft}}


def test_teacher_sentence_labels_are_the_teachers_most_probable_polarity(tmp_path):
    """``--signals teacher-sentence``: a row's pseudo-label is the argmax of the teacher's own
    sentence distribution (classes matched by name); a row without one names file, line and
    field."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sentence_head

    from fsa_edge.errors import InputError

    corpus = tmp_path / "corpus.jsonl"
    answers = [(POSITIVE[0], [-3.0, -2.5, -0.1]), (NEGATIVE[0], [-2.0, -0.2, -3.0]),
               (NEUTRAL[0], [-0.3, -2.0, -2.0])]
    corpus.write_text("".join(json.dumps(_teacher_row(t, s)) + "\n" for t, s in answers))
    (tmp_path / "data").mkdir()
    rows, counts = sentence_head.pseudo_labels(tmp_path / "data", ["teacher-sentence"], [corpus])
    assert [(r["text"], r["polarity"]) for r in rows] == [
        (POSITIVE[0], "positive"), (NEGATIVE[0], "negative"), (NEUTRAL[0], "neutral")]
    assert counts[f"teacher-sentence:{corpus}"]["kept"] == 3
    corpus.write_text(json.dumps(_teacher_row(POSITIVE[1], [-3.0, -2.5, -0.1])) + "\n"
                      + json.dumps(_teacher_row(POSITIVE[2], None)) + "\n")
    with pytest.raises(InputError, match="line 2, field 'teacher_extra.soft_targets.sentence'"):
        sentence_head.pseudo_labels(tmp_path / "data", ["teacher-sentence"], [corpus])


def test_the_agreement_holdout_is_fixed_and_takes_teacher_sentence_rows_only():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sentence_head

    texts = [f"Review number {i} says the food was fine." for i in range(2000)]
    rows = ([{"text": t, "polarity": "positive", "source": "teacher-sentence:c"} for t in texts]
            + [{"text": t, "polarity": "positive", "source": "gold:x"} for t in texts[:200]])
    fit, held = sentence_head.split_holdout(rows, 0.1)
    assert 140 <= len(held) <= 260 and len(fit) + len(held) == len(rows)
    assert all(r["source"] == "teacher-sentence:c" for r in held)
    assert sentence_head.split_holdout(list(reversed(rows)), 0.1)[1] == list(reversed(held))
    assert sentence_head.split_holdout(rows, 0.0) == (rows, [])


def test_teacher_agreement_counts_the_heads_answers(headed):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sentence_head

    right = [{"text": t, "polarity": p} for p, texts in (("positive", POSITIVE),
                                                         ("negative", NEGATIVE)) for t in texts]
    wrong = [dict(r, polarity="negative" if r["polarity"] == "positive" else "positive")
             for r in right]
    agreeing = sentence_head.teacher_agreement({"head": headed}, right)["head"]
    assert agreeing >= 80  # the head was fitted on these texts
    assert sentence_head.teacher_agreement({"head": headed}, wrong) == {
        "texts": 16, "head": pytest.approx(100 - agreeing)}


def _calibrate(model: Path, option: str, dev: Path, records: list[dict]):
    """``fsa-edge train tagger calibrate MODEL --keep-threshold OPTION DEV`` with ``records``
    written to ``dev``."""
    dev.write_text(json.dumps(records))
    return CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate", str(model),
                                            "--keep-threshold", option, str(dev),
                                            "--threads", "1"])


def test_the_sentence_score_map_is_fitted_on_agreeing_dev_texts(tmp_path, headed):
    """``calibrate --sentence-dev``: the map is fitted on the dev texts whose gold elements
    share one polarity (a mixed text is left out), the other tasks' maps and thresholds stay,
    and the served `sentence` score is the map of the raw probability."""
    from fsa_edge_tagger.runtime import score_maps

    model = shutil.copytree(headed, tmp_path / "model")
    before = json.loads((model / "fsa_edge.json").read_text())["tagger"]
    records = [{"ID": f"d{i}", "sentence": text, "aspects": [
        {"target": text.split()[1], "polarity": polarity, "from": 4,
         "to": 4 + len(text.split()[1]), "category": None, "opinion_words": None}]}
        for i, (text, polarity) in enumerate(
            [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
            + [(t, "neutral") for t in NEUTRAL])]
    mixed = "The pasta was great but the service was slow."
    records.append({"ID": "mixed", "sentence": mixed, "aspects": [
        {"target": "pasta", "polarity": "positive", "from": 4, "to": 9},
        {"target": "service", "polarity": "negative", "from": 28, "to": 35}]})
    dev = tmp_path / "dev.json"
    result = _calibrate(model, "--sentence-dev", dev, records)
    assert result.exit_code == 0, result.output
    tagger = json.loads((model / "fsa_edge.json").read_text())["tagger"]
    entry = tagger["score_calibration"]["sentence"]
    assert entry["dev_elements"] == 24 and entry["dev_files"] == [str(dev)]
    assert {t: e for t, e in tagger["score_calibration"].items() if t != "sentence"} \
        == before["score_calibration"]
    assert tagger["none_below"] == before["none_below"]
    sentence_map = score_maps({"sentence": entry})["sentence"]
    with fsa_edge.load(headed, cpu_threads=1) as raw, fsa_edge.load(model, cpu_threads=1) as mapped:
        pairs = list(zip(raw.analyze(POSITIVE[:4], task="sentence"),
                         mapped.analyze(POSITIVE[:4], task="sentence")))
    for old, new in pairs:
        assert new.elements[0].polarity == old.elements[0].polarity
        assert new.elements[0].score == pytest.approx(sentence_map(old.elements[0].score),
                                                      abs=2e-6)
    assert any(abs(new.elements[0].score - old.elements[0].score) > 1e-3 for old, new in pairs)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"text": t, "polarity": "positive"}) + "\n"
                              for t in POSITIVE) + "".join(
        json.dumps({"text": t, "polarity": "negative"}) + "\n" for t in NEGATIVE))
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "sentence-head", str(model),
                                              "--pseudo-labels", str(labels), "--threads", "1"])
    assert result.exit_code == 0, result.output
    refitted = json.loads((model / "fsa_edge.json").read_text())["tagger"]["score_calibration"]
    assert "sentence" not in refitted and refitted == before["score_calibration"]


def _review_records(reviews: list[tuple[str, list[str], str]]) -> list[dict]:
    """SemEval-2016-style records (``REVIEW:SENTENCE`` ids, sentence order shuffled) with one
    element of the given polarity per sentence."""
    records = []
    for review, sentences, polarity in reviews:
        for index, text in reversed(list(enumerate(sentences))):
            records.append({"ID": f"{review}:{index}", "sentence": text, "aspects": [
                {"target": None, "category": "FOOD#QUALITY", "polarity": polarity,
                 "from": 0, "to": 0}]})
    return records


def test_the_merged_score_map_is_fitted_on_agreeing_dev_reviews(tmp_path, headed):
    """``calibrate --review-dev``: reviews of two or more sentences whose gold agrees, read in
    sentences; the map goes into the card's merged field, the analyzer applies it to a long
    text's merged answer (same polarity), a short text's score is untouched; an id that is not
    REVIEW:SENTENCE names the file and the id."""
    model = shutil.copytree(headed, tmp_path / "model")
    assert MERGED_SCORE_CALIBRATION not in json.loads((model / "fsa_edge.json").read_text())
    reviews = [(f"p{i}", [POSITIVE[i % 8], POSITIVE[(i + 1 + i // 8) % 8]], "positive")
               for i in range(12)]
    reviews += [(f"n{i}", [NEGATIVE[i % 8], NEGATIVE[(i + 1 + i // 8) % 8]], "negative")
                for i in range(12)]
    left_out = [("mixed", [POSITIVE[0], NEGATIVE[0]], "positive"), ("one", [POSITIVE[1]],
                                                                    "positive")]
    records = _review_records(reviews + left_out)
    records[-3]["aspects"][0]["polarity"] = "negative"  # the mixed review disagrees
    dev = tmp_path / "dev.json"
    result = _calibrate(model, "--review-dev", dev, records)
    assert result.exit_code == 0, result.output
    card = json.loads((model / "fsa_edge.json").read_text())
    entry = card[MERGED_SCORE_CALIBRATION]["sentence"]
    assert entry["dev_elements"] == 24 and entry["dev_files"] == [str(dev)]
    assert card["tagger"] == json.loads((headed / "fsa_edge.json").read_text())["tagger"]
    merged_map = ScoreMap.from_card(entry)
    long_text = " ".join(POSITIVE + NEGATIVE[:2] + [
        f"We went there on a Tuesday number {i} with some friends from work." for i in range(8)])
    with fsa_edge.load(headed, cpu_threads=1) as plain, \
            fsa_edge.load(model, cpu_threads=1) as mapped:
        old, new = (a.analyze([long_text, POSITIVE[0]], task="sentence") for a in (plain, mapped))
        every = mapped.analyze(long_text, task="all")
    assert old[0].parts > 1 and new[0].parts == old[0].parts
    assert new[0].elements[0].polarity == old[0].elements[0].polarity
    assert new[0].elements[0].score == pytest.approx(merged_map(old[0].elements[0].score),
                                                     abs=2e-6)
    assert abs(new[0].elements[0].score - old[0].elements[0].score) > 1e-3
    assert every.answers["sentence"] == new[0].elements  # --task all merges the same way
    assert new[1].elements == old[1].elements  # one part: the sentence map's score, as before
    bad = tmp_path / "bad.json"
    result = _calibrate(model, "--review-dev", bad, records[:4] + [dict(records[4], ID="d7")])
    assert result.exit_code != 0
    assert str(bad) in result.output and "'d7'" in result.output
