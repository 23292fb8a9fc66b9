"""Score maps: a monotone map from a raw score to the probability that an answer is right.

Fitted on dev data by a backend's calibration (the tagger's ``fsa-edge train tagger calibrate``)
and stored in a model card: per task in the backend's own section, and for the merged answer of a
text read in parts in the card's :data:`~fsa_edge.windows.MERGED_SCORE_CALIBRATION`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import BackendError

#: raw scores are clipped into [LOGIT_EPS, 1 - LOGIT_EPS] before a logarithm of them is taken
LOGIT_EPS = 1e-12


def _clipped(score: float) -> float:
    return min(max(score, LOGIT_EPS), 1.0 - LOGIT_EPS)


def logit(score: float) -> float:
    """log(s / (1 - s)) of ``score`` clipped into [LOGIT_EPS, 1 - LOGIT_EPS]."""
    score = _clipped(score)
    return math.log(score / (1.0 - score))


@dataclass(frozen=True)
class ScoreMap:
    """A monotone map from a raw score (its decoding's confidence) to a calibrated probability
    that the element is right, fitted on dev data.

    ``platt``: sigmoid(a · logit(s) + b), with ``a`` ≥ 0. ``beta``: sigmoid(a · ln s −
    b · ln(1 − s) + c), with ``a``, ``b`` ≥ 0 (Platt's map is the case a = b). ``isotonic``: the
    piecewise-linear interpolation of the points (``x``, ``y``), both non-decreasing (constant
    beyond the ends)."""

    method: str
    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.method == "platt":
            if not (math.isfinite(self.a) and math.isfinite(self.b) and self.a >= 0):
                raise BackendError(f"platt score map: a ({self.a}) must be finite and ≥ 0, "
                                   f"b ({self.b}) finite")
        elif self.method == "beta":
            if not (all(map(math.isfinite, (self.a, self.b, self.c)))
                    and self.a >= 0 and self.b >= 0):
                raise BackendError(f"beta score map: a ({self.a}) and b ({self.b}) must be "
                                   f"finite and ≥ 0, c ({self.c}) finite")
        elif self.method == "isotonic":
            x, y = np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)
            if not x.size or x.shape != y.shape or np.any(np.diff(x) < 0) \
                    or np.any(np.diff(y) < 0) or y.min() < 0 or y.max() > 1:
                raise BackendError("isotonic score map: x and y must be non-decreasing lists "
                                   "of one length, y in [0, 1]")
        else:
            raise BackendError(f"score map method {self.method!r}: expected platt, beta or "
                               "isotonic")

    @classmethod
    def from_card(cls, spec: Mapping[str, Any], where: str = "score map") -> "ScoreMap":
        """The map of one entry of a card's score maps (``where``: the card field, for errors)."""
        if not isinstance(spec, Mapping):
            raise BackendError(f"{where}: each entry must be an object")
        try:
            if spec.get("method") == "isotonic":
                return cls("isotonic", x=tuple(map(float, spec["x"])),
                           y=tuple(map(float, spec["y"])))
            if spec.get("method") == "beta":
                return cls("beta", a=float(spec["a"]), b=float(spec["b"]), c=float(spec["c"]))
            return cls(str(spec.get("method")), a=float(spec.get("a", 1.0)),
                       b=float(spec.get("b", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{where}: invalid entry {dict(spec)!r} ({exc})") from None
        except BackendError as exc:
            raise BackendError(f"{where}: {exc}") from None

    def parameters(self) -> dict[str, Any]:
        """What the card stores of the map."""
        if self.method == "platt":
            return {"method": "platt", "a": self.a, "b": self.b}
        if self.method == "beta":
            return {"method": "beta", "a": self.a, "b": self.b, "c": self.c}
        return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}

    def __call__(self, score: float) -> float:
        if self.method == "isotonic":
            return float(np.interp(score, self.x, self.y))
        if self.method == "platt":
            z = self.a * logit(score) + self.b
        else:
            score = _clipped(score)
            z = self.a * math.log(score) - self.b * math.log1p(-score) + self.c
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


__all__ = ["LOGIT_EPS", "ScoreMap", "logit"]
