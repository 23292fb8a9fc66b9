"""The ``fsa-edge`` command line: a click group built on demand, extended by plugins.

Commands live in one module each; :func:`build_cli` assembles them and lets plugins add theirs
through the ``register_commands`` hook, so nothing is registered at import time.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import FsaEdgeError

USER_ERROR_EXIT = 2


class FsaEdgeGroup(click.Group):
    """A group that turns :class:`FsaEdgeError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FsaEdgeError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(USER_ERROR_EXIT)


def build_cli() -> click.Group:
    from .. import __version__
    from ..plugins import load_plugins
    from .analyze import analyze
    from .distill import distill
    from .evaluate import evaluate
    from .plugins_command import plugins
    from .train import train

    @click.group(cls=FsaEdgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="fsa-edge")
    def cli() -> None:
        """Fine-grained sentiment analysis at the edge: distil, train, convert, analyze, evaluate."""

    for command in (analyze, distill, evaluate, plugins, train):
        cli.add_command(command)
    load_plugins().hook.register_commands(cli=cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    try:
        cli = build_cli()
    except FsaEdgeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(USER_ERROR_EXIT)
    cli.main(args=argv, prog_name="fsa-edge")
