"""The parity gate's generic part: thresholds, the report, its verdict and its enforcement.

Each converter measures its own parity (the seq2seq converters in the ``ctranslate2`` plugin, the
tagger's in the ``tagger`` plugin): per-unit |Δ log-prob| between the torch source and the
converted model, and whether their decoded outputs agree. :func:`parity_report` turns those
measurements into a :class:`ParityReport` judged against :class:`ParityThresholds`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from fsa_edge.errors import ConversionError


@dataclass(frozen=True)
class ParityThresholds:
    """Float32 must match to ``float32_max_abs``; quantized models to ``quantized_mean_abs``."""

    float32_max_abs: float = 1e-3
    quantized_mean_abs: float = 0.1
    min_agreement: float = 0.8


@dataclass(frozen=True)
class ParityReport:
    """One parity check of a converted model against its torch source: what was compared
    (``samples`` texts, ``tokens`` units), the |Δ| measured, the share of samples whose decoded
    outputs agree, and the verdict — ``failures`` against the thresholds (passed when none), the
    first disagreements shown as examples."""

    samples: int
    tokens: int
    max_abs_delta: float
    mean_abs_delta: float
    greedy_agreement: float
    tokenization_mismatches: int
    quantization: str
    failures: tuple[str, ...] = ()
    disagreements: tuple[dict[str, str], ...] = ()
    #: per task, where a model decodes several from each sample (``greedy_agreement``: the lowest)
    agreement_by_task: Mapping[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """No threshold failed."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (as written to a converted model's card)."""
        return {"samples": self.samples, "tokens": self.tokens,
                "max_abs_delta": self.max_abs_delta, "mean_abs_delta": self.mean_abs_delta,
                "greedy_agreement": self.greedy_agreement,
                "tokenization_mismatches": self.tokenization_mismatches,
                "quantization": self.quantization, "passed": self.passed,
                "failures": list(self.failures),
                "disagreements": [dict(d) for d in self.disagreements],
                "agreement_by_task": dict(self.agreement_by_task)}


def threshold_failures(report: ParityReport, thresholds: ParityThresholds, *, delta: str,
                       agreement: str) -> list[str]:
    """The failures of ``report``'s measurements against ``thresholds`` (float32: max |Δ|;
    quantized: mean |Δ|; both: agreement), ``delta`` and ``agreement`` naming the measures."""
    failures = []
    if report.quantization == "float32":
        if not report.max_abs_delta <= thresholds.float32_max_abs:
            failures.append(f"float32 max |Δ {delta}| {report.max_abs_delta:.3g} > "
                            f"{thresholds.float32_max_abs:g}")
    elif not report.mean_abs_delta <= thresholds.quantized_mean_abs:
        failures.append(f"{report.quantization} mean |Δ {delta}| "
                        f"{report.mean_abs_delta:.3g} > {thresholds.quantized_mean_abs:g}")
    if report.greedy_agreement < thresholds.min_agreement:
        worst = next((f" ({task})" for task, share in report.agreement_by_task.items()
                      if share == report.greedy_agreement), "")
        failures.append(f"{agreement} {report.greedy_agreement:.2f} < "
                        f"{thresholds.min_agreement:g}{worst}")
    return failures


def parity_report(deltas: Sequence[float], agree: Sequence[bool] | Mapping[str, Sequence[bool]],
                  *, quantization: str, thresholds: ParityThresholds,
                  disagreements: Sequence[dict[str, str]] = (), tokenization_mismatches: int = 0,
                  delta: str = "log-prob", agreement: str = "greedy agreement",
                  other_failures: Sequence[str] = ()) -> ParityReport:
    """The judged report of one parity check: ``deltas`` are the |Δ log-prob| of every unit
    compared, ``agree`` says per sample whether the decoded outputs agree (a mapping: per task
    of a model that decodes several from each sample; each task must agree on its own, so the
    lowest task's share is judged), ``delta`` and ``agreement`` name both in the failures.
    Runtime tokenization that differs from the source tokenizer's (``tokenization_mismatches``
    samples) fails the gate too, and so does each of a converter's ``other_failures``."""
    if isinstance(agree, Mapping):
        by_task = {task: sum(flags) / len(flags) if flags else 1.0 for task, flags in agree.items()}
        samples = max(map(len, agree.values()), default=0)
        share = min(by_task.values(), default=1.0)
    else:
        by_task, samples = {}, len(agree)
        share = sum(agree) / len(agree) if agree else 1.0
    measured = ParityReport(
        samples=samples, tokens=len(deltas), max_abs_delta=max(deltas, default=0.0),
        mean_abs_delta=sum(deltas) / len(deltas) if deltas else 0.0, greedy_agreement=share,
        tokenization_mismatches=int(tokenization_mismatches), quantization=quantization,
        disagreements=tuple(disagreements)[:5], agreement_by_task=by_task)
    failures = threshold_failures(measured, thresholds, delta=delta, agreement=agreement)
    if measured.tokenization_mismatches:
        failures.append(f"runtime tokenization differs from the HF tokenizer on "
                        f"{measured.tokenization_mismatches} of {measured.samples} samples")
    return replace(measured, failures=tuple(failures) + tuple(other_failures))


def enforce_gate(parity: ParityReport, output: Path, force: bool, log: Any) -> None:
    """A failed gate removes ``output`` and raises, unless ``force`` (then it is only logged)."""
    if parity.passed:
        return
    message = f"parity gate failed for {output}: {'; '.join(parity.failures)}"
    if not force:
        shutil.rmtree(output, ignore_errors=True)
        raise ConversionError(message + " (output removed; --force keeps it)")
    log(message + " (kept because of --force)")
