"""A batch of token-id lists as the two tensors an encoder takes."""

from __future__ import annotations

from typing import Any, Sequence


def pad_id_batch(sequences: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)``, both ``(batch, longest)`` long tensors: each row's ids
    from the left, ``pad`` after them, and a mask of 1 on the ids and 0 on the padding."""
    import torch

    width = max(len(ids) for ids in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, row in enumerate(sequences):
        ids[i, :len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, :len(row)] = 1
    return ids, mask
