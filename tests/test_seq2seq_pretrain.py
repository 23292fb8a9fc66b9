"""Pre-training on a teacher corpus: it runs, keeps newlines, and lowers the loss."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from seq2seq_fixtures import corpus_rows, tiny_bert  # noqa: E402

from fsa_edge.card import ModelCard  # noqa: E402
from fsa_edge.training import read_corpus  # noqa: E402
from fsa_edge_seq2seq.recipes import pretrain  # noqa: E402


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def test_pretrain_lowers_the_loss(bert_dir, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\ufeff" + "\n".join(json.dumps(r) for r in corpus_rows(40)) + "\n",
                      encoding="utf-8")
    out = tmp_path / "pre"
    summary = pretrain(read_corpus(corpus), student=str(bert_dir), out=out, decoder_layers=1,
                       epochs=4, batch_size=8, lr=3e-3, dev_rows=8, seed=1, device="cpu", threads=1,
                       log_every=0)
    history = summary["history"]
    assert summary["steps"] == 4 * 4 and len(history) == 4
    assert history[-1]["dev_loss"] < summary["initial_dev_loss"] * 0.7
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    card = ModelCard.load(out)
    assert card.extra["stage"] == "pretrain" and card.task_prefix is False
    assert card.extra["newline_token"] == "[unused1]" and card.max_output_length == 400
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def test_newlines_become_the_reserved_token(bert_dir):
    from fsa_edge_seq2seq.text import encode_targets, load_student

    student = load_student(bert_dir, decoder_layers=1)
    tok = student.tokenizer
    cls, sep = tok.convert_tokens_to_ids("[CLS]"), tok.convert_tokens_to_ids("[SEP]")
    newline = tok.convert_tokens_to_ids("[unused1]")
    [ids] = encode_targets(tok, ["food\nservice"], 400, cls, sep, "[unused1]")
    assert ids.count(newline) == 1 and ids[-1] == sep and ids[0] != cls
    [short] = encode_targets(tok, ["food service " * 50], 6, cls, sep, "[unused1]")
    assert len(short) == 6 and short[-1] == sep
