"""fsa-edge: fine-grained sentiment analysis, distilled from LLMs, cheap enough for every review.

>>> import fsa_edge
>>> analyzer = fsa_edge.load()                      # the embedded default model
>>> analyzer.analyze("The bread is top notch.")     # doctest: +SKIP
"""

from __future__ import annotations

from .api import Analyzer, load, resolve_model
from .backends import Backend, Generation, GenerativeBackend, Prediction
from .card import ModelCard
from .errors import (BackendError, ConversionError, FsaEdgeError, InputError,
                     ModelNotFoundError, PluginError, TeacherError, TrainingError,
                     UnknownTaskError)
from .hookspecs import hookimpl
from .metric import Evaluation, Score, evaluate
from .model import POLARITIES, AnalysisResult, LabeledExample, Review, SentimentElement
from .readers import Dataset, read_dataset
from .tasks import ParseResult, Task, get_task, task_names

__version__ = "0.1.0"

__all__ = [
    "AnalysisResult", "Analyzer", "Backend", "BackendError", "ConversionError", "Dataset",
    "Evaluation", "FsaEdgeError", "Generation", "GenerativeBackend", "InputError",
    "LabeledExample", "ModelCard", "ModelNotFoundError", "POLARITIES", "ParseResult",
    "PluginError", "Prediction", "Review", "Score", "SentimentElement", "Task", "TeacherError",
    "TrainingError", "UnknownTaskError", "__version__", "evaluate", "get_task", "hookimpl",
    "load", "read_dataset", "resolve_model", "task_names",
]
