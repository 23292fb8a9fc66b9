"""Pre-training on a teacher's sentence states: a student of another width learns the teacher's
pooled state and sentence answer on unlabelled texts, never a held-out sentence, and the result
is a warm start the tagger fine-tunes from."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fsa_edge.errors import InputError, TrainingError


def _texts(path, texts):
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    return path


def test_read_texts_guards_deduplicates_and_names_a_bad_line(tmp_path):
    from fsa_edge.training import HeldOut, in_text_slice
    from fsa_edge_tagger.state_pretraining import read_texts

    path = _texts(tmp_path / "a.jsonl", ["Good food.", "good  food", "The dev sentence.", "Meh."])
    texts, counts = read_texts([path], HeldOut(["the dev sentence"]))
    assert texts == ["Good food.", "Meh."]
    assert counts == {"rows": 4, "kept": 2, "held_out": 1, "duplicates": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": ""}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_texts([bad])
    assert "bad.jsonl" in str(caught.value) and "line 2" in str(caught.value) \
        and "text" in str(caught.value)
    chosen = [in_text_slice(f"sentence {i}", 0.2) for i in range(1000)]
    assert 150 < sum(chosen) < 250 and chosen == [in_text_slice(f"sentence {i}", 0.2)
                                                  for i in range(1000)]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny trained tagger (hidden 32) with a sentence head fitted on its gold polarities."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seq2seq_fixtures import tagger_data, tiny_bert

    from fsa_edge.readers import read_dataset
    from fsa_edge_tagger.sentence_head import (add_sentence_head, agreeing_polarity,
                                               fit_sentence_head)
    from fsa_edge_tagger.training import finetune_tagger, load_for_scoring

    root = tmp_path_factory.mktemp("state_teacher")
    atsa, _ = tagger_data(root, (64, 8), (8, 4))
    finetune_tagger([atsa], student=str(tiny_bert(root / "bert", hidden=32, heads=4)),
                    out=root / "teacher", epochs=2, lr=2e-3, head_lr=5e-3, seed=1,
                    device="cpu", threads=1, log_every=0)
    labelled = [(ex.review.text, agreeing_polarity(e.polarity for e in ex.elements))
                for ex in read_dataset(atsa.train).examples]
    labelled = [(text, polarity) for text, polarity in labelled if polarity]
    runtime = load_for_scoring(root / "teacher")
    weight, bias = fit_sentence_head(runtime.sentence_features([t for t, _ in labelled]),
                                     [p for _, p in labelled])
    add_sentence_head(root / "teacher", weight, bias, {"texts": len(labelled)})
    return root, atsa


def test_a_narrower_student_learns_the_teachers_states_and_fine_tunes_from_them(teacher,
                                                                                  tmp_path):
    from seq2seq_fixtures import synthetic_atsa, tiny_bert

    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge_tagger.state_pretraining import PROJECTION_FILE
    from fsa_edge_tagger.training import finetune_tagger

    root, atsa = teacher
    dev_text = read_dataset(atsa.dev).examples[0].review.text
    texts = [r["sentence"] for r in synthetic_atsa(160, 31)]
    path = _texts(tmp_path / "texts.jsonl", texts + [dev_text])
    student = tiny_bert(tmp_path / "student", hidden=16, heads=2, whole_words=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(build_cli(), [
        "train", "tagger", "pretrain-states", "--texts", str(path), "--teacher",
        str(root / "teacher"), "--student", str(student), "--out", str(out), "--epochs", "4",
        "--batch-size", "8", "--lr", "2e-3", "--head-lr", "1e-2", "--held-out", str(atsa.dev),
        "--device", "cpu", "--threads", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["texts"]["held_out"] >= 1 and summary["texts"]["rows"] == len(texts) + 1
    assert summary["dev_texts"] + summary["train_texts"] == summary["texts"]["kept"]
    history = summary["history"]
    errors = [h["dev_scaled_squared_error"] for h in history]
    assert errors[-1] < errors[0] and history[-1]["train_loss"] < history[0]["train_loss"]
    with np.load(out / PROJECTION_FILE) as projection:
        assert projection["weight"].shape == (32, 16) and projection["bias"].shape == (32,)
    card = json.loads((out / "fsa_edge.json").read_text(encoding="utf-8"))
    assert card["stage"] == "pretrain-teacher-states" and card["teacher"] == str(root / "teacher")
    tuned = finetune_tagger([atsa], student=str(out), out=tmp_path / "tuned", epochs=1,
                            lr=2e-3, head_lr=5e-3, seed=1, device="cpu", threads=1,
                            log_every=0)
    assert tuned["history"][0]["train_loss"] > 0


def test_a_teacher_without_a_sentence_head_is_refused(teacher, tmp_path):
    import shutil

    from seq2seq_fixtures import tiny_bert

    from fsa_edge_tagger.state_pretraining import pretrain_on_teacher_states

    root, _ = teacher
    plain = shutil.copytree(root / "teacher", tmp_path / "plain")
    card = json.loads((plain / "fsa_edge.json").read_text(encoding="utf-8"))
    card["tasks"] = [t for t in card["tasks"] if t != "sentence"]
    (plain / "fsa_edge.json").write_text(json.dumps(card), encoding="utf-8")
    path = _texts(tmp_path / "texts.jsonl", [f"text number {i}" for i in range(40)])
    with pytest.raises(TrainingError, match="temperature"):
        pretrain_on_teacher_states([path], teacher=plain, student="minilm", out=tmp_path / "t",
                                   temperature=0.0)
    with pytest.raises(TrainingError, match="no sentence head"):
        pretrain_on_teacher_states([path], teacher=plain,
                                   student=str(tiny_bert(tmp_path / "s", hidden=16, heads=2)),
                                   out=tmp_path / "out", epochs=1, device="cpu", threads=1)


def _state_error(student_dir, warm_dir, teacher_dir, texts):
    """How far the student's pooled states are from the teacher's in the warm start's terms:
    the squared error of the warm start's projection of them over the variance of the
    teacher's states, on ``texts``."""
    from fsa_edge_tagger.state_pretraining import PROJECTION_FILE, teacher_states
    from fsa_edge_tagger.training import load_for_scoring

    own = load_for_scoring(student_dir).sentence_features(texts)
    target, _, _ = teacher_states(teacher_dir, texts, device="cpu", threads=1)
    with np.load(warm_dir / PROJECTION_FILE) as projection:
        projected = own @ projection["weight"].T + projection["bias"]
    return float(((projected - target) ** 2).mean() / target.var())


def test_the_state_term_keeps_the_teachers_states_through_fine_tuning(teacher, tmp_path):
    """Fine-tuning on tags from a state-pretrained student, with and without the state term
    (same seed, same data): with it the student's states stay closer to the teacher's, the
    projection starts from the warm start's, and the saved model has the same parts."""
    from seq2seq_fixtures import synthetic_atsa, tiny_bert

    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge_tagger.state_matching import StateMatching
    from fsa_edge_tagger.state_pretraining import pretrain_on_teacher_states
    from fsa_edge_tagger.training import finetune_tagger

    root, atsa = teacher
    texts = [r["sentence"] for r in synthetic_atsa(160, 31)]
    warm = tmp_path / "warm"
    pretrain_on_teacher_states([_texts(tmp_path / "texts.jsonl", texts)],
                               teacher=root / "teacher",
                               student=str(tiny_bert(tmp_path / "student", hidden=16, heads=2,
                                                     whole_words=False)),
                               out=warm, epochs=3, batch_size=8, lr=2e-3, head_lr=1e-2,
                               device="cpu", threads=1, log_every=0)
    common = dict(student=str(warm), epochs=3, lr=5e-3, head_lr=5e-3, seed=1, device="cpu",
                  threads=1, log_every=0)
    finetune_tagger([atsa], out=tmp_path / "plain", **common)
    kept = CliRunner().invoke(build_cli(), [
        "train", "tagger", "finetune", "--data", f"atsa:{atsa.train}:{atsa.dev}",
        "--student", str(warm), "--out", str(tmp_path / "kept"), "--epochs", "3", "--lr", "5e-3",
        "--head-lr", "5e-3", "--seed", "1", "--device", "cpu", "--threads", "1",
        "--state-teacher", str(root / "teacher"), "--state-weight", "4"])
    assert kept.exit_code == 0, kept.output
    card = json.loads((tmp_path / "kept" / "fsa_edge.json").read_text(encoding="utf-8"))
    rows = len(read_dataset(atsa.train).examples)
    assert card["recipe"]["state_weight"] == 4.0 and 0 < card["teacher_states"] <= rows
    with np.load(tmp_path / "plain" / "heads.npz") as plain, \
            np.load(tmp_path / "kept" / "heads.npz") as heads:
        assert sorted(plain.files) == sorted(heads.files)
    errors = {name: _state_error(tmp_path / name, warm, root / "teacher", texts)
              for name in ("kept", "plain")}
    assert errors["kept"] < errors["plain"]
    with pytest.raises(TrainingError, match="state weight"):
        StateMatching(str(root / "teacher"), 0.0)


def test_the_state_term_starts_from_the_warm_starts_projection(tmp_path):
    """TeacherStates.build takes the projection of ``projection.npz`` when its shape fits, and
    the term pulls projected states toward the teacher's."""
    torch = pytest.importorskip("torch")
    from fsa_edge_tagger.state_matching import STATE, StateMatching, TeacherStates

    states = TeacherStates.__new__(TeacherStates)  # the teacher's states without a teacher run
    states.matching = StateMatching("teacher", 1.0)
    states.states = np.random.default_rng(0).normal(size=(2, 6)).astype(np.float32)
    states.scale = float(states.states.var())
    states.projection = None
    rows = [{STATE: (0, np.array([False, True, True, False]))},
            {STATE: (1, np.array([False, True, False]))}]
    weight = np.arange(24, dtype=np.float32).reshape(6, 4) / 10
    np.savez(tmp_path / "projection.npz", weight=weight, bias=np.ones(6, dtype=np.float32))
    projection = states.build(tmp_path, 4, "cpu")
    assert np.allclose(projection.weight.detach().numpy(), weight)
    hidden = torch.zeros(2, 4, 4, requires_grad=True)
    optimizer = torch.optim.Adam([hidden, *projection.parameters()], lr=0.05)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = states.loss(hidden, rows, "cpu")
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0]
    assert states.build(tmp_path / "missing", 4, "cpu").weight.shape == (6, 4)
