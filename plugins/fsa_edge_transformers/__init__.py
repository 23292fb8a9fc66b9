"""First-party plugin: the transformers (torch) backend over a Hugging Face student directory.

It is the parity reference of ``fsa-edge convert`` and the baseline of the speed benchmark.
torch and transformers are imported only when a model loads (``pip install 'fsa-edge[train]'``).
"""

from __future__ import annotations

from fsa_edge import hookimpl

from .backend import TransformersBackend

__all__ = ["TransformersBackend"]


@hookimpl
def register_backends(register):
    register(TransformersBackend)
