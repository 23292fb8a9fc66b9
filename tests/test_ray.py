"""The Ray engine: ``analyze`` and ``distill`` on a local Ray give the rows a local run gives,
exactly once each, through a killed actor and a killed driver, without hanging when the actors
take every CPU. Marked ``ray`` (``pytest -m ray``); skipped without the extra ``ray``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'fsa-edge[ray]')")
psutil = pytest.importorskip("psutil")

from fsa_edge.api import load  # noqa: E402
from fsa_edge.jsonlines import dumps_line  # noqa: E402
from fsa_edge.readers import iter_jsonl_reviews  # noqa: E402
from fsa_edge.teaching import iter_corpus_rows  # noqa: E402

from conftest import install_plugin, wait_for_lines  # noqa: E402

pytestmark = pytest.mark.ray

CLI = [sys.executable, "-c", "from fsa_edge.cli import main; main()"]
TEXTS = ["The soup was wonderful but the waiter was rude.",
         "Battery life is great, the screen is dim.",
         "We waited forty minutes for cold pasta.",
         "Nice place, cheap drinks and a friendly bartender!",
         "The keyboard feels cheap and the fan is loud."]
BAD_LINES = [b"not json\n", b'{"id": "no-text"}\n', b"\n", b'{"id": "x", "text": 5}\n',
             b'{"id": "bytes", "text": "caf\xe9"}\n', b'["a list"]\n']


def write_reviews(path: Path, n: int, bad_every: int = 0) -> Path:
    with path.open("wb") as handle:
        for i in range(n):
            if bad_every and i % bad_every == bad_every - 1:
                handle.write(BAD_LINES[(i // bad_every) % len(BAD_LINES)])
            else:
                record = {"id": f"r{i}", "text": f"{TEXTS[i % len(TEXTS)]} Visit {i}."}
                handle.write((json.dumps(record) + "\n").encode())
    return path


# int8 scores move with a batch's other reviews on some CPUs (README, Ray): up to 0.009 with the
# 2026-12-01 default, 0.0165 with the 2026-12-03 one ("screen is dim", a near-tie of polarities;
# benchmarks/README "Batch dependence of int8 answers"); elements never moved
SCORE_TOLERANCE = 0.025


def _without_scores(row) -> tuple[dict, list]:
    """A result row (dict or JSON line) with its elements' scores taken out, and the scores."""
    row = dict(json.loads(row) if isinstance(row, str) else row)
    scores: list = []

    def strip(elements):
        if elements is None:
            return None
        kept = []
        for element in elements:
            element = dict(element)
            scores.append(element.pop("score", None))
            kept.append(element)
        return kept

    row["elements"] = strip(row.get("elements"))
    if row.get("answers"):
        row["answers"] = {task: strip(row["answers"][task]) for task in sorted(row["answers"])}
    return row, scores


def assert_same_rows(found, expected) -> None:
    """The same rows in the same order, the same elements; scores within SCORE_TOLERANCE."""
    assert len(found) == len(expected)
    for got, want in zip(found, expected):
        (got_row, got_scores), (want_row, want_scores) = (_without_scores(got),
                                                          _without_scores(want))
        assert got_row == want_row
        assert all((a is None and b is None) or abs(a - b) <= SCORE_TOLERANCE
                   for a, b in zip(got_scores, want_scores)), (got_scores, want_scores)


def test_rows_compare_equal_only_up_to_score_noise():
    row = {"id": "r1", "elements": [{"aspect": "fan", "polarity": "negative", "score": 0.62}]}
    near = {"id": "r1", "elements": [{"aspect": "fan", "polarity": "negative", "score": 0.629}]}
    assert_same_rows([json.dumps(row)], [near])
    for other in ({**near, "elements": [{**near["elements"][0], "score": 0.66}]},
                  {**near, "elements": [{**near["elements"][0], "polarity": "positive"}]},
                  {**near, "id": "r2"}):
        with pytest.raises(AssertionError):
            assert_same_rows([row], [other])


def plain_lines(path: Path) -> list[str]:
    """What plain ``fsa-edge analyze`` writes for ``path`` (one line per input line)."""
    with load("default") as analyzer, path.open("rb") as stream:
        lines = list(iter_jsonl_reviews(stream, source=str(path)))
        return [dumps_line(r.to_dict()) for r in analyzer.analyze_lines(lines)]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs and no dashboard, shared by the in-process tests."""
    from fsa_edge.ray import connect

    assert connect(num_cpus=2)
    yield
    ray.shutdown()


def run_with_deadline(function, seconds: float):
    """``function()`` in a daemon thread: a hang fails the test instead of stalling CI."""
    box: dict = {}

    def target():
        try:
            box["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the Ray run did not finish within {seconds} s (a hang)"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_one_and_two_actors_give_plain_analyze_rows_without_hanging(local_ray, tmp_path):
    from fsa_edge.ray import analyze_file

    source = write_reviews(tmp_path / "in.jsonl", 600, bad_every=50)
    expected = plain_lines(source)
    assert sum('"error": null' not in line for line in expected) == 12
    for actors in (1, 2):  # 2 actors of 1 CPU take every CPU of this Ray: reads must not wait
        out = tmp_path / f"out{actors}.jsonl"
        counts = run_with_deadline(lambda: analyze_file(source, out, actors=actors), 120)
        assert counts == {"lines": 600, "errors": 12, "actors": actors}
        assert_same_rows(out.read_text(encoding="utf-8").splitlines(), expected)
    unordered = tmp_path / "any-order.jsonl"
    run_with_deadline(lambda: analyze_file(source, unordered, actors=2, preserve_order=False),
                      120)
    assert_same_rows(sorted(unordered.read_text(encoding="utf-8").splitlines()),
                     sorted(expected))


def test_parquet_output_has_one_row_per_line(local_ray, tmp_path):
    import pyarrow.parquet as pq

    from fsa_edge.ray import analyze_file

    source = write_reviews(tmp_path / "in.jsonl", 40, bad_every=10)
    out = tmp_path / "out.parquet"
    run_with_deadline(lambda: analyze_file(source, out, actors=1), 120)
    rows = pq.read_table(out).to_pylist()
    assert [r.pop("line") for r in rows] == list(range(1, 41))
    assert all(r.pop("answers") is None for r in rows)  # a column only task "all" fills
    assert_same_rows(rows, plain_lines(source))
    every = tmp_path / "all.parquet"
    run_with_deadline(lambda: analyze_file(source, every, task="all", actors=1), 120)
    first = pq.read_table(every).to_pylist()[0]
    with load("default") as analyzer:
        expected = analyzer.analyze(TEXTS[0] + " Visit 0.", task="all").to_dict()["answers"]
    assert_same_rows([{"answers": {task: found for task, found in first["answers"].items()
                                   if found is not None}}], [{"answers": expected}])


def test_text_input_gives_plain_text_rows(local_ray, tmp_path):
    from fsa_edge.readers import iter_text_reviews
    from fsa_edge.ray import analyze_file

    source = tmp_path / "in.txt"
    source.write_bytes(b"\n".join(t.encode() for t in TEXTS) + b"\n\ncaf\xe9\nlast line, no newline")
    out = tmp_path / "out.jsonl"
    counts = run_with_deadline(lambda: analyze_file(source, out, input_format="text", actors=1),
                               120)
    with load("default") as analyzer, source.open("rb") as stream:
        lines = list(iter_text_reviews(stream, source=str(source)))
        expected = [dumps_line(r.to_dict()) for r in analyzer.analyze_lines(lines)]
    assert counts["lines"] == 8 and counts["errors"] == 2
    assert_same_rows(out.read_text(encoding="utf-8").splitlines(), expected)


def test_analyze_dataset_on_any_ray_dataset(local_ray):
    from fsa_edge.ray import RESULT_COLUMNS, ActorPlan, analyze_dataset

    records = [{"id": f"d{i}", "text": TEXTS[i % 5]} for i in range(30)] + [
        {"id": "missing", "text": None}, {"id": "blank", "text": "  "}]
    dataset = ray.data.from_items(records)
    results = analyze_dataset(dataset, plan=ActorPlan(actors=1)).take_all()
    assert len(results) == 32 and set(results[0]) == set(RESULT_COLUMNS)
    by_id = {r["id"]: r for r in results}
    with load("default") as analyzer:
        for record in records[:30]:
            expected = analyzer.analyze(record["text"]).to_dict()
            assert_same_rows([{"elements": by_id[record["id"]]["elements"]}],
                             [{"elements": expected["elements"]}])
    assert by_id["missing"]["error"] == "field 'text' is missing"
    assert by_id["blank"]["error"] == "field 'text' is empty"


SLOW_PLUGIN = """
import os
import time

from fsa_edge import Generation, GenerativeBackend, hookimpl


class SlowKeywordBackend(GenerativeBackend):
    \"\"\"Names soup/waiter/keyboard as positive, taking ``slow.txt`` seconds per text; each
    process appends how many texts it answered to ``progress/<pid>`` in the model folder.\"\"\"

    name = "slow-keyword"

    @classmethod
    def can_load(cls, path):
        return (path / "slow.txt").exists()

    def generate(self, inputs):
        time.sleep(float((self.path / "slow.txt").read_text()) * len(inputs))
        with open(self.path / "progress" / str(os.getpid()), "a") as progress:
            progress.write(f"{len(inputs)}\\n")
        outputs = []
        for text in inputs:
            found = [w for w in ("soup", "waiter", "keyboard") if w in text.lower()]
            outputs.append(Generation(" ; ".join(f"{w} | positive" for w in found) or "none", 0.9))
        return outputs


@hookimpl
def register_backends(register):
    register(SlowKeywordBackend)
"""


def slow_model(tmp_path: Path, seconds_per_text: float) -> tuple[Path, dict]:
    """A model served by a third-party backend installed into a folder (module + dist-info, on
    ``PYTHONPATH`` so Ray's workers find it too) that takes a known time per text: the actor is
    killed while work is certainly left, on a fast machine as on a slow one."""
    site = install_plugin(tmp_path / "site", "fsa_edge_slow", SLOW_PLUGIN,
                          distribution="fsa-edge-slow", version="0.1", entry_point="slow")
    model = tmp_path / "slow-model"
    (model / "progress").mkdir(parents=True)
    (model / "slow.txt").write_text(str(seconds_per_text))
    (model / "fsa_edge.json").write_text(json.dumps({"tasks": ["atsa"], "default_task": "atsa"}))
    env = dict(os.environ)
    env.pop("FSA_EDGE_LOAD_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return model, env


def analyze_actors(driver: int) -> list:
    """The analyze actors of the Ray a driver process started (its descendants)."""
    found = []
    try:
        children = psutil.Process(driver).children(recursive=True)
    except psutil.Error:
        return found
    for child in children:
        try:
            if "MapWorker(MapBatches(_Analyze))" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def test_an_actor_killed_mid_run_loses_and_doubles_nothing(tmp_path):
    n = 3000  # 2 ms a text on 2 actors: at least 3 s of work, killed after the first 256 rows
    source = write_reviews(tmp_path / "in.jsonl", n, bad_every=500)
    model, env = slow_model(tmp_path, 0.002)
    common = ["analyze", str(source), "--model", str(model)]
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen([*CLI, *common, "-o", str(out), "--engine", "ray", "--actors", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True, env=env)
    killed = None  # (texts answered by then, lines written by then)
    try:
        deadline = time.monotonic() + 240  # a safety net for a loaded CI machine
        while time.monotonic() < deadline and process.poll() is None and killed is None:
            done = {int(path.name): sum(map(int, path.read_text().split()))
                    for path in (model / "progress").iterdir()}
            busy = [w for w in analyze_actors(process.pid) if done.get(w.pid, 0) >= 64]
            if busy:  # an actor in the middle of its work, whatever reached the output yet
                busy[0].send_signal(signal.SIGKILL)
                killed = (sum(done.values()),
                          out.read_bytes().count(b"\n") if out.exists() else 0)
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert killed is not None and killed[0] < n - 500 and killed[1] < n, (
        f"an actor must be killed mid-run (texts answered, lines written: {killed}; "
        f"exit {process.returncode})")
    assert process.returncode == 0, stderr.decode()
    plain = tmp_path / "plain.jsonl"
    subprocess.run([*CLI, *common, "-o", str(plain)], env=env, check=True, capture_output=True)
    expected = plain.read_text(encoding="utf-8").splitlines()
    assert len(expected) == n and sum('"waiter"' in line for line in expected) > n // 10
    assert_same_rows(out.read_text(encoding="utf-8").splitlines(), expected)


def distill_command(reviews: Path, teacher: Path, out: Path, *extra: str) -> list[str]:
    return [*CLI, "distill", str(reviews), "--teacher", str(teacher), "-o", str(out),
            "--engine", "ray", "--actors", "2", "--sync-every", "1", *extra]


def kill_driver_then_rerun(command: list[str], out: Path, n: int, at_least: int,
                           env: dict | None = None) -> int:
    """Run ``command``, SIGKILL the driver's whole process group once ``at_least`` rows are in
    the corpus, rerun it to the end; returns the rows the killed run left."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=env)
    wait_for_lines(process, out, at_least)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = out.read_bytes().count(b"\n")
    assert at_least <= before < n, "the driver must be killed mid-run"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == before and summary["written"] == n - before
    return before


def test_distill_with_the_replay_teacher_driver_killed_and_rerun(tmp_path):
    n = 120
    reviews, answers = tmp_path / "reviews.jsonl", tmp_path / "answers.jsonl"
    with reviews.open("w") as r, answers.open("w") as a:
        for i in range(n):
            text = f"The dish number {i % 100} was good."  # 20 ids repeat: occurrences kept apart
            r.write(json.dumps({"id": 1000 + i % 100, "text": text}) + "\n")
            a.write(json.dumps({"ID": 1000 + i % 100, "Text": text,
                                "tiny_response": f"Opinion Target 1: the dish {i % 100}\n"
                                                 "Aspect: quality\nSentiment: positive\n"
                                                 "Reasoning: good."}) + "\n")
    out = tmp_path / "corpus.jsonl"
    kill_driver_then_rerun(distill_command(reviews, answers, out, "-O", "delay=0.05"), out, n,
                           at_least=10)
    keys = [(r["id"], r["occurrence"]) for r in iter_corpus_rows(out)]
    assert len(keys) == n and len(set(keys)) == n
    assert sorted(keys) == sorted((str(1000 + i % 100), i // 100) for i in range(n))


def test_distill_with_a_tiny_gguf_driver_killed_and_rerun(tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_gguf import write_llama_gguf

    gguf = write_llama_gguf(tmp_path / "tiny-llama.gguf")
    n = 24
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": f"r{i}", "text": TEXTS[i % 5]}) + "\n"
                               for i in range(n)))
    out = tmp_path / "corpus.jsonl"
    env = {**os.environ, "FSA_EDGE_CACHE": str(tmp_path / "cache")}
    command = distill_command(reviews, gguf, out, "--max-tokens", "24", "-O", "n_ctx=1024",
                              "-O", "n_threads=1")
    kill_driver_then_rerun(command, out, n, at_least=3, env=env)
    rows = list(iter_corpus_rows(out))
    assert sorted(r["id"] for r in rows) == sorted(f"r{i}" for i in range(n))
    assert all(r["teacher"]["name"] == "llamacpp" for r in rows)


def test_ray_options_need_the_ray_engine(tmp_path):
    from click.testing import CliRunner

    from fsa_edge.cli import build_cli

    source = write_reviews(tmp_path / "in.jsonl", 3)
    result = CliRunner().invoke(build_cli(), ["analyze", str(source), "--actors", "2"])
    assert result.exit_code == 2 and "--actors: only with --engine ray" in result.output
    result = CliRunner().invoke(build_cli(), ["analyze", str(source), "-o",
                                              str(tmp_path / "o.parquet")])
    assert result.exit_code == 2 and "needs --engine ray" in result.output
    result = CliRunner().invoke(build_cli(), ["analyze", "-", "--engine", "ray"])
    assert result.exit_code == 2 and "not with --engine ray" in result.output
