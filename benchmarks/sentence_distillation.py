"""The paper's second claim alone: is a student as good as its sentence teacher, zero-shot?

    python benchmarks/sentence_distillation.py --out runs/sentence_distillation \
        --teacher-encoder mpnet --unlabeled /tmp/unlabeled/sentences.jsonl \
        --unlabeled-limit 6234 --seeds 42,43,44

1. **Sentence teacher**: ``sentence_head.py --encoder ENC --signals gold`` — a warm start as it
   was pre-trained (no fine-tuning) with a sentence head fitted on the gold pseudo-labels (texts
   whose fine-grained elements agree; never a sentence label); its sst2 / yelp2 accuracy is the
   teacher's row. Minutes, not the hours of a fine-tuned tagger teacher.
2. **Corpus**: it labels the gold training sentences of the claim's sets and the unlabeled
   sentences (``distillation.write_teacher_inputs``: the same inputs as ``distillation.py``)
   through ``fsa-edge distill --prompt label`` (resumable).
3. **Students**, for every seed: the default's recipe (``train_default.py``) on gold plus only
   the teacher's sentence polarities (``--sentence-soft-targets``; no tag or category soft
   targets: the teacher's tag heads are untrained), then ``sentence`` on sst2 and yelp2 test.
4. **Record** (``--record`` + ``.md``): the teacher's and each student's zero-shot accuracy and
   macro-F1, the students' int8 F1 per set (dev and test), the corpus counts and every command.

Steps are skipped when a rerun finds their outputs (resumable like ``distillation.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import distillation  # noqa: E402
import sentence_head  # noqa: E402
import train_default  # noqa: E402


def summary(teacher: dict, students: dict[int, dict], zero_shot: dict[int, dict],
            names: list[str], commands: list[str], corpus: dict) -> dict:
    """The record: zero-shot accuracy of the teacher and of every student seed, the students'
    int8 F1 per set, the corpus counts and the commands."""
    seeds = sorted(students)
    tests = list(teacher["zero_shot"])
    return {
        "teacher": {"encoder": teacher["model"], "signals": teacher["signals"],
                    "pseudo_labels": teacher["pseudo_labels"]["texts"],
                    "zero_shot": {t: teacher["zero_shot"][t]["head"] for t in tests}},
        "students": {
            "seeds": seeds,
            "zero_shot": {t: [zero_shot[s][t]["head"] for s in seeds] for t in tests},
            **{split: {distillation.set_label(n): [distillation.f1s(students[s], split)[n]
                                                  for s in seeds] for n in names}
               for split in ("dev", "test")}},
        "corpus": corpus, "commands": commands}


def markdown(result: dict) -> str:
    def mean(values: list[float]) -> str:
        return f"{statistics.mean(values):.2f} (±{statistics.pstdev(values):.2f})"

    students = result["students"]
    lines = ["# Sentence distillation: zero-shot accuracy of the students against their teacher",
             "", f"Teacher: `{result['teacher']['encoder']}` with a sentence head on "
             f"{result['teacher']['pseudo_labels']:,} gold pseudo-labels; students: seeds "
             f"{students['seeds']}.", "",
             "| test set | teacher accuracy | students accuracy | per seed | students macro-F1 |",
             "|---|---|---|---|---|"]
    for name, row in result["teacher"]["zero_shot"].items():
        accuracies = [r["accuracy"] for r in students["zero_shot"][name]]
        lines.append(f"| {name} | {row['accuracy']:.2f} | {mean(accuracies)} | "
                     f"{' / '.join(f'{a:.2f}' for a in accuracies)} | "
                     f"{mean([r['macro_f1'] for r in students['zero_shot'][name]])} |")
    lines += ["", "Students' int8 F1 (paper's metric):", "", "| set | dev | test |",
              "|---|---|---|"]
    lines += [f"| {name} | {mean(students['dev'][name])} | {mean(students['test'][name])} |"
              for name in students["test"]]
    corpus = result["corpus"]
    lines += ["", f"Teacher corpus: {corpus['sentences']:,} sentences; unlabeled ones per "
                  "source: " + ", ".join(f"{source} {count:,}" for source, count
                                         in corpus.get("unlabeled_per_source", {}).items()),
              "", "Commands:", ""]
    lines += [f"    {command}" for command in result["commands"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=train_default.DATA)
    parser.add_argument("--datasets", default="rest14,laptop14,rest16,laptop16",
                        help="the sets whose train sentences the teacher labels")
    parser.add_argument("--student-extra-datasets",
                        default="aste14res,aste14lap,aste15res,aste16res",
                        help="sets the students also train on (the default's recipe)")
    parser.add_argument("--teacher-encoder", default="mpnet",
                        help="the untuned warm start: minilm, mpnet or a BERT/MPNet directory")
    parser.add_argument("--unlabeled", type=Path, default=None)
    parser.add_argument("--unlabeled-limit", type=int, default=None)
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--distill-weight", type=float, default=2.0)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--record", type=Path, default=ROOT / "benchmarks" / "results" /
                        "sentence_distillation.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    extra = [n.strip() for n in args.student_extra_datasets.split(",") if n.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    commands = ["python benchmarks/sentence_distillation.py " + " ".join(argv or sys.argv[1:])]
    limit = ["--test-limit", str(args.test_limit)] if args.test_limit else []

    folder = args.out / "teacher_sentence"
    teacher_argv = ["--out", str(folder), "--encoder", args.teacher_encoder, "--data",
                    str(args.data), "--signals", "gold", "--threads", str(args.threads),
                    "--record", str(folder / "record.json"), *limit]
    commands.append("python benchmarks/sentence_head.py " + " ".join(teacher_argv))
    if not (folder / "record.json").is_file():
        sentence_head.main(teacher_argv)
    teacher = json.loads((folder / "record.json").read_text(encoding="utf-8"))

    inputs, corpus = args.out / "teacher_inputs.jsonl", args.out / "sentence_soft_targets.jsonl"
    counts = distillation.write_teacher_inputs(inputs, args.data, names, args.unlabeled,
                                               args.unlabeled_limit)
    label = [*train_default.fsa_edge_command(), "distill", str(inputs), "--teacher",
             str(folder / "model"), "--prompt", "label", "-o", str(corpus)]
    commands.append("fsa-edge " + " ".join(label[3:]))
    train_default.run(label)

    students, zero_shot = {}, {}
    for seed in seeds:
        out = args.out / "students" / str(seed)
        argv_seed = distillation.student_argv(
            args, out, seed, [*names, *extra],
            ["--data", str(args.data), "--threads", str(args.threads), "--device", args.device,
             *limit],
            ["--sentence-soft-targets", str(corpus), "--distill-weight", str(args.distill_weight),
             "--temperature", str(args.temperature)])
        students[seed] = distillation.recipe_run(out, argv_seed, commands)
        zero_shot[seed] = sentence_head.run_zero_shot(out, args.data, args.test_limit)
    result = summary(teacher, students, zero_shot, [*names, *extra], commands, counts)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    args.record.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
