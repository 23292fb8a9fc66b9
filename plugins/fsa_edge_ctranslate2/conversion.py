"""The seq2seq architectures this plugin serves, as converters: T5, BART and Marian.

Registered through ``register_converters``; the pipeline (``fsa_edge_converters.convert``) calls
them. The parity check compares the HF model, with its HF tokenizer (greedy ``generate``, then
teacher-forced per-token log-softmax on the generated tokens), with the converted model through
this plugin's runtime path (:class:`CTranslate2Backend`: ``tokenizers`` + ``score_batch`` on the
same target tokens, and greedy ``translate_batch``). A tokenizer mismatch between the two paths
shows up there too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Sequence

from fsa_edge.card import ModelCard
from fsa_edge.errors import ConversionError
from fsa_edge_converters import (ArchitectureConverter, ParityReport, ParityThresholds,
                                 parity_report)

from .backend import CTranslate2Backend


class Seq2SeqConverter(ArchitectureConverter):
    """A HF encoder-decoder (``AutoModelForSeq2SeqLM``) for :class:`CTranslate2Backend`.

    ``patch_config`` fixes the loaded config in place (returns notes of what changed);
    ``patch_tokenizer`` gives the HF tokenizer the special tokens CTranslate2 reads from it;
    ``validate`` refuses a tokenizer and config that disagree.
    """

    backend = "ctranslate2"

    def load(self, source: Path, config: Any) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        super().load(source, config)
        self.tokenizer = AutoTokenizer.from_pretrained(str(source))
        self.model = AutoModelForSeq2SeqLM.from_pretrained(str(source))

    def patch_config(self, config: Any) -> list[str]:
        return []

    def special_tokens(self, config: Any) -> dict[str, int | None]:
        """Token ids the tokenizer must name: bos, eos, unk, pad."""
        return {"eos": config.eos_token_id, "pad": config.pad_token_id}

    def patch_tokenizer(self, tokenizer: Any, config: Any) -> list[str]:
        notes = []
        for role, token_id in self.special_tokens(config).items():
            attribute = f"{role}_token"
            if token_id is None or getattr(tokenizer, attribute, None) is not None:
                continue
            token = tokenizer.convert_ids_to_tokens(int(token_id))
            setattr(tokenizer, attribute, token)
            notes.append(f"tokenizer {attribute} set to {token!r} (id {token_id}) from the config")
        return notes

    def validate(self) -> None:
        config, tokenizer = self.model.config, self.tokenizer
        self.notes += self.patch_config(config)
        self.notes += self.patch_tokenizer(tokenizer, config)
        vocab = len(tokenizer)
        if vocab > config.vocab_size:
            raise ConversionError(f"tokenizer has {vocab} tokens but the model's vocab_size is "
                                  f"{config.vocab_size}: tokenizer and model do not match")
        for role in ("eos", "pad", "bos"):
            token = getattr(tokenizer, f"{role}_token", None)
            expected = getattr(config, f"{role}_token_id", None)
            if token is None or expected is None or role not in self.special_tokens(config):
                continue
            actual = tokenizer.convert_tokens_to_ids(token)
            if actual != expected:
                raise ConversionError(
                    f"tokenizer and model disagree: the tokenizer's {role} token {token!r} has "
                    f"id {actual} but config.json says {role}_token_id = {expected}")
        for name in ("eos_token_id", "decoder_start_token_id", "pad_token_id"):
            value = getattr(config, name, None)
            if value is None:
                raise ConversionError(f"config.json: field {name!r} is missing")
            if not 0 <= int(value) < config.vocab_size:
                raise ConversionError(f"config.json: field {name!r} = {value} is outside the "
                                      f"vocabulary (size {config.vocab_size})")

    def model_to_convert(self, load: Callable[[], Any]) -> Any:
        # the loaded (patched) model; CTranslate2 quantizes the tensors it is given in place,
        # so it gets a copy: the original stays the parity reference
        return copy.deepcopy(self.model)

    def tokenizer_to_convert(self, load: Callable[[], Any]) -> Any:
        return self.tokenizer

    def parity(self, output: Path, texts: Sequence[str], *, quantization: str,
               thresholds: ParityThresholds, device: str) -> ParityReport:
        return check_parity(self.source, output, texts, quantization=quantization,
                            thresholds=thresholds, device=device, model=self.model,
                            tokenizer=self.tokenizer)


class T5Converter(Seq2SeqConverter):
    """T5: CTranslate2 reads pad as BOS and the decoder start from the config."""

    config_name = "T5Config"


class BartConverter(Seq2SeqConverter):
    """BART: CTranslate2 reads ``normalize_before`` (gone from transformers 5's BartConfig)
    and bos/eos from the tokenizer."""

    config_name = "BartConfig"

    def patch_config(self, config: Any) -> list[str]:
        if getattr(config, "normalize_before", None) is None:
            config.normalize_before = False
            return ["config.normalize_before set to False (BART is post-norm)"]
        return []

    def special_tokens(self, config: Any) -> dict[str, int | None]:
        return {"bos": config.bos_token_id, "eos": config.eos_token_id,
                "pad": config.pad_token_id}


class MarianConverter(Seq2SeqConverter):
    """Marian (opus-mt style) models."""

    config_name = "MarianConfig"


def reference_outputs(model: Any, tokenizer: Any, inputs: Sequence[str], card: ModelCard
                      ) -> tuple[list[list[int]], list[list[int]], list[list[float]], list[str]]:
    """Source ids, greedy target ids (EOS kept), their log-probs and texts from torch."""
    import torch

    config = model.config
    start = config.decoder_start_token_id
    eos = config.eos_token_id
    sources, targets, log_probs, texts = [], [], [], []
    model.eval()
    with torch.no_grad():
        for text in inputs:
            ids = tokenizer(text, truncation=True, max_length=card.max_input_length)["input_ids"]
            input_ids = torch.tensor([ids])
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 num_beams=1, do_sample=False, forced_eos_token_id=None,
                                 max_new_tokens=card.max_output_length)[0].tolist()
            target = out[1:] if out and out[0] == start else out
            if eos in target:
                target = target[:target.index(eos) + 1]
            decoder_input = torch.tensor([[start] + target[:-1]]) if target else None
            if decoder_input is not None:
                logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                               decoder_input_ids=decoder_input).logits[0]
                lp = torch.log_softmax(logits.float(), dim=-1)
                scores = lp[torch.arange(len(target)), torch.tensor(target)].tolist()
            else:
                scores = []
            sources.append(ids)
            targets.append(target)
            log_probs.append(scores)
            texts.append(tokenizer.decode(target, skip_special_tokens=True).strip())
    return sources, targets, log_probs, texts


def check_parity(source_dir: str | Path, converted_dir: str | Path, texts: Sequence[str], *,
                 quantization: str, thresholds: ParityThresholds = ParityThresholds(),
                 device: str = "cpu", model: Any = None, tokenizer: Any = None) -> ParityReport:
    """Compare the converted model at ``converted_dir`` with the HF model at ``source_dir``."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    card = ModelCard.load(source_dir)
    inputs = [card.input_for(card.task, text) for text in texts]
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(source_dir))
    model = model or AutoModelForSeq2SeqLM.from_pretrained(str(source_dir))
    sources, targets, ref_lp, ref_texts = reference_outputs(model, tokenizer, inputs, card)

    backend = CTranslate2Backend(converted_dir, device=device, compute_type="default",
                                 cpu_threads=1, max_decoding_length=card.max_output_length)
    try:
        runtime_sources = backend.tokenizer.encode(inputs)
        mismatches = sum(backend.tokenizer.ids(tokens) != ids
                         for tokens, ids in zip(runtime_sources, sources))
        eos = model.config.eos_token_id
        target_tokens = [tokenizer.convert_ids_to_tokens(t[:-1] if t and t[-1] == eos else t)
                         for t in targets]
        unknown = sum(any(tok is None for tok in tokens) for tokens in target_tokens)
        mismatches += unknown
        unk = backend.tokenizer.tokenizer.id_to_token(backend.tokenizer.unk_id or 0)
        target_tokens = [[unk if tok is None else tok for tok in tokens]
                         for tokens in target_tokens]
        ct2_lp = backend.score(inputs, target_tokens)
        generations = backend.generate(inputs)
    finally:
        backend.close()

    deltas: list[float] = []
    for ref, got, target in zip(ref_lp, ct2_lp, targets):
        if target and target[-1] != eos:  # torch hit max length: CT2 still scores an EOS
            got = got[:len(ref)]
        if len(got) != len(ref):
            deltas.append(float("inf"))
            continue
        deltas.extend(abs(a - b) for a, b in zip(ref, got))
    agree = [g.text == r for g, r in zip(generations, ref_texts)]
    return parity_report(
        deltas, agree, quantization=quantization, thresholds=thresholds,
        tokenization_mismatches=mismatches,
        disagreements=[{"input": i, "torch": r, "converted": g.text}
                       for i, r, g, ok in zip(inputs, ref_texts, generations, agree) if not ok])


__all__ = ["BartConverter", "MarianConverter", "Seq2SeqConverter", "T5Converter",
           "check_parity", "reference_outputs"]
