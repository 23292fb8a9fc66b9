"""The tagger's converters: an encoder with task heads → CTranslate2 encoder + numpy heads.

Registered through ``register_converters`` (:data:`CONVERTERS`) for sources that hold
``heads.npz``: key ``BertConfig+heads.npz`` (CTranslate2's own BERT loader) and key
``MPNetConfig+heads.npz``. CTranslate2 has no MPNet loader;
:meth:`MPNetTaggerConverter.encoder_spec` builds the spec itself (nothing is registered inside
CTranslate2): a post-norm ``TransformerEncoderSpec`` with T5's relative attention bias (MPNet's
one table, shared by all layers) and, since that spec drops absolute position encodings, MPNet's
absolute position table as a second source embedding, added to the word embeddings. The runtime
feeds each piece's position as that second input stream when the converted card's
``tagger.position_input`` is set, which this converter writes.

CTranslate2 keeps only the encoder; the heads and the tokenizer are copied beside it by the
pipeline. The parity check, the same for both, compares the torch encoder with the converted one
through the same heads and decoding: the log-probability of the label torch picks (the tag of
each piece; with ACSA also the class of each category) as max and mean |Δ|, the share of samples
whose decoded elements are identical, and the last hidden states' max |Δ| (in the conversion
notes; in float32 gated at the same threshold as the log-probs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from fsa_edge.card import CARD_FILE, ModelCard
from fsa_edge.errors import ConversionError
from fsa_edge.runtime import HEADS_FILE, TOKENIZER_FILES
from fsa_edge_converters import (ArchitectureConverter, ParityReport, ParityThresholds,
                                 parity_report)

from .runtime import POSITION_INPUT, TaggerRuntime, ctranslate2_encoder, load_tokenizer
from .scheme import log_softmax

#: MPNet's relative attention: transformers computes the buckets with these, whatever the config
MPNET_BUCKETS = 32
MPNET_MAX_DISTANCE = 128


class EncoderTaggerConverter(ArchitectureConverter):
    """What the tagger's converters share: served by backend ``tagger``, ``heads.npz`` and the
    tokenizer copied, the card required, one parity gate. ``position_input``: whether the
    converted encoder takes the positions stream (written into the card for the runtime, fed by
    the parity check)."""

    marker_file = HEADS_FILE
    backend = "tagger"
    files = (*TOKENIZER_FILES, HEADS_FILE)
    agreement = "decoded agreement"
    position_input: ClassVar[bool] = False

    def validate(self) -> None:
        if not (self.source / CARD_FILE).is_file():
            raise ConversionError(f"{self.source}: no {CARD_FILE} (the tagger's labels live in "
                                  "its card)")

    def card_extra(self, extra: dict[str, Any]) -> dict[str, Any]:
        if not self.position_input:
            return extra
        return {**extra, "tagger": {**extra.get("tagger", {}), POSITION_INPUT: True}}

    def parity(self, output: Path, texts: Sequence[str], *, quantization: str,
               thresholds: ParityThresholds, device: str) -> ParityReport:
        report, hidden = encoder_parity(self.source, output, texts, quantization=quantization,
                                        thresholds=thresholds, device=device,
                                        position_input=self.position_input)
        self.notes.append(f"last hidden states: max |Δ| {hidden:.2e} on {report.samples} "
                          f"samples ({quantization} vs torch float32)")
        return report


class TaggerConverter(EncoderTaggerConverter):
    """BERT encoder to CTranslate2 (served by backend ``tagger``); ``heads.npz`` copied."""

    config_name = "BertConfig"
    description = "BERT encoder + tagger heads: encoder in CTranslate2, heads in numpy"

    def model_to_convert(self, load: Callable[[], Any]) -> Any:
        model = load()
        # transformers 5 no longer writes it; CTranslate2's BERT loader reads it
        if getattr(model.config, "position_embedding_type", None) is None:
            model.config.position_embedding_type = "absolute"
            self.notes.append("config.position_embedding_type set to 'absolute'")
        return model


class MPNetTaggerConverter(EncoderTaggerConverter):
    """MPNet encoder to CTranslate2 (relative attention bias, positions as a second input
    stream), served by backend ``tagger``; ``heads.npz`` copied."""

    config_name = "MPNetConfig"
    position_input = True
    description = ("MPNet encoder + tagger heads: encoder in CTranslate2 (positions fed as a "
                   "second input), heads in numpy")

    def validate(self) -> None:
        super().validate()
        buckets = getattr(self.config, "relative_attention_num_buckets", MPNET_BUCKETS)
        if buckets != MPNET_BUCKETS:
            raise ConversionError(f"{self.source}: relative_attention_num_buckets {buckets}; "
                                  f"transformers' MPNet always uses {MPNET_BUCKETS}")

    def convert_weights(self, output: Path, quantization: str) -> None:
        """The spec of :meth:`encoder_spec`, quantized and saved by CTranslate2's ``Converter``
        (the model and tokenizer pass through ``model_to_convert`` / ``tokenizer_to_convert``)."""
        import ctranslate2.converters
        import torch
        from transformers import AutoModel, AutoTokenizer

        owner, source = self, str(self.source)

        class _Converter(ctranslate2.converters.Converter):
            def _load(self) -> Any:
                model = owner.model_to_convert(lambda: AutoModel.from_pretrained(
                    source, dtype=torch.float32).eval())
                tokenizer = owner.tokenizer_to_convert(
                    lambda: AutoTokenizer.from_pretrained(source))
                with torch.no_grad():
                    return owner.encoder_spec(model, tokenizer)

        _Converter().convert(str(output), quantization=quantization, force=True)

    def encoder_spec(self, model: Any, tokenizer: Any) -> Any:
        """CTranslate2's ``TransformerEncoderModelSpec`` of an ``MPNetModel`` (no pooler).

        Source embedding 0: the words; 1: the absolute position table from ``padding_idx + 1``
        on (transformers numbers a text's pieces ``padding_idx + 1 + i``), indexed by the
        positions stream; then the embedding LayerNorm. Every layer: fused q/k/v, o, the
        attention LayerNorm, the FFN and its LayerNorm, and the encoder's one relative attention
        bias table (T5's bidirectional buckets; queries scaled by 1/sqrt(head_dim) as by
        default). Vocabulary: the tokenizer's tokens in id order (padded to the embedding rows
        as CTranslate2's BERT loader does)."""
        from ctranslate2.converters.transformers import _SUPPORTED_ACTIVATIONS
        from ctranslate2.converters.utils import fuse_linear
        from ctranslate2.specs import common_spec, transformer_spec

        config, embeddings = model.config, model.embeddings
        activation = _SUPPORTED_ACTIVATIONS.get(config.hidden_act)
        if activation is None:
            raise ConversionError(f"{self.source}: CTranslate2 has no activation "
                                  f"{config.hidden_act!r}")
        positions = embeddings.position_embeddings.weight[embeddings.padding_idx + 1:]
        max_length = ModelCard.load(self.source).max_input_length
        if max_length > positions.shape[0]:
            raise ConversionError(f"{self.source}: max_input_length {max_length} exceeds the "
                                  f"{positions.shape[0]} positions MPNet has")

        encoder = transformer_spec.TransformerEncoderSpec(
            config.num_hidden_layers, config.num_attention_heads, pre_norm=False,
            activation=activation, layernorm_embedding=True, relative_attention_bias=True,
            num_source_embeddings=2, embeddings_merge=common_spec.EmbeddingsMerge.ADD)
        spec = transformer_spec.TransformerEncoderModelSpec(encoder, pooling_layer=False)
        encoder.scale_embeddings = False
        encoder.embeddings[0].weight = embeddings.word_embeddings.weight
        encoder.embeddings[1].weight = positions
        _set_layer_norm(encoder.layernorm_embedding, embeddings.LayerNorm)
        bias = model.encoder.relative_attention_bias.weight
        for layer_spec, layer in zip(encoder.layer, model.encoder.layer):
            attention, attn = layer_spec.self_attention, layer.attention.attn
            attention.relative_attention_bias = bias  # one table, shared (saved once)
            attention.relative_attention_max_distance = np.dtype("int32").type(
                MPNET_MAX_DISTANCE)
            qkv = [common_spec.LinearSpec() for _ in range(3)]
            for part, module in zip(qkv, (attn.q, attn.k, attn.v)):
                _set_linear(part, module)
            fuse_linear(attention.linear[0], qkv)
            _set_linear(attention.linear[1], attn.o)
            _set_layer_norm(attention.layer_norm, layer.attention.LayerNorm)
            _set_linear(layer_spec.ffn.linear_0, layer.intermediate.dense)
            _set_linear(layer_spec.ffn.linear_1, layer.output.dense)
            _set_layer_norm(layer_spec.ffn.layer_norm, layer.output.LayerNorm)

        spec.config.unk_token = tokenizer.unk_token
        spec.config.layer_norm_epsilon = config.layer_norm_eps
        tokens = [token for token, _ in sorted(tokenizer.get_vocab().items(),
                                               key=lambda item: item[1])]
        tokens += [f"<extra_id_{i}>" for i in range(config.vocab_size - len(tokens))]
        spec.register_vocabulary(tokens)
        return spec


#: what the tagger plugin registers
CONVERTERS = (TaggerConverter, MPNetTaggerConverter)


def _set_linear(spec: Any, module: Any) -> None:
    spec.weight = module.weight
    if module.bias is not None:
        spec.bias = module.bias


def _set_layer_norm(spec: Any, module: Any) -> None:
    spec.gamma = module.weight
    spec.beta = module.bias


def _decoded(results: list) -> list:
    """What must agree: the elements without their scores."""
    return [[(e.aspect, e.aspect_span, e.opinion, e.opinion_span, e.category, e.polarity)
             for e in found] for found in results]


def encoder_parity(source: Path, output: Path, texts: Sequence[str], *, quantization: str,
                   thresholds: ParityThresholds, device: str, position_input: bool = False
                   ) -> tuple[ParityReport, float]:
    """Torch encoder vs CTranslate2 encoder through the same heads and decoding: the judged
    report, and the last hidden states' max |Δ| (a float32 conversion beyond
    ``thresholds.float32_max_abs`` fails the report)."""
    import torch
    from transformers import AutoModel

    from .training import torch_encoder

    card = ModelCard.load(source)
    tokenizer = load_tokenizer(source, card.max_input_length)
    model = AutoModel.from_pretrained(str(source), dtype=torch.float32).eval()
    torch_encode = torch_encoder(model, tokenizer, "cpu")

    converted = ctranslate2_encoder(output, device=device, compute_type="default", threads=1,
                                    position_input=position_input)
    deltas: list[float] = []
    hidden_delta = 0.0
    disagreements: list[dict[str, str]] = []
    tasks = [t for t in card.tasks if t in ("atsa", "acsa", "aste")]
    agree: dict[str, list[bool]] = {task: [] for task in tasks}
    # both sides decode as serving does: the card's heads, thresholds and score maps
    reference = TaggerRuntime.from_directory(source, card, torch_encode)
    candidate = TaggerRuntime.from_directory(source, card, converted)
    for text in texts:
        tokens = [tokenizer.encode(text).tokens]
        ref_hidden, got_hidden = torch_encode(tokens)[0], converted(tokens)[0]
        hidden_delta = max(hidden_delta, float(np.abs(ref_hidden - got_hidden).max()))
        pairs = [(log_softmax(reference.term_head(ref_hidden)),
                  log_softmax(reference.term_head(got_hidden)))]
        if "acsa" in tasks:  # and of the class torch picks for each category
            shape = (len(reference.categories), -1)
            pairs.append((log_softmax(reference.category_logits([text]).reshape(shape)),
                          log_softmax(candidate.category_logits([text]).reshape(shape))))
        for ref, got in pairs:  # Δ log-prob of the label torch picks, row by row
            chosen = ref.argmax(axis=-1)
            rows = np.arange(len(chosen))
            deltas.extend(np.abs(ref[rows, chosen] - got[rows, chosen]).tolist())
        differing = [t for t in tasks
                     if _decoded(reference.run([text], t)) != _decoded(candidate.run([text], t))]
        for task in tasks:
            agree[task].append(task not in differing)
        if differing and len(disagreements) < 5:  # shown for the first task that differs
            task = differing[0]
            disagreements.append({"input": text, "task": task,
                                  "torch": repr(reference.run([text], task)),
                                  "converted": repr(candidate.run([text], task))})
    hidden_failures = []
    if quantization == "float32" and not hidden_delta <= thresholds.float32_max_abs:
        hidden_failures.append(f"float32 max |Δ hidden state| {hidden_delta:.3g} > "
                               f"{thresholds.float32_max_abs:g}")
    report = parity_report(deltas, agree, quantization=quantization, thresholds=thresholds,
                           disagreements=disagreements, delta="label log-prob",
                           agreement=EncoderTaggerConverter.agreement,
                           other_failures=hidden_failures)
    return report, hidden_delta


__all__ = ["CONVERTERS", "EncoderTaggerConverter", "MPNetTaggerConverter", "TaggerConverter",
           "encoder_parity"]
