"""``fsa-edge train STUDENT …``: one entry point over the students plugins register.

Each student registered through ``register_students`` brings its own click group
(:meth:`fsa_edge.training.Student.command`), mounted here under its name: ``fsa-edge train
tagger finetune …``, ``fsa-edge train seq2seq pretrain …``. Names a student lists in
``deprecated_commands`` (what used to sit directly under ``fsa-edge train``) keep working for one
release and say so on stderr.
"""

from __future__ import annotations

import copy
from typing import Any

import click

from ..plugins import registry


def deprecated_alias(command: click.Command, *, old: str, new: str,
                     name: str | None = None) -> click.Command:
    """A hidden copy of ``command`` (under ``name``) that first tells the user, on stderr, that
    ``old`` is deprecated in favour of ``new``."""
    alias = copy.copy(command)
    alias.name = name or command.name
    alias.hidden = True
    alias.help = f"Deprecated alias of '{new}'."
    invoke = command.invoke

    def warn_then_invoke(ctx: click.Context) -> Any:
        click.echo(f"fsa-edge: '{old}' is deprecated and goes in the next release; "
                   f"use '{new}'", err=True)
        return invoke(ctx)

    alias.invoke = warn_then_invoke  # type: ignore[method-assign]
    return alias


class TrainGroup(click.Group):
    """Sub-commands are the registered students (looked up when the command line is parsed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, student in registry().students.items()
                      if student.command() is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        students = registry().students
        if name in students:
            group = students[name].command()
            if group is not None:
                group.name = name
            return group
        for student in students.values():
            group = student.command()
            if group is not None and name in getattr(student, "deprecated_commands", ()):
                command = group.get_command(ctx, name)
                if command is not None:
                    return deprecated_alias(command, old=f"fsa-edge train {name}",
                                            new=f"fsa-edge train {student.name} {name}")
        return None


@click.group(cls=TrainGroup)
def train() -> None:
    """Train a student: `fsa-edge train STUDENT COMMAND` (students: `fsa-edge plugins`)."""


__all__ = ["TrainGroup", "deprecated_alias", "train"]
