"""ASTE-Data-V2 triplets: ``tokenised sentence####[([aspect ids], [opinion ids], 'POS'), ...]``."""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ._common import polarity_of, read_text, token_span


def read_aste(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    examples = []
    for line_number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        sentence, sep, labels = line.partition("####")
        if not sep:
            raise InputError("missing '####' separator", path=path, line=line_number, field="labels")
        tokens = sentence.split()
        text = " ".join(tokens)
        try:
            triplets = ast.literal_eval(labels.strip())
        except (ValueError, SyntaxError):
            raise InputError("labels are not a Python literal", path=path, line=line_number,
                             field="labels") from None
        elements = []
        for index, triplet in enumerate(triplets):
            field = f"triplet[{index}]"
            try:
                aspect_ids, opinion_ids, polarity = triplet
                aspect_span = token_span(tokens, min(aspect_ids), max(aspect_ids))
                opinion_span = token_span(tokens, min(opinion_ids), max(opinion_ids))
                if max(aspect_ids) >= len(tokens) or max(opinion_ids) >= len(tokens):
                    raise IndexError
            except (TypeError, ValueError, IndexError):
                raise InputError("expected ([aspect token ids], [opinion token ids], polarity) "
                                 "within the sentence", path=path, line=line_number,
                                 field=field) from None
            elements.append(SentimentElement(
                polarity=polarity_of(polarity, path=path, line=line_number, field=field + ".polarity"),
                aspect=text[aspect_span[0]:aspect_span[1]], aspect_span=aspect_span,
                opinion=text[opinion_span[0]:opinion_span[1]], opinion_span=opinion_span,
            ))
        examples.append(LabeledExample(Review(f"{path.stem}:{line_number}", text), tuple(elements)))
    return examples
