"""Input a user brings: SemEval-layout XML without ids (MAMS), categories without ``#``, and a
task the model does not serve (a usage error, before any input is read)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import fsa_edge
from fsa_edge.builtin_models import DEFAULT_MODEL_DIR
from fsa_edge.cli import build_cli
from fsa_edge.errors import InputError, UnknownTaskError
from fsa_edge.metric import evaluate, gold_by_id
from fsa_edge.readers import read_dataset
from fsa_edge.tasks import ACSA

MAMS_CATEGORIES = ("food", "service", "staff", "price", "ambience", "menu", "place",
                   "miscellaneous")

# The MAMS layout: SemEval-2014 XML whose <sentence> elements carry no id.
MAMS_ATSA = """<?xml version="1.0" encoding="UTF-8"?>
<sentences>
    <sentence>
        <text>The decor is not special at all but their food and amazing prices make up for it.</text>
        <aspectTerms>
            <aspectTerm from="4" polarity="negative" term="decor" to="9"/>
            <aspectTerm from="42" polarity="positive" term="food" to="46"/>
            <aspectTerm from="59" polarity="positive" term="prices" to="65"/>
        </aspectTerms>
    </sentence>
    <sentence>
        <text>The waiter was rude but the pasta was great.</text>
        <aspectTerms>
            <aspectTerm from="4" polarity="negative" term="waiter" to="10"/>
            <aspectTerm from="28" polarity="positive" term="pasta" to="33"/>
        </aspectTerms>
    </sentence>
</sentences>
"""

MAMS_ACSA = """<?xml version="1.0" encoding="UTF-8"?>
<sentences>
    <sentence>
        <text>The decor is not special at all but their food and amazing prices make up for it.</text>
        <aspectCategories>
            <aspectCategory category="ambience" polarity="negative"/>
            <aspectCategory category="food" polarity="positive"/>
            <aspectCategory category="price" polarity="positive"/>
        </aspectCategories>
    </sentence>
    <sentence>
        <text>Staff, service, menu, place: all fine, and so on.</text>
        <aspectCategories>
            <aspectCategory category="staff" polarity="neutral"/>
            <aspectCategory category="service" polarity="neutral"/>
            <aspectCategory category="menu" polarity="neutral"/>
            <aspectCategory category="place" polarity="neutral"/>
            <aspectCategory category="miscellaneous" polarity="neutral"/>
        </aspectCategories>
    </sentence>
</sentences>
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ id-less SemEval XML
def test_idless_aspect_terms_get_record_numbers_as_ids(tmp_path):
    dataset = read_dataset(write(tmp_path / "train.xml", MAMS_ATSA))
    assert dataset.format == "semeval-xml" and dataset.default_task == "atsa"
    assert [ex.review.id for ex in dataset.examples] == ["1", "2"]
    first = dataset.examples[0]
    assert [(e.aspect, e.aspect_span, e.polarity) for e in first.elements] == [
        ("decor", (4, 9), "negative"), ("food", (42, 46), "positive"),
        ("prices", (59, 65), "positive")]
    assert [e.aspect for e in dataset.examples[1].elements] == ["waiter", "pasta"]


def test_idless_aspect_categories_get_record_numbers_and_keep_mams_categories(tmp_path):
    dataset = read_dataset(write(tmp_path / "val.xml", MAMS_ACSA))
    assert dataset.default_task == "acsa"
    assert [ex.review.id for ex in dataset.examples] == ["1", "2"]
    categories = [e.category for ex in dataset.examples for e in ex.elements]
    assert categories == ["AMBIENCE", "FOOD", "PRICE", "STAFF", "SERVICE", "MENU", "PLACE",
                          "MISCELLANEOUS"]
    assert {c.lower() for c in categories} == set(MAMS_CATEGORIES)
    assert all(e.aspect is None for ex in dataset.examples for e in ex.elements)


def test_ids_present_are_kept_and_idless_records_are_numbered_like_jsonl(tmp_path):
    xml = """<sentences>
    <sentence id="s1"><text>Good food.</text></sentence>
    <sentence><text>Bad tea.</text></sentence>
    </sentences>"""
    examples = read_dataset(write(tmp_path / "mixed.xml", xml)).examples
    assert [ex.review.id for ex in examples] == ["s1", "2"]


@pytest.mark.parametrize("body,where", [
    ('<aspectCategories><aspectCategory category="food" polarity="great"/></aspectCategories>',
     "record 2, field 'aspectCategory[0].polarity'"),
    ('<aspectTerms><aspectTerm term="pizza" polarity="positive" from="0" to="5"/></aspectTerms>',
     "record 2, field 'aspectTerm[0].term'"),
    ('<aspectCategories><aspectCategory polarity="positive"/></aspectCategories>',
     "record 2, field 'aspectCategory[0].category'"),
])
def test_idless_bad_record_names_file_record_and_field(tmp_path, body, where):
    xml = (f"<sentences><sentence><text>Fine.</text></sentence>"
           f"<sentence><text>Good food.</text>{body}</sentence></sentences>")
    path = write(tmp_path / "bad.xml", xml)
    with pytest.raises(InputError) as info:
        read_dataset(path)
    assert str(info.value).startswith(f"{path}, {where}")


def test_idless_missing_text_names_the_record(tmp_path):
    path = write(tmp_path / "notext.xml", "<sentences><sentence/></sentences>")
    with pytest.raises(InputError, match=r"record 1, field 'text'"):
        read_dataset(path)


# ------------------------------------------------------------------ categories without '#'
@pytest.mark.parametrize("name", MAMS_CATEGORIES)
def test_mams_category_round_trips_through_acsa_and_scores(name):
    element = fsa_edge.SentimentElement("positive", category=name.upper())
    target = ACSA.linearise([element])
    assert target == f"{name} | positive"
    assert ACSA.parse(target, "any text").elements == (element,)


def test_gold_mams_categories_score_100_against_themselves(tmp_path):
    dataset = read_dataset(write(tmp_path / "test.xml", MAMS_ACSA))
    gold = gold_by_id(dataset.examples)
    evaluation = evaluate("acsa", gold, gold)
    assert evaluation.overall.gold == 8 and evaluation.overall.f1 == 100.0


@pytest.mark.data
def test_real_mams_files_read_with_numbered_ids(data_dir):
    files = sorted(p for p in data_dir.rglob("*.xml") if "mams" in str(p).lower())
    if not files:
        pytest.skip(f"no MAMS data under {data_dir}")
    for path in files:
        dataset = read_dataset(path)
        assert dataset.examples, path
        ids = [ex.review.id for ex in dataset.examples]
        assert len(set(ids)) == len(ids), path
        categories = {e.category for ex in dataset.examples for e in ex.elements if e.category}
        assert all("#" not in c for c in categories), path


# ------------------------------------------------------------------ a task the model lacks
def _invoke(args):
    return CliRunner().invoke(build_cli(), args, catch_exceptions=False)


def _refusal(result, task):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"'{task}'" in lines[0] and "serves" in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def shipped():
    if not (DEFAULT_MODEL_DIR / "model.bin").exists():
        pytest.skip("this build ships no default model")
    return DEFAULT_MODEL_DIR


@pytest.mark.parametrize("task", ["asqp", "acos"])
def test_analyze_unserved_task_on_default_model_is_a_usage_error(shipped, tmp_path, task):
    source = tmp_path / "x.jsonl"
    source.write_text('{"id": "1", "text": "The food was great."}\n'
                      '{"id": "2", "text": "The service was slow."}\n')
    line = _refusal(_invoke(["analyze", str(source), "--task", task]), task)
    assert "atsa" in line and "acsa" in line


def test_unserved_task_is_refused_before_the_input_is_read(keyword_model, tmp_path):
    absent = tmp_path / "absent.jsonl"  # reading it would fail with "no such file"
    line = _refusal(_invoke(["analyze", str(absent), "--model", str(keyword_model),
                             "--task", "acsa"]), "acsa")
    assert "atsa" in line and "no such file" not in line


def test_python_api_refuses_a_task_the_model_does_not_serve(keyword_model):
    analyzer = fsa_edge.load(keyword_model)
    with pytest.raises(UnknownTaskError, match=r"does not serve task 'asqp'.*atsa"):
        analyzer.analyze("The food was great.", task="asqp")
    with pytest.raises(UnknownTaskError):
        analyzer.analyze(["The food was great."], task="aste")
    with pytest.raises(UnknownTaskError):
        analyzer.analyze_iter(iter(["never read"]), task="acsa")  # eager, before iterating
    with pytest.raises(UnknownTaskError):
        fsa_edge.load(keyword_model, task="asqp")
    assert analyzer.analyze("The food was great.", task="atsa").error is None


def test_python_api_refusal_on_default_model(shipped):
    analyzer = fsa_edge.load()
    with pytest.raises(UnknownTaskError, match="asqp"):
        analyzer.analyze("The food was great.", task="asqp")


def test_served_tasks_still_analyze(keyword_model, tmp_path):
    source = tmp_path / "x.jsonl"
    source.write_text('{"id": "1", "text": "The food was great."}\n')
    result = _invoke(["analyze", str(source), "--model", str(keyword_model), "--task", "atsa"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["elements"][0]["aspect"] == "food"
