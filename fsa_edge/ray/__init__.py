"""Scale-out on Ray Data (the optional extra ``ray``: ``pip install 'fsa-edge[ray]'``).

* :func:`analyze_dataset` — any Ray dataset with a text column in, a dataset of analysis
  results out (each actor loads the model once).
* :func:`analyze_file` — what ``fsa-edge analyze INPUT --engine ray`` runs: a JSONL or text
  file in, one output line (JSONL) or row (Parquet) per input line, bad lines as error records.
* :func:`distill_on_ray` — what ``fsa-edge distill … --engine ray`` runs: teacher actors answer,
  the driver appends every row to the one resumable corpus (keyed, deduplicated, fsync'd).
* :func:`connect` — join a cluster (``address``) or start a local Ray sized to the machine.

``ray`` itself is imported only when one of these runs.
"""

from __future__ import annotations

from .analyze import RESULT_COLUMNS, analyze_dataset, analyze_file
from .cluster import ActorPlan, connect, plan_actors
from .distill import distill_on_ray

__all__ = ["ActorPlan", "RESULT_COLUMNS", "analyze_dataset", "analyze_file", "connect",
           "distill_on_ray", "plan_actors"]
