"""parse(linearise(x)) == x for every gold record of the shared data sets.

The linearised target (the paper's text format) names terms, not occurrences. So the check is:
every element's task content (terms, category, opinion, polarity) comes back exactly, in order,
and its character span comes back exactly too unless the term occurs more than once in the
sentence (then no text-only format can say which occurrence the annotator meant; those are
counted and reported, not hidden).
"""

from __future__ import annotations

import pytest

from fsa_edge.readers import read_dataset
from fsa_edge.tasks import get_task
from fsa_edge.tasks.spans import occurrences

SETS = [
    *(f"fsa-benchmark/atsa/{d}/{s}.json" for d in ("rest14", "laptop14") for s in ("train", "dev", "test")),
    *(f"fsa-benchmark/acsa/{d}/{s}.json" for d in ("rest16", "laptop16") for s in ("train", "dev", "test")),
    *(f"aste-data-v2/ASTE-Data-V2-EMNLP2020/{d}/{s}_triplets.txt"
      for d in ("14lap", "14res", "15res", "16res") for s in ("train", "dev", "test")),
    *(f"asqp/data/{d}/{s}.txt" for d in ("rest15", "rest16") for s in ("train", "dev", "test")),
    *(f"acos/data/Laptop-ACOS/laptop_quad_{s}.tsv" for s in ("train", "dev", "test")),
    *(f"acos/data/Restaurant-ACOS/rest16_quad_{s}.tsv" for s in ("train", "dev", "test")),
]


@pytest.mark.data
@pytest.mark.parametrize("relative", SETS)
def test_round_trip(data_dir, relative, record_property):
    dataset = read_dataset(data_dir / relative)
    task = get_task(dataset.default_task)
    content_mismatches, span_mismatches, ambiguous = [], [], 0
    for example in dataset.examples:
        text = example.review.text
        gold = task.project(example.elements)
        parsed = task.parse(task.linearise(example.elements), text)
        if parsed.dropped or [task.key(e) for e in parsed.elements] != [task.key(e) for e in gold]:
            content_mismatches.append((example.review.id, task.linearise(example.elements)))
            continue
        for want, got in zip(gold, parsed.elements):
            for slot in ("aspect", "opinion"):
                if getattr(want, slot + "_span") == getattr(got, slot + "_span"):
                    continue
                if len(occurrences(text, getattr(want, slot))) > 1:
                    ambiguous += 1
                else:
                    span_mismatches.append((example.review.id, slot, getattr(want, slot)))
    record_property("records", len(dataset.examples))
    record_property("ambiguous_spans", ambiguous)
    print(f"{relative}: {len(dataset.examples)} records, task {task.name}, "
          f"{ambiguous} spans of repeated terms resolved to another occurrence")
    assert dataset.examples
    assert not content_mismatches, content_mismatches[:5]
    assert not span_mismatches, span_mismatches[:5]
