"""Length-sorted batching under a token budget, with results restored to input order."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int = 256
                 ) -> list[list[int]]:
    """Input indices grouped into batches, shortest inputs first.

    A batch holds inputs of similar length, at most ``max_batch_size`` of them, and its padded
    size (longest input × count) stays within ``max_batch_tokens`` (a single input longer than
    the budget gets a batch of its own).
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        width = max(longest, max(1, lengths[index]))
        if current and (width * (len(current) + 1) > max_batch_tokens
                        or len(current) >= max_batch_size):
            batches.append(current)
            current, width = [], max(1, lengths[index])
        current.append(index)
        longest = width
    if current:
        batches.append(current)
    return batches


def run_sorted(items: Sequence[T], lengths: Sequence[int], run: Callable[[list[T]], list],
               *, max_batch_tokens: int, max_batch_size: int = 256) -> list:
    """``run`` over length-sorted batches of ``items``; the results in the order of ``items``."""
    results: list = [None] * len(items)
    for batch in plan_batches(lengths, max_batch_tokens, max_batch_size):
        outputs = run([items[i] for i in batch])
        if len(outputs) != len(batch):
            raise RuntimeError(f"a batch of {len(batch)} inputs gave {len(outputs)} outputs")
        for index, output in zip(batch, outputs):
            results[index] = output
    return results
