"""A tiny MPNet tagger for tests, built on the spot (no download): a random encoder, fitted heads.

:func:`build_mpnet_tagger` writes what ``fsa-edge train tagger`` saves from an MPNet encoder: a
Hugging Face ``MPNetModel`` directory (random, hidden 32, 2 layers, 4 heads, FFN 64), a WordPiece
``tokenizer.json`` with MPNet's special tokens, ``heads.npz`` in the names and shapes
:func:`fsa_edge_tagger.runtime.load_heads` reads, and a tagger card (tasks atsa and acsa,
attention pooling).

The encoder weights are random but not the near-zero defaults: every parameter gets noise
(LayerNorm gains and biases too) and the relative attention bias is large, so a wrong mapping of
any of them shows in the hidden states. The heads are fitted (:func:`fit_heads`) to a toy gold of
:data:`SENTENCES`, so the tagger finds those sentences' aspects and categories with margins, as a
trained one does. torch, transformers and tokenizers are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: ids 0-4, in the order of MPNet's vocabulary: transformers' MPNet numbers positions from its
#: hard-coded padding id 1, so ``<pad>`` must be id 1 for its positions to be 2, 3, …
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
SENTENCES = (
    "The food was delicious but the service was painfully slow.",
    "Our waiter was rude and the pasta was cold.",
    "Great sushi, friendly staff and a lovely view.",
    "The bread is top notch as well.",
    "Prices are too high for such small portions.",
    "I loved the wine list but the music was far too loud.",
    "The decor is charming, the dessert forgettable.",
    "Fast delivery, although the pizza arrived lukewarm.",
)
#: words the vocabulary holds only in pieces (WordPiece's ``##`` continuations)
SPLIT = (("painfully", ("pain", "##fully")), ("lukewarm", ("luke", "##warm")),
         ("forgettable", ("forget", "##table")), ("sushi", ("su", "##shi")))
CATEGORIES = ("FOOD#QUALITY", "SERVICE#GENERAL", "AMBIENCE#GENERAL", "RESTAURANT#PRICES")
#: the toy gold the heads are fitted to: aspect → polarity, and aspect → category
ASPECTS = {"food": "positive", "service": "negative", "waiter": "negative", "pasta": "negative",
           "sushi": "positive", "staff": "positive", "bread": "positive", "prices": "negative",
           "wine": "positive", "music": "negative", "decor": "positive", "dessert": "negative",
           "pizza": "negative"}
CATEGORY_OF = {**dict.fromkeys(("food", "pasta", "sushi", "bread", "wine", "dessert", "pizza"),
                               "FOOD#QUALITY"),
               **dict.fromkeys(("service", "waiter", "staff"), "SERVICE#GENERAL"),
               "music": "AMBIENCE#GENERAL", "decor": "AMBIENCE#GENERAL",
               "prices": "RESTAURANT#PRICES"}


def build_tokenizer(extra_tokens: Sequence[str] = ()) -> Any:
    """An uncased WordPiece tokenizer (``##`` continuations) over the words of :data:`SENTENCES`
    that writes ``<s> text </s>``, as MPNet's does. Its vocabulary is listed rather than trained
    (the trainer breaks ties differently from run to run): the special tokens, every character
    with and without ``##``, and the words, but for :data:`SPLIT` words, which come in pieces;
    then ``extra_tokens`` (e.g. all-mpnet-base-v2's ``[unused1]``)."""
    import re

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    text = " ".join(SENTENCES).lower()
    words = set(re.findall(r"\w+", text)) - {w for w, _ in SPLIT}
    chars = sorted(set(text) - {" "})
    pieces = [p for _, split in SPLIT for p in split]
    vocab = dict.fromkeys([*SPECIALS, *chars, *(f"##{c}" for c in chars), *sorted(words),
                           *sorted(pieces), *extra_tokens])  # in order, once each
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)},
                                           unk_token="<unk>"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tokenizer.token_to_id("<s>")),
                        ("</s>", tokenizer.token_to_id("</s>"))])
    return tokenizer


def gold(text: str) -> tuple[list[tuple[int, int, str]], dict[str, str]]:
    """The toy gold of a sentence: its :data:`ASPECTS` as ``(start, end, polarity)`` spans, and
    the polarity of each category (its first aspect's) it speaks about."""
    import re

    spans = [(m.start(), m.end(), ASPECTS[m.group().lower()])
             for m in re.finditer(r"\w+", text) if m.group().lower() in ASPECTS]
    categories: dict[str, str] = {}
    for start, end, polarity in spans:
        categories.setdefault(CATEGORY_OF[text[start:end].lower()], polarity)
    return spans, categories


def fit_heads(model: Any, tokenizer: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Term and attention-pooled category heads (a random query per category, a random shared
    classifier) fitted to the toy gold of :data:`SENTENCES` on the encoder's states, so their
    decisions on these sentences have margins, as a trained tagger's do: random heads put some
    decisions within int8's noise, and the int8 gate's agreement would be luck."""
    import torch

    from fsa_edge_tagger.scheme import (CATEGORY_CLASSES, TAGS, attention_weights, pieces_of,
                                        term_tags)

    encodings = [tokenizer.encode(text) for text in SENTENCES]
    with torch.no_grad():
        states = [model(input_ids=torch.tensor([e.ids])).last_hidden_state[0].numpy()
                  for e in encodings]
    golds = [gold(text) for text in SENTENCES]
    tags = [max(tag, 0) for e, (spans, _) in zip(encodings, golds)  # special pieces: O
            for tag in term_tags(pieces_of(e), spans)]
    term_weight, term_bias = _softmax_regression(np.concatenate(states), tags, len(TAGS))

    rng = np.random.default_rng(seed)
    hidden, classes = states[0].shape[-1], len(CATEGORY_CLASSES)
    query = rng.normal(0.0, 1.0, (len(CATEGORIES), hidden)).astype(np.float32)
    shared_weight = rng.normal(0.0, 0.1, (classes, hidden))
    shared_bias = rng.normal(0.0, 0.1, classes)
    pooled = np.stack([attention_weights(h[None], [len(h)], query)[0] @ h for h in states])
    weights, biases = zip(*(
        _softmax_regression(pooled[:, c], [CATEGORY_CLASSES.index(found.get(name, "none"))
                                           for _, found in golds], classes,
                            offset=pooled[:, c] @ shared_weight.T + shared_bias)
        for c, name in enumerate(CATEGORIES)))
    arrays = {"term.weight": term_weight, "term.bias": term_bias,
              "category.weight": np.concatenate(weights), "category.bias": np.concatenate(biases),
              "category.query": query, "category.shared.weight": shared_weight,
              "category.shared.bias": shared_bias}
    return {name: array.astype(np.float32) for name, array in arrays.items()}


def _softmax_regression(x: np.ndarray, labels: Sequence[int], classes: int, *,
                        offset: np.ndarray | float = 0.0, steps: int = 1000, lr: float = 1.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` of a linear softmax classifier of the rows of ``x`` (plus ``offset``
    logits), by full-batch gradient descent on the cross-entropy."""
    x = x.astype(np.float64)
    target = np.eye(classes)[list(labels)]
    weight, bias = np.zeros((classes, x.shape[1])), np.zeros(classes)
    for _ in range(steps):
        logits = x @ weight.T + bias + offset
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        gradient = (probs / probs.sum(axis=1, keepdims=True) - target) / len(x)
        weight -= lr * gradient.T @ x
        bias -= lr * gradient.sum(axis=0)
    return weight, bias


def build_mpnet_encoder(directory: str | Path, *, hidden: int = 32, layers: int = 2,
                        heads: int = 4, intermediate: int = 64, max_input_length: int = 64,
                        seed: int = 0, extra_tokens: Sequence[str] = ()) -> tuple[Any, Any]:
    """A random ``MPNetModel`` (every parameter noised, a large relative attention bias) and its
    tokenizer (:func:`build_tokenizer`) saved as an MPNet directory at ``directory`` (created);
    returns ``(model, tokenizer)``. Deterministic for a ``seed``."""
    import torch
    from transformers import MPNetConfig, MPNetModel, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(extra_tokens)
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", cls_token="<s>",
        sep_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    ).save_pretrained(str(directory))

    torch.manual_seed(seed)
    config = MPNetConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=hidden,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=intermediate,
                         max_position_embeddings=max_input_length + 2,  # positions 2 … 65
                         pad_token_id=1, bos_token_id=0, eos_token_id=2)
    model = MPNetModel(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        model.encoder.relative_attention_bias.weight.normal_(0.0, 1.0)
    model.save_pretrained(str(directory))
    return model, tokenizer


def build_mpnet_tagger(directory: str | Path, *, hidden: int = 32, layers: int = 2,
                       heads: int = 4, intermediate: int = 64, max_input_length: int = 64,
                       seed: int = 0) -> Path:
    """The tagger directory at ``directory`` (created); returns it. Deterministic for a
    ``seed``."""
    from fsa_edge.card import ModelCard
    from fsa_edge.runtime import HEADS_FILE
    from fsa_edge_tagger.scheme import TAGS

    directory = Path(directory)
    model, tokenizer = build_mpnet_encoder(directory, hidden=hidden, layers=layers, heads=heads,
                                           intermediate=intermediate,
                                           max_input_length=max_input_length, seed=seed)
    np.savez(directory / HEADS_FILE, **fit_heads(model, tokenizer, seed))
    ModelCard(tasks=("atsa", "acsa"), default_task="atsa", task_prefix=False,
              max_input_length=max_input_length, max_output_length=0, backend="tagger",
              extra={"stage": "finetune", "student": "tagger",
                     "tagger": {"tags": list(TAGS), "categories": list(CATEGORIES),
                                "pooling": "attention"}}).save(directory)
    return directory


__all__ = ["ASPECTS", "CATEGORIES", "CATEGORY_OF", "SENTENCES", "SPECIALS", "SPLIT",
           "build_mpnet_encoder", "build_mpnet_tagger", "build_tokenizer", "fit_heads", "gold"]
