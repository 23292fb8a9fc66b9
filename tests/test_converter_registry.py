"""Converters come from plugins (hook ``register_converters``); the pipeline runs the same steps
for each; first-party plugins import no other plugin."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from fsa_edge.card import ModelCard
from fsa_edge.errors import ConversionError, PluginError
from fsa_edge.plugins import describe_plugins, registry
from conftest import registered_plugin
from fsa_edge_converters import (ArchitectureConverter, ParityThresholds, convert, converter_for,
                                 parity_report, supported_architectures, weights_checksum)

ROOT = Path(__file__).resolve().parents[1]


class FakeConverter(ArchitectureConverter):
    """Converts a GPT-2 config directory by writing a stub ``model.bin``; parity as told."""

    config_name = "GPT2Config"
    backend = "fake-backend"
    requires = ()
    delta = 0.0
    steps: list[str] = []

    def load(self, source, config):
        super().load(source, config)
        self.steps.append("load")

    def validate(self):
        self.steps.append("validate")
        self.notes.append("validated by the fake")

    def convert_weights(self, output, quantization):
        self.steps.append("convert_weights")
        output.mkdir(parents=True, exist_ok=True)
        (output / "model.bin").write_bytes(quantization.encode())

    def parity(self, output, texts, *, quantization, thresholds, device):
        self.steps.append("parity")
        assert (output / "tokenizer.json").is_file()  # the files were copied before the gate
        return parity_report([self.delta] * len(texts), [True] * len(texts),
                             quantization=quantization, thresholds=thresholds)


class MarkedConverter(FakeConverter):
    marker_file = "extra.npz"
    backend = "marked-backend"


@contextmanager
def plugin_registering(*converters: type, name: str = "test-converters"):
    """A fake plugin that registers ``converters`` through the hook, unregistered after."""
    def register_converters(register):
        for converter in converters:
            register(converter)

    with registered_plugin(name, register_converters=register_converters) as plugin:
        yield plugin


@pytest.fixture
def gpt2_source(tmp_path: Path) -> Path:
    pytest.importorskip("transformers")
    source = tmp_path / "gpt2"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    (source / "tokenizer.json").write_text("{}")
    (source / "model.safetensors").write_bytes(b"not really weights")
    ModelCard(tasks=("atsa", "acsa"), max_output_length=64, extra={"stage": "finetune"}).save(
        source)
    FakeConverter.steps = []
    FakeConverter.delta = 0.0
    return source


def test_register_converter_adds_an_architecture():
    class TestOnly(ArchitectureConverter):
        config_name = "TestOnlyConfig"

    assert "TestOnlyConfig" not in supported_architectures()
    with plugin_registering(TestOnly):
        assert "TestOnlyConfig" in supported_architectures()
        assert isinstance(converter_for("TestOnlyConfig"), TestOnly)
        assert registry().owners[("converter", "TestOnlyConfig")] == "test-converters"
    assert "TestOnlyConfig" not in supported_architectures()


def test_convert_runs_a_plugin_converter_through_the_fixed_steps(gpt2_source, tmp_path):
    with pytest.raises(ConversionError, match="unsupported architecture GPT2Config"):
        convert(gpt2_source, tmp_path / "none", log=lambda m: None)
    output = tmp_path / "out"
    with plugin_registering(FakeConverter):
        report = convert(gpt2_source, output, quantization="float32", log=lambda m: None)
    assert FakeConverter.steps == ["load", "validate", "convert_weights", "parity"]
    assert report.architecture == "GPT2Config" and report.parity.passed
    assert report.notes == ("validated by the fake",)
    assert (output / "model.bin").read_bytes() == b"float32"
    card = ModelCard.load(output)  # built once, by the pipeline
    assert card.backend == "fake-backend" and card.quantization == "float32"
    assert card.tasks == ("atsa", "acsa") and card.max_output_length == 64
    assert card.extra["stage"] == "finetune"
    assert card.extra["source"]["sha256"] == weights_checksum(gpt2_source)
    assert card.extra["source"]["architecture"] == "GPT2Config"
    assert card.extra["conversion_notes"] == ["validated by the fake"]


def test_a_failed_gate_removes_the_output_unless_forced(gpt2_source, tmp_path):
    FakeConverter.delta = 1.0
    with plugin_registering(FakeConverter):
        with pytest.raises(ConversionError, match=re.escape("float32 max |Δ log-prob| 1 > 0.001")):
            convert(gpt2_source, tmp_path / "out", quantization="float32", log=lambda m: None)
        assert not (tmp_path / "out").exists()
        report = convert(gpt2_source, tmp_path / "out", quantization="float32", force=True,
                         thresholds=ParityThresholds(), log=lambda m: None)
    assert not report.parity.passed
    assert ModelCard.load(tmp_path / "out").extra["parity"]["passed"] is False


def test_a_marker_file_picks_the_marked_converter(gpt2_source, tmp_path):
    with plugin_registering(FakeConverter, MarkedConverter):
        assert {"GPT2Config", "GPT2Config+extra.npz"} <= set(supported_architectures())
        assert type(converter_for("GPT2Config", gpt2_source)) is FakeConverter
        (gpt2_source / "extra.npz").write_bytes(b"")
        assert type(converter_for("GPT2Config", gpt2_source)) is MarkedConverter
        convert(gpt2_source, tmp_path / "out", quantization="float32", log=lambda m: None)
    assert ModelCard.load(tmp_path / "out").backend == "marked-backend"


def test_a_converter_key_registered_twice_names_both_plugins():
    class OtherBart(ArchitectureConverter):
        config_name = "BartConfig"

    with plugin_registering(OtherBart, name="rival"):
        with pytest.raises(PluginError, match="'BartConfig' registered twice.*'ctranslate2'.*'rival'"):
            registry()


def test_first_party_plugins_register_the_converters():
    supported = supported_architectures()
    assert {"BartConfig", "MarianConfig", "T5Config", "BertConfig+heads.npz",
            "MPNetConfig+heads.npz"} <= set(supported)
    assert "BertConfig" not in supported  # a plain BERT is not the tagger
    records = {p["name"]: p for p in describe_plugins()}
    assert [c["name"] for c in records["ctranslate2"]["converters"]] == [
        "BartConfig", "MarianConfig", "T5Config"]
    assert [c["name"] for c in records["tagger"]["converters"]] == [
        "BertConfig+heads.npz", "MPNetConfig+heads.npz"]
    assert "register_converters" in records["tagger"]["hooks"]


IMPORT = re.compile(r"^\s*(?:from|import)\s+(fsa_edge_\w+)", re.MULTILINE)


def test_no_first_party_plugin_imports_another():
    offenders = []
    packages = [(path, path.name) for path in sorted((ROOT / "plugins").glob("fsa_edge_*"))]
    packages.append((ROOT / "converters", "fsa_edge_converters"))
    assert len(packages) > 4
    for package, own in packages:
        allowed = {own, "fsa_edge_converters"} if package.parent.name == "plugins" else {own}
        for path in sorted(package.rglob("*.py")):
            for module in IMPORT.findall(path.read_text(encoding="utf-8")):
                if module not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, offenders


def test_each_task_of_a_multi_task_model_is_judged_on_its_own():
    thresholds = ParityThresholds(min_agreement=0.8)
    # two tasks that each disagree on a different sample: 3 of 5 samples fully agree (0.6),
    # yet each task agrees on 4 of 5 (0.8) and passes
    agree = {"atsa": [True, True, True, True, False], "acsa": [False, True, True, True, True]}
    report = parity_report([0.01], agree, quantization="int8", thresholds=thresholds)
    assert report.passed and report.samples == 5
    assert report.agreement_by_task == {"atsa": 0.8, "acsa": 0.8}
    agree["aste"] = [True, False, False, True, True]
    report = parity_report([0.01], agree, quantization="int8", thresholds=thresholds)
    assert not report.passed and report.greedy_agreement == 0.6  # the lowest task's share
    assert report.failures == ("greedy agreement 0.60 < 0.8 (aste)",)
    plain = parity_report([0.01], [True, False], quantization="int8", thresholds=thresholds)
    assert plain.greedy_agreement == 0.5 and plain.agreement_by_task == {}
