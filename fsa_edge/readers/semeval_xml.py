"""SemEval-2014 Task 4 XML: ``<sentence id><text/><aspectTerms/><aspectCategories/></sentence>``.

Aspect terms become term elements (ATSA); aspect categories become category elements (ACSA).
The ``_Implicit_Labeled`` variants add ``opinion_words`` (kept as the element's opinion).
A sentence without an ``id`` (the MAMS data sets) gets its record number, counted from 1, as
its id, as an id-less JSONL line gets its line number. A category without ``#`` (MAMS'
``food``, ``miscellaneous``) is kept as a category of its own (``FOOD``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import InputError
from ..model import LabeledExample, Review, SentimentElement
from ..tasks import canonical_category
from ._common import polarity_of, term_span


def read_semeval_xml(path: str | Path) -> list[LabeledExample]:
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except ET.ParseError as exc:
        raise InputError(f"invalid XML: {exc}", path=path, line=exc.position[0]) from None
    examples = []
    for number, sentence in enumerate(root.iter("sentence"), start=1):
        sid = sentence.get("id")
        record: int | str = number if sid is None else f"{number} (id {sid})"
        rid = str(number) if sid is None else sid
        text = sentence.findtext("text")
        if text is None:
            raise InputError("missing", path=path, record=record, field="text")
        elements = []
        for index, term in enumerate(sentence.iter("aspectTerm")):
            field = f"aspectTerm[{index}]"
            name = term.get("term")
            if not name:
                raise InputError("missing", path=path, record=record, field=field + ".term")
            try:
                hint = int(term.get("from", ""))
            except ValueError:
                hint = None
            span = term_span(text, name, hint, path=path, record=record, field=field + ".term")
            opinion = term.get("opinion_words") or None
            opinion_start = text.find(opinion) if opinion else -1
            elements.append(SentimentElement(
                polarity=polarity_of(term.get("polarity"), path=path, record=record,
                                     field=field + ".polarity"),
                aspect=text[span[0]:span[1]], aspect_span=span, opinion=opinion,
                opinion_span=(opinion_start, opinion_start + len(opinion)) if opinion_start >= 0 else None,
            ))
        for index, category in enumerate(sentence.iter("aspectCategory")):
            field = f"aspectCategory[{index}]"
            name = category.get("category")
            if not name:
                raise InputError("missing", path=path, record=record, field=field + ".category")
            elements.append(SentimentElement(
                polarity=polarity_of(category.get("polarity"), path=path, record=record,
                                     field=field + ".polarity"),
                category=canonical_category(name),
            ))
        examples.append(LabeledExample(Review(rid, text), tuple(elements)))
    return examples
