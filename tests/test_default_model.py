"""The embedded default model: works right after install, with torch not importable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsa_edge.builtin_models import DEFAULT_MODEL_DIR

ROOT = Path(__file__).resolve().parents[1]

BLOCK_TORCH = '''
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"torch", "transformers"}:
            raise ImportError("blocked for this test: " + name)
sys.meta_path.insert(0, Block())
'''


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + code], capture_output=True,
                          text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def shipped():
    if not (DEFAULT_MODEL_DIR / "model.bin").exists():
        pytest.skip("this build ships no default model")
    return DEFAULT_MODEL_DIR


def test_blocker_really_blocks_torch():
    result = run_blocked("import torch")
    assert result.returncode != 0 and "blocked for this test" in result.stderr


def test_default_model_analyzes_without_torch(shipped):
    result = run_blocked('''
import json, fsa_edge
analyzer = fsa_edge.load()
texts = ["The bread is top notch as well.", "The food was great but the service was slow.",
         "Our waiter was rude."]
print(json.dumps([r.to_dict() for r in analyzer.analyze(texts)]))
assert "torch" not in sys.modules and "transformers" not in sys.modules
''')
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["error"] for r in rows] == [None, None, None]
    assert sum(len(r["elements"]) for r in rows) >= 2
    for row in rows:
        for element in row["elements"]:
            start, end = element["aspect_span"]
            assert row["text"][start:end] == element["aspect"]


def test_cli_analyze_on_the_default_model_without_torch(shipped):
    result = run_blocked('''
from fsa_edge.cli import main
main(["analyze", "examples/reviews.jsonl"])
''')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len((ROOT / "examples/reviews.jsonl").read_text().splitlines())
    assert all(json.loads(line)["error"] is None for line in lines)


def test_default_model_serves_each_task_of_its_card_without_torch(shipped):
    card = json.loads((shipped / "fsa_edge.json").read_text(encoding="utf-8"))
    result = run_blocked(f'''
import json, fsa_edge
from fsa_edge.cli import main
analyzer = fsa_edge.load()
for task in {card["tasks"]!r}:
    rows = analyzer.analyze(["The food was great but the service was slow."], task=task)
    print(json.dumps({{"task": task, "elements": [e.to_dict() for e in rows[0].elements]}}))
''')
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["task"] for r in rows] == card["tasks"]
    for row in rows:
        assert row["elements"], row
        if row["task"] == "acsa":
            assert all(e["category"] and e["aspect"] is None for e in row["elements"])


@pytest.mark.parametrize("option, value", [("max_batch_size", 0), ("max_batch_tokens", "lots")])
def test_the_default_refuses_a_batch_option_below_one_naming_it(shipped, option, value):
    import fsa_edge
    from fsa_edge.errors import BackendError

    with pytest.raises(BackendError, match=f"'{option}' must be a whole number of at least 1, "
                                           f"not {value!r}"):
        fsa_edge.load(**{option: value})


def test_the_default_refuses_an_option_it_does_not_take_naming_the_ones_it_does(shipped):
    import fsa_edge
    from fsa_edge.errors import BackendError

    with pytest.raises(BackendError, match="unknown tagger option.s.: max_batch_token; known: "
                                           ".*max_batch_tokens, max_batch_size"):
        fsa_edge.load(max_batch_token=16)


def test_the_cli_hands_backend_options_to_the_backend(shipped, tmp_path):
    from click.testing import CliRunner

    from fsa_edge.cli import build_cli

    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in
                               enumerate(["The soup was great.", "Rude waiter, cold fries."])))
    runner, main = CliRunner(), build_cli()
    plain = runner.invoke(main, ["analyze", str(reviews)])
    small = runner.invoke(main, ["analyze", str(reviews), "-O", "max_batch_tokens=4",
                                 "-O", "max_batch_size=1"])
    assert plain.exit_code == small.exit_code == 0 and small.output == plain.output
    for options, message in ((["-O", "max_batch_token=4"], "unknown tagger option(s): "
                                                           "max_batch_token"),
                             (["-O", "max_batch_tokens=0"], "'max_batch_tokens' must be"),
                             (["-O", "device=cpu"], "-O device: use --device"),
                             (["-O", "batch_size=8"], "-O batch_size: use --batch-size"),
                             (["-O", "max_batch_tokens"], "expected KEY=VALUE"),
                             (["-O", "cpu_threads=1", "--cpu-threads", "1"], "give one"),
                             (["-O", "cpu_threads=1", "--engine", "ray"],
                              "-O cpu_threads (use --cpus-per-actor): not with --engine ray")):
        result = runner.invoke(main, ["analyze", str(reviews), *options])
        assert result.exit_code == 2 and message in result.output, (options, result.output)


def test_the_analyzer_tokenizes_a_text_that_fits_once_and_answers_as_before(shipped):
    import fsa_edge
    from fsa_edge.runtime import TokenCounter
    from fsa_edge.tasks import get_task
    from tiny_models import CountingTokenizer

    texts = ["The pizza was great but the service was slow.", "Battery life is awful.",
             "The pizza was great but the service was slow.",  # the same text twice
             " ".join(f"Waiter number {i} was friendly and the wine list long."
                      for i in range(40))]  # read in parts
    analyzer = fsa_edge.load(shipped, device="cpu", cpu_threads=1)
    runtime = analyzer.backend.runtime
    counting = CountingTokenizer(runtime.tokenizer)  # what encodes, counted from here on
    runtime.counter = TokenCounter(counting)
    results = analyzer.analyze(texts, task="all")
    assert results[3].parts > 1  # the long text was read in parts
    # the counted encodings served the encoder: only the second copy of the repeated text (its
    # kept encoding went to the first) was tokenized again
    assert counting.texts == [texts[2]]
    direct = analyzer.backend.predict_tasks(texts[:3], tasks=[get_task(t) for t in (
        "atsa", "acsa", "aste", "sentence")])  # tokenized afresh, without the count
    for result, answers in zip(results[:3], direct):
        by_task = {name: [(e.aspect, e.category, e.opinion, e.polarity) for e in elements]
                   for name, elements in result.answers.items()}
        assert by_task == {name: [(e.aspect, e.category, e.opinion, e.polarity)
                                  for e in prediction.elements]
                           for name, prediction in answers.items()}
    assert sorted(counting.texts[1:]) == sorted(texts[:3])  # predict_tasks tokenized its own
