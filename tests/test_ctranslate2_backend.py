"""The ctranslate2 backend: batching order, API and CLI end to end on converted tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

from click.testing import CliRunner  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fsa_edge  # noqa: E402
from fsa_edge.cli import build_cli  # noqa: E402
from fsa_edge.errors import BackendError, ModelNotFoundError  # noqa: E402
from fsa_edge.runtime import plan_batches, resolve_compute_type, run_sorted  # noqa: E402
from fsa_edge_ctranslate2 import CTranslate2Backend  # noqa: E402
from tiny_models import cached_conversion  # noqa: E402

TEXTS = ["The Pizza was great but the service was rude.", "Their wine is awful!",
         "I found the decor bad.", "Fish excellent, staff slow.",
         "Loved how delicious the sushi was, though the waiter was slow.", "Coffee good."]


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny_models"


@pytest.fixture(scope="session", params=["t5", "bart"])
def ct2_model(request, tiny_root) -> Path:
    return cached_conversion(request.param, tiny_root, "float32")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 120), st.integers(1, 8))
def test_plan_batches_covers_every_input_once_within_budget(lengths, budget, size):
    batches = plan_batches(lengths, budget, size)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= size
        assert len(batch) == 1 or max(max(1, lengths[i]) for i in batch) * len(batch) <= budget
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # shortest first


def test_run_sorted_restores_input_order():
    items = ["ccc", "a", "bb", "dddd", "a"]
    seen = []

    def run(batch):
        seen.append(list(batch))
        return [item.upper() for item in batch]

    out = run_sorted(items, [len(i) for i in items], run, max_batch_tokens=4)
    assert out == [i.upper() for i in items]
    assert seen[0] == ["a", "a"]  # it really sorted


def test_generate_restores_order_across_small_batches(ct2_model):
    sorted_small = CTranslate2Backend(ct2_model, device="cpu", max_batch_tokens=16,
                                      cpu_threads=1)
    one_batch = CTranslate2Backend(ct2_model, device="cpu", max_batch_tokens=100000,
                                   cpu_threads=1)
    single = [sorted_small.generate([t])[0].text for t in TEXTS]
    assert [g.text for g in sorted_small.generate(TEXTS)] == single
    assert [g.text for g in one_batch.generate(TEXTS)] == single
    for generation in one_batch.generate(TEXTS):
        assert 0.0 < generation.score <= 1.0


def test_load_analyses_with_spans_in_the_original_text(ct2_model):
    analyzer = fsa_edge.load(ct2_model, device="cpu")
    assert analyzer.backend.name == "ctranslate2"
    assert analyzer.backend.compute_type == "float32"
    results = analyzer.analyze(TEXTS)
    assert [r.text for r in results] == TEXTS
    found = [e for r in results for e in r.elements]
    assert found, "the trained tiny model finds aspects"
    for result in results:
        for element in result.elements:
            start, end = element.aspect_span
            # the uncased BART writes 'pizza'; the span points at 'Pizza' in the text
            assert result.text[start:end].lower() == element.aspect.lower()
            assert result.text[start:end] == element.aspect
            assert 0.0 < element.score <= 1.0


def test_analyze_cli_gives_one_line_per_input_line(ct2_model, tmp_path):
    lines = [json.dumps({"id": "a", "text": TEXTS[0]}), "{not json", json.dumps({"id": "b"}),
             json.dumps({"id": "c", "text": TEXTS[1]}), "", json.dumps({"id": "d", "text": TEXTS[2]})]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(build_cli(), ["analyze", str(path), "--model", str(ct2_model),
                                              "--batch-size", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines)  # bad and blank lines become error records, in place
    assert [r.get("error") is None for r in rows] == [True, False, False, True, False, True]
    assert [r["id"] for r in rows if r.get("error") is None] == ["a", "c", "d"]
    assert any(r["elements"] for r in rows if r.get("error") is None)


def test_unknown_alias_lists_the_aliases():
    with pytest.raises(ModelNotFoundError, match="known aliases: .*default"):
        fsa_edge.load("no-such-model-anywhere")


def test_not_a_ct2_model_is_a_backend_error(tmp_path):
    (tmp_path / "fsa_edge.json").write_text(json.dumps({"backend": "ctranslate2"}))
    with pytest.raises(BackendError, match="model.bin"):
        fsa_edge.load(tmp_path, device="cpu")


def test_compute_type_follows_the_quantization_and_device():
    assert resolve_compute_type("auto", "int8", "cpu") == "int8"
    assert resolve_compute_type("auto", "int8", "cuda") == "int8_float16"
    assert resolve_compute_type("auto", "float16", "cpu") == "float32"
    assert resolve_compute_type("auto", "float32", "cuda") == "float32"
    assert resolve_compute_type("int8_float32", "float32", "cpu") == "int8_float32"


def test_can_load_needs_model_bin(ct2_model, tmp_path):
    assert CTranslate2Backend.can_load(ct2_model)
    assert not CTranslate2Backend.can_load(tmp_path)


def test_old_thread_option_name_still_works_with_a_deprecation_warning(ct2_model):
    with pytest.warns(DeprecationWarning, match="'intra_threads' is deprecated; use 'cpu_threads'"):
        backend = CTranslate2Backend(ct2_model, device="cpu", intra_threads=1)
    assert backend.cpu_threads == 1 and "intra_threads" not in backend.options
    with pytest.warns(DeprecationWarning), pytest.raises(BackendError, match="disagree"):
        CTranslate2Backend(ct2_model, device="cpu", cpu_threads=2, intra_threads=1)


@pytest.mark.parametrize("option, value", [("max_batch_size", 0), ("max_batch_size", "many"),
                                           ("max_batch_tokens", -4), ("beam_size", 1.5)])
def test_a_batch_option_below_one_is_refused_naming_it(ct2_model, option, value):
    with pytest.raises(BackendError, match=f"'{option}' must be a whole number of at least 1, "
                                           f"not {value!r}"):
        fsa_edge.load(ct2_model, device="cpu", **{option: value})
    assert CTranslate2Backend(ct2_model, device="cpu", max_batch_size="8").max_batch_size == 8


def test_the_token_counter_keeps_what_it_counted_for_encode_and_nothing_it_would_cut():
    from fsa_edge.runtime import TokenCounter
    from tiny_models import CountingTokenizer, train_wordpiece

    tokenizer = train_wordpiece()
    tokenizer.enable_truncation(max_length=6)
    counting = CountingTokenizer(tokenizer)  # the cutting tokenizer, counting what it encodes
    counter = TokenCounter(counting)
    short, long_ = "the pizza was great", "the pizza was great but the service was slow"
    lengths = counter([short, long_])
    assert lengths[0] <= 6 < lengths[1]  # uncut counts
    assert counter.encode([short])[0].ids == tokenizer.encode(short).ids and counting.texts == []
    assert counter.encode([short, long_])[1].ids == tokenizer.encode(long_).ids  # cut at 6
    assert counting.texts == [short, long_]  # the long one was never kept; the short one was used
    counter([short])
    counter([long_])  # a single text adds to the kept ones
    counter([])  # any other count replaces them
    counter.encode([short])
    assert counting.texts[-1] == short
