"""An MPNet tagger converts to CTranslate2 through the registry, gated on parity: relative attention
bias, and the absolute positions as a second input stream the runtime feeds (card field
``tagger.position_input``). On a tiny MPNet tagger: a random encoder, heads fitted to a toy
gold (:mod:`tiny_mpnet`)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tiny_mpnet import SENTENCES, build_mpnet_tagger, gold

from fsa_edge.card import ModelCard
from fsa_edge.errors import ConversionError
from fsa_edge_converters import convert, converter_for, supported_architectures
from fsa_edge_tagger.conversion import MPNetTaggerConverter

TEXTS = list(SENTENCES)
HIDDEN_NOTE = re.compile(r"last hidden states: max \|Δ\| (\S+) on (\d+) samples")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    for module in ("torch", "transformers", "ctranslate2"):
        pytest.importorskip(module)
    return build_mpnet_tagger(tmp_path_factory.mktemp("mpnet") / "tagger")


@pytest.fixture(scope="module")
def float32(source, tmp_path_factory):
    output = tmp_path_factory.mktemp("f32") / "model"
    return output, convert(source, output, quantization="float32", texts=TEXTS,
                           log=lambda m: None)


def _elements(analyzer, task):
    return [[(e.aspect, e.aspect_span, e.category, e.polarity) for e in r.elements]
            for r in analyzer.analyze(TEXTS, task=task)]


def _hidden_note(report) -> float:
    (match,) = [m for m in map(HIDDEN_NOTE.match, report.notes) if m]
    assert int(match.group(2)) == len(TEXTS)
    return float(match.group(1))


def test_the_registry_picks_the_mpnet_converter_for_an_mpnet_tagger(source, tmp_path):
    assert "MPNetConfig+heads.npz" in supported_architectures()
    assert "MPNetConfig" not in supported_architectures()  # a plain MPNet is not the tagger
    assert type(converter_for("MPNetConfig", source)) is MPNetTaggerConverter
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text((source / "config.json").read_text())
    with pytest.raises(ConversionError, match="unsupported architecture MPNetConfig"):
        converter_for("MPNetConfig", plain)


def test_float32_passes_the_gate_and_serves_what_torch_serves(source, float32):
    import fsa_edge
    import torch
    from transformers import AutoModel

    from fsa_edge_tagger.runtime import ctranslate2_encoder, load_tokenizer
    from fsa_edge_tagger.training import torch_encoder

    output, report = float32
    assert report.architecture == "MPNetConfig"
    assert report.parity.passed and report.parity.greedy_agreement == 1.0
    assert report.parity.max_abs_delta <= 1e-3  # label log-probs
    assert _hidden_note(report) <= 1e-3
    card = ModelCard.load(output)
    assert card.backend == "tagger" and card.quantization == "float32"
    assert card.extra["tagger"]["position_input"] is True
    assert card.extra["tagger"]["categories"] == ModelCard.load(source).extra["tagger"][
        "categories"]
    assert card.extra["conversion_notes"] == list(report.notes)

    # the hidden states of a padded batch, measured here rather than by the gate
    tokenizer = load_tokenizer(source, card.max_input_length)
    tokens = [e.tokens for e in tokenizer.encode_batch(TEXTS)]
    model = AutoModel.from_pretrained(str(source), dtype=torch.float32).eval()
    ref = torch_encoder(model, tokenizer, "cpu")(tokens)
    got = ctranslate2_encoder(output, device="cpu", compute_type="float32", threads=1,
                              position_input=True)(tokens)
    assert len({len(t) for t in tokens}) > 1
    for row, length in enumerate(len(t) for t in tokens):
        assert np.abs(ref[row, :length] - got[row, :length]).max() <= 1e-3

    converted, served = fsa_edge.load(output, device="cpu"), fsa_edge.load(source, device="cpu")
    assert converted.backend.compute_type == "float32"
    assert served.backend.compute_type == "torch-float32"  # the unconverted source, by torch
    for task in ("atsa", "acsa"):
        assert _elements(converted, task) == _elements(served, task)
    assert _elements(converted, "atsa") == _gold_terms()  # what the heads were fitted to


def _gold_terms():
    return [[(text[s:e], (s, e), None, p) for s, e, p in gold(text)[0]] for text in TEXTS]


def test_int8_passes_the_gate_and_runs_without_torch(source, tmp_path):
    from test_default_model import run_blocked

    report = convert(source, tmp_path / "i8", quantization="int8", texts=TEXTS,
                     log=lambda m: None)
    assert report.parity.passed and report.parity.greedy_agreement >= 0.8
    assert ModelCard.load(tmp_path / "i8").extra["tagger"]["position_input"] is True
    ran = run_blocked(f"import fsa_edge\na = fsa_edge.load({str(tmp_path / 'i8')!r})\n"
                      f"r = a.analyze({TEXTS[:3]!r}, task='atsa')\n"
                      "print([[(e.aspect, e.polarity) for e in x.elements] for x in r])\n"
                      "import sys; print('torch' in sys.modules)")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines() == [
        repr([[(a, p) for a, _, _, p in row] for row in _gold_terms()[:3]]), "False"]


class WithoutPositions(MPNetTaggerConverter):
    """The spec as it should be, but the positions stream neither fed nor carded."""

    position_input = False


class OneCorruptWeight(MPNetTaggerConverter):
    """The second layer's FFN output weight scaled by 1.01."""

    def encoder_spec(self, model, tokenizer):
        spec = super().encoder_spec(model, tokenizer)
        ffn = spec.encoder.layer[1].ffn.linear_1
        ffn.weight = ffn.weight * 1.01
        return spec


@pytest.mark.parametrize("wrong", [WithoutPositions, OneCorruptWeight])
def test_a_wrong_mapping_fails_the_gate_and_removes_the_output(source, tmp_path, monkeypatch,
                                                               wrong):
    import fsa_edge_converters.pipeline as pipeline

    monkeypatch.setattr(pipeline, "converter_for", lambda name, path: wrong())
    with pytest.raises(ConversionError, match=r"parity gate failed.*float32 max \|Δ label "
                                              r"log-prob\|.*float32 max \|Δ hidden state\|"):
        convert(source, tmp_path / "wrong", quantization="float32", texts=TEXTS,
                log=lambda m: None)
    assert not (tmp_path / "wrong").exists()
