"""benchmarks/gpu_summary.py: the GPU check's table, read from the records it names."""

from __future__ import annotations

import json

import pytest

from benchmark_scripts import benchmark_script


def _teacher(seconds: float, f1: float) -> dict:
    return {"command": f"train {seconds}", "train_seconds": seconds,
            "test_int8": {"rest14": {"f1": f1}, "laptop14": {"f1": f1 - 10}}}


def _speed(ct2: float, torch: float, agreement: float, rows: int = 2) -> dict:
    def row(model, compute_type, rate, agree):
        return {"model": model, "compute_type": compute_type, "reviews_per_s": rate,
                "size_mb": 1.0, "cli_wall_seconds": 2.0, "cli_peak_rss_mb": 500.0,
                "agreement_with_first": agree}
    found = [row("ct2", "int8_float16", ct2, 1.0), row("hf", "torch-float16", torch, agreement)]
    return {"gpu": "a GPU", "reviews": 10, "rows": found[:rows]}


def test_the_summary_divides_cpu_by_gpu_seconds_and_ct2_by_torch_speed(tmp_path):
    paths = {}
    for name, payload in {"gpu": _teacher(100.0, 70.0), "cpu": _teacher(1250.0, 71.0),
                          "speed": _speed(300.0, 200.0, 0.95)}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(payload))
    out = tmp_path / "summary"
    assert benchmark_script("gpu_summary").main([
        "--gpu-teacher", str(paths["gpu"]), "--cpu-teacher", f"cpu={paths['cpu']}", "--speed", f"teacher={paths['speed']}", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["teacher"][1]["cpu_seconds_over_gpu"] == 12.5
    assert record["teacher"][0]["test_f1"] == {"rest14": 70.0, "laptop14": 60.0}
    assert record["serving"][0]["ct2_over_torch"] == 1.5
    assert record["serving"][0]["agreement"] == 0.95
    table = out.with_suffix(".md").read_text()
    assert "| cpu | 1250.0 | 12.5 | 71.00 | 61.00 |" in table
    assert "| teacher | int8_float16 | 300.0 | torch-float16 | 200.0 | 1.5 | 0.9500 |" in table


def test_a_speed_record_without_its_twin_and_a_label_without_path_are_refused(tmp_path, capsys):
    gpu, speed = tmp_path / "gpu.json", tmp_path / "speed.json"
    gpu.write_text(json.dumps(_teacher(100.0, 70.0)))
    speed.write_text(json.dumps(_speed(300.0, 200.0, 0.95, rows=1)))
    summary = benchmark_script("gpu_summary")
    with pytest.raises(SystemExit, match="expected two rows"):
        summary.main(["--gpu-teacher", str(gpu), "--speed", f"default={speed}",
                      "--out", str(tmp_path / "s")])
    with pytest.raises(SystemExit):
        summary.main(["--gpu-teacher", str(gpu), "--cpu-teacher", str(gpu),
                      "--out", str(tmp_path / "s")])
    assert "expected LABEL=PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="not a readable JSON record"):
        summary.main(["--gpu-teacher", str(tmp_path / "missing.json"), "--out",
                      str(tmp_path / "s")])


def test_the_gpu_check_script_stops_with_a_clear_message_without_cuda(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run the whole check")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path / "out")], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode != 0 and "gpu_check.sh: no CUDA device" in done.stderr
    assert not (tmp_path / "out" / "teacher").exists()  # nothing ran
