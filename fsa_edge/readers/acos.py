"""ACOS TSV: ``sentence<TAB>a_start,a_end CATEGORY sentiment o_start,o_end`` per quad.

Token offsets are end-exclusive; ``-1,-1`` is an implicit aspect or opinion; sentiment is
0 negative, 1 neutral, 2 positive.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement, Span
from ..tasks import canonical_category
from ._common import read_text, token_span

_SENTIMENT = {"0": "negative", "1": "neutral", "2": "positive"}


def _offsets(value: str, tokens: list[str], *, path: Path, line: int, field: str) -> Span | None:
    try:
        start, end = (int(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"offsets {value!r} are not 'start,end'", path=path, line=line,
                         field=field) from None
    if (start, end) == (-1, -1):
        return None
    if start == end:  # a few gold quads write one token as "3,3": read it as token 3
        end = start + 1
    if not 0 <= start < end <= len(tokens):
        raise InputError(f"offsets {value!r} outside the sentence", path=path, line=line, field=field)
    return token_span(tokens, start, end - 1)


def read_acos(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    examples = []
    for line_number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        sentence, *quads = line.split("\t")
        tokens = sentence.split()
        text = " ".join(tokens)
        elements = []
        for index, quad in enumerate(quads):
            field = f"quad[{index}]"
            parts = quad.split()
            if len(parts) != 4:
                raise InputError("expected 'a_start,a_end CATEGORY sentiment o_start,o_end'",
                                 path=path, line=line_number, field=field)
            aspect, category, sentiment, opinion = parts
            if sentiment not in _SENTIMENT:
                raise InputError(f"sentiment {sentiment!r} is not 0, 1 or 2", path=path,
                                 line=line_number, field=field + ".sentiment")
            a_span = _offsets(aspect, tokens, path=path, line=line_number, field=field + ".aspect")
            o_span = _offsets(opinion, tokens, path=path, line=line_number, field=field + ".opinion")
            elements.append(SentimentElement(
                polarity=_SENTIMENT[sentiment],
                aspect=text[a_span[0]:a_span[1]] if a_span else None, aspect_span=a_span,
                category=canonical_category(category),
                opinion=text[o_span[0]:o_span[1]] if o_span else None, opinion_span=o_span,
            ))
        examples.append(LabeledExample(Review(f"{path.stem}:{line_number}", text), tuple(elements)))
    return examples
