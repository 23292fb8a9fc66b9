"""``benchmarks/corpus_without.py``: a corpus less the rows of a data set's sentences."""

from __future__ import annotations

import json

import pytest

from benchmark_scripts import benchmark_script
from fsa_edge.errors import InputError


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_rows_of_the_given_sentences_are_dropped_and_every_row_is_counted(tmp_path):
    script = benchmark_script("corpus_without")
    corpus = tmp_path / "corpus.jsonl"
    _write_jsonl(corpus, [{"id": f"r{i}", "prompt": "label", "text": text}
                          for i, text in enumerate(["The pasta was bland.", "Great staff!",
                                                    "the  pasta was BLAND.", "Slow wifi."])])
    pseudo = tmp_path / "triplets.json"
    pseudo.write_text(json.dumps([{"ID": "p:1", "sentence": "The pasta was bland.", "aspects": [
        {"from": 4, "to": 9, "target": "pasta", "polarity": "negative",
         "opinion_words": [{"from": 14, "to": 19, "opinion": "bland"}]}]}]), encoding="utf-8")
    out = tmp_path / "out" / "kept.jsonl"
    counts = script.drop_sentences(corpus, [pseudo], out)
    kept = [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert kept == ["Great staff!", "Slow wifi."]  # the same sentence in another spelling too
    assert counts == {"rows": 4, "kept": 2, "dropped": 2, "sentences_without": 1}


def test_a_row_without_text_names_file_line_and_field(tmp_path):
    script = benchmark_script("corpus_without")
    corpus = tmp_path / "corpus.jsonl"
    _write_jsonl(corpus, [{"id": "a", "text": "Fine."}, {"id": "b", "prompt": "label"}])
    pseudo = tmp_path / "none.json"
    pseudo.write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match=r"corpus.jsonl.*line 2.*'text'"):
        script.drop_sentences(corpus, [pseudo], tmp_path / "out.jsonl")


def test_another_corpus_a_source_and_a_limit_select_rows_and_every_row_is_counted(tmp_path):
    script = benchmark_script("corpus_without")
    corpus = tmp_path / "unlabeled.jsonl"
    _write_jsonl(corpus, [{"id": "yelp2:1", "text": "The pasta was bland."},
                          {"id": "acos:1", "text": "The screen is dim."},
                          {"id": "yelp2:2", "text": "Great staff!"},
                          {"id": "yelp2:3", "text": "Slow service."},
                          {"id": "yelp2:4", "text": "Cozy room."}])
    other = tmp_path / "training_corpus.jsonl"
    _write_jsonl(other, [{"id": "rest14:9", "text": "the pasta was BLAND"}])
    out = tmp_path / "extra.jsonl"
    counts = script.drop_sentences(corpus, [], out, without_corpora=[other], source="yelp2",
                                   limit=2)
    kept = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert kept == ["yelp2:2", "yelp2:3"]
    assert counts == {"rows": 5, "kept": 2, "dropped": 1, "sentences_without": 1,
                      "other_source": 1, "over_limit": 1}
    with pytest.raises(InputError, match="--limit"):
        script.drop_sentences(corpus, [], out, without_corpora=[other], limit=0)
