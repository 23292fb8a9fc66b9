"""The extension points of fsa-edge.

Each hook hands the plugin a ``register`` callback (as simonw/llm does): adding a parameter
later does not break older plugins, which may accept fewer arguments than the spec. Hooks are
always called with keyword arguments.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("fsa_edge")
hookimpl = pluggy.HookimplMarker("fsa_edge")


@hookspec
def register_backends(register: Callable[[type], None]) -> None:
    """Register inference backends: ``register(BackendClass)``.

    A backend class subclasses :class:`fsa_edge.backends.Backend`; it has a unique ``name``,
    the import names it ``requires``, ``can_load(path)`` and a constructor
    ``BackendClass(path, device=..., **options)`` that takes ``cpu_threads`` (the Ray engine
    passes it to every backend) and rejects an option it does not take
    (:func:`fsa_edge.reject_unknown_options`), so a misspelt ``-O`` option is never ignored.
    """


@hookspec
def register_students(register: Callable[[type], None]) -> None:
    """Register trainable students: ``register(StudentClass)``.

    A student class subclasses :class:`fsa_edge.training.Student` (``name``, ``requires``,
    ``pretrain(...)`` and ``finetune(...)``).
    """


@hookspec
def register_teachers(register: Callable[[type], None]) -> None:
    """Register teachers that write the distillation corpus: ``register(TeacherClass)``.

    A teacher class subclasses :class:`fsa_edge.teaching.Teacher` (``name``, ``requires``,
    ``generate(request)``; a teacher faster on several reviews at once also sets ``batch_size``
    and overrides ``generate_batch(requests)``).
    """


@hookspec
def register_converters(register: Callable[[type], None]) -> None:
    """Register model converters for ``fsa-edge convert``: ``register(ConverterClass)``.

    A converter class subclasses :class:`fsa_edge_converters.ArchitectureConverter`. It is keyed
    by the Hugging Face config class it converts (``config_name = "BartConfig"``); one that also
    sets ``marker_file`` (the tagger's ``"heads.npz"``) is keyed ``"BertConfig+heads.npz"`` and
    is chosen over a plain ``"BertConfig"`` converter when the source holds that file.
    """


@hookspec
def register_models(register: Callable[..., None]) -> None:
    """Register model aliases: ``register(alias, path, description="")``.

    ``fsa_edge.load("alias")`` then finds the model directory at ``path``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``fsa-edge`` click group ``cli``."""
