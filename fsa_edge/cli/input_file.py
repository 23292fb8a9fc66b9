"""The INPUT argument of ``analyze`` and ``distill``: a file, or ``-`` for stdin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

STDIN = "-"
#: how errors name the standard input
STDIN_NAME = "<stdin>"


def check_input_file(input_path: str) -> None:
    """A usage error (exit 2) naming ``input_path`` unless it is ``-`` or a readable file."""
    if input_path == STDIN:
        return
    path = Path(input_path)
    if path.is_dir():
        raise click.BadParameter(f"{input_path} is a directory, not a file", param_hint="INPUT")
    if not path.is_file():
        raise click.BadParameter(f"no such file: {input_path}", param_hint="INPUT")


def open_input(input_path: str) -> IO[bytes]:
    """``input_path`` opened for reading bytes (stdin for ``-``), after :func:`check_input_file`."""
    check_input_file(input_path)
    return sys.stdin.buffer if input_path == STDIN else Path(input_path).open("rb")


def input_name(input_path: str) -> str:
    """How errors name the input: its path as given, or ``<stdin>``."""
    return STDIN_NAME if input_path == STDIN else input_path


__all__ = ["STDIN", "STDIN_NAME", "check_input_file", "input_name", "open_input"]
