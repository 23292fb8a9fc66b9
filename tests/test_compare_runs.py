"""benchmarks/compare_runs.py: seed means per set, the mean over sets, dev chooses, and runs
scored on different sets are refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import compare_runs  # noqa: E402


def write_run(folder: Path, seed: int, dev: dict[str, float], test: dict[str, float]) -> Path:
    folder.mkdir(parents=True)
    record = {"command": f"python benchmarks/train_default.py --seed {seed}", "seed": seed,
              "kept_epoch": 3, "train_seconds": 10.0, "extra_train": [],
              "dev_int8": {k: {"f1": v} for k, v in dev.items()},
              "test_int8": {k: {"f1": v} for k, v in test.items()}}
    (folder / "record.json").write_text(json.dumps(record))
    return folder


def test_seed_means_and_dev_chooses_even_when_test_disagrees(tmp_path, capsys):
    a1 = write_run(tmp_path / "a1", 42, {"x": 50, "y": 60}, {"x": 70, "y": 70})
    a2 = write_run(tmp_path / "a2", 43, {"x": 52, "y": 62}, {"x": 70, "y": 70})
    b1 = write_run(tmp_path / "b1", 42, {"x": 50, "y": 50}, {"x": 90, "y": 90})
    out = tmp_path / "cmp.json"
    compare_runs.main(["--arm", f"a={a1},{a2}", "--arm", f"b={b1}", "--what", "toy",
                       "--record", str(out)])
    record = json.loads(out.read_text())
    assert record["arms"]["a"]["dev"] == {"x": [50, 52], "y": [60, 62]}
    assert record["arms"]["a"]["dev_mean"] == 56.0 and record["arms"]["b"]["test_mean"] == 90.0
    assert record["chosen_on_dev"] == "a"
    assert "| a | dev | 51.00 (50.00 / 52.00) |" in out.with_suffix(".md").read_text()


def test_runs_scored_on_different_sets_are_refused(tmp_path):
    a1 = write_run(tmp_path / "a1", 42, {"x": 50}, {"x": 50})
    a2 = write_run(tmp_path / "a2", 43, {"z": 50}, {"z": 50})
    with pytest.raises(SystemExit, match="scored on"):
        compare_runs.main(["--arm", f"a={a1},{a2}", "--what", "toy"])
    with pytest.raises(SystemExit, match="NAME=RUN"):
        compare_runs.main(["--arm", "a", "--what", "toy"])
    with pytest.raises(SystemExit, match="no record"):
        compare_runs.main(["--arm", f"a={tmp_path / 'missing'}", "--what", "toy"])
