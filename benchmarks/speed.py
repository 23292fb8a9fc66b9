"""Speed benchmark: CTranslate2 int8 / float32 vs transformers fp32 on the same inputs, greedy.

    python benchmarks/speed.py [--model HF_DIR] [--quick] [--cuda] [--threads N]

Without ``--model`` it builds a random model of the default student's shape (BART, 6×384
encoder, 3-layer decoder, WordPiece vocabulary of 30522) and trains it for a few steps on the
synthetic ATSA task of ``tests/tiny_models.py`` so it emits EOS by itself. Inputs: the rest14
test sentences from ``../shared/data`` when present, else synthetic sentences.

Each configuration runs in its own subprocess (honest peak RSS). Measured: reviews/s at batch
1, 8, 32, 64; p50/p95 latency of one review; peak RSS; model size on disk. Writes
``benchmarks/results/speed.{json,md,png}`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REST14 = ROOT.parent / "shared" / "data" / "fsa-benchmark" / "atsa" / "rest14" / "test.json"
RESULTS = ROOT / "benchmarks" / "results"
BATCH_SIZES = (1, 8, 32, 64)
sys.path.insert(0, str(ROOT / "tests"))  # tiny_models


# ----------------------------------------------------------------------------- inputs, model
def load_inputs(limit: int) -> tuple[list[str], str]:
    """The rest14 test sentences (or synthetic ones) and where they came from."""
    if REST14.is_file():
        records = json.loads(REST14.read_text(encoding="utf-8-sig"))
        texts = [r["sentence"] for r in records if r.get("sentence")]
        return texts[:limit], f"rest14 test ({len(texts)} sentences, first {min(limit, len(texts))})"
    from tiny_models import synthetic_examples

    return [t for t, _ in synthetic_examples(limit, seed=5)], "synthetic sentences"


def build_default_shaped_student(directory: Path, steps: int) -> Path:
    """A random BART of the default student's shape, trained a few steps on the toy task."""
    from tiny_models import build_bart, train_briefly, train_wordpiece

    tokenizer = train_wordpiece(2000)
    filler = 30522 - tokenizer.get_vocab_size()
    tokenizer.add_tokens([f"[unused{i}]" for i in range(filler)])  # BERT-sized vocabulary
    build_bart(directory, d_model=384, encoder_layers=6, decoder_layers=3, heads=12, ffn=1536,
               max_positions=512, tokenizer=tokenizer)
    card = json.loads((directory / "fsa_edge.json").read_text())
    card.update(max_input_length=128, max_output_length=48)
    (directory / "fsa_edge.json").write_text(json.dumps(card, indent=2))
    if steps:
        train_briefly(directory, steps=steps, batch_size=16, lr=1e-3)
    return directory


def disk_size(directory: Path, backend: str) -> int:
    from fsa_edge.runtime import HF_WEIGHT_FILES, MODEL_FILE

    names = (MODEL_FILE,) if backend == "ctranslate2" else HF_WEIGHT_FILES
    return sum((directory / n).stat().st_size for n in names if (directory / n).is_file())


# ----------------------------------------------------------------------------- worker
def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: per address space, so not inherited from
    the parent as ``ru_maxrss`` is across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    """Measure one configuration in this process and print one JSON object."""
    started = time.perf_counter()
    texts = json.loads(Path(args.inputs).read_text())
    options: dict[str, Any] = {"cpu_threads": args.threads}  # both backends' option
    if args.backend == "ctranslate2":
        from fsa_edge_ctranslate2 import CTranslate2Backend as Backend

        options.update(compute_type=args.compute_type, max_batch_tokens=10**9)
    else:
        from fsa_edge_transformers import TransformersBackend as Backend

        options.update(dtype=args.compute_type)
    backend = Backend(args.model, device=args.device, max_batch_size=max(BATCH_SIZES), **options)
    load_s = time.perf_counter() - started
    backend.generate(texts[:2])  # warm-up
    throughput = {}
    for batch in BATCH_SIZES:
        count = min(len(texts), args.per_batch * batch if batch == 1 else args.reviews)
        subset = texts[:count]
        passes = []
        for _ in range(args.repeats):  # best of N: the CPU is shared, the minimum is the signal
            t0 = time.perf_counter()
            for i in range(0, len(subset), batch):
                backend.generate(subset[i:i + batch])
            passes.append(time.perf_counter() - t0)
        elapsed = min(passes)
        throughput[str(batch)] = {"reviews": len(subset), "seconds": elapsed,
                                  "passes_s": passes, "reviews_per_s": len(subset) / elapsed}
    latencies = []
    for i in range(args.latency_runs):
        t0 = time.perf_counter()
        backend.generate([texts[i % len(texts)]])
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    sample = backend.generate(texts[:3])
    print(json.dumps({
        "load_s": load_s, "throughput": throughput,
        "latency_ms": {"p50": statistics.median(latencies),
                       "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
                       "runs": len(latencies)},
        "peak_rss_mb": peak_rss_mb(),
        "example_outputs": [g.text for g in sample],
    }))


def run_config(name: str, backend: str, model: Path, compute_type: str, device: str,
               inputs: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", "--backend", backend, "--model", str(model),
               "--compute-type", compute_type, "--device", device, "--inputs", str(inputs),
               "--threads", str(args.threads), "--reviews", str(args.reviews),
               "--per-batch", str(args.per_batch), "--latency-runs", str(args.latency_runs),
               "--repeats", str(args.repeats)]
    print(f"[speed] measuring {name} ...", file=sys.stderr, flush=True)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"name": name, "error": done.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"name": name, "backend": backend, "compute_type": compute_type, "device": device,
            "model_mb": disk_size(model, backend) / 2**20, **result}


# ----------------------------------------------------------------------------- report
def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    header = ("| configuration | " + " | ".join(f"rev/s @{b}" for b in BATCH_SIZES)
              + " | p50 ms | p95 ms | peak RSS MB | size MB |")
    lines = [header, "|" + "---|" * (len(BATCH_SIZES) + 5)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | error: {' '.join(r['error'])} |")
            continue
        tp = " | ".join(f"{r['throughput'][str(b)]['reviews_per_s']:.1f}" for b in BATCH_SIZES)
        lines.append(f"| {r['name']} | {tp} | {r['latency_ms']['p50']:.1f} | "
                     f"{r['latency_ms']['p95']:.1f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['model_mb']:.1f} |")
    notes = [f"- {k}: {v}" for k, v in meta.items()]
    return "\n".join(lines + [""] + notes) + "\n"


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "error" not in r]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(1, len(ok))
    for k, r in enumerate(ok):
        values = [r["throughput"][str(b)]["reviews_per_s"] for b in BATCH_SIZES]
        ax.bar([i + k * width for i in range(len(BATCH_SIZES))], values, width, label=r["name"])
    ax.set_xticks([i + width * (len(ok) - 1) / 2 for i in range(len(BATCH_SIZES))])
    ax.set_xticklabels([f"batch {b}" for b in BATCH_SIZES])
    ax.set_ylabel("reviews / second (greedy)")
    ax.set_yscale("log")
    ax.set_title("fsa-edge student throughput (CPU)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="HF student directory (default: build one)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--cuda", action="store_true", help="also the CUDA section")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/fsa_edge_speed"))
    parser.add_argument("--reviews", type=int, default=128, help="reviews per batch-size run")
    parser.add_argument("--per-batch", type=int, default=32, help="reviews at batch size 1")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="passes per batch size (best kept)")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--compute-type", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.reviews, args.per_batch, args.latency_runs, args.repeats = 64, 8, 8, 1
        args.train_steps = min(args.train_steps, 10)

    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    model = args.model
    built = model is None
    if built:
        model = args.work / "student_hf"
        if not (model / ".complete").exists():
            print(f"[speed] building a default-shaped student ({args.train_steps} steps)",
                  file=sys.stderr, flush=True)
            build_default_shaped_student(model, args.train_steps)
            (model / ".complete").write_text("ok\n")
    texts, source = load_inputs(max(args.reviews, args.per_batch, args.latency_runs, 64))
    inputs = args.work / "inputs.json"
    inputs.write_text(json.dumps(texts))

    from fsa_edge_converters import ParityThresholds, convert

    converted = {}
    for quantization in ("int8", "float32") + (("int8_float16", "float16") if args.cuda else ()):
        out = args.work / f"ct2_{quantization}"
        print(f"[speed] converting ({quantization})", file=sys.stderr, flush=True)
        report = convert(model, out, quantization=quantization, force=True,
                         thresholds=ParityThresholds(quantized_mean_abs=10.0, min_agreement=0.0),
                         log=lambda m: None)
        converted[quantization] = (out, report.parity.to_dict() if report.parity else None)

    results = [
        run_config("ct2 int8", "ctranslate2", converted["int8"][0], "int8", "cpu", inputs, args),
        run_config("ct2 float32", "ctranslate2", converted["float32"][0], "float32", "cpu",
                   inputs, args),
        run_config("transformers fp32", "transformers", model, "float32", "cpu", inputs, args),
    ]
    cuda: Any = "skipped: no CUDA"
    if args.cuda:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            cuda = [run_config("ct2 int8_float16 (cuda)", "ctranslate2",
                               converted["int8_float16"][0], "int8_float16", "cuda", inputs, args),
                    run_config("ct2 float16 (cuda)", "ctranslate2", converted["float16"][0],
                               "float16", "cuda", inputs, args),
                    run_config("transformers fp16 (cuda)", "transformers", model, "float16",
                               "cuda", inputs, args)]
    by_name = {r["name"]: r for r in results if "error" not in r}
    ratios = {}
    if "ct2 int8" in by_name and "transformers fp32" in by_name:
        a, b = by_name["ct2 int8"], by_name["transformers fp32"]
        ratios = {f"throughput_x_batch_{s}": a["throughput"][str(s)]["reviews_per_s"]
                  / b["throughput"][str(s)]["reviews_per_s"] for s in BATCH_SIZES}
        ratios.update(latency_p50_x=b["latency_ms"]["p50"] / a["latency_ms"]["p50"],
                      rss_ratio=a["peak_rss_mb"] / b["peak_rss_mb"],
                      size_ratio=a["model_mb"] / b["model_mb"])
    meta = {
        "model": "built: random BART 6x384 enc / 3 dec, WordPiece 30522, "
                 f"{args.train_steps} training steps on the synthetic task" if built
                 else str(model),
        "inputs": source, "decoding": "greedy, max_output_length from the card",
        "threads": args.threads, "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "mode": "quick" if args.quick else "full",
        "note": "throughput = best of --repeats passes; compare ratios from one run, absolute "
                "numbers move with other load on the machine",
        "load_average_1min": {"start": round(load_at_start, 2),
                              "end": round(os.getloadavg()[0], 2)},
        "repeats": args.repeats,
        "cuda": cuda if isinstance(cuda, str) else "measured",
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    payload = {"meta": meta, "results": results, "cuda_results": cuda,
               "ratios_ct2_int8_over_transformers_fp32": ratios,
               "parity": {q: p for q, (_, p) in converted.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(payload, indent=2) + "\n")
    table = markdown(results + ([] if isinstance(cuda, str) else cuda), meta)
    if ratios:
        table += "\nCT2 int8 / transformers fp32: " + ", ".join(
            f"{k} {v:.2f}" for k, v in ratios.items()) + "\n"
    (args.out / "speed.md").write_text(table)
    chart(results, args.out / "speed.png")
    print(table)
    if isinstance(cuda, str):
        print(f"CUDA section: {cuda}")


if __name__ == "__main__":
    main()
