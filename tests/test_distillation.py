"""Distillation into the tagger: the loss term moves a student toward its teacher."""

from __future__ import annotations

import numpy as np
import pytest

from fsa_edge.errors import TrainingError
from fsa_edge_tagger.distillation import Distillation, distillation_loss, soften
from fsa_edge_tagger.scheme import CATEGORY_CLASSES, TAGS


def test_softening_flattens_and_keeps_the_order():
    p = np.array([[0.7, 0.2, 0.1]])
    warm = soften(p, 2.0)
    assert warm.sum() == pytest.approx(1.0) and np.all(np.diff(warm[0]) < 0)
    assert warm[0, 0] < 0.7 and warm[0, 2] > 0.1
    assert np.allclose(soften(p, 1.0), p)
    with pytest.raises(TrainingError, match="temperature"):
        Distillation(temperature=0)


def test_the_loss_moves_a_toy_student_toward_its_teacher():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    teacher_tags = rng.dirichlet(np.ones(len(TAGS)) * 0.3, size=(2, 5)).astype(np.float32)
    teacher_categories = rng.dirichlet(np.ones(len(CATEGORY_CLASSES)) * 0.3,
                                       size=(2, 3)).astype(np.float32)
    settings = Distillation(weight=1.0, temperature=2.0)
    piece_mask = [np.array([False, True, True, True, False]), np.array([False, True, True, False,
                                                                         False])]
    rows = [{"soft_tags": (soften(teacher_tags[i], 2.0), piece_mask[i]),
             "soft_categories": (soften(teacher_categories[i], 2.0),
                                 np.array([True, True, i == 0]))} for i in range(2)]
    term = torch.zeros((2, 5, len(TAGS)), requires_grad=True)
    category = torch.zeros((2, 3, len(CATEGORY_CLASSES)), requires_grad=True)
    optimizer = torch.optim.Adam([term, category], lr=0.1)
    losses = []
    for _ in range(400):
        loss = distillation_loss(term, category, rows, settings, "cpu")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.01 * losses[0]
    learned = torch.softmax(term.detach(), -1).numpy()
    assert np.allclose(learned[0, 1:4], teacher_tags[0, 1:4], atol=0.02)  # the teacher at T = 1
    assert np.allclose(torch.softmax(category.detach(), -1).numpy()[0], teacher_categories[0],
                       atol=0.02)
    # masked pieces and categories get no gradient: they stay uniform
    assert np.allclose(learned[0, 0], 1 / len(TAGS)) and np.allclose(learned[1, 3], 1 / len(TAGS))
    assert np.allclose(torch.softmax(category.detach(), -1).numpy()[1, 2],
                       1 / len(CATEGORY_CLASSES))


def test_rows_without_soft_targets_add_nothing():
    torch = pytest.importorskip("torch")
    term = torch.zeros((1, 4, len(TAGS)))
    assert distillation_loss(term, None, [{}], Distillation(), "cpu") is None


def test_a_student_learns_from_a_tagger_teachers_corpus(tmp_path, monkeypatch):
    """Teacher (a tiny trained tagger) → ``fsa-edge distill`` → student with another
    vocabulary: gold sentences get their soft targets, the others become unlabeled rows, a dev
    sentence in the corpus is dropped, and the run records what it used."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import json

    from click.testing import CliRunner
    from seq2seq_fixtures import synthetic_atsa, tagger_data, tiny_bert

    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge.training import sentence_key
    from fsa_edge_tagger.training import finetune_tagger

    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    atsa, acsa = tagger_data(tmp_path, (48, 8), (40, 8))
    options = dict(epochs=1, lr=2e-3, head_lr=5e-3, seed=1, device="cpu", threads=1,
                   log_every=0)
    finetune_tagger([atsa, acsa], student=str(tiny_bert(tmp_path / "bert", hidden=32, heads=4)),
                    out=tmp_path / "teacher", **options)
    train = [ex.review.text for ex in read_dataset(atsa.train).examples]
    devs = [ex.review.text for ex in read_dataset(atsa.dev).examples]
    dev = devs[0]
    gold_acsa = [ex.review.text for path in (acsa.train, acsa.dev)
                 for ex in read_dataset(path).examples]
    taken = {sentence_key(t) for t in train + devs + gold_acsa}
    unlabeled = []
    for record in synthetic_atsa(400, 21):
        if sentence_key(record["sentence"]) not in taken and len(unlabeled) < 12:
            taken.add(sentence_key(record["sentence"]))
            unlabeled.append(record["sentence"])
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                               for i, t in enumerate(train + unlabeled + [dev])))
    corpus = tmp_path / "soft.jsonl"
    result = CliRunner().invoke(build_cli(), ["distill", str(reviews), "--teacher",
                                              str(tmp_path / "teacher"), "--prompt", "label",
                                              "-o", str(corpus)])
    assert result.exit_code == 0, result.output
    student = tiny_bert(tmp_path / "student", hidden=32, heads=4, whole_words=False)
    summary = finetune_tagger([atsa, acsa], student=str(student), out=tmp_path / "out",
                              soft_targets=[corpus], distill=Distillation(2.0, 1.5), **options)
    counts = summary["soft_targets"]
    assert counts["unlabeled"] == len(unlabeled) and counts["held_out"] == 1
    assert counts["gold"] == len(set(train)) and counts["error_rows"] == 0
    assert counts["duplicates"] == len(train) - len(set(train))
    assert summary["train_examples"] == 48 + 40 - sum(summary["dropped_overlap"].values()) \
        + len(unlabeled)
    card = json.loads((tmp_path / "out" / "fsa_edge.json").read_text())
    assert card["recipe"]["distill_weight"] == 2.0 and card["soft_targets"] == counts
    assert summary["history"][0]["train_loss"] > 0


def test_the_sentence_term_moves_a_toy_students_polarity_toward_its_teacher():
    torch = pytest.importorskip("torch")
    teacher = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2]], dtype=np.float32)
    rows = [{"soft_sentence": (soften(teacher[0], 2.0), np.ones(4, dtype=bool))},
            {"soft_sentence": (soften(teacher[1], 2.0), np.ones(4, dtype=bool))}, {}]
    term = torch.zeros((3, 4, len(TAGS)))
    sentence = torch.zeros((3, 3), requires_grad=True)
    optimizer = torch.optim.Adam([sentence], lr=0.1)
    for _ in range(400):
        loss = distillation_loss(term, None, rows, Distillation(1.0, 2.0), "cpu", sentence)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    learned = torch.softmax(sentence.detach(), -1).numpy()
    assert np.allclose(learned[:2], teacher, atol=0.02)  # the teacher at T = 1
    assert np.allclose(learned[2], 1 / 3)  # a row without a sentence target gets no gradient


def test_a_teachers_sentence_polarities_become_the_students_sentence_head(tmp_path, monkeypatch):
    """A teacher with a (zero-shot) sentence head writes its polarity log-probabilities; a
    student trained on that corpus gets a sentence head learnt through its encoder, serves
    ``sentence`` after conversion, and its card says where the head came from."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("ctranslate2")
    import json

    from click.testing import CliRunner
    from seq2seq_fixtures import tagger_data, tiny_bert

    import fsa_edge
    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge_converters import convert
    from fsa_edge_tagger.sentence_head import (SENTENCE_CLASSES, add_sentence_head,
                                               agreeing_polarity, fit_sentence_head)
    from fsa_edge_tagger.soft_targets import iter_soft_targets
    from fsa_edge_tagger.training import finetune_tagger, load_for_scoring

    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    atsa, acsa = tagger_data(tmp_path, (64, 8), (40, 8))
    options = dict(lr=2e-3, head_lr=5e-3, seed=1, device="cpu", threads=1, log_every=0)
    teacher = tmp_path / "teacher"
    finetune_tagger([atsa], student=str(tiny_bert(tmp_path / "bert", hidden=32, heads=4)),
                    out=teacher, epochs=2, **options)
    examples = read_dataset(atsa.train).examples
    labelled = [(ex.review.text, agreeing_polarity(e.polarity for e in ex.elements))
                for ex in examples]
    labelled = [(text, polarity) for text, polarity in labelled if polarity]
    runtime = load_for_scoring(teacher)
    weight, bias = fit_sentence_head(runtime.sentence_features([t for t, _ in labelled]),
                                     [p for _, p in labelled])
    add_sentence_head(teacher, weight, bias, {"texts": len(labelled)})
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": f"r{i}", "text": ex.review.text}) + "\n"
                               for i, ex in enumerate(examples)))
    corpus = tmp_path / "soft.jsonl"
    result = CliRunner().invoke(build_cli(), ["distill", str(reviews), "--teacher", str(teacher),
                                              "--prompt", "label", "-o", str(corpus)])
    assert result.exit_code == 0, result.output
    rows = list(iter_soft_targets(corpus))
    text, soft = rows[0]
    with fsa_edge.load(teacher, device="cpu") as served:
        answer = served.analyze([text], task="sentence")[0].elements[0]
    probabilities = soft.sentence_targets()
    assert probabilities.shape == (3,) and probabilities.sum() == pytest.approx(1.0)
    assert SENTENCE_CLASSES[int(probabilities.argmax())] == answer.polarity
    assert probabilities.max() == pytest.approx(answer.score, abs=5e-3)  # 3-decimal log-probs

    student = tmp_path / "out"
    finetune_tagger([atsa, acsa], student=str(tiny_bert(tmp_path / "student", hidden=32,
                                                        heads=4, whole_words=False)),
                    out=student, epochs=2, soft_targets=[corpus], **options)
    card = json.loads((student / "fsa_edge.json").read_text())
    assert card["tasks"] == ["atsa", "acsa", "sentence"]
    assert card["tagger"]["sentence_head"]["method"].startswith("distilled")
    with np.load(student / "heads.npz") as heads:
        assert heads["sentence.weight"].shape == (3, 32) and heads["sentence.bias"].shape == (3,)
    assert convert(student, tmp_path / "f32", quantization="float32").parity.passed
    with fsa_edge.load(tmp_path / "f32", device="cpu") as served:
        found = served.analyze([text, "The fish was bland."], task="sentence")
    assert all(len(r.elements) == 1 and r.elements[0].polarity in SENTENCE_CLASSES
               for r in found)


def test_sentence_polarities_can_come_from_another_teacher(tmp_path, monkeypatch):
    """``--soft-targets`` from a teacher without a sentence head (tags, categories) and
    ``--sentence-soft-targets`` from one with it: gold rows carry both, a sentence only the
    second corpus has becomes a row with only its polarity, a dev sentence is dropped, and the
    CLI run records both corpora and serves ``sentence``."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import json
    import shutil

    from click.testing import CliRunner
    from seq2seq_fixtures import synthetic_atsa, tagger_data, tiny_bert

    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge.training import sentence_key
    from fsa_edge_tagger.sentence_head import (add_sentence_head, agreeing_polarity,
                                               fit_sentence_head)
    from fsa_edge_tagger.soft_targets import iter_soft_targets
    from fsa_edge_tagger.training import TaggerJob, finetune_tagger, load_for_scoring

    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    atsa, acsa = tagger_data(tmp_path, (48, 8), (40, 8))
    options = dict(lr=2e-3, head_lr=5e-3, seed=1, device="cpu", threads=1, log_every=0)
    tags_teacher, sentence_teacher = tmp_path / "tags_teacher", tmp_path / "sentence_teacher"
    finetune_tagger([atsa, acsa], student=str(tiny_bert(tmp_path / "bert", hidden=32, heads=4)),
                    out=tags_teacher, epochs=1, **options)
    shutil.copytree(tags_teacher, sentence_teacher)
    examples = read_dataset(atsa.train).examples
    labelled = [(ex.review.text, agreeing_polarity(e.polarity for e in ex.elements))
                for ex in examples]
    labelled = [(text, polarity) for text, polarity in labelled if polarity]
    weight, bias = fit_sentence_head(
        load_for_scoring(sentence_teacher).sentence_features([t for t, _ in labelled]),
        [p for _, p in labelled])
    add_sentence_head(sentence_teacher, weight, bias, {"texts": len(labelled)})

    train = list(dict.fromkeys(ex.review.text for ex in examples))
    dev = read_dataset(atsa.dev).examples[0].review.text
    taken = {sentence_key(t) for path in (atsa.train, atsa.dev, acsa.train, acsa.dev)
             for t in (ex.review.text for ex in read_dataset(path).examples)}
    extra = [r["sentence"] for r in synthetic_atsa(400, 23) if sentence_key(r["sentence"])
             not in taken and not taken.add(sentence_key(r["sentence"]))][:6]
    corpora = {}
    for name, teacher, texts in (("tags", tags_teacher, train[:20]),
                                 ("sentence", sentence_teacher, train + extra + [dev])):
        reviews = tmp_path / f"{name}.jsonl"
        reviews.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                                   for i, t in enumerate(texts)))
        corpora[name] = tmp_path / f"{name}_soft.jsonl"
        result = CliRunner().invoke(build_cli(), ["distill", str(reviews), "--teacher",
                                                  str(teacher), "--prompt", "label", "-o",
                                                  str(corpora[name])])
        assert result.exit_code == 0, result.output
    assert all(soft.sentence_targets() is None for _, soft in iter_soft_targets(corpora["tags"]))
    answers = {text: soft.sentence_targets() for text, soft in
               iter_soft_targets(corpora["sentence"])}

    student = tiny_bert(tmp_path / "student", hidden=32, heads=4, whole_words=False)
    job = TaggerJob([atsa, acsa], student=str(student), dropout=0.1, lr=1e-3, head_lr=1e-3,
                    weight_decay=0.0, max_input_length=64, select="first",
                    pooling="attention", share_category_parts=False, held_out_texts=(),
                    extra_train=(), card_extra={}, distill=Distillation(1.0, 1.0),
                    soft_targets=[corpora["tags"]],
                    sentence_soft_targets=[corpora["sentence"]])
    counts = job.soft_counts
    assert counts["gold"] == 20 and counts["unlabeled"] == 0
    only = counts["sentence_only"]
    assert only == {"gold": len(train), "soft_rows": 0, "unlabeled": len(extra),
                    "held_out": 1, "duplicates": 0, "other_spelling": 0, "error_rows": 0}
    by_text = {}
    for row in job.rows:
        by_text.setdefault(row["text"], []).append(row)
    for text in train:
        for row in by_text[text]:
            assert (row["soft_tags"] is not None) == (text in train[:20])
            target = row["soft_sentence"][0]  # temperature 1: the teacher's distribution
            assert np.allclose(target, answers[text], atol=1e-6)
    for text in extra:
        (row,) = by_text[text]
        assert row["task"] == "soft" and row["soft_tags"] is None
        assert row["soft_categories"] is None and row["soft_sentence"] is not None
    assert dev not in by_text  # the held-out dev sentence never became a row

    out = tmp_path / "out"
    result = CliRunner().invoke(build_cli(), [
        "train", "tagger", "finetune", "--student", str(student), "--out", str(out),
        "--data", f"atsa:{atsa.train}:{atsa.dev}", "--data", f"acsa:{acsa.train}:{acsa.dev}",
        "--epochs", "1", "--threads", "1", "--device", "cpu", "--soft-targets",
        str(corpora["tags"]), "--sentence-soft-targets", str(corpora["sentence"])])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "fsa_edge.json").read_text())
    assert card["recipe"]["sentence_soft_targets"] == [str(corpora["sentence"])]
    assert card["soft_targets"]["sentence_only"]["unlabeled"] == len(extra)
    assert card["tasks"] == ["atsa", "acsa", "sentence"]
