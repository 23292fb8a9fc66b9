"""Pre-training the tagger's encoder on teacher responses: masked-language modelling.

The tagger has no decoder to learn review → response with, so its use of the teacher corpus is
domain-adaptive MLM on the responses (BERT's recipe: 15% of word-pieces chosen, 80% of those
masked, 10% random, 10% kept), in chunks of at most ``max_length`` pieces. The result is a
BERT directory (encoder + tokenizer + card) that ``fsa-edge tagger train --student DIR`` starts
from. all-MiniLM-L6-v2 ships no MLM head, so the head starts random. Requires torch and
transformers.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import TrainingError
from fsa_edge.training import CorpusPair

from .runtime import load_tokenizer
from .training import TOKENIZER_FILES, encoder_dir


def log(message: str) -> None:
    print(f"fsa-edge tagger: {message}", file=sys.stderr, flush=True)


def chunks(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Word-piece ids of ``texts`` cut into pieces of ``max_length - 2`` with [CLS] … [SEP]."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.no_truncation()
    rows = []
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        ids = encoding.ids
        for start in range(0, len(ids), max_length - 2):
            piece = ids[start:start + max_length - 2]
            if len(piece) >= 8:
                rows.append([cls, *piece, sep])
    return rows


def mask_tokens(ids: Any, vocab_size: int, special: Any, mask_id: int, generator: Any
                ) -> tuple[Any, Any]:
    """BERT's masking: ``(inputs, labels)`` with labels -100 where nothing is predicted."""
    import torch

    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    replace = chosen & (torch.rand(ids.shape, generator=generator) < 0.8)
    inputs[replace] = mask_id
    randomise = chosen & ~replace & (torch.rand(ids.shape, generator=generator) < 0.5)
    inputs[randomise] = torch.randint(vocab_size, ids.shape, generator=generator)[randomise]
    return inputs, labels


def pretrain_encoder(corpus: Sequence[CorpusPair], *, student: str = "minilm",
                     out: str | Path, epochs: int = 2, batch_size: int = 16, lr: float = 5e-5,
                     max_length: int = 128, seed: int = 42, device: str = "auto",
                     threads: int | None = None, log_every: int = 50) -> dict[str, Any]:
    """MLM on the teacher responses of ``corpus``; writes a BERT directory to ``out``."""
    import torch
    from transformers import BertForMaskedLM

    from fsa_edge.student_support import pick_device, quiet_transformers

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise TrainingError(f"{out} exists and is not empty")
    responses = [pair.response for pair in corpus if pair.response.strip()]
    if not responses:
        raise TrainingError("the corpus has no teacher responses to pre-train on")
    device = pick_device(device)
    saved_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    quiet_transformers()
    random.seed(seed)
    torch.manual_seed(seed)
    source = encoder_dir(student)
    tokenizer = load_tokenizer(source, max_length)
    rows = chunks(tokenizer, responses, max_length)
    if len(rows) < 2:
        raise TrainingError("the corpus is too short to pre-train on")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = max(1, min(64, len(rows) // 20))
    dev = [rows[i] for i in order[:held]]
    train = [rows[i] for i in order[held:]]
    model = BertForMaskedLM.from_pretrained(str(source), dtype=torch.float32).to(device)
    pad = tokenizer.token_to_id("[PAD]") or 0
    mask_id = tokenizer.token_to_id("[MASK]")
    specials = {tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
    vocab = model.config.vocab_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(train) + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))

    def batch(items: list[list[int]], generator: Any) -> tuple[Any, Any, Any]:
        width = max(len(r) for r in items)
        ids = torch.full((len(items), width), pad, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        for i, r in enumerate(items):
            ids[i, :len(r)] = torch.tensor(r)
            attention[i, :len(r)] = 1
        special = torch.zeros_like(ids, dtype=torch.bool)
        for token in specials:
            special |= ids == token
        inputs, labels = mask_tokens(ids, vocab, special, mask_id, generator)
        return inputs.to(device), attention.to(device), labels.to(device)

    def mlm_loss(inputs: Any, attention: Any, labels: Any) -> Any:
        """Cross-entropy at the chosen positions only (the vocabulary head is the costly part)."""
        hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
        chosen = labels != -100
        if not bool(chosen.any()):
            return hidden.sum() * 0.0
        logits = model.cls(hidden[chosen])
        return torch.nn.functional.cross_entropy(logits.float(), labels[chosen])

    def dev_loss() -> float:
        model.eval()
        generator = torch.Generator().manual_seed(seed + 1)  # the same masks every time
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(dev), 32):
                inputs, attention, labels = batch(dev[start:start + 32], generator)
                n = int((labels != -100).sum())
                if n:
                    total += float(mlm_loss(inputs, attention, labels)) * n
                    count += n
        return total / max(count, 1)

    started = time.perf_counter()
    initial = dev_loss()
    log(f"MLM on {len(train)} chunks ({len(responses)} responses), held-out loss {initial:.4f}")
    history = []
    generator = torch.Generator().manual_seed(seed)
    step = 0
    try:
        for epoch in range(epochs):
            model.train()
            random.Random(seed + epoch).shuffle(train)
            running = 0.0
            for start in range(0, len(train), batch_size):
                inputs, attention, labels = batch(train[start:start + batch_size], generator)
                loss = mlm_loss(inputs, attention, labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                step += 1
                running += float(loss.detach())
                if log_every and step % log_every == 0:
                    log(f"epoch {epoch + 1}/{epochs} step {step}/{steps} loss "
                        f"{running / (start // batch_size + 1):.4f}")
            history.append({"epoch": epoch + 1, "dev_loss": round(dev_loss(), 6)})
            log(f"epoch {epoch + 1}: held-out MLM loss {history[-1]['dev_loss']:.4f}")
    finally:
        torch.set_num_threads(saved_threads)
    out.mkdir(parents=True, exist_ok=True)
    model.bert.save_pretrained(str(out))
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    summary = {"stage": "pretrain-mlm", "student_init": student, "responses": len(responses),
               "train_chunks": len(train), "dev_chunks": len(dev), "initial_dev_loss": initial,
               "history": history, "seconds": round(time.perf_counter() - started, 1),
               "recipe": {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                          "max_length": max_length, "seed": seed}}
    ModelCard(backend="tagger", max_output_length=0, extra=summary).save(out)
    (out / "pretrain_summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                               encoding="utf-8")
    return summary


__all__ = ["chunks", "mask_tokens", "pretrain_encoder"]
