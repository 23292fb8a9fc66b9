"""Write llama-architecture GGUF files with random weights, for tests and speed benchmarks.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on the spot with the
``tokenizers`` library and declared to llama.cpp as ``tokenizer.ggml.model = "gpt2"`` with the
``gpt-2`` pre-tokenizer; a ChatML chat template is stored in the file, so
``create_chat_completion`` uses it. Weights are random: the model writes gibberish, but its
speed is that of a trained model of the same shape (llama.cpp does the same arithmetic
whatever the values are).

Two weight encodings: ``F32`` (tiny test models) and ``Q4_K_M`` (benchmarks), whose tensors
are written directly as random Q4_K / Q6_K blocks with valid, small scales — following
llama.cpp's Q4_K_M mix: Q6_K for the output matrix and for ``attn_v`` / ``ffn_down`` of the
layers llama.cpp gives more bits, Q4_K elsewhere. Tensors are streamed to disk one at a time,
so a 7B file needs little memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TRAINING_TEXT = [
    "The food was great and the service was friendly, but the prices were a bit high.",
    "I love this laptop: the battery lasts all day and the keyboard feels solid.",
    "The screen is dim and the fan is loud. Support never answered my emails.",
    "Our waiter was rude, the soup was cold, and we waited forty minutes for a table.",
    "Great atmosphere, tasty pizza, cheap drinks. We will definitely come back!",
    "Target: food. Aspect: quality. Sentiment: positive. Reasoning: the review says great.",
    '{"elements": [{"aspect": "pizza", "polarity": "positive", "opinion": "tasty"}]}',
] * 20

# Token types of GGUF vocabularies (llama.cpp's llama_token_type).
NORMAL, CONTROL, UNUSED = 1, 3, 5


@dataclass(frozen=True)
class LlamaShape:
    """The hyper-parameters of a llama-architecture model."""

    n_embd: int = 64
    n_layers: int = 2
    n_ff: int = 128
    n_heads: int = 4
    n_kv_heads: int = 2
    n_vocab: int = 0          # 0: the trained tokenizer's size; larger pads with unused tokens
    n_ctx_train: int = 2048
    tied_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_heads


# Shapes of well-known model classes (values from their published configs).
SHAPES = {
    "tiny": LlamaShape(),
    "1b": LlamaShape(n_embd=2048, n_layers=16, n_ff=8192, n_heads=32, n_kv_heads=8,
                     n_vocab=128256, n_ctx_train=8192, tied_embeddings=True),   # Llama-3.2-1B
    "7b": LlamaShape(n_embd=4096, n_layers=32, n_ff=11008, n_heads=32, n_kv_heads=32,
                     n_vocab=32000, n_ctx_train=4096),                          # Llama-2-7B
}


@dataclass(frozen=True)
class Vocabulary:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    bos_id: int
    eos_id: int


def train_vocabulary(vocab_size: int = 400) -> Vocabulary:
    """A byte-level BPE vocabulary trained on a few review-like sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1,
                                  special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer)
    data = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    types = [CONTROL if t in SPECIAL_TOKENS else NORMAL for t in tokens]
    return Vocabulary(tokens, types, merges, bos_id=vocab["<|endoftext|>"],
                      eos_id=vocab["<|im_end|>"])


def _pad(vocabulary: Vocabulary, size: int) -> Vocabulary:
    extra = size - len(vocabulary.tokens)
    if extra <= 0:
        return vocabulary
    return Vocabulary(vocabulary.tokens + [f"<|unused_{i}|>" for i in range(extra)],
                      vocabulary.types + [UNUSED] * extra, vocabulary.merges,
                      vocabulary.bos_id, vocabulary.eos_id)


def _more_bits(layer: int, n_layers: int) -> bool:
    """llama.cpp's ``use_more_bits``: the layers Q4_K_M stores with Q6_K."""
    return (layer < n_layers // 8 or layer >= 7 * n_layers // 8
            or (layer - n_layers // 8) % 3 == 2)


def _tensors(shape: LlamaShape, n_vocab: int) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape (rows, columns), role) of every tensor, in file order."""
    kv = shape.n_kv_heads * shape.head_dim
    yield "token_embd.weight", (n_vocab, shape.n_embd), "embed"
    for i in range(shape.n_layers):
        p = f"blk.{i}."
        yield p + "attn_norm.weight", (shape.n_embd,), "norm"
        yield p + "attn_q.weight", (shape.n_embd, shape.n_embd), "matrix"
        yield p + "attn_k.weight", (kv, shape.n_embd), "matrix"
        yield p + "attn_v.weight", (kv, shape.n_embd), "more" if _more_bits(
            i, shape.n_layers) else "matrix"
        yield p + "attn_output.weight", (shape.n_embd, shape.n_embd), "matrix"
        yield p + "ffn_norm.weight", (shape.n_embd,), "norm"
        yield p + "ffn_gate.weight", (shape.n_ff, shape.n_embd), "matrix"
        yield p + "ffn_up.weight", (shape.n_ff, shape.n_embd), "matrix"
        yield p + "ffn_down.weight", (shape.n_embd, shape.n_ff), "more" if _more_bits(
            i, shape.n_layers) else "matrix"
    yield "output_norm.weight", (shape.n_embd,), "norm"
    if not shape.tied_embeddings:
        yield "output.weight", (n_vocab, shape.n_embd), "output"


def _random_blocks(rng: np.random.Generator, rows: int, columns: int, qtype) -> np.ndarray:
    """Random K-quant blocks with small valid f16 scales (no NaN or infinity)."""
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows, columns // block, size), dtype=np.uint8)
    scale = np.frombuffer(np.float16(1e-3).tobytes(), dtype=np.uint8)
    if qtype == gguf.GGMLQuantizationType.Q4_K:      # d, dmin first
        blocks[..., 0:2] = scale
        blocks[..., 2:4] = scale
    else:                                            # Q6_K: d last
        blocks[..., size - 2:size] = scale
    return blocks.reshape(rows, -1)


def write_llama_gguf(path: str | Path, shape: LlamaShape = SHAPES["tiny"], *,
                     quantization: str = "F32", seed: int = 0,
                     vocabulary: Vocabulary | None = None, name: str = "fsa-edge-random") -> Path:
    """Write a random-weight llama GGUF at ``path`` (``quantization``: F32 or Q4_K_M)."""
    import gguf

    path = Path(path)
    vocabulary = vocabulary or train_vocabulary()
    vocabulary = _pad(vocabulary, shape.n_vocab)
    n_vocab = len(vocabulary.tokens)
    if quantization not in ("F32", "Q4_K_M"):
        raise ValueError(f"quantization must be F32 or Q4_K_M, not {quantization!r}")
    quantized = quantization == "Q4_K_M"
    if quantized and (shape.n_embd % 256 or shape.n_ff % 256):
        raise ValueError("Q4_K_M needs n_embd and n_ff divisible by 256")
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layers)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_heads)
    writer.add_head_count_kv(shape.n_kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M if quantized
                         else gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(vocabulary.tokens)
    writer.add_token_types(vocabulary.types)
    writer.add_token_merges(vocabulary.merges)
    writer.add_bos_token_id(vocabulary.bos_id)
    writer.add_eos_token_id(vocabulary.eos_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)

    plan = list(_tensors(shape, n_vocab))

    def encoding(role: str):
        if role == "norm" or not quantized:
            return None
        if role in ("more", "output") or (role == "embed" and shape.tied_embeddings):
            return gguf.GGMLQuantizationType.Q6_K
        return gguf.GGMLQuantizationType.Q4_K

    for tensor_name, dims, role in plan:
        qtype = encoding(role)
        if qtype is None:
            writer.add_tensor_info(tensor_name, dims, np.dtype(np.float32),
                                   int(np.prod(dims)) * 4)
        else:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            byte_shape = (dims[0], dims[1] // block * size)
            writer.add_tensor_info(tensor_name, byte_shape, np.dtype(np.uint8),
                                   byte_shape[0] * byte_shape[1], raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor_name, dims, role in plan:
        qtype = encoding(role)
        if role == "norm":
            data = np.ones(dims, dtype=np.float32)
        elif qtype is None:
            data = (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(np.float32)
        else:
            data = _random_blocks(rng, dims[0], dims[1], qtype)
        writer.write_tensor_data(data)
    writer.close()
    return path
