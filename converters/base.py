"""What a converter is: one architecture's part of the fixed conversion pipeline.

Plugins register converter classes through the ``register_converters`` hook. The pipeline
(:func:`fsa_edge_converters.convert`) picks one by the Hugging Face config class of the source and
runs the same steps for every architecture, calling the converter for what differs:
``load`` → ``validate`` → ``convert_weights`` → copy ``files`` → ``parity`` → the card, which
the pipeline writes (its ``backend`` from the converter, its free-form fields through
``card_extra``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from fsa_edge.runtime import TOKENIZER_FILES

from .parity import ParityReport, ParityThresholds


class ArchitectureConverter:
    """Base class of the converters plugins register (an instance serves one conversion).

    ``config_name``: the Hugging Face config class converted (``"BartConfig"``), the registry
    key. ``marker_file``: a file whose presence in the source picks this converter rather than
    the plain one of the same config (key ``"BertConfig+heads.npz"``). ``backend``: the backend
    named in the converted model's card. ``files``: files copied beside the converted weights
    when the source has them. ``agreement``: what the parity report's agreement counts.
    ``requires`` / ``extra``: the import names a conversion needs and the extra installing them.
    """

    config_name: ClassVar[str] = ""
    marker_file: ClassVar[str | None] = None
    backend: ClassVar[str] = "ctranslate2"
    files: ClassVar[tuple[str, ...]] = TOKENIZER_FILES
    agreement: ClassVar[str] = "greedy agreement"
    requires: ClassVar[tuple[str, ...]] = ("torch", "transformers", "ctranslate2")
    extra: ClassVar[str | None] = "train"
    description: ClassVar[str] = ""

    def __init__(self) -> None:
        self.source = Path()
        self.config: Any = None
        self.notes: list[str] = []  # what was patched on the way, reported and carded

    def load(self, source: Path, config: Any) -> None:
        """Step 2: load what the later steps need (``config`` is the source's HF config)."""
        self.source, self.config = Path(source), config

    def validate(self) -> None:
        """Step 3: raise :class:`ConversionError` for a model that cannot convert faithfully
        (after patching what CTranslate2 needs, noted in ``notes``)."""

    def convert_weights(self, output: Path, quantization: str) -> None:
        """Step 4: CTranslate2's ``TransformersConverter`` over the source, writing ``output``;
        it is handed ``model_to_convert`` and ``tokenizer_to_convert``."""
        import ctranslate2.converters

        owner = self

        class _Converter(ctranslate2.converters.TransformersConverter):
            def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
                return owner.model_to_convert(
                    functools.partial(super().load_model, model_class, name, **kwargs))

            def load_tokenizer(self, tokenizer_class: Any, name: str, **kwargs: Any) -> Any:
                return owner.tokenizer_to_convert(
                    functools.partial(super().load_tokenizer, tokenizer_class, name, **kwargs))

        _Converter(str(self.source)).convert(str(output), quantization=quantization, force=True)

    def model_to_convert(self, load: Callable[[], Any]) -> Any:
        """The model CTranslate2 converts; ``load()`` is its own loading from the source."""
        return load()

    def tokenizer_to_convert(self, load: Callable[[], Any]) -> Any:
        """The tokenizer CTranslate2 reads special tokens from; ``load()`` as above."""
        return load()

    def card_extra(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Step 7: the free-form fields of the converted model's card (``extra``: the source
        card's, with the conversion's provenance) as this converter writes them; by default
        unchanged. For what the runtime must know of the converted model."""
        return extra

    def parity(self, output: Path, texts: Sequence[str], *, quantization: str,
               thresholds: ParityThresholds, device: str) -> ParityReport:
        """Step 6: the converted model at ``output`` against the source, on ``texts``, judged
        by ``thresholds`` (see :func:`fsa_edge_converters.parity_report`)."""
        raise NotImplementedError(f"{type(self).__name__} has no parity check")
