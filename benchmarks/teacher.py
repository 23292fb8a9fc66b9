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
from tiny_gguf import SHAPES, LlamaShape, write_llama_gguf  # noqa: E402

SHAPES = {**SHAPES, "small": LlamaShape(n_embd=512, n_layers=4, n_ff=1536, n_heads=8,
                                        n_kv_heads=8, n_vocab=32000, n_ctx_train=2048)}
NOT_IDLE_FRACTION = 0.05


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
            seed: int) -> dict:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=prompt_tokens + gen_tokens + 64,
                          n_batch=512, n_threads=threads, n_gpu_layers=0, seed=seed,
                          verbose=False)
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
        "n_threads": llm.n_threads,
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
    args = parser.parse_args(argv)

    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed: pip install 'fsa-edge[teacher]'",
              file=sys.stderr)
        return 2
    shapes = ["small"] if args.quick else [s.strip() for s in args.shapes.split(",") if s]
    if args.quick:
        args.prompt_tokens, args.gen_tokens = min(args.prompt_tokens, 64), min(args.gen_tokens, 16)
    student = args.student_reviews_per_s
    student_source: str | None = "--student-reviews-per-s"
    if student is None:
        found = student_reviews_per_s(args.speed_json)
        student, student_source = found if found else (None, None)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in shapes:
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
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        speed = measure(path, prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens,
                        threads=args.threads, seed=args.seed)
        seconds_per_review = (args.review_prompt_tokens / speed["prompt_tokens_per_s"]
                              + args.review_response_tokens / speed["gen_tokens_per_s"])
        record = {"shape": name, **asdict(shape), "quantization": args.quantization,
                  "file_gib": round(path.stat().st_size / 2**30, 3),
                  "write_s": round(written_s, 1), **speed,
                  "seconds_per_review": round(seconds_per_review, 2),
                  "reviews_per_hour": round(3600 / seconds_per_review, 1)}
        if student:
            record["student_reviews_per_s"] = student
            record["teacher_to_student_cost_ratio"] = round(seconds_per_review * student, 1)
        results.append(record)
        if not args.keep:
            path.unlink()
    idle = all(r["prompt_run"]["idle"] and r["gen_run"]["idle"] for r in results)
    report = {
        "llama_cpp_python": getattr(llama_cpp, "__version__", None),
        "cpu_count": os.cpu_count(), "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "weights": "random (speed does not depend on weight values, only shapes and "
                   "quantization)",
        "review_prompt_tokens": args.review_prompt_tokens,
        "review_response_tokens": args.review_response_tokens,
        "student_reviews_per_s": student, "student_source": student_source,
        "machine_idle": idle, "results": results,
    }
    print(f"llama.cpp teacher speed, {os.cpu_count()} CPUs, random weights "
          f"(speed does not depend on the values)")
    print(f"{'shape':6} {'quant':7} {'GiB':>5} {'prompt t/s':>10} {'gen t/s':>8} "
          f"{'s/review':>8} {'reviews/h':>9} {'x student':>9}  other CPU (prompt/gen)")
    for r in results:
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
    if not idle:
        print("WARNING: the machine was NOT idle: other processes used CPU during the runs "
              "(see 'other CPU'); these speeds are lower than on an idle machine.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
