"""First-party plugin: the CTranslate2 backend (the default runtime), the seq2seq converters
(T5, BART, Marian) and ``fsa-edge convert``.

Nothing heavy is imported here: ``ctranslate2`` and ``tokenizers`` load when a model does, torch
and transformers when a conversion runs.
"""

from __future__ import annotations

from fsa_edge import hookimpl

from .backend import CTranslate2Backend

__all__ = ["CTranslate2Backend"]


@hookimpl
def register_backends(register):
    register(CTranslate2Backend)


@hookimpl
def register_converters(register):
    from .conversion import BartConverter, MarianConverter, T5Converter

    for converter in (T5Converter, BartConverter, MarianConverter):
        register(converter)


@hookimpl
def register_commands(cli):
    from fsa_edge_converters.cli import convert

    cli.add_command(convert)
