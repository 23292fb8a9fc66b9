"""Helpers for the seq2seq student tests: a tiny random BERT and small synthetic data files.

Everything is made on the spot: a WordPiece tokenizer trained with ``tokenizers`` on the
synthetic sentences (BERT's special tokens and ``[unused1]`` included), a random ``BertModel``
(2 layers, hidden 32) saved as a BERT directory, and ATSA data in the fsa-benchmark JSON layout.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ASPECTS = ("food", "service", "pizza", "staff", "wine", "pasta", "price", "decor", "sushi",
           "coffee")
OPINIONS = {"great": "positive", "delicious": "positive", "friendly": "positive",
            "awful": "negative", "rude": "negative", "bland": "negative"}
SPECIALS = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def synthetic_atsa(count: int, seed: int) -> list[dict]:
    """Records ``{ID, sentence, aspects}`` of a one- or two-aspect toy ATSA task."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        parts, aspects, position = [], [], 0
        for k in range(rng.choice((1, 1, 2))):
            aspect = rng.choice([a for a in ASPECTS if a not in [x["target"] for x in aspects]])
            opinion = rng.choice(sorted(OPINIONS))
            prefix = ("The " if k == 0 else " and the ")
            start = position + len(prefix)
            aspects.append({"from": start, "to": start + len(aspect), "target": aspect,
                            "polarity": OPINIONS[opinion]})
            piece = f"{prefix}{aspect} was {opinion}"
            parts.append(piece)
            position += len(piece)
        records.append({"ID": f"s{seed}-{index}", "sentence": "".join(parts) + ".",
                        "aspects": aspects})
    return records


def synthetic_acsa(count: int, seed: int) -> list[dict]:
    """The same toy sentences as ACSA records: category ``<ASPECT>#GENERAL`` per aspect."""
    records = synthetic_atsa(count, seed)
    for record in records:
        record["aspects"] = [{"from": "0", "to": "0", "target": None,
                              "category": f"{a['target'].upper()}#GENERAL",
                              "polarity": a["polarity"]} for a in record["aspects"]]
    return records


def write_atsa(path: Path, count: int, seed: int, avoid: Path | None = None) -> Path:
    """``count`` synthetic records; with ``avoid``, none whose sentence is in that file (the
    toy language is small: a dev set drawn independently repeats training sentences, which
    fine-tuning drops as held-out)."""
    records = synthetic_atsa(count, seed)
    if avoid is not None:
        seen = {r["sentence"] for r in json.loads(avoid.read_text(encoding="utf-8"))}
        records = [r for r in synthetic_atsa(count * 20, seed) if r["sentence"] not in seen]
        records = records[:count]
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def corpus_rows(count: int) -> list[dict]:
    """Toy teacher responses with newlines, in the paper's corpus layout."""
    rows = []
    for record in synthetic_atsa(count, 7):
        lines = [f"- {a['target']}: {a['polarity']}" for a in record["aspects"]]
        rows.append({"ID": record["ID"], "Text": record["sentence"], "Overall": 4,
                     "mixtral_response": "Analysis:\n" + "\n".join(lines)})
    return rows


def tiny_bert(directory: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4,
              seed: int = 0, whole_words: bool = True) -> Path:
    """A random BertModel + trained WordPiece tokenizer saved as a BERT directory
    (``whole_words=False``: a vocabulary of characters only, every word cut into pieces)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders
    from tokenizers.trainers import WordPieceTrainer
    from transformers import BertConfig, BertModel

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    texts = [r["sentence"] for r in synthetic_atsa(300, 99)]
    texts += ["positive negative neutral conflict none | ; - : analysis"] * 5
    tokenizer.train_from_iterator(texts, WordPieceTrainer(vocab_size=200,
                                                         special_tokens=SPECIALS))
    # WordPiece training breaks frequency ties differently in every run (a different vocabulary
    # each time, so a different tiny model: the cause of rare degenerate runs in the tests).
    # Keep a vocabulary that does not depend on ties: the specials, every character of the
    # corpus with its ## form, and every whole word, in sorted order.
    words = sorted({w for text in texts for w, _ in
                    tokenizer.pre_tokenizer.pre_tokenize_str(text.lower())})
    chars = sorted({c for w in words for c in w})
    vocab = list(SPECIALS) + chars + [f"##{c}" for c in chars] + [
        w for w in words if len(w) > 1 and whole_words]
    tokenizer.model = models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]")
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.enable_padding(length=128, pad_id=0, pad_token="[PAD]")  # as MiniLM's does
    tokenizer.save(str(directory / "tokenizer.json"))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=hidden * 2, max_position_embeddings=160)
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():  # every tensor distinct, so a mis-mapped weight shows
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    model.save_pretrained(str(directory))
    return directory


def tagger_data(root: Path, atsa_counts: tuple[int, int], acsa_counts: tuple[int, int]):
    """ATSA and ACSA ``TaskData`` (train, dev) of the toy language under ``root``: the ATSA dev
    set shares no sentence with its train set."""
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData

    train = write_atsa(root / "train.json", atsa_counts[0], 1)
    atsa = TaskData(get_task("atsa"), train,
                    write_atsa(root / "dev.json", atsa_counts[1], 2, avoid=train))
    (root / "acsa_train.json").write_text(json.dumps(synthetic_acsa(acsa_counts[0], 3)))
    (root / "acsa_dev.json").write_text(json.dumps(synthetic_acsa(acsa_counts[1], 4)))
    acsa = TaskData(get_task("acsa"), root / "acsa_train.json", root / "acsa_dev.json")
    return atsa, acsa
