"""The transformers backend, and its agreement with the converted CTranslate2 model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

import fsa_edge  # noqa: E402
from fsa_edge_ctranslate2 import CTranslate2Backend  # noqa: E402
from fsa_edge_transformers import TransformersBackend  # noqa: E402
from tiny_models import cached_conversion, cached_tiny_model, synthetic_examples  # noqa: E402

TEXTS = [text for text, _ in synthetic_examples(24, seed=99)] + [
    "The Pizza was great but the service was rude.", "Nothing to say.", "Wine!"]


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny_models"


@pytest.mark.parametrize("kind", ["t5", "bart"])
def test_transformers_and_ctranslate2_float32_agree_on_greedy_outputs(kind, tiny_root):
    hf = cached_tiny_model(kind, tiny_root)
    ct2 = cached_conversion(kind, tiny_root, "float32")
    torch_backend = TransformersBackend(hf, device="cpu", max_batch_size=8)
    ct2_backend = CTranslate2Backend(ct2, device="cpu", cpu_threads=1)
    reference = torch_backend.generate(TEXTS)
    converted = ct2_backend.generate(TEXTS)
    assert [g.text for g in converted] == [g.text for g in reference]
    # Same definition (geometric-mean token probability, end token included). Known gap, cause
    # not found: although teacher-forced log-probs agree to ~1e-6 (parity gate), the sequence
    # scores of greedy decoding differ by ~1e-3 on some inputs and, on one tiny BART built in
    # a CI run, by 0.0204. Bounded here per sample and on average.
    gaps = [abs(a.score - b.score) for a, b in zip(reference, converted)]
    assert max(gaps) <= 0.05 and sum(gaps) / len(gaps) <= 0.01, gaps
    assert len({g.text for g in reference}) > 3, "outputs are not degenerate"


def test_load_picks_the_transformers_backend_for_a_hf_directory(tiny_root):
    hf = cached_tiny_model("t5", tiny_root)
    assert TransformersBackend.can_load(hf)
    assert not CTranslate2Backend.can_load(hf)
    with fsa_edge.load(hf, device="cpu") as analyzer:
        assert analyzer.backend.name == "transformers"
        result = analyzer.analyze("The Pizza was great but the service was rude.")
    assert result.error is None
    assert all(e.aspect_span is not None for e in result.elements)


def test_old_threads_option_name_still_works_with_a_deprecation_warning(tiny_root):
    import torch

    hf = cached_tiny_model("t5", tiny_root)
    with pytest.warns(DeprecationWarning, match="'threads' is deprecated; use 'cpu_threads'"):
        backend = TransformersBackend(hf, device="cpu", threads=torch.get_num_threads())
    assert "threads" not in backend.options
