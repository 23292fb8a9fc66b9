"""The tagger's torch modules: the encoder with its term, category, triplet and sentence heads.

:class:`TaggerNet` is what :mod:`.training` fine-tunes and what ``heads.npz`` is exported from
(:meth:`TaggerNet.heads`); the numpy runtime (:mod:`.runtime`) computes the same heads from those
arrays. torch is imported inside the methods, so importing this module needs only numpy.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .head_names import SENTENCE_BIAS, SENTENCE_WEIGHT, TRIPLET_MODULES, triplet_head
from .scheme import CATEGORY_CLASSES, TAGS
from .sentence_head import SENTENCE_CLASSES
from .triplets import DISTANCE_BUCKETS, PAIR_CLASSES, SPAN_TAGS, distance_bucket

#: width of the pair head's hidden layer
PAIR_HIDDEN = 256

POOLINGS = ("attention", "mean")


def category_parts(categories: Sequence[str]) -> tuple[list[int], list[int], int, int]:
    """Entity and attribute index of each ``ENTITY#ATTRIBUTE`` category (a name without ``#``
    is its own entity with an empty attribute), and how many entities and attributes there are.
    Attributes are shared across domains (``GENERAL``, ``QUALITY``, ...)."""
    entities: dict[str, int] = {}
    attributes: dict[str, int] = {}
    entity_of, attribute_of = [], []
    for name in categories:
        entity, _, attribute = name.partition("#")
        entity_of.append(entities.setdefault(entity, len(entities)))
        attribute_of.append(attributes.setdefault(attribute, len(attributes)))
    return entity_of, attribute_of, len(entities), len(attributes)


def masked_mean(hidden: Any, mask: Any) -> Any:
    """``(batch, dim)`` means of the states ``(batch, time, dim)`` where ``mask`` is set."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class TaggerNet:
    """The torch modules: encoder, term head, category head (built lazily to keep torch out).

    The category head has one 5-way classifier per category (``category``, a ``(C·5, dim)``
    linear layer of which each category uses its own 5 rows) plus, with attention pooling, one
    query per category and a classifier shared by all categories (rare categories learn polarity
    from the frequent ones). With ``parts`` (entity and attribute index per category, see
    :func:`category_parts`), each category's query, classifier rows and bias are its own plus
    those of its entity and of its attribute, so ``BATTERY#QUALITY`` with a handful of training
    sentences starts from what ``BATTERY#*`` and ``*#QUALITY`` learned. The parts exist only in
    training: :meth:`heads` exports their sums, the same arrays an unshared head has."""

    def __init__(self, encoder: Any, categories: int, dropout: float, pooling: str,
                 parts: tuple[list[int], list[int], int, int] | None = None,
                 triplets: bool = False, sentence: bool = False) -> None:
        import torch

        hidden = encoder.config.hidden_size
        self.encoder = encoder
        self.categories = max(categories, 1)
        self.dropout = torch.nn.Dropout(dropout)
        self.term = torch.nn.Linear(hidden, len(TAGS))
        self.category = torch.nn.Linear(hidden, self.categories * len(CATEGORY_CLASSES))
        modules = [encoder, self.term, self.category, self.dropout]
        self.triplet_heads: list[Any] = []
        if triplets:  # only in models trained on ASTE data (an untrained head is not shipped)
            self.span = torch.nn.Linear(hidden, len(SPAN_TAGS))
            self.pair_hidden = torch.nn.Linear(3 * hidden + 2 * DISTANCE_BUCKETS, PAIR_HIDDEN)
            self.pair_out = torch.nn.Linear(PAIR_HIDDEN, len(PAIR_CLASSES))
            self.triplet_heads = [self.span, self.pair_hidden, self.pair_out]
            modules += self.triplet_heads
        self.sentence = None
        if sentence:  # learnt from a teacher's sentence polarities (soft targets only)
            self.sentence = torch.nn.Linear(hidden, len(SENTENCE_CLASSES))
            modules.append(self.sentence)
        self.query = self.shared = None
        if pooling == "attention":
            self.query = torch.nn.Parameter(torch.randn(self.categories, hidden) * 0.02)
            self.shared = torch.nn.Linear(hidden, len(CATEGORY_CLASSES))
            modules.append(self.shared)
        self.modules = torch.nn.ModuleList(modules)
        if self.query is not None:
            self.modules.register_parameter("category_query", self.query)
        self.part_index = self.part_params = None
        if parts is not None and categories:
            entity_of, attribute_of, entities, attributes = parts
            self.part_index = (torch.tensor(entity_of), torch.tensor(attribute_of))
            shapes = {"weight": (len(CATEGORY_CLASSES), hidden), "bias": (len(CATEGORY_CLASSES),)}
            if self.query is not None:
                shapes["query"] = (hidden,)
            # zeros: at the start every category is what it is without sharing
            self.part_params = torch.nn.ParameterDict({
                f"{kind}_{what}": torch.nn.Parameter(torch.zeros(count, *shape))
                for kind, count in (("entity", entities), ("attribute", attributes))
                for what, shape in shapes.items()})
            self.modules.append(self.part_params)

    def _with_parts(self, what: str, own: Any) -> Any:
        """``own`` (per category, first dimension C) plus the category's entity and attribute
        parameters of kind ``what`` (query, weight or bias), when parts are shared."""
        if self.part_params is None:
            return own
        if self.part_index[0].device != own.device:  # once, after the model moved
            self.part_index = tuple(index.to(own.device) for index in self.part_index)
        entity, attribute = self.part_index
        return (own + self.part_params[f"entity_{what}"][entity]
                + self.part_params[f"attribute_{what}"][attribute])

    def category_query(self) -> Any:
        return self._with_parts("query", self.query)

    def category_weight(self) -> Any:
        """``(C, 5, dim)``."""
        size = self.category.weight.shape[-1]
        return self._with_parts("weight", self.category.weight.view(
            self.categories, len(CATEGORY_CLASSES), size))

    def category_bias(self) -> Any:
        """``(C, 5)``."""
        return self._with_parts("bias", self.category.bias.view(self.categories,
                                                                len(CATEGORY_CLASSES)))

    def hidden(self, ids: Any, mask: Any) -> Any:
        return self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state

    def head_parameters(self) -> list[Any]:
        params = [p for m in (self.term, self.category, *self.triplet_heads,
                              *([self.sentence] if self.sentence is not None else []))
                  for p in m.parameters()]
        if self.query is not None:
            params += [self.query] + list(self.shared.parameters())
        if self.part_params is not None:
            params += list(self.part_params.parameters())
        return params

    def category_logits(self, hidden: Any, mask: Any) -> Any:
        """``(batch, categories, 5)``, as :func:`scheme.category_logits` computes in numpy."""
        import torch

        size = hidden.shape[-1]
        if self.query is None:
            pooled = masked_mean(hidden, mask).unsqueeze(1).expand(-1, self.categories, -1)
        else:
            scores = torch.einsum("btd,cd->bct", hidden, self.category_query().to(hidden.dtype))
            scores = (scores / size ** 0.5).float()
            scores = scores.masked_fill(~mask.bool().unsqueeze(1), float("-inf"))
            pooled = torch.einsum("bct,btd->bcd", scores.softmax(-1).to(hidden.dtype), hidden)
        logits = torch.einsum("bcd,ckd->bck", pooled, self.category_weight().to(pooled.dtype))
        logits = logits + self.category_bias()
        if self.shared is not None:
            logits = logits + self.shared(pooled)
        return logits.float()

    def sentence_logits(self, hidden: Any, own: Any) -> Any:
        """``(batch, 3)`` from the mean of each text's own pieces (``own``: ``(batch, time)``,
        special tokens and padding false), as :func:`sentence_head.sentence_logits` on
        :meth:`runtime.TaggerRuntime.pooled` computes it."""
        return self.sentence(masked_mean(hidden, own)).float()

    def pair_logits(self, hidden: Any, rows: list[dict]) -> tuple[Any, Any] | None:
        """Pair-head logits ``(pairs, 5)`` for every row's candidate pairs (piece ranges of a gold
        aspect and a gold opinion), and their gold classes; ``None`` when no row has a pair."""
        import torch

        features, classes = [], []
        for states, row in zip(hidden, rows):
            for (a_first, a_last, o_first, o_last), label in row["pairs"]:
                a = states[a_first:a_last + 1].mean(0)
                o = states[o_first:o_last + 1].mean(0)
                distance = torch.zeros(2 * DISTANCE_BUCKETS, dtype=states.dtype,
                                       device=states.device)
                distance[distance_bucket((a_first, a_last), (o_first, o_last))] = 1
                features.append(torch.cat([a, o, a * o, distance]))
                classes.append(label)
        if not features:
            return None
        inner = torch.relu(self.pair_hidden(self.dropout(torch.stack(features))))
        return (self.pair_out(inner).float(),
                torch.tensor(classes, dtype=torch.long, device=hidden.device))

    def heads(self) -> dict[str, np.ndarray]:
        def array(tensor: Any) -> np.ndarray:
            return tensor.detach().float().cpu().numpy()

        size = self.category.weight.shape[-1]
        heads = {"term.weight": array(self.term.weight), "term.bias": array(self.term.bias),
                 "category.weight": array(self.category_weight().reshape(-1, size)),
                 "category.bias": array(self.category_bias().reshape(-1))}
        if self.triplet_heads:
            heads.update({triplet_head(name, kind): array(getattr(module, kind))
                          for name, module in zip(TRIPLET_MODULES, self.triplet_heads)
                          for kind in ("weight", "bias")})
        if self.sentence is not None:
            heads.update({SENTENCE_WEIGHT: array(self.sentence.weight),
                          SENTENCE_BIAS: array(self.sentence.bias)})
        if self.query is not None:
            heads.update({"category.query": array(self.category_query()),
                          "category.shared.weight": array(self.shared.weight),
                          "category.shared.bias": array(self.shared.bias)})
        return heads


__all__ = ["PAIR_HIDDEN", "POOLINGS", "TaggerNet", "category_parts", "masked_mean"]
