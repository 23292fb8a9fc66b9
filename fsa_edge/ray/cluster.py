"""Connecting to Ray and sizing the actor pool.

Every CPU a pool does not take stays free for nothing: fsa-edge's reads run on the driver or
request 0 CPUs, and results are written by the driver, so a pool may take every CPU without
starving a read task (the hang of ray-project/ray#44687).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import EngineError, install_hint

# A local Ray reserves 30% of memory (6 GiB here) of /dev/shm for its object store by default;
# fsa-edge's blocks are text and results, a fraction of that.
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError(f"the Ray engine needs Ray Data: {install_hint('ray')}") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None,
            num_gpus: int | None = None) -> bool:
    """Make sure Ray is running for this process; ``True`` when this call started it (the caller
    then shuts it down).

    ``address``: ``"auto"`` (a cluster started with ``ray start`` on this machine) or
    ``"ray://HOST:10001"``; ``None`` starts a local Ray with ``num_cpus`` (default: every CPU),
    no dashboard and a small object store. An already initialised Ray is used as it is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            # "local": a new Ray even when one started by `ray start` runs on this machine
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise EngineError(f"could not start or reach {where}: {exc}") from None
    return True


def quiet_logs(progress: bool) -> None:
    """For the CLI engines: Ray Data's INFO lines off (and, without ``progress``, its progress
    bars and the warning that they are off)."""
    import logging

    from ray.data import DataContext  # importing ray.data configures its loggers first

    DataContext.get_current().enable_progress_bars = progress
    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING if progress else logging.ERROR)


@dataclass(frozen=True)
class ActorPlan:
    """How many actors, and what each one holds."""

    actors: int
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0

    @property
    def device(self) -> str:
        return "cuda" if self.gpus_per_actor > 0 else "cpu"

    @property
    def cpu_threads(self) -> int:
        return max(1, int(self.cpus_per_actor))

    def map_args(self) -> dict[str, Any]:
        """The ``map_batches`` keywords of this pool."""
        from ray.data import ActorPoolStrategy

        return {"compute": ActorPoolStrategy(size=self.actors), "num_cpus": self.cpus_per_actor,
                "num_gpus": self.gpus_per_actor or None}


def plan_actors(actors: int | None = None, *, cpus_per_actor: float = 1.0,
                gpus_per_actor: float = 0.0) -> ActorPlan:
    """The pool for the connected cluster: ``actors`` as given, else as many as its CPUs (or,
    with ``gpus_per_actor``, its GPUs) hold; a pool that could never be placed is an error."""
    ray = require_ray()
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if cpus_per_actor <= 0 or gpus_per_actor < 0:
        raise EngineError("--cpus-per-actor must be > 0 and --gpus-per-actor >= 0")
    fits = int(cpus // cpus_per_actor)
    if gpus_per_actor:
        fits = min(fits, int(gpus // gpus_per_actor))
    if actors is None:
        actors = fits
    if actors < 1 or actors > fits:
        raise EngineError(
            f"{actors} actor(s) of {cpus_per_actor:g} CPU and {gpus_per_actor:g} GPU do not fit "
            f"the Ray cluster ({cpus:g} CPUs, {gpus:g} GPUs): at most {fits}")
    return ActorPlan(actors, cpus_per_actor, gpus_per_actor)
