"""The ``--engine`` options ``analyze`` and ``distill`` share: local, or a Ray actor pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import click

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineOptions:
    engine: str
    address: str | None
    actors: int | None
    cpus_per_actor: float
    gpus_per_actor: float

    def ray_kwargs(self) -> dict[str, Any]:
        return {"address": self.address, "actors": self.actors,
                "cpus_per_actor": self.cpus_per_actor, "gpus_per_actor": self.gpus_per_actor}


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--engine``, ``--address``, ``--actors``, ``--cpus-per-actor``, ``--gpus-per-actor``."""
    options = [
        click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                     help="local: this process; ray: a pool of Ray actors, each loading the "
                          "model once (pip install 'fsa-edge[ray]')."),
        click.option("--address", default=None,
                     help="Ray cluster: 'auto' (started with ray start) or ray://HOST:10001 "
                          "(default: start a local Ray sized to this machine)."),
        click.option("--actors", type=click.IntRange(min=1), default=None,
                     help="Actors in the pool (default: as many as the cluster's CPUs, or "
                          "GPUs, hold)."),
        click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True),
                     default=1.0, show_default=True,
                     help="CPUs each actor reserves (its CPU threads)."),
        click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=0.0,
                     show_default=True,
                     help="GPUs each actor reserves; > 0 runs the model on CUDA."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def engine_from(params: dict[str, Any]) -> EngineOptions:
    """Pop the engine options from a command's keyword arguments; Ray options without
    ``--engine ray`` are a usage error."""
    chosen = EngineOptions(params.pop("engine"), params.pop("address"), params.pop("actors"),
                           params.pop("cpus_per_actor"), params.pop("gpus_per_actor"))
    if chosen.engine == "local":
        given = [name for name, value, default in (
            ("--address", chosen.address, None), ("--actors", chosen.actors, None),
            ("--cpus-per-actor", chosen.cpus_per_actor, 1.0),
            ("--gpus-per-actor", chosen.gpus_per_actor, 0.0)) if value != default]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only with --engine ray")
    return chosen
