"""``-O KEY=VALUE`` options (a backend's or a teacher's), as ``analyze`` and ``distill`` take them."""

from __future__ import annotations

import json
from typing import Any

import click


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as keyword options: a value that reads as JSON (``1024``, ``true``,
    ``"x"``) is that value, any other its text; a pair without ``=`` or a key is a usage error."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options
