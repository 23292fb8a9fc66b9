"""``fsa-edge plugins``: the loaded plugins as JSON."""

from __future__ import annotations

import json

import click


@click.command()
def plugins() -> None:
    """List loaded plugins: name, version, what they register (backends, students, teachers,
    converters, models) and what is missing."""
    from ..plugins import describe_plugins

    click.echo(json.dumps(describe_plugins(), indent=2))
