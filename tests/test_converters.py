"""fsa-edge convert: round trip, parity gate (pass and fail), refusal to overwrite, registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

from click.testing import CliRunner  # noqa: E402

from fsa_edge.card import ModelCard  # noqa: E402
from fsa_edge.cli import build_cli  # noqa: E402
from fsa_edge.errors import ConversionError, InputError  # noqa: E402
from fsa_edge_converters import (BUILTIN_SAMPLES, ParityThresholds, convert,  # noqa: E402
                                 converter_for, load_samples, weights_checksum)
from fsa_edge_ctranslate2.conversion import check_parity  # noqa: E402
from tiny_models import cached_conversion, cached_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny_models"


@pytest.fixture(scope="session")
def bart(tiny_root) -> Path:
    return cached_tiny_model("bart", tiny_root)


@pytest.fixture(scope="session")
def t5(tiny_root) -> Path:
    return cached_tiny_model("t5", tiny_root)


@pytest.mark.parametrize("kind", ["t5", "bart"])
def test_float32_round_trip_passes_the_parity_gate(kind, tiny_root):
    output = cached_conversion(kind, tiny_root, "float32")
    source = tiny_root / f"tiny_{kind}"
    for name in ("model.bin", "tokenizer.json", "tokenizer_config.json", "fsa_edge.json"):
        assert (output / name).is_file(), name
    card = ModelCard.load(output)
    source_card = ModelCard.load(source)
    assert card.backend == "ctranslate2" and card.quantization == "float32"
    assert card.tasks == source_card.tasks
    assert card.max_output_length == source_card.max_output_length
    parity = card.extra["parity"]
    assert parity["passed"] and parity["max_abs_delta"] <= 1e-3
    assert parity["greedy_agreement"] == 1.0 and parity["tokens"] > parity["samples"]
    assert card.extra["source"]["sha256"] == weights_checksum(source)


def test_int8_parity_is_measured_and_reported(tiny_root):
    output = cached_conversion("bart", tiny_root, "int8")
    card = ModelCard.load(output)
    assert card.quantization == "int8"
    parity = card.extra["parity"]
    # int8 really differs from float32, by a bounded amount on a trained tiny model
    assert 0 < parity["mean_abs_delta"] < 1.0
    assert 0.0 <= parity["greedy_agreement"] <= 1.0
    assert (output / "model.bin").stat().st_size < (
        tiny_root / "ct2_bart_float32" / "model.bin").stat().st_size \
        if (tiny_root / "ct2_bart_float32").exists() else True


def test_failing_gate_is_an_error_through_the_cli(bart, tmp_path):
    # int8 differs from torch by more than a zero tolerance: exit 2, output removed
    output = tmp_path / "out"
    result = CliRunner().invoke(build_cli(), ["convert", str(bart), str(output),
                                              "--quantization", "int8", "--max-mean-delta", "0"])
    assert result.exit_code == 2, result.output
    assert "parity gate failed" in result.output and "mean |Δ log-prob|" in result.output
    assert not output.exists()


def test_perturbed_converted_model_fails_parity(t5, tiny_root, tmp_path):
    # a converted model whose weights are not the source's (same shape, other random init)
    from tokenizers import Tokenizer

    from tiny_models import build_t5

    other = build_t5(tmp_path / "other", seed=7,
                     tokenizer=Tokenizer.from_file(str(t5 / "tokenizer.json")))
    perturbed = tmp_path / "perturbed"
    convert(other, perturbed, quantization="float32", log=lambda m: None,
            thresholds=ParityThresholds(min_agreement=0.0))
    report = check_parity(t5, perturbed, BUILTIN_SAMPLES, quantization="float32")
    assert not report.passed
    assert report.max_abs_delta > 1e-3 and report.tokenization_mismatches == 0
    good = check_parity(t5, cached_conversion("t5", tiny_root), BUILTIN_SAMPLES,
                        quantization="float32")
    assert good.passed and good.max_abs_delta <= 1e-3


def test_failed_gate_with_force_keeps_the_model_and_records_the_failure(bart, tmp_path):
    output = tmp_path / "out"
    report = convert(bart, output, quantization="int8", force=True,
                     thresholds=ParityThresholds(quantized_mean_abs=0.0), log=lambda m: None)
    assert not report.parity.passed and "mean |Δ log-prob|" in report.parity.failures[0]
    assert ModelCard.load(output).extra["parity"]["passed"] is False


def test_tokenizer_mismatch_fails_the_gate(t5, bart, tmp_path):
    # the T5 model shipped with the BART tokenizer.json: runtime and HF tokenization differ
    source = tmp_path / "mismatch"
    shutil.copytree(t5, source)
    shutil.copy(bart / "tokenizer.json", source / "tokenizer.json")
    with pytest.raises(ConversionError):
        convert(source, tmp_path / "out", quantization="float32", log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_without_force(t5, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        convert(t5, output, quantization="float32")
    result = CliRunner().invoke(build_cli(), ["convert", str(t5), str(output)])
    assert result.exit_code == 2 and "--force" in result.output
    assert (output / "keep.txt").read_text() == "mine"


def test_unknown_architecture_lists_the_supported_ones(tmp_path):
    source = tmp_path / "gpt2"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    result = CliRunner().invoke(build_cli(), ["convert", str(source), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "unsupported architecture GPT2Config" in result.output
    assert "BartConfig" in result.output and "T5Config" in result.output
    with pytest.raises(ConversionError, match="supported: "):
        converter_for("NopeConfig")


def test_samples_file_errors_name_the_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"text": "fine"}\n{"text": 3}\n')
    with pytest.raises(InputError, match="line 2"):
        load_samples(path)
    path.write_text('{"text": "one"}\n\n{"text": "two"}\n')
    assert load_samples(path) == ["one", "two"]
