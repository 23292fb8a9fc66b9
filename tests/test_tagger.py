"""The tagger student: label scheme, fine-tuning, conversion with its parity gate, torch-free runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fsa_edge_tagger.scheme import (CATEGORY_CLASSES, TAGS, Piece, attention_weights,
                                    category_logits, decode_categories, decode_terms,
                                    term_tags)

def mean_pool(hidden, lengths):
    """Reference: the mean of each row's first ``length`` states."""
    return np.stack([row[:n].mean(axis=0) for row, n in zip(hidden, lengths)])


TEXT = "The sushirolls were great but service slow."


def _pieces():
    # The, sushi, ##rol, ##ls, were, great, but, service, slow, .  ([CLS]/[SEP] around)
    spans = [(0, 3, False), (4, 9, False), (9, 12, True), (12, 14, True), (15, 19, False),
             (20, 25, False), (26, 29, False), (30, 37, False), (38, 42, False), (42, 43, False)]
    return ([Piece(0, 0, True, False)] + [Piece(s, e, False, c) for s, e, c in spans]
            + [Piece(0, 0, True, False)])


def _one_hot(tags):
    logits = np.full((len(tags), len(TAGS)), -9.0)
    for row, tag in enumerate(tags):
        logits[row, 0 if tag < 0 else tag] = 9.0
    return logits


def test_gold_tags_decode_back_to_the_gold_spans():
    pieces = _pieces()
    gold = [(4, 14, "positive"), (30, 37, "negative")]
    tags = term_tags(pieces, gold)
    assert tags[0] == tags[-1] == -100
    assert [TAGS[t] for t in tags[2:5]] == ["B-positive", "I-positive", "I-positive"]
    assert TAGS[tags[8]] == "B-negative" and tags[9] == 0
    found = decode_terms(_one_hot(tags), pieces)
    assert [(s, e, p) for s, e, p, _ in found] == gold
    assert TEXT[4:14] == "sushirolls" and all(0.9 < score <= 1 for *_, score in found)


def test_a_term_never_ends_inside_a_word_and_stray_i_opens_a_span():
    pieces = _pieces()
    tags = [0] * len(pieces)
    tags[3] = TAGS.index("I-positive")  # only "##rol" tagged: the span grows to "sushirolls"
    tags[8] = TAGS.index("I-negative")  # I after O starts a term
    found = decode_terms(_one_hot(tags), pieces)
    assert [(s, e, p) for s, e, p, _ in found] == [(4, 14, "positive"), (30, 37, "negative")]


def test_a_term_scores_as_a_term_or_as_a_term_of_its_polarity():
    pieces = _pieces()
    logits = _one_hot([0] * len(pieces))
    # "sushi" (piece 2): P(O) .2, B-positive .5, B-negative .3 -> positive, term .8, positive .5
    probabilities = np.full(len(TAGS), 1e-9)
    probabilities[[0, TAGS.index("B-positive"), TAGS.index("B-negative")]] = (0.2, 0.5, 0.3)
    logits[2] = np.log(probabilities)
    logits[3] = _one_hot([TAGS.index("I-positive")])[0]  # "##rol": certain
    logits[4] = _one_hot([TAGS.index("I-positive")])[0]  # "##ls"
    (start, end, polarity, term), = decode_terms(logits, pieces)
    (*_, polarity_score), = decode_terms(logits, pieces, "term_polarity")
    assert (start, end, polarity) == (4, 14, "positive")
    assert term == pytest.approx(1 - 0.2 / 3, abs=1e-6)
    assert polarity_score == pytest.approx((0.5 + 2) / 3, abs=1e-6)
    with pytest.raises(ValueError, match="term score 'polar'"):
        decode_terms(logits, pieces, "polar")


def test_the_runtime_reads_which_raw_score_the_atsa_map_was_fitted_on():
    from fsa_edge.errors import BackendError
    from fsa_edge_tagger.runtime import term_score

    assert term_score(None) == term_score({"acsa": {"raw_score": "x"}}) == "term"
    assert term_score({"atsa": {"a": 1.0, "b": 0.0}}) == "term"  # maps fitted before the field
    assert term_score({"atsa": {"raw_score": "term_polarity"}}) == "term_polarity"
    with pytest.raises(BackendError, match="atsa.raw_score is 'confidence'"):
        term_score({"atsa": {"raw_score": "confidence"}})


def test_category_decoding():
    categories = ["FOOD#QUALITY", "SERVICE#GENERAL", "PRICE"]
    logits = np.full((3, len(CATEGORY_CLASSES)), -5.0)
    logits[0, CATEGORY_CLASSES.index("positive")] = 5
    logits[1, 0] = 5
    logits[2, CATEGORY_CLASSES.index("negative")] = 5
    found = decode_categories(logits.reshape(-1), categories)
    assert [(c, p) for c, p, _ in found] == [("FOOD#QUALITY", "positive"), ("PRICE", "negative")]
    # P(none) 0.4 beats each polarity (0.25, 0.1, 0.15, 0.1): argmax finds nothing, a calibrated
    # threshold above 0.4 finds the category with its most probable polarity
    shy = np.log(np.array([0.4, 0.25, 0.1, 0.15, 0.1]))
    assert decode_categories(shy, ["SERVICE#GENERAL"]) == []
    assert decode_categories(shy, ["SERVICE#GENERAL"], none_below=0.45)[0][:2] == \
        ("SERVICE#GENERAL", "positive")
    assert decode_categories(shy, ["SERVICE#GENERAL"], none_below=0.4) == []


def test_attention_weights_read_each_categorys_words_and_ignore_padding():
    hidden = np.zeros((1, 4, 2), dtype=np.float32)
    hidden[0, :, 0] = [1, 0, 0, 0]  # piece 0 speaks about category 0, piece 1 about category 1
    hidden[0, :, 1] = [0, 1, 0, 0]
    hidden[0, 3] = [50, 50]  # padding: must get no weight
    weights = attention_weights(hidden, [3], np.array([[20.0, 0.0], [0.0, 20.0]]))
    assert weights.shape == (1, 2, 4) and np.allclose(weights.sum(axis=-1), 1)
    assert weights[0, 0, 0] > 0.9 and weights[0, 1, 1] > 0.9 and weights[0, :, 3].max() == 0
    # zero queries attend uniformly over the real pieces
    assert np.allclose(attention_weights(hidden, [3], np.zeros((2, 2)))[0, :, :3], 1 / 3)


def test_category_logits_mean_heads_keep_the_linear_layout_and_attention_adds_shared():
    rng = np.random.default_rng(0)
    hidden, lengths = rng.normal(size=(2, 5, 4)), [5, 2]
    heads = {"category.weight": rng.normal(size=(3 * 5, 4)),
             "category.bias": rng.normal(size=15)}
    expected = mean_pool(hidden, lengths) @ heads["category.weight"].T + heads["category.bias"]
    assert np.allclose(category_logits(hidden, lengths, heads, 3), expected)
    heads.update({"category.query": np.zeros((3, 4)),
                  "category.shared.weight": rng.normal(size=(5, 4)),
                  "category.shared.bias": rng.normal(size=5)})
    shared = mean_pool(hidden, lengths) @ heads["category.shared.weight"].T \
        + heads["category.shared.bias"]
    assert np.allclose(category_logits(hidden, lengths, heads, 3),
                       expected + np.tile(shared, 3))


def _blas_threads() -> dict[str, int]:
    """numpy's BLAS libraries (path → thread count), as threadpoolctl sees them now."""
    from threadpoolctl import threadpool_info

    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


def test_heads_run_with_one_blas_thread_and_the_setting_is_restored():
    from threadpoolctl import threadpool_limits

    from fsa_edge_tagger.runtime import one_blas_thread

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and set(before.values()) == {2}  # numpy's BLAS is loaded and set to 2
        with one_blas_thread():
            assert set(_blas_threads().values()) <= {1}
        assert _blas_threads() == before


def test_head_blas_threads_setting(monkeypatch):
    from threadpoolctl import threadpool_limits

    from fsa_edge.errors import BackendError
    from fsa_edge_tagger.runtime import HEAD_BLAS_THREADS_ENV, one_blas_thread

    with threadpool_limits(limits=2, user_api="blas"):
        monkeypatch.setenv(HEAD_BLAS_THREADS_ENV, "0")  # leave BLAS alone
        with one_blas_thread():
            assert set(_blas_threads().values()) == {2}
        monkeypatch.setenv(HEAD_BLAS_THREADS_ENV, "two")
        with pytest.raises(BackendError, match="FSA_EDGE_HEAD_BLAS_THREADS='two'"):
            one_blas_thread()


def _tiny_head_net():
    """torch, ``TaggerNet`` and a 1-layer random BERT encoder (hidden 32) for head tests."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertModel

    from fsa_edge_tagger.network import TaggerNet

    torch.manual_seed(0)
    return torch, TaggerNet, BertModel(BertConfig(hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64,
                                             vocab_size=50))


def test_torch_category_head_matches_the_numpy_one():
    torch, TaggerNet, encoder = _tiny_head_net()
    hidden = torch.randn(3, 6, 32)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5])
    for pooling in ("attention", "mean"):
        net = TaggerNet(encoder, 7, 0.0, pooling)
        if net.query is not None:
            with torch.no_grad():
                net.query.mul_(50)  # sharp attention, so a masking error would show
        got = net.category_logits(hidden, mask).detach().numpy().reshape(3, -1)
        assert np.abs(got - category_logits(hidden.numpy(), [6, 3, 1], net.heads(), 7)).max() \
            < 1e-5


def test_category_parts_index_entities_and_attributes_across_domains():
    from fsa_edge_tagger.network import category_parts

    names = ["FOOD#QUALITY", "FOOD#PRICES", "SERVICE#GENERAL", "LAPTOP#QUALITY", "PRICE"]
    assert category_parts(names) == ([0, 0, 1, 2, 3], [0, 1, 2, 0, 3], 4, 4)


def test_shared_category_parts_export_their_sums_and_carry_learning_to_relatives():
    from fsa_edge_tagger.network import category_parts

    torch, TaggerNet, encoder = _tiny_head_net()
    names = ["BATTERY#QUALITY", "BATTERY#GENERAL", "SCREEN#GENERAL"]
    net = TaggerNet(encoder, 3, 0.0, "attention", category_parts(names))
    with torch.no_grad():
        for parameter in net.part_params.values():
            parameter.normal_()
    hidden = torch.randn(2, 5, 32)
    mask = torch.tensor([[1] * 5, [1] * 2 + [0] * 3])
    heads = net.heads()
    own = net.category.weight.detach().view(3, 5, 32)
    parts = {k: v.detach() for k, v in net.part_params.items()}
    assert np.allclose(heads["category.weight"].reshape(3, 5, 32)[0],
                       own[0] + parts["entity_weight"][0] + parts["attribute_weight"][0])
    assert np.allclose(heads["category.query"][2], net.query.detach()[2]
                       + parts["entity_query"][1] + parts["attribute_query"][1])
    got = net.category_logits(hidden, mask).detach().numpy().reshape(2, -1)
    assert np.abs(got - category_logits(hidden.numpy(), [5, 2], heads, 3)).max() < 1e-4
    # A loss on BATTERY#QUALITY alone moves BATTERY#GENERAL (shared entity) but not SCREEN#GENERAL
    # through the parts; without parts it moves neither.
    for with_parts in (True, False):
        net = TaggerNet(encoder, 3, 0.0, "attention", category_parts(names) if with_parts else None)
        for parameter in net.modules.parameters():
            parameter.requires_grad_(False)
        for parameter in [net.category.weight, net.category.bias] + (
                list(net.part_params.values()) if with_parts else []):
            parameter.requires_grad_(True)
        before = net.category_logits(hidden, mask).detach()
        loss = net.category_logits(hidden, mask)[:, 0, 1].sum()
        loss.backward()
        with torch.no_grad():
            for parameter in net.modules.parameters():
                if parameter.grad is not None:
                    parameter -= 0.5 * parameter.grad
        change = (net.category_logits(hidden, mask).detach() - before).abs().amax(dim=(0, 2))
        assert change[0] > 0.1 and change[2] == 0
        assert (change[1] > 0.1) == with_parts


# ---------------------------------------------------------------------------- with torch
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seq2seq_fixtures import tagger_data, tiny_bert

    from fsa_edge_tagger.training import finetune_tagger

    root = tmp_path_factory.mktemp("tagger")
    bert = tiny_bert(root / "bert", hidden=64, heads=4)
    atsa, acsa = tagger_data(root, (400, 40), (300, 30))
    summary = finetune_tagger([atsa, acsa], student=str(bert), out=root / "out", epochs=6,
                              batch_size=16, lr=2e-3, head_lr=5e-3, seed=1, device="cpu",
                              threads=1, log_every=0)
    return root, summary, atsa, acsa


def test_finetuning_lifts_dev_f1_and_writes_a_tagger_directory(trained):
    root, summary, _, _ = trained
    history = summary["history"]
    assert summary["best_score"] > 60 and summary["best_score"] > history[0]["dev_f1_atsa"]
    out = root / "out"
    assert (out / "heads.npz").is_file() and (out / "tokenizer.json").is_file()
    card = json.loads((out / "fsa_edge.json").read_text())
    assert card["backend"] == "tagger" and card["tasks"] == ["atsa", "acsa"]
    assert len(card["tagger"]["categories"]) == 10
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 6


def test_extra_training_data_drops_held_out_sentences_and_ignores_unknown_categories(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from click.testing import CliRunner
    from seq2seq_fixtures import synthetic_acsa, tiny_bert

    from fsa_edge.cli import build_cli

    bert = tiny_bert(tmp_path / "bert", hidden=32, heads=4)
    train, dev = synthetic_acsa(40, 1), synthetic_acsa(8, 2)
    extra = synthetic_acsa(20, 3) + [dev[0]]  # one dev sentence: must not be trained on
    extra[0]["aspects"].append({"from": "0", "to": "0", "target": None,
                                "category": "ZZZ#UNSEEN", "polarity": "positive"})
    for name, records in (("train", train), ("dev", dev), ("extra", extra)):
        (tmp_path / f"{name}.json").write_text(json.dumps(records))
    result = CliRunner().invoke(build_cli(), [
        "train", "tagger", "finetune", "--data", f"acsa:{tmp_path / 'train.json'}:{tmp_path / 'dev.json'}",
        "--extra-train", f"acsa:{tmp_path / 'extra.json'}", "--student", str(bert),
        "--out", str(tmp_path / "out"), "--epochs", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["dropped_overlap"]["extra:acsa:extra.json"] >= 1
    assert summary["ignored_unknown_categories"]["extra:acsa:extra.json"] == 1
    assert summary["train_examples"] == 40 - summary["dropped_overlap"]["acsa:" + tmp_path.name] \
        + 21 - summary["dropped_overlap"]["extra:acsa:extra.json"]
    card = json.loads((tmp_path / "out" / "fsa_edge.json").read_text())
    assert "ZZZ#UNSEEN" not in card["tagger"]["categories"]
    bad = CliRunner().invoke(build_cli(), [
        "train", "tagger", "finetune", "--data", f"acsa:{tmp_path / 'train.json'}:{tmp_path / 'dev.json'}",
        "--extra-train", str(tmp_path / "extra.json"), "--out", str(tmp_path / "o2")])
    assert bad.exit_code != 0 and "TASK:FILE" in bad.output


def test_calibration_writes_the_best_dev_threshold_into_the_card(trained, tmp_path):
    import shutil

    from fsa_edge.errors import TrainingError
    from fsa_edge_tagger.calibration import calibrate_none_threshold
    from fsa_edge_tagger.training import load_for_scoring

    root, _, _, acsa = trained
    model = shutil.copytree(root / "out", tmp_path / "model")
    record = calibrate_none_threshold(model, [acsa.dev], threads=1)
    means = record["mean_dev_f1"]
    assert set(means) == {"argmax", "0.5", "0.55", "0.6", "0.65", "0.7", "0.75", "0.8", "0.85",
                          "0.9"}
    assert means[record["chosen"]] == max(means.values())
    card = json.loads((model / "fsa_edge.json").read_text())
    assert card["tagger"]["none_below"] == record["none_below"]
    assert card["tagger"]["calibration"]["chosen"] == record["chosen"]
    with pytest.raises(TrainingError, match="not a tagger directory"):
        calibrate_none_threshold(tmp_path, [acsa.dev])
    runtime = load_for_scoring(model, threads=1)  # the runtime decodes with the card's threshold
    assert runtime.none_below == record["none_below"]
    import fsa_edge

    assert _f1(fsa_edge.load(model, device="cpu"), acsa, "acsa") == pytest.approx(
        means[record["chosen"]], abs=1e-3)


def _f1(analyzer, data, task):
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset

    examples = read_dataset(data.dev).examples
    results = analyzer.analyze([ex.review for ex in examples], task=task)
    return evaluate(task, {ex.review.id: ex.elements for ex in examples},
                    {r.id: r.elements for r in results}).overall.f1


def test_convert_float32_gives_the_trained_dev_score_and_both_tasks(trained, tmp_path):
    pytest.importorskip("ctranslate2")
    import fsa_edge
    from fsa_edge_converters import convert

    root, summary, atsa, acsa = trained
    report = convert(root / "out", tmp_path / "f32", quantization="float32")
    assert report.parity.passed and report.parity.max_abs_delta < 1e-3
    assert report.parity.greedy_agreement == 1.0
    analyzer = fsa_edge.load(tmp_path / "f32", device="cpu")
    assert analyzer.backend.name == "tagger"
    assert _f1(analyzer, atsa, "atsa") == pytest.approx(summary["best_score"], abs=1e-6)
    assert _f1(analyzer, acsa, "acsa") > 25  # a toy category head; untrained it finds none
    unconverted = fsa_edge.load(root / "out", device="cpu")  # served by torch, for comparisons
    assert unconverted.backend.compute_type == "torch-float32"
    assert _f1(unconverted, atsa, "atsa") == pytest.approx(summary["best_score"], abs=1e-6)
    result = analyzer.analyze(["The pizza was great."], task="atsa")[0]
    element = result.elements[0]
    assert (element.aspect, element.aspect_span, element.polarity) == ("pizza", (4, 9),
                                                                       "positive")


def test_an_unconverted_tagger_is_served_by_torch_in_the_compute_type_asked(trained):
    import fsa_edge
    from fsa_edge.errors import BackendError

    root, summary, atsa, _ = trained
    half = fsa_edge.load(root / "out", device="cpu", compute_type="bfloat16")
    assert half.backend.compute_type == "torch-bfloat16"
    full = fsa_edge.load(root / "out", device="cpu")
    tokens = [["[CLS]", "the", "pizza", "was", "great", "[SEP]"]]
    states, states_full = half.backend.runtime.encode(tokens), full.backend.runtime.encode(tokens)
    assert states.dtype == np.float32 and states.shape == states_full.shape
    assert 0 < np.abs(states - states_full).max() < 0.5  # bf16 rounding: close, not equal
    assert _f1(half, atsa, "atsa") == pytest.approx(summary["best_score"], abs=10.0)
    with pytest.raises(BackendError, match="compute_type 'int8'.*float16"):
        fsa_edge.load(root / "out", device="cpu", compute_type="int8")


def test_int8_passes_the_gate_and_runs_without_torch(trained, tmp_path):
    pytest.importorskip("ctranslate2")
    from click.testing import CliRunner
    from test_default_model import run_blocked

    from fsa_edge.cli import build_cli

    root, _, atsa, acsa = trained
    samples = tmp_path / "samples.jsonl"  # the gate runs on dev sentences, as in the recipe:
    # on the built-in (real-review) samples a toy model's category decisions sit on the edge
    samples.write_text("".join(json.dumps({"text": r["sentence"]}) + "\n" for path in
                               (atsa.dev, acsa.dev) for r in json.loads(path.read_text())))
    result = CliRunner().invoke(build_cli(), ["convert", str(root / "out"), str(tmp_path / "i8"),
                                              "--samples", str(samples)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["parity"]["passed"] and report["quantization"] == "int8"
    code = (f"import fsa_edge\na = fsa_edge.load({str(tmp_path / 'i8')!r})\n"
            "r = a.analyze(['The sushi was awful and the staff was friendly.'])[0]\n"
            "print(sorted((e.aspect, e.polarity) for e in r.elements))\n"
            "print(all(e.category.endswith('#GENERAL') for e in\n"
            "          a.analyze(['The sushi was awful.'], task='acsa')[0].elements))\n"
            "import sys; print('torch' in sys.modules)")
    ran = run_blocked(code)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.strip().splitlines()
    assert lines[0] == "[('staff', 'positive'), ('sushi', 'negative')]"
    assert lines[1:] == ["True", "False"]


def test_a_failed_gate_removes_the_output(trained, tmp_path):
    pytest.importorskip("ctranslate2")
    from fsa_edge.errors import ConversionError
    from fsa_edge_converters import ParityThresholds, convert

    root, _, _, _ = trained
    with pytest.raises(ConversionError, match="parity gate failed"):
        convert(root / "out", tmp_path / "strict", quantization="int8",
                thresholds=ParityThresholds(quantized_mean_abs=0.0))
    assert not (tmp_path / "strict").exists()


def test_the_tagger_refuses_other_tasks(tmp_path):
    pytest.importorskip("torch")
    from fsa_edge.errors import TrainingError
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger import TaggerStudent

    with pytest.raises(TrainingError, match="not 'asqp'"):
        TaggerStudent().finetune([TaskData(get_task("asqp"), tmp_path, tmp_path)],
                                 student="minilm", out=tmp_path / "o")


def test_mlm_pretraining_lowers_the_held_out_loss_and_feeds_finetuning(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from click.testing import CliRunner
    from seq2seq_fixtures import corpus_rows, tiny_bert, write_atsa

    from fsa_edge.cli import build_cli
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import finetune_tagger

    bert = tiny_bert(tmp_path / "bert", hidden=64, heads=4)
    corpus = tmp_path / "corpus.jsonl"
    rows = corpus_rows(240)
    for row in rows:  # longer responses: several sentences each
        row["mixtral_response"] = " ".join([row["Text"]] * 3) + "\n" + row["mixtral_response"]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(build_cli(), [
        "train", "tagger", "pretrain", "--corpus", str(corpus), "--student", str(bert), "--out",
        str(tmp_path / "pre"), "--epochs", "3", "--lr", "2e-3", "--device", "cpu",
        "--threads", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["history"][-1]["dev_loss"] < summary["initial_dev_loss"] - 0.5
    assert (tmp_path / "pre" / "config.json").is_file()
    atsa = TaskData(get_task("atsa"), write_atsa(tmp_path / "train.json", 64, 1),
                    write_atsa(tmp_path / "dev.json", 8, 2))
    tuned = finetune_tagger([atsa], student=str(tmp_path / "pre"), out=tmp_path / "ft",
                            epochs=1, device="cpu", threads=1, log_every=0)
    assert tuned["epochs_done"] == 1


def test_weight_average_moves_toward_the_weights_and_is_applied_only_inside_its_block():
    torch = pytest.importorskip("torch")
    from fsa_edge.trainer import WeightAverage

    weight = torch.nn.Parameter(torch.zeros(3))
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    average = WeightAverage([weight, frozen], decay=0.5)
    assert len(average.parameters) == 1  # frozen parameters are not averaged
    with torch.no_grad():
        weight.fill_(10.0)
    average.update()  # first update: d = min(0.5, 1/10) = 0.1 → 0.1·0 + 0.9·10
    assert torch.allclose(average.average[0], torch.full((3,), 9.0))
    with torch.no_grad():
        weight.fill_(1.0)
    average.update()  # d = min(0.5, 2/11) → 9·2/11 + 1·9/11
    expected = 9.0 * 2 / 11 + 9 / 11
    with average.applied():
        assert torch.allclose(weight, torch.full((3,), expected))
    assert torch.allclose(weight, torch.ones(3))
    with pytest.raises(ValueError, match="EMA decay"):
        WeightAverage([weight], decay=1.0)


def test_ema_training_scores_and_saves_the_averaged_weights(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from click.testing import CliRunner
    from seq2seq_fixtures import synthetic_acsa, tiny_bert

    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset
    from fsa_edge.metric import evaluate
    from fsa_edge_tagger.training import load_for_scoring

    bert = tiny_bert(tmp_path / "bert", hidden=32, heads=4)
    for name, records in (("train", synthetic_acsa(60, 1)), ("dev", synthetic_acsa(12, 2))):
        (tmp_path / f"{name}.json").write_text(json.dumps(records))
    spec = f"acsa:{tmp_path / 'train.json'}:{tmp_path / 'dev.json'}"
    runs = {}
    for label, extra in (("raw", []), ("ema", ["--ema", "0.9"])):
        result = CliRunner().invoke(build_cli(), [
            "train", "tagger", "finetune", "--data", spec, "--student", str(bert), "--out",
            str(tmp_path / label), "--epochs", "1", "--threads", "1", "--seed", "3", *extra])
        assert result.exit_code == 0, result.output
        runs[label] = json.loads(result.output.strip().splitlines()[-1])
    card = json.loads((tmp_path / "ema" / "fsa_edge.json").read_text())
    assert card["recipe"]["ema"] == 0.9
    raw_heads = np.load(tmp_path / "raw" / "heads.npz")
    ema_heads = np.load(tmp_path / "ema" / "heads.npz")
    assert any(not np.allclose(raw_heads[k], ema_heads[k]) for k in raw_heads.files)
    # The dev F1 logged for the epoch is the saved (averaged) model's.
    runtime = load_for_scoring(tmp_path / "ema", threads=1)
    examples = read_dataset(tmp_path / "dev.json").examples
    predicted = {ex.review.id: elements for ex, elements in
                 zip(examples, runtime.run([ex.review.text for ex in examples], "acsa"))}
    f1 = evaluate("acsa", {ex.review.id: ex.elements for ex in examples}, predicted).overall.f1
    logged = json.loads((tmp_path / "ema" / "metrics.jsonl").read_text().splitlines()[0])
    assert f1 == pytest.approx(logged["dev_f1_acsa"], abs=0.01)


def test_calibrating_a_converted_tagger_writes_its_threshold_into_both_cards(trained, tmp_path):
    import shutil

    from click.testing import CliRunner

    from fsa_edge.cli import build_cli

    root, _, _, acsa = trained
    checkpoint = shutil.copytree(root / "out", tmp_path / "hf")
    converted = tmp_path / "ct2"
    runner = CliRunner()
    result = runner.invoke(build_cli(), ["convert", str(checkpoint), str(converted),
                                         "-q", "float32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(build_cli(), ["train", "tagger", "calibrate", str(converted), "--also",
                                         str(checkpoint), "--dev", str(acsa.dev), "--threads", "1"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert record["calibrated_on"] == str(converted)
    for directory in (converted, checkpoint):
        tagger = json.loads((directory / "fsa_edge.json").read_text())["tagger"]
        assert tagger["none_below"] == record["none_below"]
        assert tagger["calibration"]["calibrated_on"] == str(converted)
    import fsa_edge

    assert _f1(fsa_edge.load(converted, device="cpu"), acsa, "acsa") == pytest.approx(
        record["mean_dev_f1"][record["chosen"]], abs=1e-3)
