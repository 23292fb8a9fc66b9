"""ASTE on the tagger: span tags and their decoding, pairing on hand-made cases (one aspect with
two opinions, two aspects sharing one opinion, opinion before aspect), the torch pair head
against the numpy one, a toy fine-tuning run served by the converted model, and the held-out
guard across task data sets."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import benchmark_script

from fsa_edge_tagger.scheme import Piece
from fsa_edge_tagger.triplets import (DISTANCE_BUCKETS, PAIR_CLASSES, SPAN_TAGS, decode_spans,
                                      decode_triplets, distance_bucket, pair_features,
                                      pair_logits, span_tags)

# "The pizza was great and hot , the sta ##ff rude ." with [CLS] / [SEP] around
TEXT = "The pizza was great and hot, the staff rude."
WORDS = [(0, 3, False), (4, 9, False), (10, 13, False), (14, 19, False), (20, 23, False),
         (24, 27, False), (27, 28, False), (29, 32, False), (33, 36, False), (36, 38, True),
         (39, 43, False), (43, 44, False)]


def pieces() -> list[Piece]:
    return ([Piece(0, 0, True, False)] + [Piece(s, e, False, c) for s, e, c in WORDS]
            + [Piece(0, 0, True, False)])


def one_hot(tags: list[int]) -> np.ndarray:
    logits = np.full((len(tags), len(SPAN_TAGS)), -9.0)
    for row, tag in enumerate(tags):
        logits[row, max(tag, 0)] = 9.0
    return logits


def test_span_tags_decode_back_to_aspects_and_opinions_and_spans_grow_to_whole_words():
    aspects, opinions = [(4, 9), (33, 38)], [(14, 19), (24, 27), (39, 43)]
    tags = span_tags(pieces(), aspects, opinions)
    assert tags[0] == tags[-1] == -100
    assert [SPAN_TAGS[t] for t in tags[9:11]] == ["B-ASP", "I-ASP"]
    found = decode_spans(one_hot(tags), pieces())
    assert [(s.kind, s.start, s.end) for s in found] == [
        ("ASP", 4, 9), ("OPN", 14, 19), ("OPN", 24, 27), ("ASP", 33, 38), ("OPN", 39, 43)]
    assert all(s.score > 0.99 for s in found)
    tags = [0] * len(pieces())
    tags[10] = SPAN_TAGS.index("I-ASP")  # only "##ff": the span grows to "staff"
    tags[4], tags[5] = SPAN_TAGS.index("B-OPN"), SPAN_TAGS.index("I-ASP")  # kind change splits
    found = decode_spans(one_hot(tags), pieces())
    assert [(s.kind, s.start, s.end) for s in found] == [("OPN", 14, 19), ("ASP", 20, 23),
                                                         ("ASP", 33, 38)]


def test_a_span_threshold_takes_in_pieces_whose_o_probability_is_below_it():
    """``none_below`` on the span head: a piece whose most probable tag is ``O`` joins a span
    when P(O) is below the threshold (its tag the most probable span tag); argmax otherwise."""
    logits = one_hot([0] * len(pieces()))
    logits[4] = [np.log(0.6), np.log(0.05), np.log(0.05), np.log(0.25), np.log(0.05)]  # great
    logits[2, :] = [np.log(0.75), np.log(0.2), np.log(0.02), np.log(0.02), np.log(0.01)]  # pizza
    assert decode_spans(logits, pieces()) == decode_spans(logits, pieces(), None) == []
    found = decode_spans(logits, pieces(), 0.7)  # P(O) 0.6 < 0.7: "great"; 0.75: not "pizza"
    assert [(s.kind, s.start, s.end) for s in found] == [("OPN", 14, 19)]
    assert abs(found[0].score - 0.3) < 1e-9  # B-OPN + I-OPN of its piece
    found = decode_spans(logits, pieces(), 0.8)
    assert [(s.kind, s.start, s.end) for s in found] == [("ASP", 4, 9), ("OPN", 14, 19)]
    assert decode_spans(logits, pieces(), 0.5) == []


def test_decode_triplets_passes_the_span_threshold_to_the_span_head():
    dim = 4 + len(SPAN_TAGS)
    hidden = states({2: ("B-ASP", (0,)), 9: ("B-ASP", (1,)), 10: ("I-ASP", (1,)),
                     11: ("B-OPN", (1, 3))}, len(pieces()), dim)
    heads = hand_made_heads(dim)
    before = decode_triplets(hidden, pieces(), heads)
    assert [(TEXT[slice(*t.aspect)], TEXT[slice(*t.opinion)]) for t in before] == [
        ("staff", "rude")]
    # "great" (piece 4) leans to O, but P(O) < 0.99: with that span threshold it is an opinion
    hidden[4, 4 + SPAN_TAGS.index("B-OPN")] = 0.3
    hidden[4, 4 + SPAN_TAGS.index("O")] = 0.35  # P(O) 0.59
    hidden[4, :4] = hidden[11, :4]  # the pair head sees "rude"'s group
    assert decode_triplets(hidden, pieces(), heads) == before
    found = decode_triplets(hidden, pieces(), heads, None, 0.99)
    assert ("staff", "great") in [(TEXT[slice(*t.aspect)], TEXT[slice(*t.opinion)])
                                  for t in found]


def test_distance_buckets_count_the_gap_and_the_order():
    assert distance_bucket((1, 1), (2, 2)) == 0  # adjacent, aspect first
    assert distance_bucket((1, 1), (3, 3)) == 1  # one piece between
    assert distance_bucket((5, 6), (1, 2)) == DISTANCE_BUCKETS + 2  # opinion first, gap 2
    assert distance_bucket((1, 1), (60, 60)) == DISTANCE_BUCKETS - 1


def hand_made_heads(dim: int) -> dict[str, np.ndarray]:
    """Heads that pair an aspect and an opinion when they share a "group" dimension (0 or 1) and
    read the polarity from the opinion's dimension 2 (positive) or 3 (negative); the span head
    reads the tag from dimensions 4.. (one per span tag)."""
    features = 3 * dim + 2 * DISTANCE_BUCKETS
    hidden = np.zeros((2, features), dtype=np.float32)
    hidden[0, 2 * dim:2 * dim + 2] = 1  # a ⊙ o on the group dimensions: "they belong together"
    hidden[1, dim + 3] = 1  # the opinion is negative
    out = np.zeros((len(PAIR_CLASSES), 2), dtype=np.float32)
    out_bias = np.zeros(len(PAIR_CLASSES), dtype=np.float32)
    out_bias[0] = 0.5
    positive, negative = PAIR_CLASSES.index("positive"), PAIR_CLASSES.index("negative")
    out[positive] = [2, -2]
    out[negative], out_bias[negative] = [2, 2], -2
    span = np.zeros((len(SPAN_TAGS), dim), dtype=np.float32)
    span[np.arange(len(SPAN_TAGS)), 4 + np.arange(len(SPAN_TAGS))] = 10
    return {"aste.span.weight": span, "aste.span.bias": np.zeros(len(SPAN_TAGS), np.float32),
            "aste.pair.hidden.weight": hidden, "aste.pair.hidden.bias": np.zeros(2, np.float32),
            "aste.pair.out.weight": out, "aste.pair.out.bias": out_bias}


def states(rows: dict[int, tuple[str, tuple[int, ...]]], time: int, dim: int) -> np.ndarray:
    """Piece states: each listed piece gets its span tag's dimension and the given others."""
    hidden = np.zeros((time, dim), dtype=np.float32)
    hidden[:, 4] = 1  # "O" unless listed
    for index, (tag, dims) in rows.items():
        hidden[index, 4] = 0
        hidden[index, 4 + SPAN_TAGS.index(tag)] = 1
        hidden[index, list(dims)] = 1
    return hidden


def test_one_aspect_with_two_opinions_and_two_aspects_sharing_one_opinion():
    dim = 4 + len(SPAN_TAGS)
    # pizza (group 0) ← great, hot (positive); staff (group 1) ← rude (negative)
    hidden = states({2: ("B-ASP", (0,)), 4: ("B-OPN", (0, 2)), 6: ("B-OPN", (0, 2)),
                     9: ("B-ASP", (1,)), 10: ("I-ASP", (1,)), 11: ("B-OPN", (1, 3))},
                    len(pieces()), dim)
    found = decode_triplets(hidden, pieces(), hand_made_heads(dim))
    assert [(TEXT[slice(*t.aspect)], TEXT[slice(*t.opinion)], t.polarity) for t in found] == [
        ("pizza", "great", "positive"), ("pizza", "hot", "positive"),
        ("staff", "rude", "negative")]
    assert all(0.5 < t.score <= 1 for t in found)
    # "pizza" and "staff" both in group 1 with "rude": one opinion, two aspects
    hidden = states({2: ("B-ASP", (1,)), 9: ("B-ASP", (1,)), 10: ("I-ASP", (1,)),
                     11: ("B-OPN", (1, 3)), 4: ("B-OPN", (0, 2))}, len(pieces()), dim)
    found = decode_triplets(hidden, pieces(), hand_made_heads(dim))
    assert [(TEXT[slice(*t.aspect)], TEXT[slice(*t.opinion)], t.polarity) for t in found] == [
        ("pizza", "rude", "negative"), ("staff", "rude", "negative")]
    # an opinion before its aspect; no opinion at all → no triplet
    hidden = states({4: ("B-ASP", (0,)), 2: ("B-OPN", (0, 2))}, len(pieces()), dim)
    found = decode_triplets(hidden, pieces(), hand_made_heads(dim))
    assert [(TEXT[slice(*t.aspect)], TEXT[slice(*t.opinion)]) for t in found] == [
        ("great", "pizza")]
    assert decode_triplets(states({2: ("B-ASP", (0,))}, len(pieces()), dim), pieces(),
                           hand_made_heads(dim)) == []


def test_a_pair_threshold_decides_which_pairs_are_triplets():
    from fsa_edge_tagger.scheme import softmax

    dim = 4 + len(SPAN_TAGS)
    hidden = states({2: ("B-ASP", (0,)), 4: ("B-OPN", (0, 2)), 6: ("B-OPN", (0, 2)),
                     9: ("B-ASP", (1,)), 10: ("I-ASP", (1,)), 11: ("B-OPN", (1, 3))},
                    len(pieces()), dim)
    heads = hand_made_heads(dim)
    argmax = decode_triplets(hidden, pieces(), heads)
    assert decode_triplets(hidden, pieces(), heads, None) == argmax and len(argmax) == 3
    every = decode_triplets(hidden, pieces(), heads, 1.0)  # every aspect × opinion
    assert len(every) == 2 * 3 and set(argmax) < set(every)
    assert decode_triplets(hidden, pieces(), heads, 1e-9) == []
    # P(none) of each candidate (aspect-major): 0.137 for the three pairs that belong together,
    # 0.345 for the others, whose most probable class is none (the best polarity has 0.209)
    spans = decode_spans(hidden @ heads["aste.span.weight"].T, pieces())
    aspects = [(s.first, s.last) for s in spans if s.kind == "ASP"]
    opinions = [(s.first, s.last) for s in spans if s.kind == "OPN"]
    p_none = softmax(pair_logits(pair_features(hidden, aspects, opinions), heads)
                     .astype(np.float64))[:, 0]
    assert np.allclose(sorted(set(np.round(p_none, 3))), [0.137, 0.345])
    assert decode_triplets(hidden, pieces(), heads, 0.2) == argmax
    assert decode_triplets(hidden, pieces(), heads, 0.13) == []  # stricter than argmax
    looser = decode_triplets(hidden, pieces(), heads, 0.4)  # pairs argmax leaves out come in
    assert [t.aspect + t.opinion for t in looser] == [t.aspect + t.opinion for t in every]
    assert all(t.polarity in PAIR_CLASSES[1:] for t in looser)  # the best class but none


# ---------------------------------------------------------------------------- with torch
ASTE_TEMPLATES = (  # tokens, [(aspect token ids, opinion token ids)]; {o}/{p} take a polarity
    ("the {a} was {o} .", [([1], [3], "o")]),
    ("the {a} was {o} but the {b} was {p} .", [([1], [3], "o"), ([6], [8], "p")]),
    ("the {a} was {o} and {q} .", [([1], [3], "o"), ([1], [5], "q")]),
    ("the {a} and the {b} were {o} .", [([1], [6], "o"), ([4], [6], "o")]),
    ("{o} {a} , {p} {b} .", [([1], [0], "o"), ([4], [3], "p")]),
)


def write_aste(path: Path, count: int, seed: int, avoid: set[str] = frozenset()) -> Path:
    """``count`` synthetic sentences in ASTE-Data-V2's format (none of ``avoid``)."""
    from tiny_models import ASPECTS, NEGATIVE, POSITIVE

    rng = random.Random(seed)
    lines: list[str] = []
    while len(lines) < count:
        template, triplets = rng.choice(ASTE_TEMPLATES)
        a, b = rng.sample(ASPECTS, 2)
        polarity = {k: rng.choice(("POS", "NEG")) for k in "opq"}
        polarity["q"] = polarity["o"]
        words = {k: rng.choice(POSITIVE if polarity[k] == "POS" else NEGATIVE) for k in "opq"}
        while words["q"] == words["o"]:
            words["q"] = rng.choice(POSITIVE if polarity["q"] == "POS" else NEGATIVE)
        sentence = template.format(a=a, b=b, **words)
        if sentence in avoid:
            continue
        labels = [(aspect, opinion, polarity[k]) for aspect, opinion, k in triplets]
        lines.append(f"{sentence}####{labels!r}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def aste_trained(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seq2seq_fixtures import tiny_bert

    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import finetune_tagger

    root = tmp_path_factory.mktemp("aste")
    bert = tiny_bert(root / "bert", hidden=64, heads=4)
    train = write_aste(root / "train_triplets.txt", 500, 1)
    seen = {line.split("####")[0] for line in train.read_text().splitlines()}
    dev = write_aste(root / "dev_triplets.txt", 60, 2, avoid=seen)
    data = TaskData(get_task("aste"), train, dev)
    summary = finetune_tagger([data], student=str(bert), out=root / "out", epochs=8,
                              batch_size=16, lr=2e-3, head_lr=5e-3, seed=1, device="cpu",
                              threads=1, log_every=0)
    return root, summary, data


def test_finetuning_learns_triplets_and_the_converted_model_serves_them(aste_trained, tmp_path):
    pytest.importorskip("ctranslate2")
    import fsa_edge
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset
    from fsa_edge_converters import convert

    root, summary, data = aste_trained
    assert summary["best_score"] > 60 and summary["best_score"] > summary["history"][0]["dev_score"]
    card = json.loads((root / "out" / "fsa_edge.json").read_text())
    assert card["tasks"] == ["aste"]
    report = convert(root / "out", tmp_path / "f32", quantization="float32")
    assert report.parity.passed and report.parity.greedy_agreement == 1.0
    analyzer = fsa_edge.load(tmp_path / "f32", device="cpu")
    examples = read_dataset(data.dev).examples
    results = analyzer.analyze([ex.review for ex in examples], task="aste")
    f1 = evaluate("aste", {ex.review.id: ex.elements for ex in examples},
                  {r.id: r.elements for r in results}).overall.f1
    assert f1 == pytest.approx(summary["best_score"], abs=1e-4)
    text = "the pizza was great and delicious ."
    found = analyzer.analyze([text], task="aste")[0].elements
    assert {(e.aspect, e.opinion, e.polarity) for e in found} <= {
        ("pizza", "great", "positive"), ("pizza", "delicious", "positive")}
    assert all(text[slice(*e.aspect_span)] == e.aspect and
               text[slice(*e.opinion_span)] == e.opinion for e in found)
    every = analyzer.analyze(text, task="all")
    assert set(every.answers) == {"aste"} and every.answers["aste"] == found


def test_the_torch_pair_head_computes_what_the_numpy_one_does(aste_trained):
    import torch
    from transformers import AutoModel

    from fsa_edge_tagger.network import TaggerNet

    root, _, _ = aste_trained
    net = TaggerNet(AutoModel.from_pretrained(str(root / "out")), 0, 0.0, "mean", triplets=True)
    net.modules.eval()
    hidden = torch.randn(1, 9, 64)
    rows = [{"pairs": [((1, 2, 5, 5), 1), ((6, 6, 3, 4), 0)]}]
    logits, classes = net.pair_logits(hidden, rows)
    features = pair_features(hidden[0].numpy(), [(1, 2), (6, 6)], [(5, 5), (3, 4)])
    expected = pair_logits(features, net.heads())[[0, 3]]  # aspect-major: (a0,o0), (a1,o1)
    assert np.abs(logits.detach().numpy() - expected).max() < 1e-4
    assert classes.tolist() == [1, 0]


def test_the_guard_drops_shared_sentences_across_task_data_sets(aste_trained, tmp_path):
    """An ASTE training sentence that is an ATSA dev sentence (tokenised differently) is dropped,
    and an ATSA training sentence that is an ASTE dev sentence, too (held out as the recipe
    does it: every scored set's dev and test texts)."""
    from fsa_edge.readers import read_dataset
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import TaggerJob

    root, _, aste = aste_trained
    aste_dev = aste.dev.read_text().splitlines()[0].split("####")[0]  # "the x was y ."
    atsa_dev_text = "The wine was superb!"
    atsa_train = tmp_path / "atsa_train.json"
    atsa_train.write_text(json.dumps([
        {"ID": "1", "sentence": aste_dev.replace(" .", ".").capitalize(), "aspects": []},
        {"ID": "2", "sentence": "Good bread.", "aspects": []}]))
    atsa_dev = tmp_path / "atsa_dev.json"
    atsa_dev.write_text(json.dumps([{"ID": "3", "sentence": atsa_dev_text, "aspects": []}]))
    aste_train = tmp_path / "train_triplets.txt"
    aste_train.write_text("the wine was superb !####[([1], [3], 'POS')]\n"
                          "the menu was bad .####[([1], [3], 'NEG')]\n")
    job = TaggerJob([TaskData(get_task("atsa"), atsa_train, atsa_dev),
                     TaskData(get_task("aste"), aste_train, aste.dev)],
                    student=str(root / "bert"), dropout=0.1, lr=1e-3, head_lr=1e-3,
                    weight_decay=0.0, max_input_length=64, select="mean", pooling="mean",
                    share_category_parts=False, extra_train=(),
                    held_out_texts=[ex.review.text for ex in read_dataset(aste.dev).examples],
                    card_extra={})
    assert job.dropped == {f"atsa:{tmp_path.name}": 1, f"aste:{tmp_path.name}": 1}
    assert sorted(row["text"] for row in job.rows) == ["Good bread.", "the menu was bad ."]


def test_quads_train_triplets_only_from_sentences_whose_every_quad_is_explicit(aste_trained,
                                                                             tmp_path):
    """An ACOS file as extra ASTE data: a sentence with an implicit opinion (``-1,-1``) or an
    implicit aspect is left out and counted (its other spans would be tagged in part); a fully
    explicit one trains with its aspect × opinion pairs."""
    from fsa_edge.tasks import get_task
    from fsa_edge.training import TaskData
    from fsa_edge_tagger.training import TaggerJob

    root, _, aste = aste_trained
    quads = tmp_path / "laptop_quad_train.tsv"
    quads.write_text("the screen is bright\t1,2 DISPLAY#QUALITY 2 3,4\n"
                     "the battery died\t1,2 BATTERY#OPERATION_PERFORMANCE 0 -1,-1\n"
                     "it is too slow\t-1,-1 LAPTOP#GENERAL 0 3,4\n"
                     "nice keys , bad fan\t1,2 KEYBOARD#GENERAL 2 0,1\t"
                     "4,5 FANS&COOLING#GENERAL 0 3,4\n")
    job = TaggerJob([TaskData(get_task("aste"), aste.train, aste.dev)],
                    student=str(root / "bert"), dropout=0.1, lr=1e-3, head_lr=1e-3,
                    weight_decay=0.0, max_input_length=64, select="mean", pooling="mean",
                    share_category_parts=False, extra_train=[("aste", str(quads))],
                    held_out_texts=[], card_extra={})
    name = "extra:aste:laptop_quad_train.tsv"
    assert job.implicit[name] == 2
    extra = [row for row in job.rows if row["text"] in
             ("the screen is bright", "the battery died", "it is too slow", "nice keys , bad fan")]
    assert sorted(row["text"] for row in extra) == ["nice keys , bad fan", "the screen is bright"]
    two_pairs = next(row for row in extra if row["text"].startswith("nice"))
    assert sorted(PAIR_CLASSES[label] for _, label in two_pairs["pairs"][:4]) == [
        "negative", "none", "none", "positive"]


def test_a_teachers_triplets_on_unlabeled_sentences_read_back_as_training_data(aste_trained,
                                                                              tmp_path):
    """``benchmarks/pseudo_triplets.py``: the first N sentences of the chosen sources, those
    with triplets written in the benchmark format; read back, each keeps the teacher's aspect
    and opinion spans and polarity; ``--min-score`` leaves out a sentence with a weaker triplet."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import fsa_edge
    import pseudo_triplets
    from fsa_edge.readers import read_dataset

    root, _, _ = aste_trained
    texts = ["the pizza was great .", "the menu was bad and slow .", "a b c",
             "the wine was superb ."]
    rows = [{"id": f"y:{i}", "text": t, "source": "yelp2"} for i, t in enumerate(texts)]
    rows += [{"id": "m:0", "text": "the film was great .", "source": "sst2"}]
    unlabeled = tmp_path / "sentences.jsonl"
    unlabeled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pseudo.json"
    argv = ["--model", str(root / "out"), "--unlabeled", str(unlabeled), "--sources", "yelp2",
            "--per-source", "3", "--threads", "1", "--device", "cpu", "--out", str(out)]
    assert pseudo_triplets.main(argv) == 0
    counts = json.loads(out.with_suffix(".counts.json").read_text())
    assert counts["by_source"]["yelp2"]["sentences"] == 3 and "sst2" not in counts["by_source"]
    answers = fsa_edge.load(root / "out", device="cpu").analyze(texts[:3], task="aste")
    expected = {r.text: {(e.aspect_span, e.opinion_span, e.polarity) for e in r.elements}
                for r in answers if r.elements}
    assert len(expected) >= 2 and counts["kept"] == len(expected)
    examples = read_dataset(out).examples
    assert {ex.review.text: {(e.aspect_span, e.opinion_span, e.polarity) for e in ex.elements}
            for ex in examples} == expected
    assert pseudo_triplets.main([*argv, "--min-score", "1.01"]) == 0
    below = json.loads(out.with_suffix(".counts.json").read_text())
    assert below["kept"] == 0 and below["by_source"]["yelp2"]["below_min_score"] == len(expected)


def _texts(files):
    """The held-out guard of ``files``' sentences (what ``--held-out`` builds in training)."""
    from fsa_edge.readers import read_dataset
    from fsa_edge.training import HeldOut

    return HeldOut([ex.review.text for path in files for ex in read_dataset(path).examples])


def _train_in_aste15res_test(recipe, data_dir: Path, name: str) -> list:
    """The train examples of ``recipe``'s set ``name`` that are ASTE 15res test sentences."""
    from fsa_edge.readers import read_dataset

    aste_test = _texts([recipe.split_file("aste15res", "test", data_dir)])
    return [ex for ex in read_dataset(recipe.split_file(name, "train", data_dir)).examples
            if ex.review.text in aste_test]


def test_the_recipe_holds_out_every_scored_sets_dev_and_test_across_tasks(data_dir):
    """``train_default.py`` holds out the dev and test splits of every set it knows (ATSA, ACSA,
    ASTE, sentence sets), whichever sets it trains: ASTE 15res test sentences that sit in
    ASTE 16res train and in the benchmark's rest16 train are dropped from both."""
    recipe = benchmark_script("train_default")
    files = recipe.held_out_files(data_dir)
    for name in recipe.DATASETS:
        for split in ("dev", "test"):
            assert recipe.split_file(name, split, data_dir) in files
    assert any("sst2" in str(path) for path in files)
    guard = _texts(files)
    for name in ("aste16res", "rest16"):
        shared = _train_in_aste15res_test(recipe, data_dir, name)
        assert len(shared) > 100 and all(ex.review.text in guard for ex in shared)


def test_the_trained_scope_holds_out_only_the_trained_sets_dev_and_test(data_dir):
    """``--held-out-scope trained`` (a model scored on its training sets only, e.g. the teacher):
    the dev and test files of the ``--datasets`` sets, none of another set, no sentence set,
    so rest16's train sentences that are ASTE 15res test sentences stay in training."""
    recipe = benchmark_script("train_default")
    names = ["rest14", "rest16"]
    files = recipe.held_out_files(data_dir, names)
    assert sorted(files) == sorted(recipe.split_file(name, split, data_dir)
                                   for name in names for split in ("dev", "test"))
    assert set(recipe.HELD_OUT_SCOPES) == {"all", "trained"}
    guard = _texts(files)
    shared = _train_in_aste15res_test(recipe, data_dir, "rest16")
    kept = [ex for ex in shared if ex.review.text not in guard]  # (a few sit in rest14's too)
    assert len(kept) > 100


def test_training_pairs_are_gold_aspect_by_gold_opinion_plus_distractor_words():
    from fsa_edge.model import SentimentElement
    from fsa_edge_tagger.triplets import DISTRACTORS, triplet_targets

    elements = [SentimentElement(polarity="positive", aspect="pizza", aspect_span=(4, 9),
                                 opinion="great", opinion_span=(14, 19)),
                SentimentElement(polarity="positive", aspect="pizza", aspect_span=(4, 9),
                                 opinion="hot", opinion_span=(24, 27)),
                SentimentElement(polarity="negative", aspect="staff", aspect_span=(33, 38),
                                 opinion="rude", opinion_span=(39, 43))]
    tags, pairs = triplet_targets(pieces(), elements, TEXT)
    assert [SPAN_TAGS[t] for t in tags[1:5]] == ["O", "B-ASP", "O", "B-OPN"]
    gold = pairs[:6]  # 2 aspects × 3 opinions, aspect-major
    positive, negative = PAIR_CLASSES.index("positive"), PAIR_CLASSES.index("negative")
    assert gold == [((2, 2, 4, 4), positive), ((2, 2, 6, 6), positive), ((2, 2, 11, 11), 0),
                    ((9, 10, 4, 4), 0), ((9, 10, 6, 6), 0), ((9, 10, 11, 11), negative)]
    distractors = pairs[6:]  # each distractor word: × 3 opinions (as aspect), × 2 aspects
    assert len(distractors) == DISTRACTORS * 5 and all(label == 0 for _, label in distractors)
    words = {r[:2] for r, _ in distractors[::5]}
    assert len(words) == DISTRACTORS and not words & {(2, 2), (4, 4), (6, 6), (9, 10), (11, 11)}
    assert all(TEXT[WORDS[first - 1][0]].isalpha() for first, _ in words)  # no punctuation
    assert triplet_targets(pieces(), elements, TEXT) == (tags, pairs)  # reproducible


def test_calibrate_fits_a_triplet_score_map_and_the_scores_follow_it(aste_trained, tmp_path):
    import shutil

    from click.testing import CliRunner

    import fsa_edge
    from fsa_edge.cli import build_cli
    from fsa_edge.readers import read_dataset

    root, _, data = aste_trained
    model = shutil.copytree(root / "out", tmp_path / "model")
    texts = [ex.review.text for ex in read_dataset(data.dev).examples][:20]
    with fsa_edge.load(model, device="cpu") as served:
        raw = [e.score for r in served.analyze(texts, task="aste") for e in r.elements]
    result = CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate", str(model),
                                              "--keep-threshold", "--triplet-dev",
                                              str(data.dev), "--threads", "1"])
    assert result.exit_code == 0, result.output
    card = json.loads((model / "fsa_edge.json").read_text())
    entry = card["tagger"]["score_calibration"]["aste"]
    assert entry["dev_files"] == [str(data.dev)] and entry["dev_elements"] > 50
    with fsa_edge.load(model, device="cpu") as served:
        mapped = [e.score for r in served.analyze(texts, task="aste") for e in r.elements]
    assert len(mapped) == len(raw) and mapped != raw
    order = np.argsort(raw, kind="stable")  # a monotone map never reverses two scores
    assert all(np.diff(np.asarray(mapped)[order]) >= -1e-9)


def test_the_parity_gate_decodes_both_sides_with_the_cards_span_and_pair_thresholds(
        aste_trained, tmp_path):
    """A calibrated checkpoint (``calibrate --also`` writes its thresholds into the HF card too)
    converts in float32 with full decoded agreement: the converted side of the gate decodes with
    the card's span and pair thresholds, as the torch side and serving do."""
    pytest.importorskip("ctranslate2")
    import shutil

    from fsa_edge.readers import read_dataset
    from fsa_edge_converters import convert

    root, _, data = aste_trained
    model = shutil.copytree(root / "out", tmp_path / "calibrated")
    card_path = model / "fsa_edge.json"
    card = json.loads(card_path.read_text())
    card["tagger"].update(span_none_below=0.95, pair_none_below=0.02)  # far from argmax decoding
    card_path.write_text(json.dumps(card))
    texts = [ex.review.text for ex in read_dataset(data.dev).examples]
    report = convert(model, tmp_path / "f32", quantization="float32", texts=texts)
    assert report.parity.passed and report.parity.greedy_agreement == 1.0


def test_calibrate_chooses_the_pair_threshold_on_aste_dev_and_serving_follows_it(aste_trained,
                                                                                  tmp_path):
    import shutil

    from click.testing import CliRunner

    import fsa_edge
    from fsa_edge.cli import build_cli
    from fsa_edge.metric import evaluate
    from fsa_edge.readers import read_dataset
    from fsa_edge_tagger.calibration import TRIPLET_THRESHOLDS

    root, _, data = aste_trained
    model = shutil.copytree(root / "out", tmp_path / "model")
    card_path = model / "fsa_edge.json"
    card = json.loads(card_path.read_text())
    card["tagger"]["pair_none_below"] = 0.05  # not a candidate: calibration must replace it
    card_path.write_text(json.dumps(card))

    def calibrate(*options: str) -> dict:
        result = CliRunner().invoke(build_cli(), ["train", "tagger", "calibrate", str(model),
                                                  *options, "--threads", "1"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    record = calibrate("--triplet-dev", str(data.dev))["triplets"]
    tagger = json.loads(card_path.read_text())["tagger"]
    chosen = (tagger["span_none_below"], tagger["pair_none_below"])
    assert chosen in TRIPLET_THRESHOLDS
    assert chosen == (record["span_none_below"], record["pair_none_below"])
    assert "pair_calibration" not in tagger  # the record of a pair threshold alone is replaced
    means = tagger["triplet_calibration"]["mean_dev_f1"]
    assert len(means) == len(TRIPLET_THRESHOLDS) and means[record["chosen"]] == max(means.values())
    assert record["chosen"] == "/".join("argmax" if t is None else f"{t:g}" for t in chosen)
    assert "none_below" not in record or record["none_below"] == tagger.get("none_below")
    examples = read_dataset(data.dev).examples
    with fsa_edge.load(model, device="cpu") as served:
        results = served.analyze([ex.review.text for ex in examples], task="aste")
    found = {ex.review.id: r.elements for ex, r in zip(examples, results)}
    f1 = evaluate("aste", {ex.review.id: ex.elements for ex in examples}, found).overall.f1
    assert abs(f1 - record["dev_f1"][str(data.dev)][record["chosen"]]) < 1e-6
    card = json.loads(card_path.read_text())
    card["tagger"]["pair_none_below"] = 0.05
    card_path.write_text(json.dumps(card))
    kept = calibrate("--keep-threshold", "--triplet-dev", str(data.dev))["triplets"]
    assert kept == {"chosen": f"{record['chosen'].split('/')[0]}/0.05", "pair_none_below": 0.05,
                    "span_none_below": chosen[0], "threshold": "kept"}
    assert json.loads(card_path.read_text())["tagger"]["pair_none_below"] == 0.05


def test_the_pair_threshold_sweep_hands_back_its_decodes_for_the_score_map(aste_trained):
    """calibrate fits the ASTE score map on the sweep's decodes of the chosen threshold: they are
    what the runtime decodes with that threshold (raw scores), for every candidate."""
    from dataclasses import replace

    from fsa_edge.readers import read_dataset
    from fsa_edge_tagger.backend import TaggerBackend
    from fsa_edge_tagger.calibration import TRIPLET_THRESHOLDS, triplet_dev_f1_by_threshold

    root, _, data = aste_trained
    runtime = TaggerBackend(root / "out", device="cpu", cpu_threads=1).runtime
    decodes: dict = {}
    f1s = triplet_dev_f1_by_threshold(runtime, [data.dev], batch_size=7, decodes=decodes)
    assert list(decodes) == list(f1s) == [str(data.dev)]
    assert list(decodes[str(data.dev)]) == list(TRIPLET_THRESHOLDS)
    examples = read_dataset(data.dev).examples[:30]
    texts = [ex.review.text for ex in examples]
    for threshold in ((None, None), (None, 0.2), (0.7, 0.6), (0.9, None)):
        runtime.span_none_below, runtime.pair_none_below = threshold
        expected = runtime.decode(texts, "aste")
        got = [decodes[str(data.dev)][threshold][ex.review.id] for ex in examples]
        # the same triplets; scores equal up to float noise of other batch paddings
        assert [[replace(e, score=None) for e in found] for found in got] == [
            [replace(e, score=None) for e in found] for found in expected]
        assert np.allclose([e.score for found in got for e in found],
                           [e.score for found in expected for e in found], atol=1e-5)
    assert triplet_dev_f1_by_threshold(runtime, [data.dev]) == f1s  # no dict: same F1s


def test_calibrate_reads_each_dev_file_once(aste_trained, tmp_path, monkeypatch):
    """The threshold sweep and the score map share one parse of each dev file."""
    import shutil

    import fsa_edge_tagger.calibration as calibration

    root, _, data = aste_trained
    model = shutil.copytree(root / "out", tmp_path / "model")
    reads: list[str] = []
    real_read = calibration.read_dataset

    def counting_read(path, *args, **kwargs):
        reads.append(str(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(calibration, "read_dataset", counting_read)
    record = calibration.calibrate_tagger(model, triplet_dev_files=[data.dev], threads=1)
    assert "aste" in record["score_calibration"]
    assert reads == [str(data.dev)]
