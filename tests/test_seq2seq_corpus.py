"""Corpus layouts and task specs of ``fsa_edge.training`` (no torch needed)."""

from __future__ import annotations

import json

import pytest

from fsa_edge.errors import InputError, TrainingError
from fsa_edge.training import TaskData, read_corpus


def _write(path, lines, bom=False):
    text = "\n".join(lines) + "\n"
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def test_paper_layout_with_bom(tmp_path):
    path = _write(tmp_path / "c.jsonl", [
        json.dumps({"ID": 7, "Text": "Great food.", "Overall": 5, "mixtral_response": "a\nb"}),
        "", json.dumps({"ID": 8, "Text": "Slow.", "Overall": 2, "mixtral_response": "c"})],
        bom=True)
    pairs = read_corpus(path)
    assert [(p.id, p.text, p.response) for p in pairs] == [
        ("7", "Great food.", "a\nb"), ("8", "Slow.", "c")]


def test_simple_layout_and_missing_id(tmp_path):
    path = _write(tmp_path / "c.jsonl", [json.dumps({"text": "t", "response": "r"}),
                                         json.dumps({"id": "x", "text": "u", "response": "s"})])
    assert [(p.id, p.text) for p in read_corpus(path)] == [("1", "t"), ("x", "u")]


@pytest.mark.parametrize("line, field", [
    ('{"text": "t"}', "response"),
    ('{"response": "r"}', "text"),
    ('{"Text": "t", "a_response": "x", "b_response": "y"}', "response"),
    ('{"text": "  ", "response": "r"}', "text"),
])
def test_errors_name_file_line_and_field(tmp_path, line, field):
    path = _write(tmp_path / "c.jsonl", [json.dumps({"text": "ok", "response": "ok"}), line])
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert info.value.line == 2 and field in info.value.field and str(path) in str(info.value)


def test_distill_error_rows_are_left_out_and_counted(tmp_path, capsys):
    path = _write(tmp_path / "c.jsonl", [
        json.dumps({"id": "a", "text": "t", "response": "r", "error": None}),
        json.dumps({"id": "b", "text": "u", "response": None, "error": "teacher failed 3 times"})])
    assert [p.id for p in read_corpus(path)] == ["a"]
    assert "1 error rows left out (first at line 2)" in capsys.readouterr().err


def test_bad_json_and_empty_corpus(tmp_path):
    with pytest.raises(InputError, match="line 1"):
        read_corpus(_write(tmp_path / "a.jsonl", ["{nope"]))
    with pytest.raises(InputError, match="no pairs"):
        read_corpus(_write(tmp_path / "b.jsonl", [""]))
    with pytest.raises(InputError, match="no such file"):
        read_corpus(tmp_path / "missing.jsonl")


def test_task_spec():
    data = TaskData.parse("ASTE:a/train.txt:a/dev.txt")
    assert data.task.name == "aste" and str(data.train) == "a/train.txt"
    with pytest.raises(TrainingError, match="TASK:TRAIN:DEV"):
        TaskData.parse("atsa:only-train")
    with pytest.raises(Exception, match="unknown task"):
        TaskData.parse("nope:a:b")


@pytest.mark.data
def test_reads_the_shared_teacher_samples(data_dir):
    pairs = read_corpus(data_dir / "teacher-samples" / "mixtral_500.jsonl")
    assert len(pairs) == 500
    assert all(p.text.strip() and p.response.strip() for p in pairs)
    assert any("\n" in p.response for p in pairs)


def test_student_is_registered_light():
    from fsa_edge.plugins import describe_plugins, registry

    students = registry().students
    assert "seq2seq" in students
    assert students["seq2seq"].requires == ("torch", "transformers")
    record = next(r for r in describe_plugins() if r["name"] == "seq2seq")
    assert record["builtin"] and record["students"][0]["extra"] == "train"
    assert "register_students" in record["hooks"]  # its commands come with the student
    assert students["seq2seq"].command().name == "seq2seq"


def test_plugin_and_train_help_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, fsa_edge_seq2seq, fsa_edge.training\n"
            "from fsa_edge.cli import build_cli\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(build_cli(), ['train', 'seq2seq', 'finetune', '--help'])\n"
            "assert r.exit_code == 0 and '--train-fraction' in r.output, r.output\n"
            "assert 'fsa_edge_seq2seq' in sys.modules\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
