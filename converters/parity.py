"""The parity gate: the converted model must score and decode like the torch original.

Reference: the HF model with its HF tokenizer (greedy ``generate``, then teacher-forced
per-token log-softmax on the generated tokens). Candidate: the converted model through the
runtime path (``tokenizers`` + CTranslate2 ``score_batch`` on the same target tokens, and
greedy ``translate_batch``). A tokenizer mismatch between the two paths shows up here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from fsa_edge.card import ModelCard


@dataclass(frozen=True)
class ParityThresholds:
    """Float32 must match to ``float32_max_abs``; quantized models to ``quantized_mean_abs``."""

    float32_max_abs: float = 1e-3
    quantized_mean_abs: float = 0.1
    min_agreement: float = 0.8


@dataclass
class ParityReport:
    samples: int
    tokens: int
    max_abs_delta: float
    mean_abs_delta: float
    greedy_agreement: float
    tokenization_mismatches: int
    quantization: str
    passed: bool = False
    failures: list[str] = field(default_factory=list)
    disagreements: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_thresholds(report: ParityReport, thresholds: ParityThresholds, *, delta: str,
                     agreement: str) -> None:
    """Append the failures of ``report`` against ``thresholds`` (float32: max |Δ|; quantized:
    mean |Δ|; both: agreement) and set ``passed``."""
    if report.quantization == "float32":
        if not report.max_abs_delta <= thresholds.float32_max_abs:
            report.failures.append(f"float32 max |Δ {delta}| {report.max_abs_delta:.3g} > "
                                   f"{thresholds.float32_max_abs:g}")
    elif not report.mean_abs_delta <= thresholds.quantized_mean_abs:
        report.failures.append(f"{report.quantization} mean |Δ {delta}| "
                               f"{report.mean_abs_delta:.3g} > {thresholds.quantized_mean_abs:g}")
    if report.greedy_agreement < thresholds.min_agreement:
        report.failures.append(f"{agreement} {report.greedy_agreement:.2f} < "
                               f"{thresholds.min_agreement:g}")
    report.passed = not report.failures


def enforce_gate(parity: ParityReport, output: Path, force: bool, log: Any) -> None:
    """A failed gate removes ``output`` and raises, unless ``force`` (then it is only logged)."""
    import shutil

    from fsa_edge.errors import ConversionError

    if parity.passed:
        return
    message = f"parity gate failed for {output}: {'; '.join(parity.failures)}"
    if not force:
        shutil.rmtree(output, ignore_errors=True)
        raise ConversionError(message + " (output removed; --force keeps it)")
    log(message + " (kept because of --force)")


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

    from fsa_edge_ctranslate2.backend import CTranslate2Backend

    card = ModelCard.load(source_dir)
    inputs = [card.input_for(card.task, text) for text in texts]
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(source_dir))
    model = model or AutoModelForSeq2SeqLM.from_pretrained(str(source_dir))
    sources, targets, ref_lp, ref_texts = reference_outputs(model, tokenizer, inputs, card)

    backend = CTranslate2Backend(converted_dir, device=device, compute_type="default",
                                 intra_threads=1, max_decoding_length=card.max_output_length)
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
    report = ParityReport(
        samples=len(inputs), tokens=len(deltas),
        max_abs_delta=max(deltas, default=0.0),
        mean_abs_delta=sum(deltas) / len(deltas) if deltas else 0.0,
        greedy_agreement=sum(agree) / len(agree) if agree else 1.0,
        tokenization_mismatches=int(mismatches), quantization=quantization,
        disagreements=[{"input": i, "torch": r, "converted": g.text}
                       for i, r, g, ok in zip(inputs, ref_texts, generations, agree) if not ok][:5])
    apply_thresholds(report, thresholds, delta="log-prob", agreement="greedy agreement")
    if report.tokenization_mismatches:
        report.failures.append(f"runtime tokenization differs from the HF tokenizer on "
                               f"{report.tokenization_mismatches} of {len(inputs)} samples")
    report.passed = not report.failures
    return report
