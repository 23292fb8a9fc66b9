"""Zero-shot sentence polarity on the default model: a sentence head fitted without any
sentence- or review-level label, measured on SST-2 and Yelp-2 test.

    python benchmarks/sentence_head.py --out /tmp/runs/sentence_head [--teacher-corpus CORPUS]
        [--model default | --encoder mpnet] [--install]

1. **Pseudo-labels** (``--signals``, default ``gold``; ``teacher`` and ``teacher-sentence`` read
   ``--teacher-corpus``): texts whose fine-grained elements all share one polarity —
   ``gold``: train splits of fsa-benchmark (ATSA, ACSA), ASTE-Data-V2, ACOS and ASQP;
   ``teacher``: the rows of ``fsa-edge distill --prompt label`` corpora (``--teacher-corpus``,
   repeatable: a teacher's answers on gold-train and unlabeled sentences) — or, with
   ``teacher-sentence``, the most probable polarity of a tagger teacher's own sentence head
   (``teacher_extra.soft_targets.sentence``; that teacher's head was fitted zero-shot too).
   Never a ``sentence-sentiment`` label or a star rating;
   the held-out guard of ``benchmarks/unlabeled.py`` drops every dev/test/val text of every set
   (sst2 and yelp2 test included), counted in the record. ``--agreement-holdout F`` keeps a
   fixed fraction ``F`` of the teacher-sentence rows (by a hash of the text) out of the fit and
   records how often the new head and ``--model``'s own head agree with the teacher on them: a
   label-free way to choose a head.
2. **Head**: ``fsa-edge train tagger sentence-head`` on a copy of ``--model`` in ``--out``
   (numpy on the frozen encoder: ATSA and ACSA outputs are unchanged). ``--encoder`` instead
   probes a warm start as it was pre-trained (no fine-tuning): ``OUT/untuned/`` gets it as a
   tagger with untrained heads (their answers are noise), converted to int8 without the parity
   gate (random heads cannot pass it; the encoder's max |Δ| is printed).
3. **Zero-shot test**: ``sentence`` on sst2 and yelp2 test (a review longer than the window is
   split into sentences and the parts vote), accuracy and macro-F1 (a ``neutral`` answer is
   wrong on these two-class sets); against the aggregation floor — the sign of the score-weighted
   sum of the same model's ATSA and ACSA polarities (no element: wrong).
4. Record ``--record`` (default ``benchmarks/results/sentence_head.{json,md}``); ``--install``
   copies the head into ``fsa_edge/models/default``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))

GOLD_TRAIN = ("fsa-benchmark/atsa/rest14/train.json", "fsa-benchmark/atsa/laptop14/train.json",
              "fsa-benchmark/acsa/rest16/train.json", "fsa-benchmark/acsa/laptop16/train.json",
              *[f"aste-data-v2/ASTE-Data-V2-EMNLP2020/{n}/train_triplets.txt"
                for n in ("14res", "14lap", "15res", "16res")],
              "acos/data/Laptop-ACOS/laptop_quad_train.tsv",
              "acos/data/Restaurant-ACOS/rest16_quad_train.tsv",
              "asqp/data/rest15/train.txt", "asqp/data/rest16/train.txt")
TESTS = ("sst2", "yelp2")
SIGNAL_DESCRIPTIONS = {
    "gold": "gold-train texts whose fine-grained elements all share one polarity",
    "teacher": "a teacher's label answers whose elements all share one polarity",
    "teacher-sentence": "a tagger teacher's own (zero-shot) sentence polarity"}
SIGNALS = tuple(SIGNAL_DESCRIPTIONS)
TEACHER_SENTENCE_SOURCE = "teacher-sentence:"  # + the corpus path: a pseudo-label row's source


def pseudo_labels(data: Path, signals: list[str], teacher_corpora: list[Path]
                  ) -> tuple[list[dict], dict]:
    """Rows {text, polarity, source} and the counts per source (kept, mixed, held out, dupes)."""
    from unlabeled import held_out_keys

    from fsa_edge.readers import read_dataset
    from fsa_edge.teaching import iter_corpus_rows
    from fsa_edge.training import sentence_key
    from fsa_edge_tagger.sentence_head import agreeing_polarity

    unknown = set(signals) - set(SIGNALS)
    if unknown:
        raise SystemExit(f"unknown --signals {', '.join(sorted(unknown))} (known: "
                         f"{', '.join(SIGNALS)})")
    if {"teacher", "teacher-sentence"} & set(signals) and not teacher_corpora:
        raise SystemExit("--signals teacher / teacher-sentence need --teacher-corpus")
    held_out, _ = held_out_keys(data)
    rows, seen, counts = [], set(), {}

    def offer(source: str, text: str, polarities: list[str]) -> None:
        count = counts.setdefault(source, {"texts": 0, "kept": 0, "no_agreement": 0,
                                           "held_out": 0, "duplicate": 0})
        count["texts"] += 1
        key = sentence_key(text)
        polarity = agreeing_polarity(polarities)
        if polarity is None:
            count["no_agreement"] += 1
        elif key in held_out:
            count["held_out"] += 1
        elif key in seen:
            count["duplicate"] += 1
        else:
            seen.add(key)
            count["kept"] += 1
            rows.append({"text": text, "polarity": polarity, "source": source})

    if "gold" in signals:
        for name in GOLD_TRAIN:
            for example in read_dataset(data / name).examples:
                offer(f"gold:{name}", example.review.text, [e.polarity for e in example.elements])
    if "teacher" in signals:
        for corpus in teacher_corpora:
            for row in iter_corpus_rows(corpus):
                if row.get("error") is None and row.get("text"):
                    offer(f"teacher:{corpus}", row["text"],
                          [e["polarity"] for e in row.get("elements") or []])
    if "teacher-sentence" in signals:
        for corpus in teacher_corpora:
            for text, polarity in teacher_sentence_polarities(corpus):
                offer(f"{TEACHER_SENTENCE_SOURCE}{corpus}", text, [polarity])
    return rows, counts


def teacher_sentence_polarities(corpus: Path) -> Iterator[tuple[str, str]]:
    """``(text, polarity)`` of each answered row of a tagger-teacher corpus: the most probable
    class of the teacher's sentence distribution. A row without one is an
    :class:`~fsa_edge.errors.InputError` naming file, line and field."""
    from fsa_edge.errors import InputError
    from fsa_edge_tagger.sentence_head import SENTENCE_CLASSES
    from fsa_edge_tagger.soft_targets import iter_soft_targets

    for text, soft in iter_soft_targets(corpus):
        probabilities = soft.sentence_targets()
        if probabilities is None:
            raise InputError("no sentence distribution (the teacher had no sentence head)",
                             path=corpus, line=soft.line,
                             field="teacher_extra.soft_targets.sentence")
        yield text, SENTENCE_CLASSES[int(np.argmax(probabilities))]


def split_holdout(rows: list[dict], fraction: float) -> tuple[list[dict], list[dict]]:
    """``(fit, held)``: the teacher-sentence rows in the hash slice
    (:func:`~fsa_edge.training.in_text_slice`) are held; the rest fit."""
    from fsa_edge.training import in_text_slice

    fit: list[dict] = []
    held: list[dict] = []
    for row in rows:
        teacher_sentence = row["source"].startswith(TEACHER_SENTENCE_SOURCE)
        (held if teacher_sentence and in_text_slice(row["text"], fraction) else fit).append(row)
    return fit, held


def teacher_agreement(models: Mapping[str, Path], held: list[dict]) -> dict:
    """Per model, the share (%) of ``held`` rows whose ``sentence`` answer is the teacher's
    polarity; ``None`` for a model without a sentence head."""
    import fsa_edge

    texts = [r["text"] for r in held]
    report: dict = {"texts": len(texts)}
    for name, model in models.items():
        with fsa_edge.load(model) as analyzer:
            if "sentence" not in {t.name for t in analyzer.all_tasks()}:
                report[name] = None
                continue
            results = analyzer.analyze(texts, task="sentence")
        same = sum(bool(r.elements) and r.elements[0].polarity == row["polarity"]
                   for r, row in zip(results, held))
        report[name] = round(100 * same / max(len(texts), 1), 2)
    return report


def untuned_model(encoder: str, out: Path, data: Path) -> Path:
    """A tagger directory of the warm start ``encoder`` with untrained heads, converted to int8
    (``OUT/untuned/ct2-int8``): the frozen pre-trained encoder for a sentence-head probe."""
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import TaggerJob

    folder = out / "untuned"
    if not (folder / "hf").is_dir():
        bench = data / "fsa-benchmark"
        sets = [TaskData.parse(f"{task}:{bench / task / name / 'train.json'}:"
                               f"{bench / task / name / 'dev.json'}")
                for task, name in (("atsa", "rest14"), ("acsa", "rest16"))]
        job = TaggerJob(sets, student=encoder, dropout=0.1, lr=0.0, head_lr=0.0,
                        weight_decay=0.0, max_input_length=128, select="first",
                        pooling="attention", share_category_parts=False, held_out_texts=(),
                        extra_train=(), card_extra={"student_init": encoder, "untuned": True})
        job.build("cpu")
        job.save(folder / "hf", {"epoch": 0})
    if not (folder / "ct2-int8").is_dir():
        subprocess.run([sys.executable, "-m", "fsa_edge.cli", "convert", str(folder / "hf"),
                        str(folder / "ct2-int8"), "-q", "int8", "--force"], check=True,
                       stdout=subprocess.DEVNULL)
    return folder / "ct2-int8"


def zero_shot(model: Path, data: Path, limit: int | None) -> dict:
    """Accuracy and macro-F1 of the ``sentence`` task and of the aggregation floor."""
    import fsa_edge
    from fsa_edge.metric import gold_by_id, score_sentences
    from fsa_edge.model import SentimentElement
    from fsa_edge.readers import read_dataset

    analyzer = fsa_edge.load(model)
    report = {}
    for name in TESTS:
        examples = read_dataset(data / "sentence-sentiment" / name / "test.json").examples[:limit]
        gold = gold_by_id(examples)
        started = time.perf_counter()
        results = analyzer.analyze([e.review for e in examples], task="all")
        seconds = time.perf_counter() - started
        head = {r.id: r.answers["sentence"] for r in results if r.error is None}
        floor = {}
        for r in results:
            total = sum((e.score or 0.0) * {"positive": 1, "negative": -1}.get(e.polarity, 0)
                        for task in ("atsa", "acsa") for e in r.answers[task])
            floor[r.id] = (() if total == 0 else (SentimentElement(
                polarity="positive" if total > 0 else "negative", score=abs(total)),))
        report[name] = {
            "texts": len(examples), "split_texts": sum(r.parts > 1 for r in results),
            "seconds_task_all": round(seconds, 2),
            "head": score_sentences(gold, head).to_dict(),
            "aggregation_floor": score_sentences(gold, floor).to_dict()}
        print(f"{name}: head accuracy {report[name]['head']['accuracy']:.2f}, floor "
              f"{report[name]['aggregation_floor']['accuracy']:.2f}", file=sys.stderr)
    analyzer.close()
    return report


def run_zero_shot(run: Path, data: Path, limit: int | None) -> dict:
    """:func:`zero_shot` of a recipe run's ``RUN/ct2-int8``, kept in ``RUN/zero_shot.json`` (a
    rerun reads it back)."""
    path = run / "zero_shot.json"
    if not path.is_file():
        path.write_text(json.dumps(zero_shot(run / "ct2-int8", data, limit)), encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def markdown(record: dict) -> str:
    lines = ["# Zero-shot sentence polarity (no sentence-level label in training)", "",
             f"Model: `{record['model']}`; signals: {', '.join(record['signals'])}; "
             f"{record['pseudo_labels']['texts']} pseudo-labelled texts "
             f"({record['pseudo_labels']['by_polarity']}).", "",
             "| test set | head accuracy | head macro-F1 | floor accuracy | floor macro-F1 | "
             "texts split |", "|---|---|---|---|---|---|"]
    for name, row in record["zero_shot"].items():
        lines.append(f"| {name} | {row['head']['accuracy']:.2f} | {row['head']['macro_f1']:.2f} "
                     f"| {row['aggregation_floor']['accuracy']:.2f} | "
                     f"{row['aggregation_floor']['macro_f1']:.2f} | {row['split_texts']} |")
    agreement = record.get("teacher_agreement")
    if agreement:
        lines += ["", f"Agreement with the teacher on {agreement['texts']} held-out rows: new "
                      f"head {agreement['head']}%, `--model`'s own head {agreement['base_head']}%."]
    lines += ["", "Pseudo-label sources:", "", "| source | texts | kept | no agreement | held out "
              "| duplicate |", "|---|---|---|---|---|---|"]
    for source, count in record["pseudo_labels"]["sources"].items():
        lines.append(f"| {source} | {count['texts']} | {count['kept']} | "
                     f"{count['no_agreement']} | {count['held_out']} | {count['duplicate']} |")
    lines += ["", f"Command: `{record['command']}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--encoder", default=None,
                        help="probe this warm start untuned instead of --model: minilm, mpnet "
                             "or a BERT/MPNet directory")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--signals", default="gold",
                        help=f"comma-separated: {', '.join(SIGNALS)}")
    parser.add_argument("--agreement-holdout", type=float, default=0.0,
                        help="fraction of teacher-sentence rows kept out of the fit to measure "
                             "agreement with the teacher (the new head and --model's own)")
    parser.add_argument("--teacher-corpus", type=Path, action="append", default=[],
                        help="a distill --prompt label corpus (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--record", type=Path,
                        default=ROOT / "benchmarks" / "results" / "sentence_head.json")
    parser.add_argument("--install", action="store_true")
    args = parser.parse_args(argv)
    from fsa_edge.api import resolve_model

    if not 0 <= args.agreement_holdout < 1:
        parser.error("--agreement-holdout must be in [0, 1)")
    signals = [s.strip() for s in args.signals.split(",") if s.strip()]
    rows, counts = pseudo_labels(args.data, signals, args.teacher_corpus)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.encoder:
        if args.install:
            raise SystemExit("--install takes a --model, not an untuned --encoder")
        args.model = str(untuned_model(args.encoder, args.out, args.data))
    rows, held = split_holdout(rows, args.agreement_holdout)
    labels = args.out / "pseudo_labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                      encoding="utf-8")
    model = args.out / "model"
    if model.exists():
        shutil.rmtree(model)
    base = resolve_model(args.model).path
    shutil.copytree(base, model)
    signal = " + ".join(SIGNAL_DESCRIPTIONS[s] for s in signals)
    subprocess.run([sys.executable, "-m", "fsa_edge.cli", "train", "tagger", "sentence-head",
                    str(model), "--pseudo-labels", str(labels), "--threads", str(args.threads),
                    "--signal", signal], check=True, stdout=subprocess.DEVNULL)
    by_polarity = {p: sum(r["polarity"] == p for r in rows) for p in ("positive", "negative",
                                                                       "neutral")}
    record = {"benchmark": "sentence_head", "model": args.model, "signals": signals,
              "command": "python benchmarks/sentence_head.py " + " ".join(argv or sys.argv[1:]),
              "pseudo_labels": {"texts": len(rows), "by_polarity": by_polarity,
                                "sources": counts},
              "teacher_agreement": (teacher_agreement({"head": model, "base_head": base}, held)
                                    if held else None),
              "zero_shot": zero_shot(model, args.data, args.test_limit)}
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    args.record.with_suffix(".md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))
    if args.install:
        target = resolve_model("default").path
        shutil.copy2(model / "heads.npz", target / "heads.npz")
        shutil.copy2(model / "fsa_edge.json", target / "fsa_edge.json")
        print(f"installed the sentence head into {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
