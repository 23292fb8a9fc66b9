"""ABSA-QUAD: ``sentence####[[aspect, category, polarity, opinion], ...]``; implicit = ``NULL``."""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ..tasks import canonical_category
from ..tasks.spans import locate, locate_near
from ._common import polarity_of, read_text


def read_asqp(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    examples = []
    for line_number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        text, sep, labels = line.partition("####")
        if not sep:
            raise InputError("missing '####' separator", path=path, line=line_number, field="labels")
        text = text.strip()
        try:
            quads = ast.literal_eval(labels.strip())
        except (ValueError, SyntaxError):
            raise InputError("labels are not a Python literal", path=path, line=line_number,
                             field="labels") from None
        elements = []
        for index, quad in enumerate(quads):
            field = f"quad[{index}]"
            if not (isinstance(quad, (list, tuple)) and len(quad) == 4):
                raise InputError("expected [aspect, category, polarity, opinion]", path=path,
                                 line=line_number, field=field)
            aspect, category, polarity, opinion = quad
            aspect_span = None if aspect == "NULL" else locate(text, aspect)
            if aspect != "NULL" and aspect_span is None:
                raise InputError(f"aspect {aspect!r} does not occur in the sentence", path=path,
                                 line=line_number, field=field + ".aspect")
            # A few gold opinions are paraphrases absent from the sentence: kept without a span.
            opinion_span = None if opinion == "NULL" else locate_near(text, opinion, aspect_span)
            elements.append(SentimentElement(
                polarity=polarity_of(polarity, path=path, line=line_number, field=field + ".polarity"),
                aspect=None if aspect_span is None else text[aspect_span[0]:aspect_span[1]],
                aspect_span=aspect_span, category=canonical_category(category),
                opinion=(None if opinion == "NULL" else opinion) if opinion_span is None
                else text[opinion_span[0]:opinion_span[1]],
                opinion_span=opinion_span,
            ))
        examples.append(LabeledExample(Review(f"{path.stem}:{line_number}", text), tuple(elements)))
    return examples
