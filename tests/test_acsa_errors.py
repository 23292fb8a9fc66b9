"""The ACSA error analysis script (benchmarks/acsa_errors.py) on a few sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402


def _record(index: int, sentence: str, category: str, polarity: str) -> dict:
    return {"ID": str(index), "sentence": sentence, "aspects": [
        {"from": "0", "to": "0", "target": None, "category": category, "polarity": polarity}]}


def test_one_domain_keeps_the_domain_of_the_most_confident_category():
    script = benchmark_script("acsa_errors")
    domain_of = np.array([0, 0, 1])
    decided = np.array([1, 0, 2])  # found: category 0 (domain 0) and category 2 (domain 1)
    probs = np.array([[0.4, 0.6, 0, 0, 0], [0.9, 0.1, 0, 0, 0], [0.1, 0, 0.9, 0, 0]])
    assert script.one_domain(probs, decided, domain_of).tolist() == [0, 0, 2]
    probs[0, 0] = 0.05  # now category 0 is the most confident
    assert script.one_domain(probs, decided, domain_of).tolist() == [1, 0, 0]
    assert script.prf(3, 4, 6) == {"precision": 75.0, "recall": 50.0, "f1": 60.0}


def test_report_on_the_default_model(tmp_path):
    data = tmp_path / "acsa"
    sets = {"rest16": [_record(1, "The pizza was great.", "FOOD#QUALITY", "positive"),
                       _record(2, "Service was slow.", "SERVICE#GENERAL", "negative")],
            "laptop16": [_record(3, "The battery dies fast.", "BATTERY#OPERATION_PERFORMANCE",
                                 "negative"),
                         _record(4, "Great laptop.", "LAPTOP#GENERAL", "positive")]}
    for name, records in sets.items():
        (data / name).mkdir(parents=True)
        for split in ("train", "test"):
            (data / name / f"{split}.json").write_text(json.dumps(records), encoding="utf-8")
    out = tmp_path / "errors.json"
    status = benchmark_script("acsa_errors").main(["--data", str(data), "--threads", "1",
                                                   "--out", str(out)])
    assert status == 0
    report = json.loads(out.read_text())
    for name in sets:
        row = report["sets"][name]
        assert row["records"] == 2 and 0 <= row["pair_f1"] <= 100
        assert 0 <= row["cross_domain_predictions"] <= row["predicted_categories"]
        assert set(row["detection"]) == {"precision", "recall", "f1"}
    assert "| rest16 |" in out.with_suffix(".md").read_text()
    assert benchmark_script("acsa_errors").main(["--data", str(tmp_path / "none")]) == 2
