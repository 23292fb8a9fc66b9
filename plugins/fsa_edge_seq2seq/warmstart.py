"""Warm start: a BART student whose encoder (and decoder layers) come from a BERT or MPNet encoder.

A BERT encoder maps exactly onto BART's post-LayerNorm encoder: token-type-0 embedding folded
into the word embeddings, position embeddings copied behind BART's offset of 2, the embedding
LayerNorm as ``layernorm_embedding``, then per layer q/k/v/out, the two LayerNorms and the FFN.
The only numerical difference is LayerNorm eps: BART (and CTranslate2's BART) use 1e-5 where
BERT uses 1e-12, so encoder outputs differ from BERT's by ~1e-3; with eps matched they are equal.

An MPNet encoder (``mpnet``: all-mpnet-base-v2) maps the same way and needs no folding: its
learned positions already start at 2 (``padding_idx + 1``, BART's offset), its eps is 1e-5, it has
no token types. What BART cannot hold is MPNet's relative attention bias (one bucket table shared
by all layers): it is dropped, so the warm start is MPNet without it (with the bias zeroed in
MPNet the two encoders agree to float precision) and fine-tuning learns to do without it.

The decoder has ``decoder_layers`` layers whose self-attention, FFN and LayerNorms come from
encoder layers 0..n-1; cross-attention is random (``cross_attention="random"``) or a copy of the same
layer's self-attention and its LayerNorm (``"self"``: the decoder starts out able to attend
from its states to the encoder's, which live in the same space). Embeddings are tied (shared / decoder / LM head).

The tokenizer saved beside the model is the encoder's WordPiece with its own begin / end / padding
tokens as bos / eos / pad (BERT: [CLS] / [SEP] / [PAD]; MPNet: <s> / </s> / <pad>; what
CTranslate2's BART converter reads), no fixed padding, and ``[unused1]`` as the newline.
Requires torch and transformers: import only from code that already needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fsa_edge.errors import TrainingError
from fsa_edge.runtime import TOKENIZER_FILE
from fsa_edge.student_support import ENCODER_TYPES, encoder_type

CROSS_ATTENTION_INITS = ("random", "self")
NEWLINE_TOKEN = "[unused1]"


def wordpiece_tokenizer(encoder_dir: Path, family: str) -> Any:
    """The encoder's fast WordPiece tokenizer as a seq2seq tokenizer: its family's begin / end /
    padding tokens as bos / eos / pad (:data:`FAMILIES`), no fixed padding, no truncation."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast

    specials = FAMILIES[family]
    file = encoder_dir / TOKENIZER_FILE
    if not file.is_file():
        raise TrainingError(f"{encoder_dir} has no {TOKENIZER_FILE} (a fast WordPiece tokenizer)")
    backend = Tokenizer.from_file(str(file))
    backend.no_padding()
    backend.no_truncation()
    if backend.token_to_id(NEWLINE_TOKEN) is None:
        raise TrainingError(f"{file}: the vocabulary has no {NEWLINE_TOKEN} to stand for newlines")
    backend.add_special_tokens([AddedToken(NEWLINE_TOKEN, normalized=False)])
    unk = getattr(backend.model, "unk_token", None) or "[UNK]"
    for token in (specials.bos, specials.eos, specials.pad, specials.mask, unk):
        if backend.token_to_id(token) is None:
            raise TrainingError(f"{file}: the vocabulary has no {token}")
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=specials.bos, eos_token=specials.eos,
        pad_token=specials.pad, unk_token=unk, cls_token=specials.bos, sep_token=specials.eos,
        mask_token=specials.mask, model_max_length=512)


def bart_config_from_encoder(encoder_config: Any, tokenizer: Any, *, decoder_layers: int,
                             positions: int) -> Any:
    """A BartConfig with the encoder's width, depth and the tokenizer's special-token ids;
    ``positions``: the number of positions BART's table holds (its rows less the offset 2)."""
    from transformers import BartConfig

    if encoder_config.hidden_act not in ("gelu", "relu", "gelu_new"):
        raise TrainingError(f"unsupported encoder activation {encoder_config.hidden_act!r}")
    ids = {name: tokenizer.convert_tokens_to_ids(getattr(tokenizer, f"{name}_token"))
           for name in ("pad", "bos", "eos")}
    config = BartConfig(
        vocab_size=encoder_config.vocab_size, d_model=encoder_config.hidden_size,
        encoder_layers=encoder_config.num_hidden_layers, decoder_layers=decoder_layers,
        encoder_attention_heads=encoder_config.num_attention_heads,
        decoder_attention_heads=encoder_config.num_attention_heads,
        encoder_ffn_dim=encoder_config.intermediate_size,
        decoder_ffn_dim=encoder_config.intermediate_size,
        activation_function=encoder_config.hidden_act, max_position_embeddings=positions,
        dropout=encoder_config.hidden_dropout_prob,
        attention_dropout=encoder_config.attention_probs_dropout_prob,
        activation_dropout=0.0, init_std=encoder_config.initializer_range, scale_embedding=False,
        pad_token_id=ids["pad"], bos_token_id=ids["bos"], eos_token_id=ids["eos"],
        decoder_start_token_id=ids["bos"], forced_eos_token_id=ids["eos"], forced_bos_token_id=None,
        tie_word_embeddings=True, normalize_before=False, add_final_layer_norm=False,
        normalize_embedding=True, is_encoder_decoder=True,
    )
    return config


@dataclass(frozen=True)
class LayerParts:
    """One encoder layer in BART's terms: self-attention projections, the LayerNorm after
    attention, the FFN's two linears and the LayerNorm after it."""

    query: Any
    key: Any
    value: Any
    out: Any
    attention_norm: Any
    ffn_in: Any
    ffn_out: Any
    final_norm: Any


@dataclass(frozen=True)
class EncoderWeights:
    """What the warm start copies: word embeddings (token type folded in), BART's position table
    (offset 2 included), the embedding LayerNorm, and the layers."""

    config: Any
    words: Any
    positions: Any
    embedding_norm: Any
    layers: tuple[LayerParts, ...]


def _bert_weights(directory: Path) -> EncoderWeights:
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(directory), add_pooling_layer=False)
    embeddings = bert.embeddings
    table = embeddings.position_embeddings.weight
    layers = tuple(LayerParts(
        layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
        layer.attention.output.dense, layer.attention.output.LayerNorm, layer.intermediate.dense,
        layer.output.dense, layer.output.LayerNorm) for layer in bert.encoder.layer)
    with torch.no_grad():
        words = embeddings.word_embeddings.weight + embeddings.token_type_embeddings.weight[0]
        positions = torch.cat([table[:2], table])  # rows 0-1 (BART's offset) are never used
    return EncoderWeights(bert.config, words, positions, embeddings.LayerNorm, layers)


def _mpnet_weights(directory: Path) -> EncoderWeights:
    from transformers import MPNetModel

    mpnet = MPNetModel.from_pretrained(str(directory), add_pooling_layer=False)
    embeddings = mpnet.embeddings
    if embeddings.padding_idx != 1:
        raise TrainingError(f"{directory}: MPNet positions start at padding_idx + 1 = "
                            f"{embeddings.padding_idx + 1}, BART's at 2")
    layers = tuple(LayerParts(
        layer.attention.attn.q, layer.attention.attn.k, layer.attention.attn.v,
        layer.attention.attn.o, layer.attention.LayerNorm, layer.intermediate.dense,
        layer.output.dense, layer.output.LayerNorm) for layer in mpnet.encoder.layer)
    return EncoderWeights(mpnet.config, embeddings.word_embeddings.weight,
                          embeddings.position_embeddings.weight, embeddings.LayerNorm, layers)


@dataclass(frozen=True)
class EncoderFamily:
    """An encoder family the warm start reads: its begin / end / padding / mask tokens (BART's
    bos = cls, eos = sep) and how its weights are loaded."""

    bos: str
    eos: str
    pad: str
    mask: str
    weights: Callable[[Path], EncoderWeights]


#: per encoder family (:data:`fsa_edge.student_support.ENCODER_TYPES`)
FAMILIES = {"bert": EncoderFamily("[CLS]", "[SEP]", "[PAD]", "[MASK]", _bert_weights),
            "mpnet": EncoderFamily("<s>", "</s>", "<pad>", "<mask>", _mpnet_weights)}


def _copy(target: Any, source: Any) -> None:
    import torch

    with torch.no_grad():
        if target.shape != source.shape:
            raise TrainingError(f"shape mismatch in warm start: {tuple(target.shape)} vs "
                                f"{tuple(source.shape)}")
        target.copy_(source)


def _copy_module(target: Any, source: Any) -> None:
    """A Linear or LayerNorm's weight and bias."""
    _copy(target.weight, source.weight)
    _copy(target.bias, source.bias)


def _copy_attention(attention: Any, norm: Any, source: LayerParts) -> None:
    """An encoder layer's self-attention and its LayerNorm → a BART attention block and its norm."""
    _copy_module(attention.q_proj, source.query)
    _copy_module(attention.k_proj, source.key)
    _copy_module(attention.v_proj, source.value)
    _copy_module(attention.out_proj, source.out)
    _copy_module(norm, source.attention_norm)


def _copy_layer(target: Any, source: LayerParts) -> None:
    """Encoder layer → BART self-attention, its LayerNorm, FFN and final LayerNorm."""
    _copy_attention(target.self_attn, target.self_attn_layer_norm, source)
    _copy_module(target.fc1, source.ffn_in)
    _copy_module(target.fc2, source.ffn_out)
    _copy_module(target.final_layer_norm, source.final_norm)


def bart_from_encoder(encoder_dir: str | Path, *, decoder_layers: int = 3, seed: int = 0,
                      cross_attention: str = "random") -> tuple[Any, Any]:
    """``(BartForConditionalGeneration, tokenizer)`` warm-started from the BERT or MPNet
    encoder at ``encoder_dir``."""
    import torch
    from transformers import BartForConditionalGeneration, GenerationConfig

    encoder_dir = Path(encoder_dir)
    family = encoder_type(encoder_dir)
    if family is None:
        raise TrainingError(f"{encoder_dir} is not a BERT or MPNet checkpoint (config.json "
                            f"model_type one of {', '.join(ENCODER_TYPES)})")
    if decoder_layers < 1:
        raise TrainingError("decoder_layers must be at least 1")
    if cross_attention not in CROSS_ATTENTION_INITS:
        raise TrainingError(f"cross_attention must be one of {CROSS_ATTENTION_INITS}, "
                            f"got {cross_attention!r}")
    tokenizer = wordpiece_tokenizer(encoder_dir, family)
    source = FAMILIES[family].weights(encoder_dir)
    torch.manual_seed(seed)
    config = bart_config_from_encoder(source.config, tokenizer, decoder_layers=decoder_layers,
                                      positions=source.positions.shape[0] - 2)
    model = BartForConditionalGeneration(config)
    with torch.no_grad():
        _copy(model.model.shared.weight, source.words)
        for part in (model.model.encoder, model.model.decoder):
            _copy(part.embed_positions.weight, source.positions)
            _copy_module(part.layernorm_embedding, source.embedding_norm)
        for target, layer in zip(model.model.encoder.layers, source.layers):
            _copy_layer(target, layer)
        for index, target in enumerate(model.model.decoder.layers):
            layer = source.layers[index % len(source.layers)]
            _copy_layer(target, layer)
            if cross_attention == "self":
                _copy_attention(target.encoder_attn, target.encoder_attn_layer_norm, layer)
        model.final_logits_bias.zero_()
    model.tie_weights()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id, bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        forced_eos_token_id=config.eos_token_id, num_beams=1, do_sample=False)
    return model, tokenizer


__all__ = ["CROSS_ATTENTION_INITS", "FAMILIES", "NEWLINE_TOKEN", "bart_config_from_encoder",
           "bart_from_encoder", "wordpiece_tokenizer"]
