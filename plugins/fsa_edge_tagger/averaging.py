"""An exponential moving average of the weights during fine-tuning (``--ema DECAY``).

After every optimizer step the average moves toward the current weights:
``avg ← d·avg + (1 − d)·w`` with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so
early updates are not swamped by the random-initialised heads. Dev scoring and saving use the
averaged weights (:meth:`WeightAverage.applied`), training goes on from the raw ones. On small
data sets the average is a cheap stand-in for averaging checkpoints: less noise from the last
few hundred steps.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator


class WeightAverage:
    """The moving average of ``parameters`` (torch tensors, updated in place by training)."""

    def __init__(self, parameters: Iterable, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be between 0 and 1 (exclusive), got {decay}")
        self.parameters = [p for p in parameters if p.requires_grad]
        self.decay = decay
        self.updates = 0
        self.average = [p.detach().clone() for p in self.parameters]

    def update(self) -> None:
        import torch

        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        with torch.no_grad():
            for average, p in zip(self.average, self.parameters):
                average.mul_(d).add_(p.detach(), alpha=1.0 - d)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw ones come back after."""
        import torch

        with torch.no_grad():
            raw = [p.detach().clone() for p in self.parameters]
            for p, a in zip(self.parameters, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.parameters, raw):
                    p.copy_(r)


__all__ = ["WeightAverage"]
