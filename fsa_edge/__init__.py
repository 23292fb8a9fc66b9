"""fsa-edge: fine-grained sentiment analysis, distilled from LLMs, cheap enough for every review.

>>> import fsa_edge
>>> analyzer = fsa_edge.load()                      # the embedded default model
>>> analyzer.analyze("The bread is top notch.")     # doctest: +SKIP

The names here are what a user calls and what a plugin subclasses; everything else is imported
from its own module (``fsa_edge.tasks``, ``fsa_edge.card``, ...). ``Student`` and ``Teacher``
are imported on first use, so that ``import fsa_edge`` stays light.
"""

from __future__ import annotations

from typing import Any

from .api import Analyzer, load
from .backends import (Backend, Generation, GenerativeBackend, Prediction,
                       reject_unknown_options)
from .errors import (BackendError, ConversionError, FsaEdgeError, InputError,
                     ModelNotFoundError, PluginError, TeacherError, TrainingError,
                     UnknownTaskError)
from .hookspecs import hookimpl
from .metric import Evaluation, Score, evaluate
from .model import AnalysisResult, LabeledExample, Review, SentimentElement
from .readers import Dataset, read_dataset

__version__ = "0.1.0"

# Plugin base classes imported on first access (module ``__getattr__``, PEP 562).
_LAZY = {"Student": "fsa_edge.training", "Teacher": "fsa_edge.teaching"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # analysing
    "load", "Analyzer", "AnalysisResult", "SentimentElement", "Review",
    # data sets and scoring
    "read_dataset", "Dataset", "LabeledExample", "evaluate", "Evaluation", "Score",
    # errors
    "FsaEdgeError", "InputError", "UnknownTaskError", "ModelNotFoundError", "BackendError",
    "PluginError", "ConversionError", "TrainingError", "TeacherError",
    # plugins
    "Backend", "GenerativeBackend", "Generation", "Prediction", "Student", "Teacher", "hookimpl",
    "reject_unknown_options",
    "__version__",
]
