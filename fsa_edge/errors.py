"""One error hierarchy for everything fsa-edge raises on purpose.

The CLI turns any :class:`FsaEdgeError` into a one-line message and exit code 2.
"""

from __future__ import annotations

from pathlib import Path


class FsaEdgeError(Exception):
    """Base class of every error fsa-edge raises deliberately."""


class InputError(FsaEdgeError):
    """A record of an input file is malformed.

    The message always names the file, the record (line or index) and the field.
    """

    def __init__(self, reason: str, *, path: str | Path | None = None, line: int | None = None,
                 record: int | str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class UnknownTaskError(FsaEdgeError):
    """A task name that no task in the registry has."""


class ModelNotFoundError(FsaEdgeError):
    """A model that is neither an existing directory nor a known alias."""


class BackendError(FsaEdgeError):
    """No backend can serve a model, or a backend's dependency is missing."""


class PluginError(FsaEdgeError):
    """A plugin failed to load or registered something invalid."""


class ConversionError(FsaEdgeError):
    """A model conversion was refused (existing output, unsupported architecture, parity gate)."""


class TrainingError(FsaEdgeError):
    """Training could not start or continue."""


class TeacherError(FsaEdgeError):
    """A teacher could not be loaded or failed to answer."""


class EngineError(FsaEdgeError):
    """A scale-out engine (Ray) is missing, cannot start, or lost track of a row."""


def install_hint(extra: str) -> str:
    """The command that installs an optional extra: ``pip install 'fsa-edge[extra]'``."""
    return f"pip install 'fsa-edge[{extra}]'"


def missing_dependency(package: str, extra: str) -> BackendError:
    """The error raised when an optional dependency is absent."""
    return BackendError(f"{package} is not installed: {install_hint(extra)}")
