"""Fine-tuning: dev F1 rises above the untrained model, multi-task cards, resume, CLI."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402
from seq2seq_fixtures import tiny_bert, write_atsa  # noqa: E402

from fsa_edge.card import ModelCard  # noqa: E402
from fsa_edge.cli import build_cli  # noqa: E402
from fsa_edge.readers import read_dataset  # noqa: E402
from fsa_edge.tasks import get_task  # noqa: E402
from fsa_edge.training import TaskData, sentence_key  # noqa: E402
from fsa_edge_seq2seq.loop import Settings  # noqa: E402
from fsa_edge_seq2seq.recipes import dev_scores, finetune  # noqa: E402
from fsa_edge_seq2seq.text import load_student  # noqa: E402

FAST = dict(batch_size=16, lr=1e-3, decoder_lr_scale=1.0, label_smoothing=0.0, seed=3,
            device="cpu", threads=1, log_every=0, max_output_length=24, warmup_ratio=0.1)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("bert"), hidden=64, heads=4)


@pytest.fixture(scope="module")
def atsa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atsa")
    train = write_atsa(folder / "train.json", 480, 1)
    return TaskData(get_task("atsa"), train, write_atsa(folder / "dev.json", 32, 2, avoid=train))


@pytest.fixture(scope="module")
def trained(bert_dir, atsa, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "ft"
    summary = finetune([atsa], student=str(bert_dir), out=out, decoder_layers=2, epochs=14,
                       **FAST)
    return out, summary


def test_finetune_lifts_dev_f1_above_the_untrained_model(bert_dir, atsa, trained):
    untrained = load_student(bert_dir, decoder_layers=2, seed=3)
    before = dev_scores(untrained, [(atsa.task, read_dataset(atsa.dev).examples)], False,
                        Settings(max_output_length=24), "cpu")["atsa"]["f1"]
    out, summary = trained
    assert summary["best_score"] > before + 25
    card = ModelCard.load(out)
    assert card.tasks == ("atsa",) and card.task_prefix is False
    assert card.backend == "transformers"
    assert card.extra["metrics"]["dev_f1_atsa"] == summary["best_score"]
    assert card.extra["metrics"]["epoch"] == summary["best_epoch"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 14 and max(r["dev_f1_atsa"] for r in records) == summary["best_score"]


def test_best_checkpoint_reloads_with_its_dev_score(atsa, trained):
    out, summary = trained
    student = load_student(out)
    again = dev_scores(student, [(atsa.task, read_dataset(atsa.dev).examples)], False,
                       Settings(max_output_length=24), "cpu")["atsa"]["f1"]
    assert again == pytest.approx(summary["best_score"])


def _weights(directory):
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def test_resume_continues_from_the_saved_step(bert_dir, atsa, tmp_path):
    settings = dict(FAST, epochs=2, lr=1e-3, batch_size=32)
    whole = finetune([atsa], student=str(bert_dir), out=tmp_path / "whole", decoder_layers=1,
                     train_fraction=0.1, **settings)
    assert whole["steps"] == 4
    first = finetune([atsa], student=str(bert_dir), out=tmp_path / "cut", decoder_layers=1,
                     train_fraction=0.1, max_steps=3, **settings)
    assert first["interrupted"] and first["steps"] == 3 and first["epochs_done"] == 1
    with pytest.raises(Exception, match="--resume"):
        finetune([atsa], student=str(bert_dir), out=tmp_path / "cut", decoder_layers=1,
                 train_fraction=0.1, **settings)
    rest = finetune([atsa], student=str(bert_dir), out=tmp_path / "cut", decoder_layers=1,
                    train_fraction=0.1, resume=True, **settings)
    assert rest["steps"] == 4 and not rest["interrupted"] and rest["epochs_done"] == 2
    a, b = _weights(tmp_path / "whole" / "last"), _weights(tmp_path / "cut" / "last")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    events = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [e.get("event", "epoch") for e in events] == ["epoch", "interrupted", "epoch"]


def test_multitask_cli_writes_a_prefixed_card(bert_dir, atsa, tmp_path):
    out = tmp_path / "multi"
    args = ["train", "seq2seq", "finetune", "--data", f"atsa:{atsa.train}:{atsa.dev}",
            "--data", f"sentence:{atsa.train}:{atsa.dev}", "--student", str(bert_dir),
            "--out", str(out), "--epochs", "1", "--batch-size", "32", "--decoder-layers", "1",
            "--train-fraction", "0.05", "--max-output-length", "16", "--device", "cpu",
            "--threads", "1"]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["tasks"] == ["atsa", "sentence"] and summary["train_examples"] == 48
    card = ModelCard.load(out)
    assert card.task_prefix is True and card.tasks == ("atsa", "sentence")
    assert set(card.extra["metrics"]["dev"]) == {"atsa", "sentence"}


def test_sentence_key_ignores_case_spacing_and_punctuation():
    assert sentence_key("It 's great , really !") == sentence_key("It's great, really!")
    assert sentence_key("great food") != sentence_key("great foods")


def test_training_sentences_of_the_dev_or_test_set_are_dropped(bert_dir, atsa, tmp_path):
    dev = read_dataset(atsa.dev).examples
    train = json.loads(atsa.train.read_text(encoding="utf-8"))[:40]
    leaked = [{"ID": f"leak-{i}", "sentence": " ".join(ex.review.text.upper().split()),
               "aspects": []} for i, ex in enumerate(dev[:3])]
    test_copy = {"ID": "test-copy", "sentence": "A sentence of the test set .", "aspects": []}
    mixed = tmp_path / "train.json"
    mixed.write_text(json.dumps(train + leaked + [test_copy]), encoding="utf-8")
    data = [TaskData(atsa.task, mixed, atsa.dev)]
    summary = finetune(data, student=str(bert_dir), out=tmp_path / "out", decoder_layers=1,
                       held_out_texts=["A sentence of the test set."],
                       **dict(FAST, epochs=1, max_steps=1))
    assert summary["dropped_overlap"] == {"atsa": 4}
    assert summary["train_examples"] == 40


def test_cli_errors_are_one_line(tmp_path, atsa):
    cli = build_cli()
    bad = CliRunner().invoke(cli, ["train", "seq2seq", "finetune", "--data", "atsa:x", "--student", "minilm",
                                   "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "TASK:TRAIN:DEV" in bad.output
    missing = CliRunner().invoke(cli, ["train", "seq2seq", "finetune", "--task", "atsa", "--train",
                                       str(atsa.train), "--dev", str(atsa.dev), "--student",
                                       str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "neither a warm start (minilm, mpnet) nor a directory" in missing.output


def _f1_of(task, examples, generated):
    from fsa_edge.metric import evaluate

    predicted = {ex.review.id: task.parse(text, ex.review.text).elements
                 for ex, text in zip(examples, generated)}
    return evaluate(task, {ex.review.id: ex.elements for ex in examples}, predicted).overall.f1


def test_checkpoint_converts_to_ctranslate2_with_the_same_outputs(atsa, trained, tmp_path):
    ctranslate2 = pytest.importorskip("ctranslate2")
    from fsa_edge_seq2seq.recipes import generate

    out, summary = trained
    target = tmp_path / "ct2"
    ctranslate2.converters.TransformersConverter(str(out)).convert(str(target),
                                                                   quantization="float32")
    student = load_student(out)
    tok = student.tokenizer
    examples = read_dataset(atsa.dev).examples
    texts = [ex.review.text for ex in examples]
    translator = ctranslate2.Translator(str(target), device="cpu")
    sources = [tok.convert_ids_to_tokens(tok(t)["input_ids"]) for t in texts]
    results = translator.translate_batch(sources, beam_size=1, max_decoding_length=24)
    ct2_texts = [tok.convert_tokens_to_string(
        [t for t in r.hypotheses[0] if t not in tok.all_special_tokens]) for r in results]
    ct2_texts = [" ".join(t.split()) for t in ct2_texts]
    hf_texts = generate(student, texts, Settings(max_output_length=24), "cpu")
    assert sum(a == b for a, b in zip(ct2_texts, hf_texts)) >= 0.9 * len(texts)
    assert _f1_of(atsa.task, examples, ct2_texts) == pytest.approx(summary["best_score"], abs=5)


def test_checkpoint_convert_analyze_round_trip(atsa, trained, tmp_path):
    import fsa_edge

    cli = build_cli()
    if "convert" not in cli.commands:
        pytest.skip("no `fsa-edge convert` command installed")
    out, summary = trained
    target = tmp_path / "ct2"
    result = CliRunner().invoke(cli, ["convert", str(out), str(target), "-q", "float32"])
    assert result.exit_code == 0, result.output
    card = ModelCard.load(target)
    assert card.tasks == ("atsa",) and card.extra.get("metrics")
    analyzer = fsa_edge.load(target, device="cpu")
    examples = read_dataset(atsa.dev).examples
    results = analyzer.analyze([ex.review for ex in examples], task="atsa")
    from fsa_edge.metric import evaluate

    f1 = evaluate("atsa", {ex.review.id: ex.elements for ex in examples},
                  {r.id: r.elements for r in results}).overall.f1
    assert f1 == pytest.approx(summary["best_score"], abs=5)
