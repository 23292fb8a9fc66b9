"""Teaching: a local teacher writes the distillation corpus (torch-free).

* :class:`Teacher` — the base class of teachers registered through ``register_teachers``
  (built in: ``llamacpp`` over a GGUF file, ``replay`` over recorded answers, ``tagger`` over a
  trained tagger directory, which adds soft targets to its ``label`` answers).
* :func:`load_prompt` — the versioned prompts ``analysis``, ``rewriting`` and ``label``.
* :func:`distill` — every review through the teacher into a resumable, crash-safe corpus
  (:class:`CorpusWriter`), with a :class:`CostSummary` of tokens and API-equivalent cost.
"""

from __future__ import annotations

from .corpus import CorpusWriter, iter_corpus_rows, row_key
from .cost import CostSummary
from .export import EXPORT_FORMATS, export_paper
from .hashing import file_sha256
from .label import LabelFormatError, LabelParse, parse_label
from .prompts import Prompt, load_prompt, prompt_names
from .runner import DistillItem, distill, items_from_reviews
from .teacher import Sampling, Teacher, TeacherReply, TeacherRequest, select_teacher

__all__ = [
    "CorpusWriter", "CostSummary", "DistillItem", "EXPORT_FORMATS", "LabelFormatError",
    "LabelParse", "Prompt", "Sampling", "Teacher", "TeacherReply", "TeacherRequest",
    "distill", "export_paper", "file_sha256", "items_from_reviews", "iter_corpus_rows",
    "load_prompt", "parse_label", "prompt_names", "row_key", "select_teacher",
]
