"""``benchmarks/distillation.py`` end to end on a synthetic slice: teacher, its corpus, both
student arms over two seeds, and the record in the form the claim is reported in."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from benchmark_scripts import benchmark_script  # noqa: E402
from seq2seq_fixtures import synthetic_atsa, tiny_bert  # noqa: E402
from test_default_recipe import _synthetic_rest14  # noqa: E402
from test_triplets import write_aste  # noqa: E402


def test_the_distillation_recipe_writes_the_claims_record(tmp_path, monkeypatch):
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    data = _synthetic_rest14(tmp_path / "data", train=48, rest16=True)
    aste = data / "aste-data-v2" / "ASTE-Data-V2-EMNLP2020" / "14res"
    aste.mkdir(parents=True)
    for split, count, seed in (("train", 40, 1), ("dev", 8, 2), ("test", 8, 3)):
        write_aste(aste / f"{split}_triplets.txt", count, seed)
    teacher, student, unlabeled = _zero_shot_setting(tmp_path, data, monkeypatch,
                                                      "distillation", 77)
    record = tmp_path / "distillation.json"
    argv = ["--out", str(tmp_path / "run"), "--data", str(data), "--datasets", "rest14,rest16",
            "--teacher-student", str(teacher), "--teacher-epochs", "1", "--teacher-lr", "2e-3",
            "--student", str(student), "--epochs", "1", "--lr", "2e-3", "--seeds", "1",
            "--unlabeled", str(unlabeled), "--unlabeled-limit", "4", "--threads", "1", "--min-agreement", "0",
            "--max-mean-delta", "10", "--record", str(record),
            "--student-extra-datasets", "aste14res", "--sentence-head",
            "--distill-grid", "1:2,0.5:1", "--install", "--install-dir", str(tmp_path / "default"),
            "--precision", "fp32"]
    assert benchmark_script("distillation").main(argv) == 0
    result = json.loads(record.read_text())
    trainings = [c for c in result["commands"] if c.startswith("python benchmarks/train_default")]
    assert len(trainings) == 4 and all("--precision fp32" in c for c in trainings)  # every run
    assert result["sets"] == ["atsa/rest14", "acsa/rest16"]
    assert result["student_extra_sets"] == ["ASTE-Data-V2-EMNLP2020/14res"]
    assert set(result["teacher"]["test"]) == set(result["sets"])  # the teacher: no ASTE
    for arm in ("gold_only", "distilled"):
        assert result[arm]["seeds"] == [1]
        assert all(len(result[arm][split][s]) == 1 for split in ("dev", "test")
                   for s in result["sets"] + result["student_extra_sets"])
    setting = result["distillation_setting"]  # chosen on the first seed's mean dev F1
    grid = setting["chosen_on_dev"]
    assert set(grid) == {"1:2", "0.5:1"}
    assert grid[f"{setting['weight']:g}:{setting['temperature']:g}"] == max(grid.values())
    chosen = tmp_path / "run" / "grid" / f"w{setting['weight']:g}_t{setting['temperature']:g}"
    assert json.loads((chosen / "hf" / "fsa_edge.json").read_text())["recipe"][
        "distill_weight"] == setting["weight"]  # that run is seed 1's distilled arm
    assert not (tmp_path / "run" / "distilled" / "1").exists()
    zero_shot = result["zero_shot_sentence"]
    assert set(zero_shot["teacher"]) == {"sst2", "yelp2"}
    assert [len(zero_shot["distilled"][name]) for name in ("sst2", "yelp2")] == [1, 1]
    assert "sentence" in json.loads((chosen / "ct2-int8" / "fsa_edge.json").read_text())["tasks"]
    assert "Zero-shot sentence polarity" in record.with_suffix(".md").read_text()
    assert "unlabeled ones per source" in record.with_suffix(".md").read_text()
    assert result["corpus"]["sentences"] == 48 * 2 + 4  # the students' corpus: 4 unlabeled
    # the default: the student run with the best mean dev F1 (both arms, every grid point)
    choice = result["default_choice"]
    assert set(choice["mean_f1_of_candidates"]) == {"gold_only/1", "grid/w1_t2", "grid/w0.5_t1"}
    best = max(means["dev"] for means in choice["mean_f1_of_candidates"].values())
    assert choice["mean_f1_of_candidates"][choice["chosen"]]["dev"] == best
    assert ((tmp_path / "default" / "fsa_edge.json").read_bytes()
            == (tmp_path / "run" / choice["chosen"] / "ct2-int8" / "fsa_edge.json").read_bytes())
    assert "Default model candidates" in record.with_suffix(".md").read_text()
    assert result["corpus"]["distill"]["written"] == 48 * 2 + 4
    labelled = tmp_path / "run" / "teacher_unlabeled.jsonl"  # the head's: every unlabeled text
    assert len(labelled.read_text().splitlines()) == 10
    sources = json.loads((tmp_path / "run" / "teacher_sentence" / "record.json").read_text())[
        "pseudo_labels"]["sources"]
    assert sources[f"teacher:{labelled}"]["texts"] == 10
    distilled_card = json.loads((chosen / "hf" / "fsa_edge.json").read_text())
    assert distilled_card["soft_targets"]["unlabeled"] > 0
    assert "soft_targets" not in json.loads(
        (tmp_path / "run" / "gold_only" / "1" / "hf" / "fsa_edge.json").read_text())
    assert isinstance(result["gain_test"], float) and record.with_suffix(".md").is_file()
    # a rerun finds every step done and writes the same record
    assert benchmark_script("distillation").main(argv) == 0
    again = json.loads(record.read_text())
    assert {k: v for k, v in again.items() if k != "corpus"} == \
        {k: v for k, v in result.items() if k != "corpus"}


def test_the_unlabeled_limit_takes_every_source_in_turn_and_skips_gold_texts():
    pick = benchmark_script("distillation").pick_unlabeled
    rows = ([{"id": f"y{i}", "text": f"Yelp sentence {i}.", "source": "yelp2"} for i in range(6)]
            + [{"id": "g", "text": "the pasta, was GREAT", "source": "fsa-benchmark"}]
            + [{"id": f"a{i}", "text": f"Laptop sentence {i}.", "source": "acos"}
               for i in range(2)])
    picked, counts = pick(rows, 5, ["The pasta was great."])
    # the file's head is all yelp2; a limit still keeps the laptop source, in file order
    assert [row["id"] for row in picked] == ["y0", "a0", "y1", "a1", "y2"]
    assert counts == {"unlabeled_per_source": {"yelp2": 3, "acos": 2},
                      "unlabeled_dropped_as_gold": 1}
    everything, counts = pick(rows, None, [])
    assert len(everything) == len(rows) and counts["unlabeled_dropped_as_gold"] == 0


def test_a_bad_unlabeled_line_is_named_with_its_file_line_and_field(tmp_path):
    from fsa_edge.errors import InputError

    unlabeled = tmp_path / "unlabeled.jsonl"
    unlabeled.write_text('{"id": "u0", "text": "Fine."}\n{"id": "u1"}\n')
    with pytest.raises(InputError, match=r"unlabeled\.jsonl, line 2, field 'text'"):
        benchmark_script("distillation").write_teacher_inputs(
            tmp_path / "inputs.jsonl", tmp_path, [], unlabeled, None)


def test_the_sentence_distillation_recipe_writes_its_record(tmp_path, monkeypatch):
    """``benchmarks/sentence_distillation.py``: an untuned encoder's sentence head teaches the
    students' sentence head only (no tag or category targets), and the record holds the
    teacher's and every seed's zero-shot scores beside the students' F1."""
    monkeypatch.setenv("FSA_EDGE_CACHE", str(tmp_path / "cache"))
    data = _synthetic_rest14(tmp_path / "data", train=48, rest16=True)
    teacher, student, unlabeled = _zero_shot_setting(tmp_path, data, monkeypatch,
                                                      "sentence_distillation", 78)
    script = benchmark_script("sentence_distillation")
    record = tmp_path / "sentence_distillation.json"
    argv = ["--out", str(tmp_path / "run"), "--data", str(data), "--datasets", "rest14,rest16",
            "--student-extra-datasets", "", "--teacher-encoder", str(teacher), "--student",
            str(student), "--epochs", "1", "--lr", "2e-3", "--seeds", "1,2", "--unlabeled",
            str(unlabeled), "--unlabeled-limit", "4", "--threads", "1", "--record", str(record)]
    assert script.main(argv) == 0
    result = json.loads(record.read_text())
    assert set(result["teacher"]["zero_shot"]) == {"sst2", "yelp2"}
    assert result["teacher"]["pseudo_labels"] > 0
    students = result["students"]
    assert students["seeds"] == [1, 2]
    assert all(len(students["zero_shot"][name]) == 2 for name in ("sst2", "yelp2"))
    assert set(students["test"]) == {"atsa/rest14", "acsa/rest16"}
    card = json.loads((tmp_path / "run" / "students" / "1" / "hf" / "fsa_edge.json").read_text())
    counts = card["soft_targets"]
    assert counts["gold"] == counts["unlabeled"] == 0  # nothing but sentence polarities
    assert counts["sentence_only"]["unlabeled"] == 4 and counts["sentence_only"]["gold"] > 0
    assert card["tasks"][-1] == "sentence"
    assert "Commands:" in record.with_suffix(".md").read_text()


def _zero_shot_setting(tmp_path, data, monkeypatch, script: str, seed: int):
    """sst2/yelp2 test files (labels only for scoring), gold pseudo-labels from rest14 only,
    tiny teacher and student encoders and ten unlabeled sentences."""
    for name in ("sst2", "yelp2"):
        folder = data / "sentence-sentiment" / name
        folder.mkdir(parents=True)
        folder.joinpath("test.json").write_text(json.dumps(
            [{"label": "positive", "sentence": "The food was great."},
             {"label": "negative", "sentence": "The staff was rude and the fish bland."}]))
    monkeypatch.setattr(benchmark_script(script).sentence_head, "GOLD_TRAIN",
                        ("fsa-benchmark/atsa/rest14/train.json",))  # the module it imports
    teacher = tiny_bert(tmp_path / "teacher_bert", hidden=32, layers=2, heads=4)
    student = tiny_bert(tmp_path / "student_bert", hidden=32, layers=1, heads=4,
                        whole_words=False)
    unlabeled = tmp_path / "unlabeled.jsonl"
    unlabeled.write_text("".join(json.dumps({"id": f"u{i}", "text": r["sentence"]}) + "\n"
                                 for i, r in enumerate(synthetic_atsa(10, seed))))
    return teacher, student, unlabeled
