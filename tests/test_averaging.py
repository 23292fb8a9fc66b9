"""Weight averaging of trained taggers (``fsa-edge train tagger average``, a "model soup")."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner


@pytest.fixture(scope="module")
def two_taggers(tmp_path_factory):
    """Two taggers fine-tuned from one tiny BERT on the same data with different seeds."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seq2seq_fixtures import tagger_data, tiny_bert

    from fsa_edge_tagger.training import finetune_tagger

    root = tmp_path_factory.mktemp("soup")
    bert = tiny_bert(root / "bert", hidden=32, heads=4)
    atsa, acsa = tagger_data(root, (120, 20), (80, 10))
    for seed in (1, 2):
        finetune_tagger([atsa, acsa], student=str(bert), out=root / f"seed{seed}", epochs=3,
                        batch_size=16, lr=2e-3, head_lr=5e-3, seed=seed, device="cpu",
                        threads=1, log_every=0)
    return root


def weights_of(directory):
    from safetensors.numpy import load_file

    with np.load(directory / "heads.npz") as heads:
        return load_file(str(directory / "model.safetensors")), dict(heads)


def average(*args):
    from fsa_edge.cli import build_cli

    return CliRunner().invoke(build_cli(), ["train", "tagger", "average", *map(str, args)])


def test_the_average_is_the_weighted_mean_of_every_parameter(two_taggers, tmp_path):
    root = two_taggers
    card_path = root / "seed1" / "fsa_edge.json"
    card = json.loads(card_path.read_text())
    card["tagger"]["none_below"] = 0.7  # a calibrated field of one ingredient: not carried over
    card["merged_score_calibration"] = {"sentence": {"method": "platt", "a": 1.0, "b": 2.0}}
    card_path.write_text(json.dumps(card))

    result = average(root / "seed1", root / "seed2", "--out", tmp_path / "even")
    assert result.exit_code == 0, result.output
    result = average(root / "seed1", root / "seed2", "--out", tmp_path / "3to1",
                     "--weight", "3", "--weight", "1")
    assert result.exit_code == 0, result.output
    (enc1, heads1), (enc2, heads2) = weights_of(root / "seed1"), weights_of(root / "seed2")
    for name, weight in (("even", 0.5), ("3to1", 0.75)):
        encoder, heads = weights_of(tmp_path / name)
        assert sorted(encoder) == sorted(enc1) and sorted(heads) == sorted(heads1)
        for mine, one, two in ([encoder, enc1, enc2], [heads, heads1, heads2]):
            for key in one:
                expected = (weight * one[key].astype(np.float64)
                            + (1 - weight) * two[key].astype(np.float64))
                if np.issubdtype(one[key].dtype, np.floating):
                    assert np.abs(mine[key] - expected).max() < 1e-6, key
                else:
                    assert (mine[key] == one[key]).all(), key
        assert not np.allclose(encoder["embeddings.word_embeddings.weight"],
                               enc1["embeddings.word_embeddings.weight"])
    averaged = json.loads((tmp_path / "even" / "fsa_edge.json").read_text())
    assert [(i["seed"], i["weight"]) for i in averaged["averaged_from"]] == [(1, 0.5), (2, 0.5)]
    assert "none_below" not in averaged["tagger"] and "seed" not in averaged
    assert "merged_score_calibration" not in averaged
    assert averaged["tagger"]["categories"] == card["tagger"]["categories"]
    assert averaged["tasks"] == ["atsa", "acsa"] and averaged["backend"] == "tagger"
    assert (tmp_path / "even" / "tokenizer.json").is_file()

    result = average(root / "seed1", "--out", tmp_path / "one")  # a soup's first step
    assert result.exit_code == 0, result.output
    encoder, heads = weights_of(tmp_path / "one")
    for mine, one in ((encoder, enc1), (heads, heads1)):
        assert all(np.array_equal(mine[key], one[key]) for key in one)
    alone = json.loads((tmp_path / "one" / "fsa_edge.json").read_text())
    assert "none_below" not in alone["tagger"] and "merged_score_calibration" not in alone
    assert [(i["seed"], i["weight"]) for i in alone["averaged_from"]] == [(1, 1.0)]


def test_an_average_of_a_tagger_with_its_copy_serves_the_same_answers(two_taggers, tmp_path):
    """The averaged folder converts and serves like any trained tagger: averaged with an exact
    copy of itself, a tagger gives back its own answers."""
    pytest.importorskip("ctranslate2")
    import fsa_edge
    from fsa_edge_converters import convert

    root = two_taggers
    shutil.copytree(root / "seed2", tmp_path / "twin")
    assert average(root / "seed2", tmp_path / "twin", "--out", tmp_path / "self").exit_code == 0
    texts = [r["sentence"] for name in ("dev.json", "acsa_dev.json")
             for r in json.loads((root / name).read_text())]
    answers = []
    for source in (root / "seed2", tmp_path / "self"):
        converted = tmp_path / f"{source.name}-f32"
        assert convert(source, converted, quantization="float32").parity.passed
        analyzer = fsa_edge.load(converted, device="cpu")
        answers.append([r.answers for r in analyzer.analyze(texts, task="all")])
    assert answers[0] == answers[1]
    assert sum(len(a["atsa"]) + len(a["acsa"]) for a in answers[0]) >= len(texts) // 2


def test_ingredients_that_do_not_match_are_refused_with_the_folder_named(two_taggers,
                                                                         tmp_path):
    root = two_taggers
    other = tmp_path / "other_categories"
    shutil.copytree(root / "seed2", other)
    card = json.loads((other / "fsa_edge.json").read_text())
    card["tagger"]["categories"] = card["tagger"]["categories"][:-1]
    (other / "fsa_edge.json").write_text(json.dumps(card))
    result = average(root / "seed1", other, "--out", tmp_path / "x")
    assert result.exit_code != 0 and "other_categories" in result.output
    assert "tagger.categories" in result.output and not (tmp_path / "x").exists()

    config = tmp_path / "other_config"
    shutil.copytree(root / "seed2", config)
    data = json.loads((config / "config.json").read_text())
    data["hidden_act"] = "relu"
    (config / "config.json").write_text(json.dumps(data))
    result = average(root / "seed1", config, "--out", tmp_path / "y")
    assert result.exit_code != 0 and "other_config" in result.output
    assert "hidden_act" in result.output

    result = average(root / "seed1", root / "bert", "--out", tmp_path / "z")
    assert result.exit_code != 0 and "not a trained tagger directory" in result.output
    result = average(root / "seed1", root / "seed2", "--out", tmp_path / "z", "--weight", "1")
    assert result.exit_code != 0 and "one --weight per model" in result.output
    from fsa_edge_tagger.averaging import average_taggers
    from fsa_edge.errors import TrainingError
    with pytest.raises(TrainingError, match="at least one tagger directory"):
        average_taggers([], tmp_path / "none")


def test_the_greedy_soup_keeps_an_ingredient_only_when_the_dev_mean_rises(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from benchmark_scripts import benchmark_script

    soup = benchmark_script("soup")
    # dev mean of each candidate, by its set of ingredients (no model is trained or scored here)
    means = {("a",): 60.0, ("a", "b"): 61.0, ("a", "b", "c"): 60.5, ("a", "b", "d"): 61.5,
             ("a", "b", "c", "d"): 61.2}
    calls = []

    def fake_evaluate(step, ingredients, args):
        key = tuple(p.name for p in ingredients)
        calls.append((step.name, key))
        return {"step": step.name, "ingredients": [str(p) for p in ingredients],
                "dev_mean": means[key], "dev": {"rest14": means[key]},
                "test": {"rest14": 0.0}, "model": str(step / "ct2-int8")}

    monkeypatch.setattr(soup, "evaluate", fake_evaluate)
    record = tmp_path / "soup.json"
    args = ["--out", str(tmp_path / "run"), "--record", str(record)]
    for name in "abcd":
        args += ["--ingredient", str(tmp_path / name)]
    assert soup.main(args) == 0
    summary = json.loads(record.read_text())
    assert [c[1] for c in calls] == [("a",), ("a", "b"), ("a", "b", "c"), ("a", "b", "d"),
                                     ("a", "b", "c", "d")]
    assert [s["kept"] for s in summary["steps"]] == ["start", "yes", "no", "yes", "uniform"]
    assert [Path(p).name for p in summary["greedy_soup"]] == ["a", "b", "d"]
    assert summary["chosen"]["step"] == "greedy_4" and summary["chosen"]["dev_mean"] == 61.5
    assert "greedy_4" in record.with_suffix(".md").read_text()


def test_common_tasks_leaves_out_a_head_one_ingredient_lacks(two_taggers, tmp_path):
    """A student with a sentence head (say a distilled one) and one without average into a
    tagger of their common tasks; a task whose head others read cannot be left out."""
    root = two_taggers
    with_sentence = tmp_path / "with_sentence"
    shutil.copytree(root / "seed2", with_sentence)
    _, heads = weights_of(with_sentence)
    dim = heads["term.weight"].shape[1]
    heads.update({"sentence.weight": np.ones((3, dim), np.float32),
                  "sentence.bias": np.zeros(3, np.float32)})
    np.savez(with_sentence / "heads.npz", **heads)
    card = json.loads((with_sentence / "fsa_edge.json").read_text())
    card["tasks"] = ["atsa", "acsa", "sentence"]
    card["tagger"]["sentence_head"] = {"method": "distilled"}
    (with_sentence / "fsa_edge.json").write_text(json.dumps(card))

    result = average(root / "seed1", with_sentence, "--out", tmp_path / "refused")
    assert result.exit_code != 0 and "tasks ['atsa', 'acsa', 'sentence'] differ" in result.output
    result = average(with_sentence, root / "seed1", "--out", tmp_path / "common",
                     "--common-tasks")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tasks"] == ["atsa", "acsa"]
    averaged = json.loads((tmp_path / "common" / "fsa_edge.json").read_text())
    assert averaged["tasks"] == ["atsa", "acsa"] and "sentence_head" not in averaged["tagger"]
    _, mine = weights_of(tmp_path / "common")
    (_, heads1), (_, heads2) = weights_of(root / "seed1"), weights_of(root / "seed2")
    assert sorted(mine) == sorted(heads1)
    for name in heads1:
        assert np.abs(mine[name] - (heads1[name] + heads2[name]) / 2).max() < 1e-6, name

    from benchmark_scripts import benchmark_script

    hf = benchmark_script("soup").make(tmp_path / "step", [with_sentence, root / "seed1"],
                                       common_tasks=True)
    assert json.loads((hf / "fsa_edge.json").read_text())["tasks"] == ["atsa", "acsa"]

    terms_only = tmp_path / "terms_only"
    shutil.copytree(root / "seed2", terms_only)
    card = json.loads((terms_only / "fsa_edge.json").read_text())
    card["tasks"] = ["atsa"]
    (terms_only / "fsa_edge.json").write_text(json.dumps(card))
    result = average(root / "seed1", terms_only, "--out", tmp_path / "x", "--common-tasks")
    assert result.exit_code != 0 and "seed1" in result.output and "acsa" in result.output
    assert not (tmp_path / "x").exists()
