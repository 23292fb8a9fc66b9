"""The tagger trains on an MPNet encoder as on a BERT one: fine-tuning, MLM pre-training, and the
trained model converts and runs without torch's help."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")


@pytest.fixture(scope="module")
def mpnet(tmp_path_factory):
    from tiny_mpnet import build_mpnet_tagger

    return build_mpnet_tagger(tmp_path_factory.mktemp("mpnet") / "encoder")


def test_an_mpnet_tagger_fine_tunes_converts_and_serves_the_same_elements(mpnet, tmp_path):
    from seq2seq_fixtures import synthetic_atsa, tagger_data

    import fsa_edge
    from fsa_edge_converters import convert
    from fsa_edge_tagger.training import finetune_tagger

    atsa, acsa = tagger_data(tmp_path, (64, 8), (48, 8))
    summary = finetune_tagger([atsa, acsa], student=str(mpnet), out=tmp_path / "out", epochs=2,
                              lr=2e-3, head_lr=5e-3, seed=1, device="cpu", threads=1,
                              max_input_length=64, log_every=0)
    assert summary["epochs_done"] == 2 and summary["history"][-1]["train_loss"] < \
        summary["history"][0]["train_loss"]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model_type"] == "mpnet"
    report = convert(tmp_path / "out", tmp_path / "ct2", quantization="float32",
                     texts=[r["sentence"] for r in synthetic_atsa(8, 5)], log=lambda _: None)
    assert report.parity.passed and report.architecture == "MPNetConfig"
    texts = [r["sentence"] for r in synthetic_atsa(12, 6)]
    for task in ("atsa", "acsa"):
        torch_served = fsa_edge.load(tmp_path / "out", task=task).analyze(texts)
        converted = fsa_edge.load(tmp_path / "ct2", task=task).analyze(texts)
        assert [[(e.aspect, e.category, e.polarity) for e in r.elements] for r in converted] == \
            [[(e.aspect, e.category, e.polarity) for e in r.elements] for r in torch_served]


def test_mlm_pretraining_runs_on_mpnet_and_lowers_the_held_out_loss(mpnet, tmp_path):
    from tiny_mpnet import SENTENCES

    from fsa_edge.training import CorpusPair
    from fsa_edge_tagger.pretraining import pretrain_encoder

    corpus = [CorpusPair(str(i), text, " ".join([text] * 4))
              for i, text in enumerate(SENTENCES * 12)]
    summary = pretrain_encoder(corpus, student=str(mpnet), out=tmp_path / "pre", epochs=3,
                               batch_size=8, lr=3e-3, max_length=64, seed=2, device="cpu",
                               threads=1, log_every=0)
    assert summary["history"][-1]["dev_loss"] < summary["initial_dev_loss"]
    config = json.loads((tmp_path / "pre" / "config.json").read_text())
    assert config["model_type"] == "mpnet"
