"""The MPNet → BART warm start (``--student mpnet`` for seq2seq) on a tiny random MPNet the test
builds: the encoder equals MPNet without its relative attention bias, the weights land where they
belong, the ids are MPNet's, the ``mpnet`` alias resolves, and the warm start converts to
CTranslate2 and generates what transformers generates."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from tiny_mpnet import SENTENCES, build_mpnet_encoder  # noqa: E402

from fsa_edge.errors import TrainingError  # noqa: E402
from fsa_edge.student_support import WARM_STARTS  # noqa: E402
from fsa_edge_seq2seq.text import load_student  # noqa: E402
from fsa_edge_seq2seq.warmstart import NEWLINE_TOKEN, bart_from_encoder  # noqa: E402

TEXTS = list(SENTENCES[:4])  # review sentences, for the tiny and the real MPNet


@pytest.fixture(scope="module")
def mpnet_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mpnet")
    build_mpnet_encoder(directory, extra_tokens=(NEWLINE_TOKEN,))
    return directory


def _reference(directory, *, relative_bias: bool):
    from transformers import MPNetConfig, MPNetModel

    # LayerNorm eps as all-mpnet-base-v2's and BART's (1e-5): the tiny config has the default 1e-12
    config = MPNetConfig.from_pretrained(str(directory), layer_norm_eps=1e-5)
    mpnet = MPNetModel.from_pretrained(str(directory), config=config,
                                       add_pooling_layer=False).eval()
    if not relative_bias:
        with torch.no_grad():
            mpnet.encoder.relative_attention_bias.weight.zero_()
    return mpnet


def _encoder_states(directory, *, relative_bias: bool):
    """(MPNet's token states, the warm-started BART encoder's), over the tokens of :data:`TEXTS`."""
    model, tokenizer = bart_from_encoder(directory, decoder_layers=1)
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    mpnet = _reference(directory, relative_bias=relative_bias)
    with torch.no_grad():
        expected = mpnet(**batch).last_hidden_state
        got = model.eval().model.encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    return expected[mask], got[mask]


def _encoder_difference(directory, *, relative_bias: bool) -> float:
    expected, got = _encoder_states(directory, relative_bias=relative_bias)
    return float((expected - got).abs().max())


def test_the_encoder_is_mpnet_without_its_relative_bias(mpnet_dir):
    assert _encoder_difference(mpnet_dir, relative_bias=False) < 1e-5
    assert _encoder_difference(mpnet_dir, relative_bias=True) > 1e-2  # the bias is what is lost


def test_weights_and_positions_land_in_place(mpnet_dir):
    model, _ = bart_from_encoder(mpnet_dir, decoder_layers=3, cross_attention="self")
    mpnet = _reference(mpnet_dir, relative_bias=True)
    layers = mpnet.encoder.layer
    assert torch.equal(model.model.shared.weight, mpnet.embeddings.word_embeddings.weight)
    for part in (model.model.encoder, model.model.decoder):  # MPNet's positions start at 2 too
        assert torch.equal(part.embed_positions.weight, mpnet.embeddings.position_embeddings.weight)
    for index, layer in enumerate(model.model.decoder.layers):
        source = layers[index % len(layers)]
        assert torch.equal(layer.self_attn.v_proj.weight, source.attention.attn.v.weight)
        assert torch.equal(layer.encoder_attn.out_proj.bias, source.attention.attn.o.bias)
        assert torch.equal(layer.self_attn_layer_norm.weight, source.attention.LayerNorm.weight)
        assert torch.equal(layer.fc1.weight, source.intermediate.dense.weight)


def test_ids_are_mpnets_and_the_alias_resolves(mpnet_dir, monkeypatch):
    monkeypatch.setitem(WARM_STARTS, "mpnet", lambda: mpnet_dir)
    student = load_student("mpnet", decoder_layers=1)
    assert student.origin == "mpnet" and student.newline_token == NEWLINE_TOKEN
    tokenizer, config = student.tokenizer, student.model.config
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    assert (config.bos_token_id, config.pad_token_id, config.eos_token_id) == (0, 1, 2)
    assert config.decoder_start_token_id == 0 and config.forced_eos_token_id == 2
    ids = tokenizer("the food")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and len(ids) < 10
    assert tokenizer.convert_tokens_to_ids(NEWLINE_TOKEN) != tokenizer.unk_token_id
    assert load_student(str(mpnet_dir), decoder_layers=1).origin == f"mpnet:{mpnet_dir}"


def test_a_vocabulary_without_the_newline_token_is_refused(tmp_path):
    build_mpnet_encoder(tmp_path)
    with pytest.raises(TrainingError, match=r"no \[unused1\]"):
        bart_from_encoder(tmp_path)


def test_the_warm_start_converts_to_ctranslate2_with_the_same_outputs(mpnet_dir, tmp_path):
    ctranslate2 = pytest.importorskip("ctranslate2")

    model, tokenizer = bart_from_encoder(mpnet_dir, decoder_layers=2, seed=1)
    model.save_pretrained(str(tmp_path / "hf"))
    tokenizer.save_pretrained(str(tmp_path / "hf"))
    ctranslate2.converters.TransformersConverter(str(tmp_path / "hf")).convert(
        str(tmp_path / "ct2"), quantization="float32")
    translator = ctranslate2.Translator(str(tmp_path / "ct2"), device="cpu")
    sources = [tokenizer.convert_ids_to_tokens(tokenizer(t)["input_ids"]) for t in TEXTS]
    targets = [tokenizer.tokenize(t.split(",")[0]) for t in reversed(TEXTS)]
    scored = translator.score_batch(sources, targets)  # log-probs of target tokens, then </s>
    model.eval()
    for source, target, result in zip(TEXTS, targets, scored):
        labels = tokenizer.convert_tokens_to_ids(target) + [tokenizer.eos_token_id]
        with torch.no_grad():
            logits = model(**tokenizer([source], return_tensors="pt"),
                           decoder_input_ids=torch.tensor([[tokenizer.bos_token_id] + labels[:-1]])
                           ).logits[0]
        expected = logits.log_softmax(-1)[range(len(labels)), labels]
        assert result.log_probs == pytest.approx(expected.tolist(), abs=1e-3)
    generated = translator.translate_batch(sources, beam_size=1, max_decoding_length=6)
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        ids = model.generate(**batch, max_new_tokens=8, num_beams=1, do_sample=False)
    for result, row in zip(generated, ids):
        assert result.hypotheses[0] == tokenizer.convert_ids_to_tokens(row.tolist()[1:7])


def test_real_mpnet_warm_start():
    from fsa_edge.student_support import mpnet_path

    try:
        directory = mpnet_path()
    except TrainingError:
        pytest.skip("all-mpnet-base-v2 parts not installed")
    assert _encoder_difference(directory, relative_bias=False) < 1e-4  # measured 1.2e-6
    expected, got = _encoder_states(directory, relative_bias=True)
    cosine = float(torch.nn.functional.cosine_similarity(expected, got, dim=-1).mean())
    assert 0.3 < cosine < 0.9  # measured 0.56: the dropped bias is much of what MPNet knows
    student = load_student(str(directory), decoder_layers=1)
    assert student.model.config.d_model == 768 and student.model.config.vocab_size == 30527
    assert student.tokenizer.convert_ids_to_tokens(student.tokenizer("food")["input_ids"]) == [
        "<s>", "food", "</s>"]
