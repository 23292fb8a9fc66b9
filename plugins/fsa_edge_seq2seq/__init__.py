"""First-party student plugin ``seq2seq``: pre-train and fine-tune a Hugging Face seq2seq student.

Registers the :class:`Seq2SeqStudent`, whose commands are ``fsa-edge train seq2seq
init|pretrain|finetune``. Importing this module is light (no torch): the heavy modules
(``warmstart``, ``text``, ``loop``, ``recipes``) are imported only when a student is actually
built or trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from fsa_edge import hookimpl
from fsa_edge.training import CorpusPair, Student, TaskData, check_requirements


class Seq2SeqStudent(Student):
    """A local t5 / flan-t5 / bart checkpoint, or a BART warm-started from a BERT or MPNet encoder
    (``minilm``, ``mpnet``)."""

    name = "seq2seq"
    requires = ("torch", "transformers")
    extra = "train"
    description = ("seq2seq student (t5, flan-t5, bart, or BART warm-started from the bundled "
                   "all-MiniLM-L6-v2 with --student minilm, or all-mpnet-base-v2 with --student mpnet)")
    deprecated_commands = ("init", "pretrain", "finetune")

    @classmethod
    def command(cls) -> Any:
        from .commands import seq2seq

        return seq2seq

    def __init__(self) -> None:
        check_requirements(type(self))

    def pretrain(self, corpus: Sequence[CorpusPair], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        from .recipes import pretrain

        return pretrain(corpus, student=student, out=out, **settings)

    def finetune(self, data: Sequence[TaskData], *, student: str, out: str | Path,
                 **settings: Any) -> dict[str, Any]:
        from .recipes import finetune

        return finetune(data, student=student, out=out, **settings)

    def init(self, student: str, out: str | Path, *, decoder_layers: int = 3,
             seed: int = 0, cross_attention: str = "random") -> dict[str, Any]:
        """Write the untrained (warm-started) student to ``out``."""
        from .recipes import init

        return init(student, out, decoder_layers=decoder_layers, seed=seed,
                    cross_attention=cross_attention)


@hookimpl
def register_students(register) -> None:
    register(Seq2SeqStudent)
