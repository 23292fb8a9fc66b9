"""What a distillation run spent: tokens, time, and what the same tokens would cost at an API.

Prices are in currency units per million tokens, given by the user (``--price-in`` /
``--price-out``); fsa-edge ships no price list because prices change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class CostCounter:
    """Counts what a run writes; :meth:`summary` is its result (a :class:`CostSummary`)."""

    def __init__(self) -> None:
        self._totals = CostSummary()

    @property
    def written(self) -> int:
        """Rows written so far by this run."""
        return self._totals.written

    def count(self, row: Mapping[str, Any]) -> None:
        """Add one row this run wrote (a corpus row of :class:`~.runner.RowMaker`)."""
        totals = self._totals
        self._totals = replace(
            totals, written=totals.written + 1,
            errors=totals.errors + (row.get("error") is not None),
            truncated=totals.truncated + bool(row.get("truncated")),
            retried=totals.retried + (int(row.get("attempts") or 0) > 1),
            tokens_in=totals.tokens_in + int(row.get("tokens_in") or 0),
            tokens_out=totals.tokens_out + int(row.get("tokens_out") or 0),
            teacher_seconds=totals.teacher_seconds + float(row.get("seconds") or 0.0))

    def skip(self) -> None:
        """Count one row an earlier run had already written."""
        self._totals = replace(self._totals, skipped=self._totals.skipped + 1)

    def summary(self, *, seconds: float, price_in: float | None = None,
                price_out: float | None = None) -> CostSummary:
        """The run's result: the counts, its wall time and the user's prices."""
        return replace(self._totals, seconds=seconds, price_in=price_in, price_out=price_out)


@dataclass(frozen=True)
class CostSummary:
    """What one run did (rows written by this run only; ``skipped`` were already done)."""

    written: int = 0
    skipped: int = 0
    errors: int = 0
    truncated: int = 0
    retried: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    teacher_seconds: float = 0.0
    seconds: float = 0.0
    price_in: float | None = None
    price_out: float | None = None

    @property
    def cost(self) -> float | None:
        """API cost of this run's tokens, or ``None`` without both prices."""
        if self.price_in is None or self.price_out is None:
            return None
        return (self.tokens_in * self.price_in + self.tokens_out * self.price_out) / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped": self.skipped, "errors": self.errors,
                "truncated": self.truncated, "retried": self.retried,
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "seconds": round(self.seconds, 3), "teacher_seconds": round(self.teacher_seconds, 3),
                "price_in_per_million": self.price_in, "price_out_per_million": self.price_out,
                "api_cost": None if self.cost is None else round(self.cost, 6)}

    def format(self) -> str:
        """The human summary printed on stderr at the end of a run."""
        elapsed = max(self.seconds, 1e-9)
        lines = [
            f"distill: {self.written} rows written ({self.errors} errors, {self.truncated} "
            f"truncated, {self.retried} retried), {self.skipped} already done, "
            f"in {_duration(self.seconds)}",
            f"tokens: {self.tokens_in} in, {self.tokens_out} out "
            f"({self.tokens_out / elapsed:.1f} generated tokens/s, "
            f"{self.written / elapsed * 3600:.0f} reviews/hour)",
        ]
        cost = self.cost
        if cost is None:
            lines.append("API cost: give --price-in and --price-out (per million tokens) "
                         "to price these tokens")
        else:
            lines.append(f"API cost of the same tokens: {cost:.4f} at {self.price_in:g} in / "
                         f"{self.price_out:g} out per million tokens"
                         + (f" ({cost / self.written:.6f} per review)" if self.written else ""))
        return "\n".join(lines)
