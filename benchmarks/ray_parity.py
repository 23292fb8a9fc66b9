"""Does ``fsa-edge analyze --engine ray`` write what plain ``fsa-edge analyze`` writes?

    python benchmarks/ray_parity.py [--model default] [--task all] [--actors 2] [--bad-every 97] \
        [--code DIR] [--out PREFIX]

Writes the texts of the test splits of rest14 (ATSA) and laptop16 (ACSA) from ../shared/data as
one JSONL file (a line that is not JSON after every ``--bad-every`` reviews), analyses it with the
plain command and with the Ray engine (``--actors`` actors), and counts the output lines that
differ, then compares their rows as ``batch_dependence.py`` compares batchings (rows decoded
differently, rows with a score moved, the largest score move).
``--code DIR``: run the CLI of another checkout of fsa-edge (``PYTHONPATH=DIR``; e.g. a
``git worktree`` of an older commit) to compare before and after a change. Prints a table and
writes ``PREFIX.json`` (default ``benchmarks/results/ray_parity``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from batch_dependence import compare as compare_rows  # noqa: E402
from records import cpu_model, emit  # noqa: E402
from train_default import DATA  # noqa: E402

SETS = (("atsa", "rest14"), ("acsa", "laptop16"))


def compare(plain: list[str], ray: list[str]) -> dict:
    """Output lines that differ, and :func:`batch_dependence.compare` of their rows; one line
    per input line on both sides."""
    if len(plain) != len(ray):
        raise SystemExit(f"{len(plain)} plain lines against {len(ray)} Ray lines")
    rows = compare_rows([json.loads(line) for line in plain], [json.loads(line) for line in ray])
    differing = sum(a != b for a, b in zip(plain, ray))
    return {"lines": rows.pop("reviews"), "lines_differing": differing, **rows}


def write_reviews(path: Path, data: Path, bad_every: int) -> int:
    from fsa_edge.jsonlines import dumps_line
    from fsa_edge.readers import read_dataset

    count = 0
    with path.open("w", encoding="utf-8") as out:
        for task, name in SETS:
            split = data / "fsa-benchmark" / task / name / "test.json"
            for example in read_dataset(split).examples:
                out.write(dumps_line({"id": example.review.id, "text": example.review.text}) + "\n")
                count += 1
                if bad_every and count % bad_every == 0:
                    out.write("not json\n")
    return count


def analyze(reviews: Path, out: Path, args: argparse.Namespace, *engine: str) -> list[str]:
    env = dict(os.environ, **({"PYTHONPATH": str(args.code)} if args.code else {}))
    subprocess.run([sys.executable, "-c", "from fsa_edge.cli import main; main()", "analyze",
                    str(reviews), "-o", str(out), "--model", args.model, "--task", args.task,
                    *engine], check=True, env=env, stdout=subprocess.DEVNULL,
                   cwd=reviews.parent)  # not this checkout's folder: --code's package imports
    return out.read_text(encoding="utf-8").splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--task", default="all")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--bad-every", type=int, default=97)
    parser.add_argument("--code", type=Path, default=None,
                        help="another checkout of fsa-edge whose CLI runs (PYTHONPATH)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray_parity")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        reviews = Path(folder) / "reviews.jsonl"
        count = write_reviews(reviews, args.data, args.bad_every)
        plain = analyze(reviews, Path(folder) / "plain.jsonl", args)
        ray = analyze(reviews, Path(folder) / "ray.jsonl", args, "--engine", "ray", "--actors",
                      str(args.actors))
    found = compare(plain, ray)
    record = {"benchmark": "ray_parity", "command": "python benchmarks/ray_parity.py "
              + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": cpu_model() or platform.machine(), "model": args.model,
              "task": args.task, "actors": args.actors, "reviews": count,
              "code": str(args.code) if args.code else "this checkout", **found}
    print("| lines | differing | decoded differently | scores moved > 1e-5 | max score Δ |\n"
          "|---|---|---|---|---|\n"
          f"| {found['lines']} | {found['lines_differing']} | {found['decoded_differently']} | "
          f"{found['reviews_with_a_score_moved_over_1e-5']} | {found['max_score_delta']} |")
    emit(record, args.out.with_suffix(".json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
