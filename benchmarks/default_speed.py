"""Speed and memory of served models end to end: ``fsa-edge analyze`` on benchmark sentences.

    python benchmarks/default_speed.py --model default --model OTHER_DIR [--threads 2]
    python benchmarks/default_speed.py --device cuda --model CT2_DIR --compute-type int8_float16 \
        --model HF_DIR --compute-type float16

For each model, in its own process (one after the other, same inputs, same run):
* reviews/s of ``Analyzer.analyze`` over the inputs after a warm-up (best of ``--repeats``
  passes), the model's default task or ``--task``, in batches of ``--batch-size`` lines (default:
  the library's, ``DEFAULT_BATCH_SIZE``; repeatable: each model at each size, in order) and
  with the backend options of ``--option KEY=VALUE[,KEY=VALUE]`` (repeatable: each model with
  each set, e.g. ``--option max_batch_tokens=4096 --option max_batch_tokens=1024``);
* the CLI as a user runs it, ``fsa-edge analyze INPUT --model M --batch-size N [-O K=V]``: wall time
  including start-up, and peak RSS of that process (``os.wait4``);
* size of the model directory on disk;
* agreement: the share of reviews whose answers (aspect, category, opinion, polarity of every
  element; scores left out) equal those of the first model in the list.
``--device cuda`` with ``--compute-type`` (one per ``--model``, in order) compares serving types
on a GPU: a converted model in CTranslate2 ``int8_float16`` against its unconverted twin served by
torch in ``float16`` (the CLI column runs each model's default compute type).
``--compare-head-blas`` measures each model a second time with numpy's BLAS left multi-threaded
in the tagger's heads (``FSA_EDGE_HEAD_BLAS_THREADS=0``; the runtime's default is one thread).
Inputs: the four fsa-benchmark test splits (3,084 sentences) when ``../shared/data`` is present,
else synthetic sentences; ``--reviews FILE``: that file's texts (long reviews: yelp2's test set).
Kernels limited by the environment (``CT2_FORCE_CPU_ISA=AVX2`` and the like, see
``records.KERNEL_LIMITS``: AVX2-only kernels on an AVX-512 machine) are named in the record.
Writes ``benchmarks/results/default_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from records import cpu_model, kernel_limits, speed_features, write_table  # noqa: E402

from fsa_edge.cli.key_values import parse_options  # noqa: E402
from fsa_edge.readers.jsonl import DEFAULT_BATCH_SIZE  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "fsa-benchmark"
SETS = ("atsa/rest14", "atsa/laptop14", "acsa/rest16", "acsa/laptop16")
RESULTS = ROOT / "benchmarks" / "results"

WORKER = r"""
import json, sys, time
import fsa_edge
sys.path.insert(0, sys.argv[9])
from default_speed import answers
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
analyzer = fsa_edge.load(sys.argv[2], batch_size=int(sys.argv[10]),
                         cpu_threads=int(sys.argv[3]), device=sys.argv[6],
                         compute_type=sys.argv[7], **json.loads(sys.argv[11]))
task = sys.argv[5] or None
analyzer.analyze(texts[:32], task=task)
best = None
for _ in range(int(sys.argv[4])):
    started = time.perf_counter()
    results = analyzer.analyze(texts, task=task)
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
with open(sys.argv[8], "w", encoding="utf-8") as sink:
    json.dump(answers(results), sink)
print(json.dumps({"reviews": len(texts), "seconds": best, "reviews_per_s": len(texts) / best,
                  "errors": sum(r.error is not None for r in results),
                  "backend": analyzer.backend.name, "task": task or analyzer.task,
                  "device": analyzer.backend.device,
                  "compute_type": analyzer.backend.compute_type,
                  "batch_size": analyzer.batch_size}))
"""


def answers(results: list) -> list[dict[str, list[list[str]]]]:
    """Each result's answers by task: (aspect, category, opinion, polarity) of every element,
    sorted; scores left out (what agreement compares)."""
    return [{name: sorted([e.aspect or "", e.category or "", e.opinion or "", e.polarity]
                          for e in elements)
             for name, elements in sorted((r.answers or {r.task: r.elements}).items())}
            for r in results]


def gpu_name(device: str) -> str | None:
    """The CUDA device's name when the run asked for one (nvidia-smi), else None."""
    if device == "cpu":
        return None
    try:
        found = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip().splitlines()[0] if found.returncode == 0 and found.stdout.strip() else None


def inputs(limit: int | None, reviews: Path | None = None) -> tuple[list[str], str]:
    """The texts measured and where they come from: ``reviews`` (any file the readers read, e.g.
    yelp2's test reviews, read in place), else the four test splits, else synthetic sentences."""
    if reviews is not None:
        from fsa_edge.readers import read_dataset

        texts = [example.review.text for example in read_dataset(reviews).examples]
        return texts[:limit], str(reviews)
    if DATA.is_dir():
        texts = []
        for name in SETS:
            records = json.loads((DATA / name / "test.json").read_text(encoding="utf-8-sig"))
            texts += [r["sentence"] for r in records]
        return texts[:limit], "fsa-benchmark test splits (rest14, laptop14, rest16, laptop16)"
    texts = [f"The {a} was {o} but the {b} was {p}." for a in ("pizza", "staff", "wine")
             for b in ("service", "decor") for o in ("great", "bland") for p in ("slow", "fine")]
    return (texts * 100)[:limit or 2400], "synthetic sentences (no ../shared/data)"


def measure(model: str, input_file: Path, threads: int, repeats: int, task: str | None,
            head_blas: str = "1", device: str = "auto", compute_type: str = "auto",
            batch_size: int = DEFAULT_BATCH_SIZE, options: dict | None = None
            ) -> tuple[dict, list]:
    """One model's row, and its answers to each input (for agreement)."""
    options = options or {}
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "FSA_EDGE_HEAD_BLAS_THREADS": head_blas}
    answers_file = input_file.with_name("answers.json")
    worker = subprocess.run([sys.executable, "-c", WORKER, str(input_file), model, str(threads),
                             str(repeats), task or "", device, compute_type, str(answers_file),
                             str(ROOT / "benchmarks"), str(batch_size), json.dumps(options)],
                            capture_output=True, text=True, env=env)
    if worker.returncode != 0:
        raise SystemExit(f"{model}: worker failed: {worker.stderr[-2000:]}")
    row = json.loads(worker.stdout.strip().splitlines()[-1])
    found = json.loads(answers_file.read_text(encoding="utf-8"))
    with tempfile.TemporaryFile("w+") as sink:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "fsa_edge.cli", "analyze",
                                    str(input_file), "--model", model, "--device", device,
                                    "--batch-size", str(batch_size),
                                    *[a for key, value in options.items()
                                      for a in ("-O", f"{key}={json.dumps(value)}")],
                                    *(["--task", task] if task else [])], stdout=sink,
                                   stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sink.seek(0)
        lines = sum(1 for _ in sink)
    from fsa_edge.api import resolve_model

    path = resolve_model(model).path
    size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"model": model, **row, "options": options, "head_blas_threads": head_blas,
            "cli_wall_seconds": round(wall, 2),
            "cli_exit_status": os.waitstatus_to_exitcode(status), "cli_output_lines": lines,
            "cli_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "size_mb": round(size / 2**20, 1)}, found


def agreement(answers: list, reference: list) -> float:
    """The share of reviews whose answers equal the reference's."""
    return sum(a == b for a, b in zip(answers, reference, strict=True)) / max(1, len(answers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None,
                        help="a model directory or alias (repeatable; default: default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--reviews", type=Path, default=None,
                        help="measure on this file's texts (any format the readers know, e.g. "
                             "../shared/data/sentence-sentiment/yelp2/test.json for long reviews)")
    parser.add_argument("--task", default=None, help="default: each model's default task")
    parser.add_argument("--compare-head-blas", action="store_true",
                        help="also run each model with numpy's BLAS threads left alone in the "
                             "tagger's heads (FSA_EDGE_HEAD_BLAS_THREADS=0; the default is 1)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--compute-type", action="append", default=None,
                        help="one per --model, in order (default: auto for each): e.g. "
                             "int8_float16 for a converted model, float16 for a torch one")
    parser.add_argument("--batch-size", type=int, action="append", default=None,
                        help=f"input lines per batch (repeatable: every model at each size; "
                             f"default: the library's, {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--option", dest="option_sets", action="append", default=None,
                        metavar="KEY=VALUE[,KEY=VALUE]",
                        help="backend options of a row (repeatable: every model with each set; "
                             "default: none)")
    parser.add_argument("--out", type=Path, default=RESULTS / "default_speed")
    args = parser.parse_args(argv)
    batch_sizes = args.batch_size or [DEFAULT_BATCH_SIZE]
    option_sets = [parse_options(tuple(filter(None, given.split(","))))
                   for given in args.option_sets or [""]]
    models = args.model or ["default"]
    compute_types = args.compute_type or ["auto"] * len(models)
    if len(compute_types) != len(models):
        parser.error(f"--compute-type given {len(compute_types)} times for {len(models)} "
                     "models: give it once per --model, or not at all")
    texts, source = inputs(args.limit, args.reviews)
    with tempfile.TemporaryDirectory() as work:
        input_file = Path(work) / "inputs.jsonl"
        input_file.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                                      for i, t in enumerate(texts)), encoding="utf-8")
        settings = ("1", "0") if args.compare_head_blas else ("1",)
        rows, reference = [], None
        for model, compute_type in zip(models, compute_types):
            for head_blas, batch_size, options in ((h, b, o) for h in settings
                                                   for b in batch_sizes for o in option_sets):
                row, answers = measure(model, input_file, args.threads, args.repeats, args.task,
                                       head_blas, args.device, compute_type, batch_size,
                                       options)
                reference = answers if reference is None else reference
                rows.append({**row, "agreement_with_first": round(agreement(answers, reference),
                                                                   4)})
    record = {"benchmark": "default_speed", "inputs": source, "reviews": len(texts),
              "threads": args.threads, "device": args.device, "gpu": gpu_name(args.device),
              "cpu_count": os.cpu_count(),
              "machine": platform.processor() or platform.machine(),
              "cpu_model": cpu_model(), "cpu_speed_features": speed_features(),
              "kernel_limits": kernel_limits(),
              "load_average_at_end": os.getloadavg(), "rows": rows}
    features = ", ".join(record["cpu_speed_features"]) or "none of AVX2, AVX-512, AMX found"
    limits = ", ".join(f"{k}={v}" for k, v in record["kernel_limits"].items())
    lines = [f"CPU: {record['cpu_model'] or 'unknown'} ({features}), {args.threads} threads"
             + (f"; kernels limited by {limits}" if limits else "")
             + (f"; GPU: {record['gpu']}" if record["gpu"] else ""),
             "",
             "| model | backend | device | compute type | task | head BLAS threads | batch | "
             "options | reviews/s | agreement with first | CLI wall s | CLI peak RSS MB | "
             "size MB |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        blas = "1" if r["head_blas_threads"] == "1" else "not limited"
        lines.append(f"| {r['model']} | {r['backend']} | {r['device']} | {r['compute_type']} | "
                     f"{r['task']} | {blas} | {r['batch_size']} | "
                     f"{', '.join(f'{k}={v}' for k, v in r['options'].items()) or '-'} | "
                     f"{r['reviews_per_s']:.1f} | "
                     f"{r['agreement_with_first']:.4f} | {r['cli_wall_seconds']} | "
                     f"{r['cli_peak_rss_mb']} | {r['size_mb']} |")
    table = "\n".join(lines) + "\n"
    write_table(args.out, record, table)
    return 0 if all(r["errors"] == 0 and r["cli_exit_status"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
