"""Recipe of the embedded default model: fine-tune → convert (int8) → score → install.

    python benchmarks/train_default.py --out runs/default --install            # full recipe
    python benchmarks/train_default.py --checkpoint DIR --datasets rest14 \
        --out runs/default --install                                           # from a trained student

1. Fine-tunes the MiniLM warm start multi-task on the benchmark train splits chosen by
   ``--datasets`` (default: rest14, laptop14 ATSA; rest16, laptop16 ACSA) — ``--kind tagger``
   (default: ``fsa-edge train tagger finetune``, encoder + heads, best epoch by the mean dev F1) or
   ``--kind seq2seq`` (``fsa-edge train seq2seq finetune``, best epoch by the first set's dev F1);
   ``--extra acos-laptop`` adds a training-only corpus (ACOS laptop quads as ACSA;
   ``acos-laptop-triplets``: the same quads as ASTE triplets, fully explicit sentences only);
   ``--soft-targets CORPUS`` distils a tagger teacher's soft targets (``--distill-weight``,
   ``--temperature``; ``--sentence-soft-targets CORPUS``: only its sentence polarities, e.g.
   from another teacher); sentences of the dev and test splits never enter training (of every
   scored set, or with ``--held-out-scope trained`` of the ``--datasets`` sets only). Skipped when ``--checkpoint``
   names a trained student.
2. Converts it with ``fsa-edge convert -q int8`` (parity gate on dev sentences). Tagger with
   ACSA or ASTE sets: calibrates the int8 model's ``none`` thresholds (category head on the ACSA
   dev splits, pair head on the ASTE ones), then its score maps on the ATSA, ACSA and ASTE dev
   splits (``fsa-edge train tagger calibrate``), and writes the same fields into the
   checkpoint's card.
3. Scores the int8 model on the test (and dev) splits with the paper's metric.
4. Writes the card (data, recipe, seed, metrics, size) and, with ``--install``, copies the
   model into ``fsa_edge/models/default`` — the ``default`` alias.
Runs on CPU (background it: hours on 2 cores) or CUDA (``--device cuda``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from fsa_edge.trainer import PRECISION_HELP, PRECISIONS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
INSTALL_DIR = ROOT / "fsa_edge" / "models" / "default"
sys.path.insert(0, str(ROOT / "benchmarks"))

DATASETS = {
    "rest14": ("atsa", "fsa-benchmark/atsa/rest14"),
    "laptop14": ("atsa", "fsa-benchmark/atsa/laptop14"),
    "rest16": ("acsa", "fsa-benchmark/acsa/rest16"),
    "laptop16": ("acsa", "fsa-benchmark/acsa/laptop16"),
    "aste14res": ("aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/14res"),
    "aste14lap": ("aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/14lap"),
    "aste15res": ("aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/15res"),
    "aste16res": ("aste", "aste-data-v2/ASTE-Data-V2-EMNLP2020/16res"),
}
EXTRA_TRAIN = {  # training-only corpora of the same task (no dev split; not scored)
    "acos-laptop": ("acsa", "acos/data/Laptop-ACOS/laptop_quad_train.tsv"),
    # the same quads as triplets: sentences whose every quad has an explicit aspect and opinion
    "acos-laptop-triplets": ("aste", "acos/data/Laptop-ACOS/laptop_quad_train.tsv"),
}


def split_file(name: str, split: str, data: Path = DATA) -> Path:
    """The ``split`` (train, dev, test) file of data set ``name`` (a key of :data:`DATASETS`)."""
    task, folder = DATASETS[name]
    return data / folder / (f"{split}_triplets.txt" if task == "aste" else f"{split}.json")


#: which dev and test splits a run keeps out of training (``--held-out-scope``)
HELD_OUT_SCOPES = {
    "all": "every set fsa-edge scores, ASTE and sentence sets included, whichever task's file "
           "holds the sentence (the guard of a model that serves every task, and of a teacher "
           "of one)",
    "trained": "only those of the --datasets sets, whichever of them holds the sentence (for a "
               "model scored on those sets alone, e.g. the teacher as a second model; ASTE-V2's "
               "15res/16res dev and test sentences then stay rest16 ACSA training sentences)",
}


def held_out_files(data: Path = DATA, names: list[str] | None = None) -> list[Path]:
    """The dev and test files of every set fsa-edge scores (:data:`DATASETS`, trained or not,
    and the sentence sets): none of their sentences enters training, whichever task's file
    holds it (ASTE-V2 and the benchmark share SemEval sentences). ACOS and ASQP dev/test
    splits are drawn from SemEval train data and never scored here: held out, they would only
    remove training sentences (384 of laptop16's). With ``names`` (scope ``trained``), only
    those sets' dev and test files."""
    files = [split_file(name, split, data) for name in (DATASETS if names is None else names)
             for split in ("dev", "test")]
    if names is None:
        files += sorted((data / "sentence-sentiment").glob("*/val.json"))
        files += sorted((data / "sentence-sentiment").glob("*/test.json"))
    return [path for path in files if path.is_file()]


def run(command: list[str]) -> str:
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"step failed (exit {result.returncode}): {' '.join(command)}")
    return result.stdout


def fsa_edge_command() -> list[str]:
    return [sys.executable, "-m", "fsa_edge.cli"]


def write_samples(data: Path, names: list[str], path: Path, count: int = 32) -> None:
    from fsa_edge.readers import read_dataset

    texts = []
    for name in names:
        texts += [ex.review.text for ex in read_dataset(split_file(name, "dev", data)).examples]
    step = max(1, len(texts) // count)
    with path.open("w", encoding="utf-8") as handle:
        for text in texts[::step][:count]:
            handle.write(json.dumps({"text": text}) + "\n")


def write_record(path: Path, card_extra: dict, checkpoint: Path) -> None:
    """The run's record for ``benchmarks/results``: everything is read from the converted model's
    card and the checkpoint's per-epoch metrics log."""
    history = [json.loads(line) for line in
               (checkpoint / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()] if (checkpoint / "metrics.jsonl").is_file() else []
    tagger = card_extra.get("tagger", {})
    default_model = card_extra["default_model"]
    parity = {k: v for k, v in card_extra.get("parity", {}).items() if k != "disagreements"}
    record = {
        "benchmark": "train_default", "command": default_model["recipe"],
        "seed": default_model["seed"], "student_init": card_extra.get("student_init"),
        "data": default_model["data"], "extra_train": card_extra.get("extra_train", []),
        "dropped_overlap": card_extra.get("dropped_overlap"),
        "ignored_unknown_categories": card_extra.get("ignored_unknown_categories"),
        "dropped_implicit": card_extra.get("dropped_implicit"),
        "recipe": card_extra.get("recipe"),
        "train_seconds": round(sum(h.get("epoch_seconds", 0) for h in history), 1),
        "dev_history": [{k: h[k] for k in ("epoch", "epoch_seconds", "train_loss", "dev_f1",
                                           "dev_score") if k in h} for h in history],
        "kept_epoch": card_extra.get("epoch"), "calibration": tagger.get("calibration"),
        "none_below": tagger.get("none_below"),
        "triplet_calibration": tagger.get("triplet_calibration"),
        "span_none_below": tagger.get("span_none_below"),
        "pair_none_below": tagger.get("pair_none_below"), "parity_int8": parity,
        **{f"{split}_int8": {name: {k: row[k] for k in ("precision", "recall", "f1")} | {
            "counting": row.get("counting")} for name, row in default_model[split].items()}
           for split in ("test", "dev") if split in default_model},
        "size_mb": default_model["size_mb"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def score_line(name: str, task: str, split: str, f1: float) -> str:
    """The progress line of one data set's score (``rest14: atsa test F1 73.41``)."""
    return f"{name}: {task} {split} F1 {f1:.2f}"


def is_test_score_line(line: str) -> bool:
    """Whether a progress line is a :func:`score_line` of a test split."""
    return " test F1 " in line


def score(model: Path, data: Path, names: list[str], limit: int | None,
          split: str = "test") -> dict[str, dict]:
    import fsa_edge
    from fsa_edge.metric import gold_by_id
    from fsa_edge.readers import read_dataset

    analyzer = fsa_edge.load(model)  # the card names the backend
    scores = {}
    for name in names:
        task = DATASETS[name][0]
        examples = read_dataset(split_file(name, split, data)).examples[:limit]
        results = analyzer.analyze([ex.review for ex in examples], task=task)
        evaluation = fsa_edge.evaluate(task, gold_by_id(examples),
                                       {r.id: r.elements for r in results if r.error is None})
        scores[name] = {"task": task, "records": len(examples), **evaluation.to_dict()}
        print(score_line(name, task, split, evaluation.overall.f1), file=sys.stderr)
    analyzer.close()
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", default="rest14,laptop14,rest16,laptop16")
    parser.add_argument("--held-out-scope", choices=tuple(HELD_OUT_SCOPES), default="all",
                        help="whose dev and test sentences stay out of training: "
                             + "; ".join(f"{k}: {v}" for k, v in HELD_OUT_SCOPES.items()))
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a trained HF student: skip fine-tuning")
    parser.add_argument("--kind", choices=("tagger", "seq2seq"), default="tagger",
                        help="the student: encoder + heads, or generative")
    parser.add_argument("--student", default="minilm")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=None,
                        help="default: 1e-4 (tagger), 1.5e-4 (seq2seq)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="",
                        help=f"tagger: comma-separated extra training corpora: "
                             f"{', '.join(EXTRA_TRAIN)}, or TASK:FILE (e.g. a teacher's "
                             f"pseudo-labels from benchmarks/pseudo_triplets.py)")
    parser.add_argument("--pooling", choices=("attention", "mean"), default="attention",
                        help="tagger: the category head's sentence vector")
    parser.add_argument("--ema", type=float, default=None,
                        help="tagger: score and save a moving average of the weights (decay)")
    parser.add_argument("--share-category-parts", action="store_true",
                        help="tagger: categories share head parameters with their entity and "
                             "attribute")
    parser.add_argument("--soft-targets", type=Path, action="append", default=[],
                        help="tagger: a tagger teacher's corpus to distil (repeatable)")
    parser.add_argument("--sentence-soft-targets", type=Path, action="append", default=[],
                        help="tagger: a teacher's corpus whose sentence polarities only are "
                             "distilled, replacing those of --soft-targets (repeatable)")
    parser.add_argument("--distill-weight", type=float, default=1.0,
                        help="tagger: weight of the distillation term")
    parser.add_argument("--temperature", type=float, default=2.0,
                        help="tagger: temperature of the distillation term")
    parser.add_argument("--state-teacher", type=Path, default=None,
                        help="tagger: a tagger teacher with a sentence head whose mean piece "
                             "states every training row keeps (the state term)")
    parser.add_argument("--state-weight", type=float, default=1.0,
                        help="tagger: weight of the state term")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="tagger: " + PRECISION_HELP)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--decoder-layers", type=int, default=3)
    parser.add_argument("--min-agreement", type=float, default=0.8)
    parser.add_argument("--max-mean-delta", type=float, default=0.1)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--record", type=Path, default=None,
                        help="also write the run's record (recipe, dev history, calibration, "
                             "parity, test scores, size) as JSON here")
    parser.add_argument("--install", action="store_true",
                        help=f"copy the converted model to {INSTALL_DIR.relative_to(ROOT)}")
    parser.add_argument("--install-dir", type=Path, default=INSTALL_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown data sets {unknown}; known: {', '.join(DATASETS)}")
    tagger_only = [flag for flag, value in (("--extra", args.extra), ("--ema", args.ema),
                                            ("--share-category-parts", args.share_category_parts),
                                            ("--soft-targets", args.soft_targets),
                                            ("--sentence-soft-targets",
                                             args.sentence_soft_targets),
                                            ("--state-teacher", args.state_teacher),
                                            ("--precision", args.precision != "auto"))
                   if value]
    if args.kind != "tagger" and tagger_only:
        raise SystemExit(f"{', '.join(tagger_only)}: only for --kind tagger")
    extra_args = []
    for name in filter(None, (n.strip() for n in args.extra.split(","))):
        if name in EXTRA_TRAIN:
            extra_args += ["--extra-train", f"{EXTRA_TRAIN[name][0]}:{args.data / EXTRA_TRAIN[name][1]}"]
        elif ":" in name and Path(name.partition(":")[2]).is_file():  # TASK:FILE
            extra_args += ["--extra-train", name]
        else:
            raise SystemExit(f"unknown extra corpus {name!r}; known: {', '.join(EXTRA_TRAIN)}, "
                             f"or TASK:FILE of an existing file")
    args.out.mkdir(parents=True, exist_ok=True)

    checkpoint = args.checkpoint
    if checkpoint is None:
        from fsa_edge.trainer import resumable

        checkpoint = args.out / "hf"
        specs = [part for name in names for part in (
            "--data", ":".join([DATASETS[name][0], str(split_file(name, "train", args.data)),
                                str(split_file(name, "dev", args.data))]))]
        scope = names if args.held_out_scope == "trained" else None
        held_out = [a for path in held_out_files(args.data, scope)
                    for a in ("--held-out", str(path))]
        common = ["--student", args.student, "--out", str(checkpoint), "--epochs",
                  str(args.epochs), "--seed", str(args.seed), "--threads", str(args.threads),
                  "--device", args.device]
        if resumable(checkpoint):  # an interrupted (or finished) run continues where it stopped
            common.append("--resume")
        if args.kind == "tagger":
            run([*fsa_edge_command(), "train", "tagger", "finetune", *specs, *held_out, *common,
                 "--lr", str(args.lr or 1e-4), "--select", "mean",
                 "--category-pooling", args.pooling, "--precision", args.precision,
                 *extra_args,
                 *(["--ema", str(args.ema)] if args.ema else []),
                 *(["--share-category-parts"] if args.share_category_parts else []),
                 *[a for path in args.soft_targets for a in ("--soft-targets", str(path))],
                 *[a for path in args.sentence_soft_targets
                   for a in ("--sentence-soft-targets", str(path))],
                 *(["--distill-weight", str(args.distill_weight), "--temperature",
                    str(args.temperature)]
                   if args.soft_targets or args.sentence_soft_targets else []),
                 *(["--state-teacher", str(args.state_teacher), "--state-weight",
                    str(args.state_weight)] if args.state_teacher else [])])
        else:
            run([*fsa_edge_command(), "train", "seq2seq", "finetune", *specs, *common,
                 "--lr", str(args.lr or 1.5e-4), "--decoder-layers", str(args.decoder_layers),
                 "--train-fraction", str(args.train_fraction)])

    from fsa_edge.card import ModelCard

    devs = {task: [str(split_file(n, "dev", args.data)) for n in names
                   if DATASETS[n][0] == task] for task in ("atsa", "acsa", "aste")}
    samples = args.out / "parity_samples.jsonl"
    write_samples(args.data, names, samples)
    converted = args.out / "ct2-int8"
    if converted.exists():
        shutil.rmtree(converted)
    run([*fsa_edge_command(), "convert", str(checkpoint), str(converted), "-q", "int8",
         "--samples", str(samples), "--min-agreement", str(args.min_agreement),
         "--max-mean-delta", str(args.max_mean_delta)])
    if ModelCard.load(checkpoint).backend == "tagger" and (devs["acsa"] or devs["aste"]):
        # Calibrate what ships (int8): the category, span and pair thresholds, then the score maps
        # of the tasks; the checkpoint gets the same fields.
        run([*fsa_edge_command(), "train", "tagger", "calibrate", str(converted), "--also",
             str(checkpoint), "--threads", str(args.threads),
             *[a for dev in devs["acsa"] for a in ("--dev", dev)],
             *[a for dev in devs["atsa"] for a in ("--term-dev", dev)],
             *[a for dev in devs["aste"] for a in ("--triplet-dev", dev)]])

    card = ModelCard.load(converted)
    test_scores = score(converted, args.data, names, args.test_limit)
    dev_scores = score(converted, args.data, names, args.test_limit, split="dev")
    size = sum(f.stat().st_size for f in converted.rglob("*") if f.is_file())
    extra = dict(card.extra)
    extra["default_model"] = {
        "recipe": "python benchmarks/train_default.py " + " ".join(argv or sys.argv[1:]),
        "data": {n: DATASETS[n][1] for n in names}, "seed": args.seed,
        "student_checkpoint": str(checkpoint), "test": test_scores, "dev": dev_scores,
        "size_mb": round(size / 2**20, 1),
    }
    card = replace(card, extra=extra)
    card.save(converted)
    print(json.dumps(extra["default_model"], indent=2))
    if args.record:
        write_record(args.record, extra, checkpoint)
    if args.install:
        if args.install_dir.exists():
            shutil.rmtree(args.install_dir)
        shutil.copytree(converted, args.install_dir)
        print(f"installed into {args.install_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
