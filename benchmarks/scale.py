"""Scale-out: plain ``fsa-edge analyze`` against the Ray engine on this machine, and Ray's costs.

    python benchmarks/scale.py [--rows 6000] [--tiny 10] [--out-dir benchmarks/results]

Inputs: ``--rows`` JSON lines of the rest14 test sentences, cycled (synthetic ones without
``../shared/data``), one line in 1,000 bad (not JSON, or no ``text``). Every run must write one
output line per input line and the expected error records.
* CLI (``python -m fsa_edge.cli analyze``, wall clock of the whole command): plain with
  ``--cpu-threads 2`` (first, and again last to show the machine's drift); ``--engine ray`` with
  1 actor × 1 CPU, 1 × 2 CPUs, 2 × 1 CPU. Each also on a ``--tiny`` input: its fixed cost;
  per-row time = (seconds − fixed) / (rows − tiny rows).
* In one process (``analyze_file``, 2 actors × 1 CPU, Ray started before and timed alone): a
  local Ray (``fsa_edge.ray.connect()``) and a simulated two-node cluster
  (``ray.cluster_utils.Cluster``: a head with 0 CPUs, two nodes of 1 CPU).
Peak memory: PSS summed over the command's process tree (Ray's daemons and workers included),
sampled every 0.5 s. A command past ``--timeout`` is killed and recorded as failed. Writes
``scale.{json,md}`` in ``--out-dir`` and prints the tables. Compare rows of one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import ray

from records import cpu_model

ROOT = Path(__file__).resolve().parents[1]
REST14 = ROOT.parent / "shared" / "data" / "fsa-benchmark" / "atsa" / "rest14" / "test.json"
RAY = "--engine ray --actors {} --cpus-per-actor {}"
COMMANDS = {"plain --cpu-threads 2": "--cpu-threads 2",
            "ray 1 actor × 1 CPU": RAY.format(1, 1), "ray 1 actor × 2 CPUs": RAY.format(1, 2),
            "ray 2 actors × 1 CPU": RAY.format(2, 1),
            "plain --cpu-threads 2 (again, last)": "--cpu-threads 2"}

WORKER = r"""
import json, os, sys, time
os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # as the CLI does
t0 = time.perf_counter()
import ray
from fsa_edge.ray import analyze_file, connect
t1 = time.perf_counter()
mode, source, output = sys.argv[1:4]
cluster = None
if mode == "cluster":
    from ray.cluster_utils import Cluster
    cluster = Cluster(True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2): cluster.add_node(num_cpus=1)
connect(cluster and cluster.address)
t2 = time.perf_counter()
nodes = sum(n["Alive"] for n in ray.nodes())
counts = analyze_file(source, output, actors=2, cpus_per_actor=1)
t3 = time.perf_counter()
ray.shutdown()
if cluster: cluster.shutdown()
print(json.dumps({"import_s": t1 - t0, "start_s": t2 - t1, "analyze_s": t3 - t2,
                  "shutdown_s": time.perf_counter() - t3, "nodes": nodes, **counts}))
"""


def texts(rows: int) -> tuple[list[str], str]:
    """``rows`` JSON lines, line 1000k (k ≥ 1) bad, and where the sentences came from."""
    if REST14.is_file():
        from fsa_edge.readers import read_dataset

        pool = [e.review.text for e in read_dataset(REST14).examples]
        source = "rest14 test sentences, cycled"
    else:
        pool = [f"The {a} was {o} but the service was slow." for a in ("pizza", "staff", "wine")
                for o in ("great", "bland")]
        source = "synthetic sentences (no ../shared/data)"
    bad = ("{not json", '{"id": "no text"}')  # alternately
    return [bad[i // 1000 % 2] if i % 1000 == 999 else json.dumps({"id": str(i), "text": text})
            for i, text in zip(range(rows), itertools.cycle(pool))], source


def run(command: list[str], output: Path, expect: tuple[int, int], timeout: float) -> dict:
    """Run ``command``: wall seconds, exit status, the output checked against ``expect`` (lines,
    error records), peak PSS of its process tree, the tails of stdout and stderr."""
    output.unlink(missing_ok=True)
    peak, seen, done = [0.0, 0], set(), threading.Event()
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)

        def sample() -> None:
            while not done.wait(0.5):
                try:
                    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
                except psutil.Error:
                    continue
                seen.update(p.pid for p in tree)
                total = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_full_info().pss
                peak[:] = [max(peak[0], total / 2**20), max(peak[1], len(tree))]

        threading.Thread(target=sample, daemon=True).start()
        try:
            stdout, status = proc.communicate(timeout=timeout)[0], proc.returncode
        except subprocess.TimeoutExpired:
            for pid in seen | {proc.pid}:  # only the processes this command started
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            stdout, status = proc.communicate()[0], f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - started
        done.set()
        err.seek(0)
        stderr = err.read().strip().splitlines()
    out = output.read_text(encoding="utf-8").splitlines() if output.is_file() else []
    errors = sum(json.loads(line)["error"] is not None for line in out)
    return {"seconds": round(wall, 2), "status": status, "output_lines": len(out),
            "error_records": errors, "ok": status == 0 and (len(out), errors) == expect,
            "peak_pss_mb": round(peak[0]), "max_processes": peak[1],
            "stdout_tail": stdout.strip().splitlines()[-1:], "stderr_tail": stderr[-3:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--tiny", type=int, default=10, help="rows of the fixed-cost input")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per command")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    lines, source = texts(args.rows)
    load_at_start, cli, processes = os.getloadavg(), {}, {}
    with tempfile.TemporaryDirectory() as work:
        inputs, out = {}, Path(work) / "out.jsonl"
        for size, rows in (("tiny", lines[:args.tiny]), ("full", lines)):
            inputs[size] = (Path(work) / f"{size}.jsonl", (len(rows), len(rows) // 1000))
            inputs[size][0].write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        for name, flags in COMMANDS.items():
            for size in ("full",) if "again" in name else ("tiny", "full"):
                print(f"{name} ({size})", file=sys.stderr, flush=True)
                path, expect = inputs[size]
                cli.setdefault(name, {})[size] = run(
                    [sys.executable, "-m", "fsa_edge.cli", "analyze", str(path), "-o", str(out),
                     *flags.split()], out, expect, args.timeout)
        for mode in ("local", "cluster"):
            print(f"in one process: {mode}", file=sys.stderr, flush=True)
            (path, expect), command = inputs["full"], [sys.executable, "-c", WORKER, mode]
            r = run([*command, str(path), str(out)], out, expect, args.timeout)
            processes[mode] = {**r, **(json.loads(r["stdout_tail"][0]) if r["ok"] else {})}

    plain = cli["plain --cpu-threads 2"]["full"]["seconds"]
    table = ["| CLI command | rows/s | wall s | × plain | fixed s (tiny input) | "
             "ms/row beyond fixed | peak PSS MB | ok |", "|---" * 8 + "|"]
    for name, r in cli.items():
        full, tiny = r["full"], r.get("tiny")
        r["rows_per_s"] = round(args.rows / full["seconds"], 1) if full["ok"] else "failed"
        r["ms_per_row_beyond_fixed"] = tiny and round(
            (full["seconds"] - tiny["seconds"]) / (args.rows - args.tiny) * 1000, 2)
        table.append(f"| {name} | {r['rows_per_s']} | {full['seconds']} | "
                     f"{plain / full['seconds']:.2f} | {tiny['seconds'] if tiny else '–'} | "
                     f"{r['ms_per_row_beyond_fixed'] or '–'} | {full['peak_pss_mb']} | "
                     f"{'yes' if full['ok'] and (tiny or full)['ok'] else 'NO'} |")
    table += ["", "| in one process, 2 actors × 1 CPU | nodes | import ray s | Ray start s | "
              "analyze s | rows/s | shutdown s | peak PSS MB |", "|---" * 8 + "|"]
    for mode, label in (("local", "local Ray (2 CPUs)"), ("cluster", "simulated 2 nodes × 1 CPU")):
        r = processes[mode]
        if not r["ok"]:
            table.append(f"| {label} | FAILED: {r['status']}, {r['output_lines']} lines | "
                         f"{' '.join(r['stderr_tail'])[-300:]} |")
            continue
        r["rows_per_s"] = round(args.rows / r["analyze_s"], 1)
        table.append(f"| {label} | {r['nodes']} | {r['import_s']:.1f} | {r['start_s']:.1f} | "
                     f"{r['analyze_s']:.1f} | {r['rows_per_s']} | {r['shutdown_s']:.1f} | "
                     f"{r['peak_pss_mb']} |")
    cpu = cpu_model() or platform.machine()
    record = {"benchmark": "scale", "command": " ".join(["python", *sys.argv]),
              "inputs": source, "rows": args.rows, "bad_lines": inputs["full"][1][1],
              "tiny_rows": args.tiny, "cpu_model": cpu, "cpu_count": os.cpu_count(),
              "ray": ray.__version__, "python": platform.python_version(),
              "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg(),
              "cli": cli, "in_one_process": processes}
    text = "\n".join(table) + "\n"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "scale.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out_dir / "scale.md").write_text(text)
    print(text)
    runs = [*processes.values(), *(r for c in cli.values() for r in (c["full"], c.get("tiny")))]
    return 0 if all(r["ok"] for r in runs if r) else 1


if __name__ == "__main__":
    sys.exit(main())
