"""Warm start: a BART student whose encoder (and decoder layers) come from a BERT checkpoint.

A BERT encoder maps exactly onto BART's post-LayerNorm encoder: token-type-0 embedding folded
into the word embeddings, position embeddings copied behind BART's offset of 2, the embedding
LayerNorm as ``layernorm_embedding``, then per layer q/k/v/out, the two LayerNorms and the FFN.
The only numerical difference is LayerNorm eps: BART (and CTranslate2's BART) use 1e-5 where
BERT uses 1e-12, so encoder outputs differ from BERT's by ~1e-3; with eps matched they are equal.

The decoder has ``decoder_layers`` layers whose self-attention, FFN and LayerNorms come from
BERT layers 0..n-1; cross-attention is random (``cross_attention="random"``) or a copy of the same
BERT layer's self-attention and its LayerNorm (``"self"``: the decoder starts out able to attend
from its states to the encoder's, which live in the same space). Embeddings are tied (shared / decoder / LM head).

The tokenizer saved beside the model is BERT's WordPiece with bos=[CLS], eos=[SEP], pad=[PAD]
(what CTranslate2's BART converter reads), no fixed padding, and ``[unused1]`` as the newline.
Requires torch and transformers: import only from code that already needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsa_edge.errors import TrainingError
from fsa_edge.runtime import TOKENIZER_FILE
from fsa_edge.student_support import is_bert_dir

CROSS_ATTENTION_INITS = ("random", "self")
NEWLINE_TOKEN = "[unused1]"


def wordpiece_tokenizer(bert_dir: Path) -> Any:
    """BERT's fast tokenizer as a seq2seq tokenizer: [CLS]=bos, [SEP]=eos, no fixed padding."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast

    file = bert_dir / TOKENIZER_FILE
    if not file.is_file():
        raise TrainingError(f"{bert_dir} has no {TOKENIZER_FILE} (a fast WordPiece tokenizer)")
    backend = Tokenizer.from_file(str(file))
    backend.no_padding()
    backend.no_truncation()
    if backend.token_to_id(NEWLINE_TOKEN) is None:
        raise TrainingError(f"{file}: the vocabulary has no {NEWLINE_TOKEN} to stand for newlines")
    backend.add_special_tokens([AddedToken(NEWLINE_TOKEN, normalized=False)])
    for token in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"):
        if backend.token_to_id(token) is None:
            raise TrainingError(f"{file}: the vocabulary has no {token}")
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="[CLS]", eos_token="[SEP]", pad_token="[PAD]",
        unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_max_length=512)


def bart_config_from_bert(bert_config: Any, tokenizer: Any, *, decoder_layers: int) -> Any:
    """A BartConfig with the BERT's width, depth and special-token ids."""
    from transformers import BartConfig

    if bert_config.hidden_act not in ("gelu", "relu", "gelu_new"):
        raise TrainingError(f"unsupported BERT activation {bert_config.hidden_act!r}")
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           (("pad", "[PAD]"), ("bos", "[CLS]"), ("eos", "[SEP]"))}
    config = BartConfig(
        vocab_size=bert_config.vocab_size, d_model=bert_config.hidden_size,
        encoder_layers=bert_config.num_hidden_layers, decoder_layers=decoder_layers,
        encoder_attention_heads=bert_config.num_attention_heads,
        decoder_attention_heads=bert_config.num_attention_heads,
        encoder_ffn_dim=bert_config.intermediate_size, decoder_ffn_dim=bert_config.intermediate_size,
        activation_function=bert_config.hidden_act, max_position_embeddings=bert_config.max_position_embeddings,
        dropout=bert_config.hidden_dropout_prob, attention_dropout=bert_config.attention_probs_dropout_prob,
        activation_dropout=0.0, init_std=bert_config.initializer_range, scale_embedding=False,
        pad_token_id=ids["pad"], bos_token_id=ids["bos"], eos_token_id=ids["eos"],
        decoder_start_token_id=ids["bos"], forced_eos_token_id=ids["eos"], forced_bos_token_id=None,
        tie_word_embeddings=True, normalize_before=False, add_final_layer_norm=False,
        normalize_embedding=True, is_encoder_decoder=True,
    )
    return config


def _copy(target: Any, source: Any) -> None:
    import torch

    with torch.no_grad():
        if target.shape != source.shape:
            raise TrainingError(f"shape mismatch in warm start: {tuple(target.shape)} vs "
                                f"{tuple(source.shape)}")
        target.copy_(source)


def _copy_norm(target: Any, source: Any) -> None:
    _copy(target.weight, source.weight)
    _copy(target.bias, source.bias)


def _copy_linear(target: Any, source: Any) -> None:
    _copy(target.weight, source.weight)
    _copy(target.bias, source.bias)


def _copy_attention(attention: Any, norm: Any, source: Any) -> None:
    """A BERT layer's self-attention and its LayerNorm → a BART attention block and its norm."""
    _copy_linear(attention.q_proj, source.attention.self.query)
    _copy_linear(attention.k_proj, source.attention.self.key)
    _copy_linear(attention.v_proj, source.attention.self.value)
    _copy_linear(attention.out_proj, source.attention.output.dense)
    _copy_norm(norm, source.attention.output.LayerNorm)


def _copy_layer(target: Any, source: Any) -> None:
    """BERT layer → BART self-attention, its LayerNorm, FFN and final LayerNorm."""
    _copy_attention(target.self_attn, target.self_attn_layer_norm, source)
    _copy_linear(target.fc1, source.intermediate.dense)
    _copy_linear(target.fc2, source.output.dense)
    _copy_norm(target.final_layer_norm, source.output.LayerNorm)


def bart_from_bert(bert_dir: str | Path, *, decoder_layers: int = 3, seed: int = 0,
                   cross_attention: str = "random") -> tuple[Any, Any]:
    """``(BartForConditionalGeneration, tokenizer)`` warm-started from the BERT at ``bert_dir``."""
    import torch
    from transformers import BartForConditionalGeneration, BertModel, GenerationConfig

    bert_dir = Path(bert_dir)
    if not is_bert_dir(bert_dir):
        raise TrainingError(f"{bert_dir} is not a BERT checkpoint (config.json model_type bert)")
    tokenizer = wordpiece_tokenizer(bert_dir)
    bert = BertModel.from_pretrained(str(bert_dir), add_pooling_layer=False)
    if decoder_layers < 1:
        raise TrainingError("decoder_layers must be at least 1")
    if cross_attention not in CROSS_ATTENTION_INITS:
        raise TrainingError(f"cross_attention must be one of {CROSS_ATTENTION_INITS}, "
                            f"got {cross_attention!r}")
    torch.manual_seed(seed)
    config = bart_config_from_bert(bert.config, tokenizer, decoder_layers=decoder_layers)
    model = BartForConditionalGeneration(config)
    embeddings = bert.embeddings
    with torch.no_grad():
        word = embeddings.word_embeddings.weight + embeddings.token_type_embeddings.weight[0]
        _copy(model.model.shared.weight, word)
        for part in (model.model.encoder, model.model.decoder):
            positions = part.embed_positions.weight
            _copy(positions[2:], embeddings.position_embeddings.weight)
            _copy(positions[:2], embeddings.position_embeddings.weight[:2])
            _copy_norm(part.layernorm_embedding, embeddings.LayerNorm)
        for target, source in zip(model.model.encoder.layers, bert.encoder.layer):
            _copy_layer(target, source)
        for index, target in enumerate(model.model.decoder.layers):
            source = bert.encoder.layer[index % len(bert.encoder.layer)]
            _copy_layer(target, source)
            if cross_attention == "self":
                _copy_attention(target.encoder_attn, target.encoder_attn_layer_norm, source)
        model.final_logits_bias.zero_()
    model.tie_weights()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id, bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        forced_eos_token_id=config.eos_token_id, num_beams=1, do_sample=False)
    return model, tokenizer


__all__ = ["CROSS_ATTENTION_INITS", "NEWLINE_TOKEN", "bart_from_bert", "bart_config_from_bert",
           "wordpiece_tokenizer"]
