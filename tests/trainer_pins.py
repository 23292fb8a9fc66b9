"""Tiny training recipes whose per-epoch history is pinned in ``pins/trainer_history.json``.

Each recipe runs one student's training end to end on data and models made here (the
``default_slice`` recipe also reads a slice of ../shared/data and the MiniLM package: the
shipped default's recipe, ``benchmarks/train_default.py --kind tagger --ema 0.999``, cut to a
few sentences). The pins were written by the training code before the students moved onto the
shared trainer (``python tests/trainer_pins.py --write``); ``test_trainer.py`` reruns the
recipes and compares, so a change of batching, schedule, seeding or averaging shows up as a
different history.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
PIN_FILE = HERE / "pins" / "trainer_history.json"
DATA = HERE.parents[1] / "shared" / "data"
#: what a pinned history keeps of each epoch record (timings and learning rates are left out)
PINNED_KEYS = ("epoch", "train_loss", "dev_loss", "dev_score", "dev_f1_atsa", "dev_f1_acsa",
               "dev_f1", "dev_precision", "dev_recall", "best_epoch")


def _history(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pinned = [{key: record[key] for key in PINNED_KEYS if key in record} for record in records]
    for record in pinned:  # per data set, in the order given (names hold temporary folders)
        if isinstance(record.get("dev_f1"), dict):
            record["dev_f1"] = list(record["dev_f1"].values())
    return pinned


def tagger_finetune(root: Path) -> dict[str, Any]:
    from seq2seq_fixtures import tagger_data, tiny_bert

    from fsa_edge_tagger.training import finetune_tagger

    bert = tiny_bert(root / "bert", hidden=32, heads=4)
    atsa, acsa = tagger_data(root, (72, 12), (56, 12))
    summary = finetune_tagger([atsa, acsa], student=str(bert), out=root / "out", epochs=2,
                              batch_size=16, lr=2e-3, head_lr=5e-3, seed=3, device="cpu",
                              threads=1, log_every=0, select="mean", ema=0.9,
                              share_category_parts=True)
    return {"best_epoch": summary["best_epoch"], "history": _history(summary["history"])}


def tagger_pretrain(root: Path) -> dict[str, Any]:
    from seq2seq_fixtures import corpus_rows, tiny_bert

    from fsa_edge_tagger.pretraining import pretrain_encoder

    bert = tiny_bert(root / "bert", hidden=32, heads=4)
    rows = corpus_rows(160)
    for row in rows:  # longer responses: several chunks' worth, a held-out slice with masks
        row["mixtral_response"] = " ".join([row["Text"]] * 3) + "\n" + row["mixtral_response"]
    pairs = _pairs(rows)
    summary = pretrain_encoder(pairs, student=str(bert), out=root / "pre", epochs=2,
                               batch_size=8, lr=2e-3, seed=5, device="cpu", threads=1,
                               log_every=0)
    return {"initial_dev_loss": summary["initial_dev_loss"],
            "history": _history(summary["history"])}


def seq2seq_finetune(root: Path) -> dict[str, Any]:
    from seq2seq_fixtures import tiny_bert, write_atsa

    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_seq2seq.recipes import finetune

    bert = tiny_bert(root / "bert", hidden=32, heads=4)
    train = write_atsa(root / "train.json", 96, 1)
    atsa = TaskData(get_task("atsa"), train, write_atsa(root / "dev.json", 8, 2, avoid=train))
    summary = finetune([atsa], student=str(bert), out=root / "ft", decoder_layers=1, epochs=5,
                       batch_size=16, lr=1e-3, decoder_lr_scale=1.0, label_smoothing=0.0,
                       seed=3, device="cpu", threads=1, log_every=0, max_output_length=24,
                       warmup_ratio=0.1)
    return {"best_epoch": summary["best_epoch"], "history": _history(summary["history"])}


def seq2seq_pretrain(root: Path) -> dict[str, Any]:
    from seq2seq_fixtures import corpus_rows, tiny_bert

    from fsa_edge_seq2seq.recipes import pretrain

    bert = tiny_bert(root / "bert", hidden=32, heads=4)
    summary = pretrain(_pairs(corpus_rows(24)), student=str(bert), out=root / "pre",
                       decoder_layers=1, epochs=2, batch_size=8, lr=3e-3, dev_rows=4, seed=1,
                       device="cpu", threads=1, log_every=0)
    return {"initial_dev_loss": summary["initial_dev_loss"],
            "history": _history(summary["history"])}


def default_slice(root: Path) -> dict[str, Any]:
    """The shipped default's tagger recipe (MiniLM, four benchmark sets, best epoch by the mean
    dev F1, attention pooling, weight averaging 0.999) on 32 train and 8 dev sentences per set."""
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import finetune_tagger

    data = []
    for task, name in (("atsa", "rest14"), ("atsa", "laptop14"), ("acsa", "rest16"),
                       ("acsa", "laptop16")):
        folder = root / name
        folder.mkdir()
        for split, count in (("train", 32), ("dev", 8)):
            source = DATA / "fsa-benchmark" / task / name / f"{split}.json"
            records = json.loads(source.read_text(encoding="utf-8-sig"))[:count]
            (folder / f"{split}.json").write_text(json.dumps(records), encoding="utf-8")
        data.append(TaskData(get_task(task), folder / "train.json", folder / "dev.json"))
    summary = finetune_tagger(data, student="minilm", out=root / "out", epochs=3, lr=1e-4,
                              seed=42, device="cpu", threads=1, select="mean",
                              pooling="attention", ema=0.999, log_every=0)
    return {"best_epoch": summary["best_epoch"], "history": _history(summary["history"])}


def _pairs(rows: list[dict[str, Any]]) -> list[Any]:
    from fsa_edge.training import CorpusPair

    return [CorpusPair(r["ID"], r["Text"], r["mixtral_response"]) for r in rows]


RECIPES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "tagger_finetune": tagger_finetune, "tagger_pretrain": tagger_pretrain,
    "seq2seq_finetune": seq2seq_finetune, "seq2seq_pretrain": seq2seq_pretrain,
    "default_slice": default_slice,
}


def main() -> None:
    """``--write``: run every recipe and write the pins (only with the reference code)."""
    import tempfile

    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/trainer_pins.py --write")
    sys.path.insert(0, str(HERE))
    pins = {}
    for name, recipe in RECIPES.items():
        with tempfile.TemporaryDirectory() as folder:
            pins[name] = recipe(Path(folder))
        print(name, json.dumps(pins[name])[:300], file=sys.stderr)
    PIN_FILE.parent.mkdir(exist_ok=True)
    PIN_FILE.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
