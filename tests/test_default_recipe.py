"""The default model's recipe (benchmarks/train_default.py) end to end on a tiny slice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from benchmark_scripts import benchmark_script  # noqa: E402
from seq2seq_fixtures import synthetic_acsa, synthetic_atsa, tiny_bert  # noqa: E402


def _recipe():
    return benchmark_script("train_default")


def _synthetic_rest14(data: Path, *, train: int, rest16: bool = False) -> Path:
    """A data folder holding fsa-benchmark/atsa/rest14 (and with ``rest16`` also
    acsa/rest16), synthetic; dev and test 12 each."""
    sets = [("atsa/rest14", synthetic_atsa)] + ([("acsa/rest16", synthetic_acsa)] if rest16
                                                  else [])
    for name, make in sets:
        folder = data / "fsa-benchmark" / name
        folder.mkdir(parents=True)
        for split, count, seed in (("train", train, 1), ("dev", 12, 2), ("test", 12, 3)):
            (folder / f"{split}.json").write_text(json.dumps(make(count, seed)))
    return data


def test_recipe_trains_converts_scores_and_installs(tmp_path):
    data = _synthetic_rest14(tmp_path / "data", train=64)
    student = tiny_bert(tmp_path / "bert", hidden=32, layers=2, heads=4)
    install = tmp_path / "installed"
    status = _recipe().main([
        "--out", str(tmp_path / "run"), "--data", str(data), "--datasets", "rest14",
        "--kind", "seq2seq", "--student", str(student), "--epochs", "1", "--threads", "1", "--decoder-layers", "1",
        "--lr", "1e-3", "--min-agreement", "0", "--max-mean-delta", "10",
        "--record", str(tmp_path / "record.json"), "--install", "--install-dir", str(install)])
    assert status == 0
    card = json.loads((install / "fsa_edge.json").read_text())
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["test_int8"]["rest14"]["f1"] == card["default_model"]["test"]["rest14"]["f1"]
    assert card["backend"] == "ctranslate2" and card["quantization"] == "int8"
    recorded = card["default_model"]
    assert recorded["test"]["rest14"]["records"] == 12 and "f1" in recorded["test"]["rest14"]
    assert recorded["seed"] == 42 and recorded["size_mb"] > 0

    import fsa_edge

    result = fsa_edge.load(install).analyze("The pizza was great.")
    assert result.error is None and result.task == "atsa"
    shutil.rmtree(tmp_path / "run")


def test_tagger_recipe_trains_converts_scores_and_installs(tmp_path):
    data = _synthetic_rest14(tmp_path / "data", train=96, rest16=True)
    student = tiny_bert(tmp_path / "bert", hidden=32, layers=2, heads=4)
    install = tmp_path / "installed"
    status = _recipe().main([
        "--out", str(tmp_path / "run"), "--data", str(data), "--datasets", "rest14,rest16",
        "--kind", "tagger", "--student", str(student), "--epochs", "2", "--threads", "1",
        "--lr", "1e-3", "--min-agreement", "0", "--max-mean-delta", "10", "--ema", "0.9",
        "--share-category-parts", "--record", str(tmp_path / "record.json"), "--install",
        "--install-dir", str(install)])
    assert status == 0
    card = json.loads((install / "fsa_edge.json").read_text())
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["recipe"]["ema"] == 0.9 and len(record["dev_history"]) == 2
    assert record["recipe"]["share_category_parts"] is True
    assert record["kept_epoch"] in (1, 2) and record["train_seconds"] > 0
    assert record["test_int8"]["rest16"]["counting"] == "paper"
    assert record["test_int8"]["rest14"]["f1"] == card["default_model"]["test"]["rest14"]["f1"]
    assert "disagreements" not in record["parity_int8"] and record["size_mb"] > 0
    assert card["backend"] == "tagger" and card["quantization"] == "int8"
    assert (install / "heads.npz").is_file()
    assert card["default_model"]["test"]["rest14"]["records"] == 12
    assert card["default_model"]["test"]["rest16"]["task"] == "acsa"
    assert card["tagger"]["pooling"] == "attention" and "none_below" in card["tagger"]
    assert card["tagger"]["calibration"]["dev_f1"]  # calibrated on rest16 dev before converting

    import fsa_edge

    result = fsa_edge.load(install).analyze("The pizza was great.")
    assert result.error is None and result.task == "atsa"
    assert fsa_edge.load(install).analyze("The pizza was great.", task="acsa").error is None


def test_tagger_only_options_are_refused_for_the_seq2seq_recipe(tmp_path):
    with pytest.raises(SystemExit, match="--ema: only for --kind tagger"):
        _recipe().main(["--out", str(tmp_path / "run"), "--kind", "seq2seq", "--ema", "0.99"])
