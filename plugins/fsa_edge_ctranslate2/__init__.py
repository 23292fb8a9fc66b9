"""First-party plugin: the CTranslate2 backend (the default runtime) and ``fsa-edge convert``.

Nothing heavy is imported here: ``ctranslate2`` and ``tokenizers`` load when a model does.
"""

from __future__ import annotations

from fsa_edge import hookimpl

from .backend import CTranslate2Backend
from .batching import plan_batches, run_sorted

__all__ = ["CTranslate2Backend", "plan_batches", "run_sorted"]


@hookimpl
def register_backends(register):
    register(CTranslate2Backend)


@hookimpl
def register_commands(cli):
    from fsa_edge_converters.cli import convert

    cli.add_command(convert)
