"""The paper's first claim on our runs: does distilling a stronger teacher lift the student?

    python benchmarks/distillation.py --out runs/distillation \
        --unlabeled /tmp/unlabeled/sentences.jsonl --seeds 42,43,44

1. **Teacher**: a tagger on the ``mpnet`` warm start (``--teacher-student``), trained, converted
   to CTranslate2 int8 and scored by ``benchmarks/train_default.py`` on the four benchmark sets
   (``--teacher-checkpoint DIR`` reuses a trained one).
2. **Corpus**: the teacher (int8) labels the gold training sentences of those sets and the
   unlabeled sentences (``benchmarks/unlabeled.py`` output, less the gold texts it repeats;
   ``--unlabeled-limit`` takes every source in turn, so that a limit keeps every domain) through
   ``fsa-edge distill --prompt label``: hard answers plus soft targets (resumable).
   With ``--sentence-head``: the teacher gets a zero-shot sentence head (``sentence_head.py``:
   pseudo-labels from agreeing gold elements and the teacher's own ``label`` answers in that
   corpus and on every ``--unlabeled`` sentence, not only the first ``--unlabeled-limit``
   (``OUT/teacher_unlabeled.jsonl``); never a sentence label; its sst2 / yelp2 accuracy
   recorded), and labels the corpus's sentences again, now with its sentence polarities as soft
   targets too.
3. **Students**, for every seed: the default model's recipe (``train_default.py``: MiniLM, mean dev
   F1 chooses the epoch, weight averaging) on gold alone (``gold_only``) and with the teacher's
   soft targets (``distilled``, ``--distill-weight`` / ``--temperature``, or the pair of
   ``--distill-grid`` with the best mean dev F1 on the first seed, whose run is that seed's arm);
   same recipe otherwise. Every gold-only seed runs first.
4. **Record** (``--record``, default ``benchmarks/results/distillation.json`` + ``.md``): teacher
   and both arms' int8 F1 on dev and test per set (paper's metric and counting), the gain (mean
   over sets of the seed-mean difference), and every command.
5. **Default**: every student run (both arms, every seed, every grid point) is a candidate; the
   one with the best mean dev F1 over all the sets it is scored on is named in the record
   (``default_choice``: dev chooses, test reports), and ``--install`` copies its int8 model into
   ``fsa_edge/models/default``.

Each step leaves its outputs under ``--out`` and is skipped when a rerun finds them (a step's
record file is written last), so an interrupted run resumes at the step it was in; the training
steps resume at their last finished epoch through ``OUT/last``. On the 2-core CPU this is many
hours (background it); ``--device cuda`` where a GPU is lent.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import sentence_head  # noqa: E402
import train_default  # noqa: E402
from fsa_edge.trainer import PRECISION_HELP, PRECISIONS  # noqa: E402

ARMS = ("gold_only", "distilled")


def recipe_run(out: Path, argv: list[str], commands: list[str]) -> dict:
    """``train_default.py`` with ``argv`` into ``out`` (skipped when its record exists)."""
    record = out / "record.json"
    commands.append("python benchmarks/train_default.py " + " ".join(argv))
    if not record.is_file():
        status = train_default.main([*argv, "--record", str(record)])
        if status:
            raise SystemExit(f"step failed: {commands[-1]}")
    return json.loads(record.read_text(encoding="utf-8"))


def student_argv(args: argparse.Namespace, out: Path, seed: int, datasets: list[str],
                 common: list[str], targets: list[str]) -> list[str]:
    """One student's ``train_default.py`` arguments: the default's recipe (``args.student``,
    ``epochs``, ``lr``, ``ema``) on ``datasets`` with ``seed``; ``common`` carries data, threads
    and device, ``targets`` the soft-target options (empty: gold only)."""
    return ["--out", str(out), "--student", args.student, "--epochs", str(args.epochs),
            "--lr", str(args.lr), "--ema", str(args.ema), "--seed", str(seed),
            "--datasets", ",".join(datasets), *common, *targets]


def write_teacher_inputs(path: Path, data: Path, names: list[str], unlabeled: Path | None,
                         limit: int | None) -> dict:
    """The sentences the teacher labels: gold train texts, then unlabeled sentences
    (:func:`pick_unlabeled`). Returns the counts the record keeps."""
    from fsa_edge.errors import InputError
    from fsa_edge.jsonlines import iter_json_objects
    from fsa_edge.readers import read_dataset

    rows = []
    for name in names:
        for example in read_dataset(train_default.split_file(name, "train", data)).examples:
            rows.append({"id": f"{name}:{example.review.id}", "text": example.review.text})
    counts: dict = {}
    if unlabeled is not None:
        extra = []
        for line, record in iter_json_objects(unlabeled):
            for field in ("id", "text"):
                if not isinstance(record.get(field), str):
                    raise InputError("expected a string", path=unlabeled, line=line,
                                     field=field)
            extra.append(record)
        extra, counts = pick_unlabeled(extra, limit, [row["text"] for row in rows])
        rows += [{"id": row["id"], "text": row["text"]} for row in extra]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                   encoding="utf-8")
    tmp.replace(path)
    return {"sentences": len(rows), **counts}


def pick_unlabeled(rows: list[dict], limit: int | None, gold_texts: list[str]
                   ) -> tuple[list[dict], dict]:
    """The unlabeled sentences of the corpus: every row that is not already a gold text (by
    :func:`~fsa_edge.training.sentence_key`; the fsa-benchmark source repeats the train
    sentences), then at most ``limit`` of them taken from each ``source`` in turn, in file order
    within a source, so that a limit keeps every domain (the file's head is one source: yelp2).
    Returns the rows and their counts (kept per source, dropped as gold)."""
    from fsa_edge.training import sentence_key

    def source(row: dict) -> str:
        return str(row.get("source", ""))

    gold = {sentence_key(text) for text in gold_texts}
    by_source: dict[str, list[dict]] = {}
    dropped = 0
    for row in rows:
        if sentence_key(row["text"]) in gold:
            dropped += 1
        else:
            by_source.setdefault(source(row), []).append(row)
    picked = [row for turn in itertools.zip_longest(*by_source.values())
              for row in turn if row is not None][:limit]
    kept = collections.Counter(source(row) for row in picked)
    return picked, {"unlabeled_per_source": dict(kept), "unlabeled_dropped_as_gold": dropped}


def parse_grid(spec: str) -> list[tuple[float, float]]:
    """``--distill-grid`` ``W:T,W:T,…`` → ``[(weight, temperature), …]``."""
    settings = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        weight, _, temperature = item.partition(":")
        try:
            settings.append((float(weight), float(temperature)))
        except ValueError:
            raise SystemExit(f"--distill-grid: expected WEIGHT:TEMPERATURE pairs, got {item!r}"
                             ) from None
    if not settings:
        raise SystemExit("--distill-grid: no WEIGHT:TEMPERATURE pair")
    return settings


def f1s(record: dict, split: str) -> dict[str, float]:
    return {name: row["f1"] for name, row in record[f"{split}_int8"].items()}


def mean_f1(record: dict, split: str) -> float:
    """A run's mean int8 F1 over every set it is scored on."""
    return round(statistics.mean(f1s(record, split).values()), 4)


def choose_default(records: dict[str, dict], out: Path) -> dict:
    """The student run with the best mean dev F1 among ``records`` (label: its folder below
    ``out`` → its record): its label, its int8 model and every candidate's means."""
    candidates = {label: {split: mean_f1(record, split) for split in ("dev", "test")}
                  for label, record in sorted(records.items())}
    chosen = max(candidates, key=lambda label: candidates[label]["dev"])
    return {"chosen": chosen, "model": str(out / chosen / "ct2-int8"),
            "mean_f1_of_candidates": candidates}


def set_label(name: str) -> str:
    """``atsa/rest14``, ``ASTE-Data-V2-EMNLP2020/14res``: a data set's folder below its corpus."""
    return train_default.DATASETS[name][1].split("/", 1)[1]


def summary(teacher: dict, arms: dict[str, dict[int, dict]], names: list[str],
            seeds: list[int], commands: list[str], corpus: dict,
            student_extra: list[str] = ()) -> dict:
    """The record: teacher and arms on ``names`` (the claim's sets, the gain's), and the arms
    on ``student_extra`` (sets only the students train on, reported beside, not in the gain)."""
    result = {"sets": [set_label(n) for n in names],
              "student_extra_sets": [set_label(n) for n in student_extra],
              "teacher": {split: {set_label(n): f1s(teacher, split)[n] for n in names}
                          for split in ("dev", "test")}}
    for arm, runs in arms.items():
        result[arm] = {"seeds": seeds, **{
            split: {set_label(n): [f1s(runs[seed], split)[n] for seed in seeds]
                    for n in [*names, *student_extra]}
            for split in ("dev", "test")}}
    for split in ("dev", "test"):
        gains = [statistics.mean(result["distilled"][split][s]) -
                 statistics.mean(result["gold_only"][split][s]) for s in result["sets"]]
        result[f"gain_{split}"] = round(statistics.mean(gains), 2)
    result["corpus"] = corpus
    result["commands"] = commands
    return result


def markdown(result: dict) -> str:
    lines = ["# Distillation: gold-only vs distilled student (CT2 int8 F1, paper's metric)", "",
             "| set | teacher dev | teacher test | gold-only dev | distilled dev | "
             "gold-only test | distilled test |", "|---|---|---|---|---|---|---|"]
    for name in [*result["sets"], *result.get("student_extra_sets", [])]:
        def mean(arm: str, split: str) -> str:
            values = result[arm][split][name]
            return f"{statistics.mean(values):.2f} (±{statistics.pstdev(values):.2f})"

        def teacher(split: str) -> str:
            value = result["teacher"][split].get(name)
            return "–" if value is None else f"{value:.2f}"

        lines.append(f"| {name} | {teacher('dev')} | {teacher('test')} | "
                     f"{mean('gold_only', 'dev')} | "
                     f"{mean('distilled', 'dev')} | {mean('gold_only', 'test')} | "
                     f"{mean('distilled', 'test')} |")
    if "zero_shot_sentence" in result:
        lines += ["", "Zero-shot sentence polarity (accuracy; no sentence label in training):", "",
                  "| test set | teacher | distilled students |", "|---|---|---|"]
        scores = result["zero_shot_sentence"]
        for name, row in scores["teacher"].items():
            values = [r["accuracy"] for r in scores.get("distilled", {}).get(name, [])]
            students = (f"{statistics.mean(values):.2f} (±{statistics.pstdev(values):.2f})"
                        if values else "–")
            lines.append(f"| {name} | {row['accuracy']:.2f} | {students} |")
    setting = result.get("distillation_setting")
    if setting:
        grid = setting.get("chosen_on_dev")
        lines += ["", f"Distillation weight {setting['weight']:g}, temperature "
                      f"{setting['temperature']:g}" + (
                          " (chosen on mean dev F1 with the first seed: " + ", ".join(
                              f"{k} → {v:.2f}" for k, v in grid.items()) + ")" if grid else "")
                  + "."]
    corpus = result.get("corpus", {})
    if corpus.get("unlabeled_per_source"):
        lines += ["", f"Teacher corpus: {corpus['sentences']:,} sentences; unlabeled ones per "
                      "source: " + ", ".join(f"{source} {count:,}" for source, count
                                             in corpus["unlabeled_per_source"].items())
                  + f" ({corpus['unlabeled_dropped_as_gold']:,} dropped: a gold train text)."]
    lines += ["", f"Seeds {result['gold_only']['seeds']}; gain (mean over sets of the "
              f"seed-mean difference): dev {result['gain_dev']:+.2f}, test "
              f"{result['gain_test']:+.2f}.", "", "Commands:", ""]
    lines += [f"    {command}" for command in result["commands"]]
    choice = result.get("default_choice")
    if choice:
        lines += ["", "Default model candidates (mean int8 F1 over every scored set; dev "
                      "chooses):", "", "| run | dev | test |", "|---|---|---|"]
        lines += [f"| {label}{' (chosen)' if label == choice['chosen'] else ''} | "
                  f"{means['dev']:.2f} | {means['test']:.2f} |"
                  for label, means in choice["mean_f1_of_candidates"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=train_default.DATA)
    parser.add_argument("--datasets", default="rest14,laptop14,rest16,laptop16")
    parser.add_argument("--student-extra-datasets", default="",
                        help="sets only the student arms train on and report (e.g. the ASTE "
                             "sets of the default's recipe); not in the gain")
    parser.add_argument("--teacher-student", default="mpnet")
    parser.add_argument("--teacher-checkpoint", type=Path, default=None)
    parser.add_argument("--teacher-epochs", type=int, default=3)
    parser.add_argument("--teacher-lr", type=float, default=5e-5)
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--unlabeled", type=Path, default=None,
                        help="sentences from benchmarks/unlabeled.py (JSONL of id, text)")
    parser.add_argument("--unlabeled-limit", type=int, default=None)
    parser.add_argument("--sentence-head", action="store_true",
                        help="give the teacher a zero-shot sentence head and distil its "
                             "sentence polarities too (students then serve sentence)")
    parser.add_argument("--distill-grid", default="",
                        help="WEIGHT:TEMPERATURE pairs (comma-separated) tried with the first "
                             "seed; the best mean dev F1 is used for every distilled seed")
    parser.add_argument("--distill-weight", type=float, default=1.0)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="teacher and students: " + PRECISION_HELP)
    parser.add_argument("--min-agreement", type=float, default=0.8)
    parser.add_argument("--max-mean-delta", type=float, default=0.1)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--record", type=Path,
                        default=ROOT / "benchmarks" / "results" / "distillation.json")
    parser.add_argument("--install", action="store_true",
                        help="copy the chosen student's int8 model to "
                             f"{train_default.INSTALL_DIR.relative_to(ROOT)}")
    parser.add_argument("--install-dir", type=Path, default=train_default.INSTALL_DIR,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    student_extra = [n.strip() for n in args.student_extra_datasets.split(",") if n.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    common = ["--data", str(args.data), "--threads", str(args.threads), "--device", args.device,
              *(["--precision", args.precision] if args.precision != "auto" else []),
              "--min-agreement", str(args.min_agreement), "--max-mean-delta",
              str(args.max_mean_delta),
              *(["--test-limit", str(args.test_limit)] if args.test_limit else [])]
    commands = ["python benchmarks/distillation.py " + " ".join(argv or sys.argv[1:])]

    teacher_argv = ["--out", str(args.out / "teacher"), "--student", args.teacher_student,
                    "--epochs", str(args.teacher_epochs), "--lr", str(args.teacher_lr),
                    "--ema", str(args.ema), "--datasets", ",".join(names), *common]
    if args.teacher_checkpoint:
        teacher_argv += ["--checkpoint", str(args.teacher_checkpoint)]
    teacher = recipe_run(args.out / "teacher", teacher_argv, commands)

    inputs, corpus = args.out / "teacher_inputs.jsonl", args.out / "soft_targets.jsonl"
    inputs_counts = write_teacher_inputs(inputs, args.data, names, args.unlabeled,
                                         args.unlabeled_limit)
    distill = [*train_default.fsa_edge_command(), "distill", str(inputs), "--teacher",
               str(args.out / "teacher" / "ct2-int8"), "--prompt", "label", "-o", str(corpus)]
    commands.append("fsa-edge " + " ".join(distill[3:]))
    distilled = json.loads(train_default.run(distill).strip().splitlines()[-1])
    teacher_sentence = None
    if args.sentence_head:
        folder = args.out / "teacher_sentence"
        sentence_corpora = [corpus]
        if args.unlabeled is not None:  # the head learns from the teacher on every unlabeled text
            sentence_corpora.append(args.out / "teacher_unlabeled.jsonl")
            label_all = [*train_default.fsa_edge_command(), "distill", str(args.unlabeled),
                         "--teacher", str(args.out / "teacher" / "ct2-int8"), "--prompt",
                         "label", "-o", str(sentence_corpora[-1])]
            commands.append("fsa-edge " + " ".join(label_all[3:]))
            train_default.run(label_all)
        sentence_argv = ["--out", str(folder), "--model", str(args.out / "teacher" / "ct2-int8"),
                         "--data", str(args.data), "--signals", "gold,teacher",
                         *[arg for path in sentence_corpora
                           for arg in ("--teacher-corpus", str(path))],
                         "--threads", str(args.threads), "--record", str(folder / "record.json"),
                         *(["--test-limit", str(args.test_limit)] if args.test_limit else [])]
        commands.append("python benchmarks/sentence_head.py " + " ".join(sentence_argv))
        if not (folder / "record.json").is_file():
            sentence_head.main(sentence_argv)
        teacher_sentence = json.loads((folder / "record.json").read_text(encoding="utf-8"))
        corpus = args.out / "soft_targets_sentence.jsonl"
        distill = [*train_default.fsa_edge_command(), "distill", str(inputs), "--teacher",
                   str(folder / "model"), "--prompt", "label", "-o", str(corpus)]
        commands.append("fsa-edge " + " ".join(distill[3:]))
        distilled = json.loads(train_default.run(distill).strip().splitlines()[-1])

    def arm_argv(out: Path, seed: int, setting: tuple[float, float] | None) -> list[str]:
        """``setting``: distillation weight and temperature; ``None``: gold only."""
        targets = [] if setting is None else [
            "--soft-targets", str(corpus), "--distill-weight", str(setting[0]),
            "--temperature", str(setting[1])]
        return student_argv(args, out, seed, [*names, *student_extra], common, targets)

    arms: dict[str, dict[int, dict]] = {arm: {} for arm in ARMS}
    folders = {arm: {seed: args.out / arm / str(seed) for seed in seeds} for arm in ARMS}
    for seed in seeds:  # every gold-only seed first: they need no corpus
        arms["gold_only"][seed] = recipe_run(folders["gold_only"][seed],
                                             arm_argv(folders["gold_only"][seed], seed, None),
                                             commands)
    setting = (args.distill_weight, args.temperature)
    grid_dev: dict[str, float] = {}
    grid_runs: dict[tuple[float, float], tuple[Path, dict, float]] = {}
    if args.distill_grid:  # weight and temperature chosen on dev, with the first seed
        for weight, temperature in parse_grid(args.distill_grid):
            out = args.out / "grid" / f"w{weight:g}_t{temperature:g}"
            record = recipe_run(out, arm_argv(out, seeds[0], (weight, temperature)),
                                commands)
            dev = mean_f1(record, "dev")
            grid_runs[(weight, temperature)] = (out, record, dev)
            grid_dev[f"{weight:g}:{temperature:g}"] = dev
        setting = max(grid_runs, key=lambda key: grid_runs[key][2])
        # that run is the first seed's arm
        folders["distilled"][seeds[0]], arms["distilled"][seeds[0]], _ = grid_runs[setting]
    for seed in seeds:
        if seed not in arms["distilled"]:
            arms["distilled"][seed] = recipe_run(
                folders["distilled"][seed],
                arm_argv(folders["distilled"][seed], seed, setting), commands)

    if teacher_sentence is not None:
        sentence_scores = {"teacher": {name: row["head"] for name, row
                                       in teacher_sentence["zero_shot"].items()}}
        for seed in seeds:
            for name, row in sentence_head.run_zero_shot(folders["distilled"][seed], args.data,
                                                         args.test_limit).items():
                sentence_scores.setdefault("distilled", {}).setdefault(name, []).append(
                    row["head"])
    result = summary(teacher, arms, names, seeds, commands,
                     {**inputs_counts, "distill": {k: distilled.get(k) for k in
                                                          ("written", "skipped", "errors",
                                                           "seconds") if k in distilled}},
                     student_extra)
    result["distillation_setting"] = {"weight": setting[0], "temperature": setting[1],
                                      **({"chosen_on_dev": grid_dev} if grid_dev else {})}
    if teacher_sentence is not None:
        result["zero_shot_sentence"] = sentence_scores
    student_records = {str(folders[arm][seed].relative_to(args.out)): arms[arm][seed]
                       for arm in ARMS for seed in seeds}
    student_records.update({str(folder.relative_to(args.out)): record
                            for folder, record, _ in grid_runs.values()})
    result["default_choice"] = choose_default(student_records, args.out)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    args.record.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    if args.install:
        if args.install_dir.exists():
            shutil.rmtree(args.install_dir)
        shutil.copytree(result["default_choice"]["model"], args.install_dir)
        print(f"installed {result['default_choice']['chosen']} into {args.install_dir}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
