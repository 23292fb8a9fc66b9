"""The quality report script (benchmarks/quality.py) on a small subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from benchmark_scripts import benchmark_script  # noqa: E402
from seq2seq_fixtures import synthetic_acsa, synthetic_atsa  # noqa: E402


def _quality():
    return benchmark_script("quality")


def _data(folder: Path) -> Path:
    acsa = synthetic_acsa(6, 3)
    # A gold pair listed twice (two dishes, one category): the two counting rules differ here.
    acsa[0]["aspects"] = [{"from": "0", "to": "0", "target": None, "category": "FOOD#QUALITY",
                           "polarity": "positive"}] * 2
    acsa[0]["sentence"] = "The pasta was great and the pizza was great."
    for name, records in (("atsa/rest14", synthetic_atsa(6, 3)), ("acsa/rest16", acsa)):
        target = folder / "fsa-benchmark" / name
        target.mkdir(parents=True)
        (target / "test.json").write_text(json.dumps(records), encoding="utf-8")
    return folder


def test_report_scores_each_task_of_the_default_model_with_both_countings(tmp_path):
    data = _data(tmp_path / "data")
    out = tmp_path / "report"
    status = _quality().main(["--variant", "int8=default", "--data", str(data), "--limit", "5",
                              "--out", str(out)])
    assert status == 0
    record = json.loads(out.with_suffix(".json").read_text())
    rows = {row["dataset"]: row for row in record["rows"]}
    assert set(rows) == {"rest14", "rest16"}
    assert all(row["records"] == 5 and row["errors"] == 0 for row in rows.values())
    rest16 = rows["rest16"]
    assert rest16["counting"] == "paper" and rest16["multiset"]["gold"] == rest16["gold"] + 1
    table = out.with_suffix(".md").read_text()
    assert "| rest14 | atsa |" in table and "| rest16 | acsa |" in table


def test_report_refuses_a_missing_data_folder(tmp_path):
    assert _quality().main(["--variant", "x=default", "--data", str(tmp_path / "nope"),
                            "--out", str(tmp_path / "r")]) == 2


def test_dev_split_scores_only_the_benchmark_sets_dev_files(tmp_path):
    data = _data(tmp_path / "data")
    for name in ("atsa/rest14", "acsa/rest16"):
        folder = data / "fsa-benchmark" / name
        (folder / "dev.json").write_text((folder / "test.json").read_text(), encoding="utf-8")
    (data / "fsa-benchmark" / "acsa" / "rest16" / "test.json").unlink()
    out = tmp_path / "dev"
    assert _quality().main(["--variant", "int8=default", "--data", str(data), "--split", "dev",
                            "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["split"] == "dev"
    assert {(r["dataset"], r["split"], r["records"]) for r in record["rows"]} == {
        ("rest14", "dev", 6), ("rest16", "dev", 6)}
