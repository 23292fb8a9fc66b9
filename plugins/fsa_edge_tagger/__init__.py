"""First-party plugin: the ``tagger`` student (encoder + task heads) and its backend.

An alternative to the generative student for ATSA and ACSA: a BERT encoder (the MiniLM warm
start) tags aspect terms with their polarity (one unified tag per word-piece) and classifies
every aspect category from an attention-pooled sentence vector (one learned query per category;
models trained with ``--category-pooling mean`` use the mean piece state). At run time the encoder
runs in CTranslate2 and the heads in numpy (backend ``tagger``, no torch); training needs the
``train`` extra (``fsa-edge train tagger …``). Nothing heavy is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from fsa_edge import hookimpl
from fsa_edge.training import Student, TaskData, check_requirements

from .backend import TaggerBackend

__all__ = ["TaggerBackend", "TaggerStudent"]


class TaggerStudent(Student):
    """Fine-tunes a BERT encoder with a term-tagging head and a category head; its pre-training
    on a teacher corpus is masked-language modelling of the responses (no decoder to learn
    review → response with)."""

    name = "tagger"
    requires = ("torch", "transformers")
    extra = "train"
    description = "BERT encoder + term/category heads (MiniLM warm start); ATSA and ACSA"

    @classmethod
    def command(cls) -> Any:
        from .commands import tagger

        return tagger

    def __init__(self) -> None:
        check_requirements(type(self))

    def pretrain(self, corpus: Sequence[Any], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        """Masked-language modelling of the encoder on the teacher responses."""
        from .pretraining import pretrain_encoder

        return pretrain_encoder(corpus, student=student, out=out, **settings)

    def finetune(self, data: Sequence[TaskData], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        from .training import finetune_tagger

        return finetune_tagger(data, student=student, out=out, **settings)


@hookimpl
def register_students(register) -> None:
    register(TaggerStudent)


@hookimpl
def register_backends(register) -> None:
    register(TaggerBackend)


@hookimpl
def register_teachers(register) -> None:
    from .teacher import TaggerTeacher

    register(TaggerTeacher)


@hookimpl
def register_converters(register) -> None:
    from .conversion import CONVERTERS

    for converter in CONVERTERS:
        register(converter)


@hookimpl
def register_commands(cli) -> None:
    from .commands import deprecated_tagger_group

    cli.add_command(deprecated_tagger_group())
