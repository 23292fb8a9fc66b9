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


# A Ray dataset's rows come in the batches Ray forms, and int8 scores move with a batch's other
# reviews on some CPUs (up to 0.0165 with the 2026-12-03 default: benchmarks/README "Batch
# dependence of int8 answers"); a file's lines are batched as plain analyze batches them.
DATASET_SCORE_TOLERANCE = 0.025


def plain_lines(path: Path, *options: str) -> list[str]:
    """What plain ``fsa-edge analyze PATH`` writes (one line per input line)."""
    from click.testing import CliRunner

    from fsa_edge.cli import build_cli

    out = path.with_name(path.name + ".plain")
    result = CliRunner().invoke(build_cli(), ["analyze", str(path), "-o", str(out), *options],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8").splitlines()


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
        assert out.read_text(encoding="utf-8").splitlines() == expected  # byte for byte
    unordered = tmp_path / "any-order.jsonl"
    run_with_deadline(lambda: analyze_file(source, unordered, actors=2, preserve_order=False),
                      120)
    assert sorted(unordered.read_text(encoding="utf-8").splitlines()) == sorted(expected)


def test_with_backend_options_ray_gives_plain_rows_and_a_bad_one_fails_on_the_driver(
        local_ray, tmp_path):
    from fsa_edge.errors import BackendError
    from fsa_edge.ray import analyze_file

    source = write_reviews(tmp_path / "in.jsonl", 40, bad_every=9)
    out = tmp_path / "out.jsonl"
    counts = run_with_deadline(lambda: analyze_file(source, out, actors=1, options={
        "max_batch_tokens": 4, "max_batch_size": 1}), 120)
    assert counts["lines"] == 40
    assert out.read_text(encoding="utf-8").splitlines() == plain_lines(source)
    with pytest.raises(BackendError, match="unknown tagger option.s.: max_batch_token"):
        analyze_file(source, out, options={"max_batch_token": 4})


def test_a_file_is_batched_as_plain_analyze_batches_it(local_ray, tmp_path):
    """Batches of 7 lines over ranges of a few bytes: every range and block boundary falls on
    a batch boundary, so each review meets the neighbours it meets in plain analyze."""
    from fsa_edge.ray.lines import line_ranges, read_line_batches

    source = write_reviews(tmp_path / "in.jsonl", 100, bad_every=9)
    ranges = line_ranges(source, range_bytes=200, lines_per_batch=7)
    assert len(ranges) > 3 and all(r.lines % 7 == 0 for r in ranges[:-1])
    assert sum(r.lines for r in ranges) == 100
    batches, total = read_line_batches(source, 7, range_bytes=200)
    rows = sorted(batches.take_all(), key=lambda row: row["line"])
    assert total == 100 and [row["line"] for row in rows] == list(range(1, 101, 7))
    assert b"".join(raw for row in rows for raw in row["raws"]) == source.read_bytes()


def test_parquet_output_has_one_row_per_line(local_ray, tmp_path):
    import pyarrow.parquet as pq

    from fsa_edge.ray import analyze_file

    source = write_reviews(tmp_path / "in.jsonl", 40, bad_every=10)
    out = tmp_path / "out.parquet"
    run_with_deadline(lambda: analyze_file(source, out, actors=1), 120)
    rows = pq.read_table(out).to_pylist()
    assert [r.pop("line") for r in rows] == list(range(1, 41))
    assert all(r.pop("answers") is None for r in rows)  # a column only task "all" fills
    assert rows == [json.loads(line) for line in plain_lines(source)]
    every = tmp_path / "all.parquet"
    run_with_deadline(lambda: analyze_file(source, every, task="all", actors=1), 120)
    answers = [r["answers"] for r in pq.read_table(every).to_pylist()]
    expected = [json.loads(line).get("answers") for line in plain_lines(source, "--task", "all")]
    assert [{task: found for task, found in row.items() if found is not None} if row else row
            for row in answers] == expected


def test_text_input_gives_plain_text_rows(local_ray, tmp_path):
    from fsa_edge.ray import analyze_file

    source = tmp_path / "in.txt"
    source.write_bytes(b"\n".join(t.encode() for t in TEXTS) + b"\n\ncaf\xe9\nlast line, no newline")
    out = tmp_path / "out.jsonl"
    counts = run_with_deadline(lambda: analyze_file(source, out, input_format="text", actors=1),
                               120)
    assert counts["lines"] == 8 and counts["errors"] == 2
    assert out.read_text(encoding="utf-8").splitlines() == plain_lines(source, "--format", "text")


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
            got = by_id[record["id"]]["elements"]
            assert [{**e, "score": None} for e in got] == [
                {**e, "score": None} for e in expected["elements"]]
            assert all(abs(a["score"] - b["score"]) <= DATASET_SCORE_TOLERANCE
                       for a, b in zip(got, expected["elements"]))
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
    assert out.read_text(encoding="utf-8").splitlines() == expected


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
