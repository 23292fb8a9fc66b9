"""The names of the separate heads' arrays in a tagger's ``heads.npz``, defined once for the torch
module that exports them (:meth:`.network.TaggerNet.heads`), the numpy code that reads them
(:mod:`.triplets`, :mod:`.sentence_head`, :mod:`.runtime`) and the averaging that leaves a task's
heads out (:mod:`.averaging`)."""

from __future__ import annotations

#: the ``sentence`` task's head: one linear layer on the pooled encoder state
SENTENCE_PREFIX = "sentence."
SENTENCE_WEIGHT = f"{SENTENCE_PREFIX}weight"
SENTENCE_BIAS = f"{SENTENCE_PREFIX}bias"

#: the ``aste`` task's heads: the span tagger and the two layers of the pair classifier, in the
#: order of ``TaggerNet.triplet_heads``
TRIPLET_PREFIX = "aste."
TRIPLET_MODULES = ("span", "pair.hidden", "pair.out")


def triplet_head(module: str, kind: str) -> str:
    """The array name of ``kind`` (``weight`` or ``bias``) of the triplet head ``module``."""
    return f"{TRIPLET_PREFIX}{module}.{kind}"


SPAN_WEIGHT, SPAN_BIAS = triplet_head("span", "weight"), triplet_head("span", "bias")
PAIR_HIDDEN_WEIGHT = triplet_head("pair.hidden", "weight")
PAIR_HIDDEN_BIAS = triplet_head("pair.hidden", "bias")
PAIR_OUT_WEIGHT = triplet_head("pair.out", "weight")
PAIR_OUT_BIAS = triplet_head("pair.out", "bias")
TRIPLET_HEADS = tuple(triplet_head(module, kind) for module in TRIPLET_MODULES
                      for kind in ("weight", "bias"))

__all__ = ["PAIR_HIDDEN_BIAS", "PAIR_HIDDEN_WEIGHT", "PAIR_OUT_BIAS", "PAIR_OUT_WEIGHT",
           "SENTENCE_BIAS", "SENTENCE_PREFIX", "SENTENCE_WEIGHT", "SPAN_BIAS", "SPAN_WEIGHT",
           "TRIPLET_HEADS", "TRIPLET_MODULES", "TRIPLET_PREFIX", "triplet_head"]
