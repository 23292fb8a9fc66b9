"""Readers: formats, tolerated quirks, and errors that name file, record/line and field."""

from __future__ import annotations

import io
import json

import pytest

from fsa_edge import InputError
from fsa_edge.readers import (iter_jsonl_reviews, line_batches, read_benchmark, read_dataset,
                              read_sentences)


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_benchmark_json_with_bom_and_string_or_int_offsets(tmp_path):
    records = [
        {"ID": "a", "sentence": "The bread is good.", "aspects": [
            {"from": "4", "to": "9", "target": "bread", "category": None, "polarity": "positive"}]},
        {"ID": "b", "sentence": "Bad service, bad food.", "aspects": [
            {"from": 17, "to": 21, "target": "food", "category": None, "polarity": "negative"},
            {"from": 999, "to": 1000, "target": "service", "category": None, "polarity": "negative"}]},
        {"ID": "c", "sentence": "Nothing here.", "aspects": []},
    ]
    path = write(tmp_path / "test.json", json.dumps(records), encoding="utf-8-sig")
    dataset = read_dataset(path)
    assert dataset.format == "benchmark" and dataset.default_task == "atsa"
    assert [len(ex.elements) for ex in dataset.examples] == [1, 2, 0]
    # a wrong gold offset is repaired to the term's occurrence
    assert dataset.examples[1].elements[1].aspect_span == (4, 11)


@pytest.mark.parametrize("aspect,field", [
    ({"from": "x", "to": "9", "target": "bread", "polarity": "positive"}, "aspects[0].from"),
    ({"from": "4", "to": "9", "target": "bread", "polarity": "great"}, "aspects[0].polarity"),
    ({"from": "4", "to": "9", "target": "pizza", "polarity": "positive"}, "aspects[0].target"),
])
def test_benchmark_errors_name_file_record_field(tmp_path, aspect, field):
    records = [{"ID": "ok", "sentence": "Fine.", "aspects": []},
               {"ID": "a", "sentence": "The bread is good.", "aspects": [aspect]}]
    path = write(tmp_path / "hard_test.json", json.dumps(records))
    with pytest.raises(InputError) as info:
        read_dataset(path)
    message = str(info.value)
    assert str(path) in message and "record 2" in message and repr(field) in message


def test_aste_and_errors(tmp_path):
    good = "The bread is top notch as well .####[([1], [3, 4], 'POS')]\n"
    dataset = read_dataset(write(tmp_path / "dev_triplets.txt", good))
    element = dataset.examples[0].elements[0]
    assert (element.aspect, element.opinion, element.polarity) == ("bread", "top notch", "positive")
    bad = good + "Broken line ####[([99], [3], 'POS')]\n"
    with pytest.raises(InputError, match=r"line 2.*triplet\[0\]"):
        read_dataset(write(tmp_path / "x_triplets.txt", bad))


def test_asqp_implicit_and_paraphrased(tmp_path):
    text = "its alright####[['NULL', 'restaurant general', 'neutral', 'alright']]\n" \
           "try it####[['NULL', 'food quality', 'positive', 'worth a try']]\n"
    examples = read_dataset(write(tmp_path / "test.txt", text)).examples
    first, second = examples[0].elements[0], examples[1].elements[0]
    assert first.aspect is None and first.opinion_span == (4, 11)
    assert second.opinion == "worth a try" and second.opinion_span is None


def test_acos_tsv(tmp_path):
    line = "the unit cost $ 275 to start with , so it is not worth repairing .\t1,2 LAPTOP#PRICE 0 12,14\n"
    element = read_dataset(write(tmp_path / "q.tsv", line)).examples[0].elements[0]
    assert (element.aspect, element.category, element.polarity, element.opinion) == \
        ("unit", "LAPTOP#PRICE", "negative", "not worth")
    with pytest.raises(InputError, match=r"line 1.*quad\[0\].sentiment"):
        read_dataset(write(tmp_path / "bad.tsv", "a b c\t0,1 X#Y 7 1,2\n"))


def test_semeval_xml(tmp_path):
    xml = """<sentences><sentence id="s1"><text>The bread is top notch.</text>
    <aspectTerms><aspectTerm term="bread" polarity="positive" from="4" to="9"/></aspectTerms>
    <aspectCategories><aspectCategory category="food" polarity="positive"/></aspectCategories>
    </sentence></sentences>"""
    dataset = read_dataset(write(tmp_path / "Restaurants_Test.xml", xml))
    elements = dataset.examples[0].elements
    assert elements[0].aspect_span == (4, 9) and elements[1].category == "FOOD"
    with pytest.raises(InputError, match="invalid XML"):
        read_dataset(write(tmp_path / "broken.xml", "<sentences><sentence>"))


def test_sentences_json(tmp_path):
    path = write(tmp_path / "val.json", json.dumps([{"sentence": "good", "label": "positive"},
                                                    {"sentence": "bad", "label": "meh"}]))
    with pytest.raises(InputError, match=r"record 2, field 'label'"):
        read_dataset(path)


@pytest.mark.parametrize("reader", [read_benchmark, read_sentences])
@pytest.mark.parametrize("text,expected", [
    ('[{"sentence": "good",\n "label": }]', r"line 2.*invalid JSON"),
    ('{"sentence": "good"}', "expected a JSON array"),
    ('[{"ID": "a", "sentence": "good", "aspects": [], "label": "positive"}, "bad"]',
     "record 2.*expected an object"),
])
def test_json_array_files_name_the_bad_line_or_record(tmp_path, reader, text, expected):
    path = write(tmp_path / "set.json", text)
    with pytest.raises(InputError, match=expected) as info:
        reader(path)
    assert str(path) in str(info.value)


def test_invalid_utf8_and_missing_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'[{"ID": "\xff"}]')
    with pytest.raises(InputError, match="UTF-8"):
        read_dataset(path)
    with pytest.raises(InputError, match="no such file"):
        read_dataset(tmp_path / "absent.json")


@pytest.mark.data
def test_every_shared_format_reads(data_dir):
    counts = {
        "fsa-benchmark/atsa/rest14/test.json": 800,
        "fsa-benchmark/acsa/rest16/train.json": 1600,
        "aste-data-v2/ASTE-Data-V2-EMNLP2020/14lap/train_triplets.txt": 906,
        "asqp/data/rest15/test.txt": 537,
        "acos/data/Laptop-ACOS/laptop_quad_train.tsv": 2934,
        "semeval14-scapt/data/restaurants/Restaurants_Train_v2_Implicit_Labeled.xml": 3041,
        "sentence-sentiment/sst2/test.json": 1821,
    }
    for relative, expected in counts.items():
        assert len(read_dataset(data_dir / relative).examples) == expected, relative


def test_line_batches_count_bad_lines_as_lines():
    raw = b"".join(b'{"id": "%d", "text": "ok"}\n' % i if i % 3 else b"not json\n"
                   for i in range(10))
    lines = list(iter_jsonl_reviews(io.BytesIO(raw)))
    batches = list(line_batches(iter(lines), 4))
    assert [[line.line for line in batch] for batch in batches] == [
        [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert [sum(line.error is not None for line in batch) for batch in batches] == [2, 1, 1]
