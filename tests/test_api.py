"""The Python API: model lookup, backend choice, analyze forms."""

from __future__ import annotations

import inspect

import pytest

import fsa_edge
from fsa_edge import AnalysisResult, BackendError, ModelNotFoundError, Review


def test_unknown_model_lists_known_aliases(keyword_model):
    with pytest.raises(ModelNotFoundError) as info:
        fsa_edge.load("no-such-model")
    assert "keyword-test" in str(info.value) and "default" in str(info.value)


def test_unknown_backend_lists_backends(keyword_model):
    with pytest.raises(BackendError, match="keyword"):
        fsa_edge.load(keyword_model, backend="nope")


def test_directory_alias_and_analyze_forms(keyword_model):
    for model in (keyword_model, "keyword-test"):
        analyzer = fsa_edge.load(model)
        one = analyzer.analyze("The food was great.")
        assert isinstance(one, AnalysisResult)
        assert [(e.aspect, e.aspect_span, e.polarity, e.score) for e in one.elements] == \
            [("food", (4, 8), "positive", 0.9)]
    many = analyzer.analyze(["service", Review("x", "bread and food")])
    assert [r.id for r in many] == ["0", "x"]
    assert [e.aspect for e in many[1].elements] == ["bread", "food"]
    stream = analyzer.analyze_iter(f"food {i}" for i in range(70))
    assert not isinstance(stream, list)
    assert [r.id for r in stream] == [str(i) for i in range(70)]


def test_a_backend_crash_costs_only_the_failing_reviews_row(keyword_model):
    analyzer = fsa_edge.load(keyword_model, batch_size=3)
    results = analyzer.analyze(["food", "BOOM", "service", "bread BOOM"])
    assert [r.error is None for r in results] == [True, False, True, False]  # nothing lost
    assert "kaboom" in results[1].error and "kaboom" in results[3].error
    assert [e.aspect for e in results[0].elements] == ["food"]  # its batch failed, it did not
    assert [e.aspect for e in results[2].elements] == ["service"]


def test_one_default_batch_size_for_the_sdk_the_cli_and_ray(keyword_model):
    from fsa_edge.cli import build_cli
    from fsa_edge.ray.analyze import analyze_dataset, analyze_file
    from fsa_edge.readers.jsonl import DEFAULT_BATCH_SIZE

    assert fsa_edge.load(keyword_model).batch_size == DEFAULT_BATCH_SIZE
    option = next(p for p in build_cli().commands["analyze"].params if p.name == "batch_size")
    assert option.default == DEFAULT_BATCH_SIZE
    for function in (analyze_dataset, analyze_file):
        assert inspect.signature(function).parameters["batch_size"].default == DEFAULT_BATCH_SIZE


def test_result_json_round_trip():
    result = AnalysisResult("1", "t", "atsa", (fsa_edge.SentimentElement(
        "positive", aspect="t", aspect_span=(0, 1), score=0.5),), model="m")
    assert AnalysisResult.from_dict(result.to_dict()) == result


def test_package_exports_what_a_user_calls():
    import subprocess
    import sys

    exported = set(fsa_edge.__all__)
    assert {"load", "Analyzer", "read_dataset", "evaluate", "hookimpl", "__version__",
            "Backend", "GenerativeBackend", "Student", "Teacher", "FsaEdgeError",
            "UnknownTaskError"} <= exported
    for name in fsa_edge.__all__:
        assert getattr(fsa_edge, name) is not None, name
    for dropped in ("Task", "ParseResult", "get_task", "task_names", "resolve_model",
                    "ModelCard", "POLARITIES"):
        assert dropped not in exported
    from fsa_edge.teaching import Teacher
    from fsa_edge.training import Student
    assert (fsa_edge.Student, fsa_edge.Teacher) == (Student, Teacher)
    light = subprocess.run([sys.executable, "-c", "import sys, fsa_edge; "
                            "print(sorted({'torch', 'transformers'} & set(sys.modules)))"],
                           capture_output=True, text=True)
    assert light.returncode == 0 and light.stdout.strip() == "[]", light.stderr
