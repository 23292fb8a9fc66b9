"""``distill --engine ray`` on a simulated two-node cluster (``ray.cluster_utils.Cluster``, one
CPU per node): a node removed mid-run costs no row and doubles none; the other node
finishes the work."""

from __future__ import annotations

import json
import threading
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'fsa-edge[ray]')")

from fsa_edge.readers import iter_jsonl_reviews  # noqa: E402
from fsa_edge.teaching import (DistillItem, Sampling, iter_corpus_rows,  # noqa: E402
                               load_prompt)

pytestmark = pytest.mark.ray


def test_a_node_lost_mid_run_loses_and_doubles_nothing(tmp_path):
    from ray.cluster_utils import Cluster

    from fsa_edge.ray import distill_on_ray

    n = 60
    reviews, answers = tmp_path / "reviews.jsonl", tmp_path / "answers.jsonl"
    with reviews.open("w") as r, answers.open("w") as a:
        for i in range(n):
            text = f"The dish number {i} was good."
            r.write(json.dumps({"id": 1000 + i, "text": text}) + "\n")
            a.write(json.dumps({"ID": 1000 + i, "Text": text,
                                "tiny_response": f"Opinion Target 1: the dish {i}\nAspect: "
                                                 "quality\nSentiment: positive\nReasoning: good."})
                    + "\n")
    with reviews.open("rb") as stream:
        items = [DistillItem(line.id, line.review.text) for line in iter_jsonl_reviews(stream)]
    out = tmp_path / "corpus.jsonl"
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    lost_at = []

    def lose_a_node() -> None:
        while not out.exists() or out.read_bytes().count(b"\n") < 10:
            time.sleep(0.02)
        lost_at.append(out.read_bytes().count(b"\n"))
        cluster.remove_node(nodes[0], allow_graceful=False)

    thread = threading.Thread(target=lose_a_node, daemon=True)
    thread.start()
    try:
        summary = distill_on_ray(items, teacher_path=str(answers), teacher_name="replay",
                                 options={"delay": 0.05}, sampling=Sampling(),
                                 prompt=load_prompt("analysis"), output=out, sync_every=1,
                                 actors=2)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert lost_at and lost_at[0] < n, "the node must be lost mid-run"
    assert summary.written == n
    keys = [(r["id"], r["occurrence"]) for r in iter_corpus_rows(out)]
    assert sorted(keys) == sorted((str(1000 + i), 0) for i in range(n))
