"""The sentence splitter (``fsa_edge/text.py``) and the unlabeled-sentence builder
(``benchmarks/unlabeled.py``): offsets, abbreviations, quotes, the held-out guard, de-duplication,
and that no dev/test/val file is ever a source."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from benchmark_scripts import benchmark_script
from fsa_edge.readers import iter_jsonl_reviews, read_dataset
from fsa_edge.text import normalise_space, sentences, split_sentences, word_count
from fsa_edge.training import sentence_key


@pytest.fixture(scope="module")
def unlabeled():
    return benchmark_script("unlabeled")


# -- the splitter ------------------------------------------------------------------------------

def _texts(text: str, **kwargs) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, **kwargs)]


def test_spans_point_into_the_original_text():
    text = "  Great  pizza here!\tThe staff was   friendly.\n\nWe will be back soon.  "
    spans = split_sentences(text)
    assert spans == [(2, 20), (21, 46), (48, 69)]
    assert [text[s:e] for s, e in spans] == [
        "Great  pizza here!", "The staff was   friendly.", "We will be back soon."]
    assert sentences(text)[1] == "The staff was friendly."  # whitespace normalised
    for start, end in spans:  # stripped, and never cut inside a word
        assert text[start:end] == text[start:end].strip()
        assert start == 0 or not text[start - 1].isalnum()


def test_split_after_terminal_punctuation_only_before_a_capital_or_a_quote():
    assert _texts("I loved it! The fries were cold. Would I go back? Maybe next time.",
                  min_words=0) == ["I loved it!", "The fries were cold.", "Would I go back?",
                                   "Maybe next time."]
    # lower case, digits, no whitespace: one sentence
    assert len(split_sentences("It was nice... and cheap too.")) == 1
    assert len(split_sentences("It cost $5. 2 of us ate there.")) == 1
    assert len(split_sentences("Only $5.99 for three tacos.Really good.")) == 1
    assert _texts("So good..nom..nom. Then we left the place.", min_words=0) == [
        "So good..nom..nom.", "Then we left the place."]
    assert _texts("Wait, what?! Are you kidding me???", min_words=0) == [
        "Wait, what?!", "Are you kidding me???"]


@pytest.mark.parametrize("text", [
    "Mr. Smith and Dr. Jones run the place on St. Mark's Place.",
    "Bring snacks, e.g. chips or nuts, and drinks, i.e. Water or Soda.",
    "We met J. K. Rowling at the U.S. Open last year.",
    "The owner vs. The Manager is quite a show.",
    "It weighs approx. Three pounds which is light."])
def test_abbreviations_stay_in_their_sentence(text):
    assert _texts(text) == [text]


@pytest.mark.parametrize("first, second", [
    # words that often close a sentence do end one before a capital
    ("We got there at 9 p.m.", "The kitchen was closed."),
    ("Pasta, pizza, salad etc.", "The wine was fine too."),
    ("My wife loved it and so did I.", "The dessert was great."),
    # a closing quote or bracket stays with its sentence; an opening quote starts the next
    ('The waiter said "Enjoy!"', "Then he vanished for an hour."),
    ("It looked good.", '"Wow," said my friend at the table.'),
    ("They call it “the best.”", "We found it rather bland."),
    ("Great food (really!).", "The staff were kind to us.")])
def test_two_sentences(first, second):
    assert _texts(f"{first} {second}") == [first, second]


def test_line_breaks_end_a_sentence():
    text = "Pros: cheap and fast\nCons: the screen is dim\r\nVerdict: buy it anyway"
    assert _texts(text) == ["Pros: cheap and fast", "Cons: the screen is dim",
                            "Verdict: buy it anyway"]


def test_short_and_long_fragments_are_dropped_by_default():
    long = "Word " + " ".join(["word"] * 60) + "."
    text = f"Yum! Highly recommended. The bread is top notch. {long} Five stars!!"
    assert _texts(text) == ["The bread is top notch."]
    assert _texts(text, min_words=0, max_words=None) == [
        "Yum!", "Highly recommended.", "The bread is top notch.", long, "Five stars!!"]
    assert len(split_sentences(" ".join(["word"] * 60) + ".")) == 1  # 60 words is kept
    assert word_count("great . ! :)") == 1  # punctuation tokens are not words
    assert split_sentences("") == [] and split_sentences("   \n ") == []


def test_spans_cover_every_word_when_nothing_is_dropped():
    text = ("Came here on a Friday.  Ordered the ribs!\n- too salty\n\nService? Slow. "
            "Mr. T said \"Sorry.\" I'd still come back (maybe).")
    spans = split_sentences(text, min_words=0, max_words=None)
    assert " ".join(text[s:e] for s, e in spans).split() == text.split()
    assert len(spans) == 7  # "- too salty" is one; "Mr. T said" stays whole
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # in order, not overlapping
    assert split_sentences(text) == split_sentences(text)  # deterministic
    assert normalise_space(" a \n b\t") == "a b"


# -- the builder's helpers ---------------------------------------------------------------------

@pytest.mark.parametrize("name, held_out", [
    ("dev.json", True), ("test.json", True), ("hard_test.json", True), ("val.json", True),
    ("dev_triplets.txt", True), ("laptop_quad_test.tsv", True), ("Laptops_Test_Gold.xml", True),
    ("Restaurants_Test_Gold_Implicit_Labeled.xml", True), ("train.json", False),
    ("train_triplets.txt", False), ("Laptops_Train_v2.xml", False), ("mixtral_500.jsonl", False),
    ("laptop_quad_train.tsv", False), ("latest.json", False)])
def test_held_out_file_names(unlabeled, name, held_out):
    assert unlabeled.held_out_name(Path(name)) is held_out


def test_doubly_escaped_yelp_text_is_decoded(unlabeled):
    assert unlabeled.unescape('so good!! \\n\\nThe d\\u00e9cor \\"rocks\\" \\\\o/') == \
        'so good!! \n\nThe décor "rocks" \\o/'
    assert unlabeled.unescape("smile \\ud83d\\ude00 and \\ud83d alone") == "smile 😀 and \ufffd alone"
    assert unlabeled.unescape("plain text") == "plain text"


def test_a_source_pattern_never_picks_a_held_out_split(unlabeled, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "dev.json").write_text("[]")
    with pytest.raises(SystemExit, match="held-out split"):
        unlabeled._files(tmp_path, ("x/*.json",))


# -- the builder on a synthetic data folder with the real layouts -------------------------------

TEST_SENTENCE = "The bread is top notch as well."
DUPLICATE = "The battery lasts all day long, which I love."
DEV_ONLY = "This dev sentence must never be output at all."
VAL_REVIEW = "A validation review with several words. It must stay out of the output."
TEST_REVIEW = "A test review nobody may train on. Its second sentence is also private."
MANIFEST = """# data
| folder | source repository @ commit | license stated there |
|---|---|---|
| `fsa-benchmark/` | org/bench @ 1 | none stated; SemEval origin |
| `teacher-samples/mixtral_500.jsonl` | org/teacher @ 2 | none stated |
| `acos/` | org/acos @ 3 | CC BY 4.0 |
| `sentence-sentiment/` | org/sc @ 4 | none stated |
"""


SST2_TEST = "the film is an unapologetic mess from start to end ."


def _write(path: Path, text: str, bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")


def _benchmark(sentences: list[str]) -> str:
    return json.dumps([{"ID": str(i), "sentence": s, "aspects": []}
                       for i, s in enumerate(sentences)])


def _sentences(texts: list[str]) -> str:
    return json.dumps([{"sentence": t, "label": "positive"} for t in texts])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    _write(data / "MANIFEST.md", MANIFEST)
    yelp = data / "sentence-sentiment" / "yelp2"
    _write(yelp / "train.json", _sentences([
        # the escapes are literal, as in the real file
        f"Great little bakery downtown! {TEST_SENTENCE} \\n\\nThe coffee is strong and "
        "cheap. Yum!",
        f"Mr. Lee fixed my old laptop in a day. {DUPLICATE} I recommend the caf\\u00e9 next "
        "door too.",
    ]))
    _write(yelp / "val.json", _sentences([VAL_REVIEW]))
    _write(yelp / "test.json", _sentences([TEST_REVIEW]))
    sst2 = data / "sentence-sentiment" / "sst2"
    _write(sst2 / "train.json", json.dumps([
        {"sentence": "a charming and often affecting journey .", "label": "positive"},
        {"sentence": SST2_TEST.upper(), "label": "negative"},  # an sst2 test text: held out
        {"sentence": "no movement , no yuks , not much of anything .", "label": "negative"}]))
    _write(sst2 / "test.json", _sentences([SST2_TEST]))
    rest14 = data / "fsa-benchmark" / "atsa" / "rest14"
    _write(rest14 / "train.json", _benchmark(["The pasta was cooked just right.",
                                              DEV_ONLY.upper()]), bom=True)
    _write(rest14 / "dev.json", _benchmark([DEV_ONLY]), bom=True)
    _write(rest14 / "test.json", _benchmark([TEST_SENTENCE]), bom=True)
    _write(data / "teacher-samples" / "mixtral_500.jsonl", json.dumps(
        {"ID": 7, "Text": "Lovely staff and quick service. Parking is a pain though.",
         "Overall": 4.0, "mixtral_response": "..."}) + "\n", bom=True)
    acos = data / "acos" / "data" / "Laptop-ACOS"
    _write(acos / "laptop_quad_train.tsv",
           "the battery lasts all day long , which i love .\t1,2 BATTERY#GENERAL 2 8,9\n"
           "the keyboard feels cheap and flimsy .\t1,2 KEYBOARD#QUALITY 0 3,4\n")
    _write(acos / "laptop_quad_dev.tsv", "a dev laptop sentence never output .\t-1,-1 "
                                         "LAPTOP#GENERAL 1 -1,-1\n")
    _write(acos / "laptop_quad_test.tsv", "a test laptop sentence never output .\t-1,-1 "
                                          "LAPTOP#GENERAL 1 -1,-1\n")
    asqp = data / "asqp" / "data" / "rest15"
    for split, text in (("train", "The sushi here is fresh and tasty ."),
                        ("dev", "An asqp dev sentence kept out ."),
                        ("test", "An asqp test sentence kept out .")):
        _write(asqp / f"{split}.txt",
               f"{text}####[['NULL', 'food quality', 'positive', 'fresh']]\n")
    aste = data / "aste-data-v2" / "ASTE-Data-V2-EMNLP2020" / "14lap"
    for split, text in (("train", "Screen is bright and sharp ."),
                        ("dev", "Aste dev screen is dim ."), ("test", "Aste test screen is dim .")):
        _write(aste / f"{split}_triplets.txt", f"{text}####[([0], [2], 'POS')]\n")
    xml = data / "semeval14-scapt" / "data" / "laptops"
    for name, text in (("Laptops_Train_v2.xml", "The touchpad responds really well."),
                       ("Laptops_Test_Gold.xml", "A semeval test sentence kept out.")):
        _write(xml / name, f'<?xml version="1.0"?><sentences><sentence id="1"><text>{text}'
                           "</text></sentence></sentences>")
    return data


def _run(unlabeled, data: Path, tmp_path: Path, *extra: str) -> tuple[list[dict], dict, int]:
    out, record = tmp_path / "out" / "sentences.jsonl", tmp_path / "out" / "record.json"
    status = unlabeled.main(["--data", str(data), "--out", str(out), "--record", str(record),
                             *extra])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, json.loads(record.read_text(encoding="utf-8")), status


def test_builder_drops_held_out_and_duplicate_sentences(unlabeled, data, tmp_path, capsys):
    rows, record, status = _run(unlabeled, data, tmp_path)
    assert status == 0
    texts = [row["text"] for row in rows]
    yelp = [row for row in rows if row["source"] == "yelp2"]
    assert [row["text"] for row in yelp] == [
        "Great little bakery downtown!", "The coffee is strong and cheap.",
        "Mr. Lee fixed my old laptop in a day.", DUPLICATE,
        "I recommend the café next door too."]
    assert [row["id"] for row in yelp] == [f"yelp2:{n}" for n in range(1, 6)]
    assert yelp[0]["origin"] == "sentence-sentiment/yelp2/train.json#train:1"
    counts = record["sources"]["yelp2"]
    assert counts == counts | {"files": ["sentence-sentiment/yelp2/train.json"], "reviews": 2,
                               "sentences": 6, "too_short": 1, "too_long": 0,
                               "dropped_held_out": 1, "dropped_duplicate": 0, "kept": 5}
    assert TEST_SENTENCE not in texts
    # the same sentence, tokenised and lower-cased in ACOS: counted once, as a duplicate
    acos = record["sources"]["acos"]
    assert acos["dropped_duplicate"] == 1 and acos["kept"] == 1
    assert sum(sentence_key(t) == sentence_key(DUPLICATE) for t in texts) == 1
    # a train sentence equal to a dev sentence (case aside) is held out
    assert record["sources"]["fsa-benchmark"]["dropped_held_out"] == 1
    # no dev/test/val text, nor a sentence of one, is ever output; no such file is a source
    held = [DEV_ONLY, TEST_SENTENCE, VAL_REVIEW, TEST_REVIEW, *VAL_REVIEW.split(". "),
            *TEST_REVIEW.split(". ")]
    keys = {sentence_key(t) for t in texts}
    assert not keys & {sentence_key(t) for t in held}
    assert not any(word in t for t in texts for word in ("dev", "test", "validation"))
    read = [f for c in record["sources"].values() for f in c["files"]]
    assert not any(unlabeled.held_out_name(Path(f)) for f in read)
    assert len(read) == 8 and len(record["held_out"]["files"]) == 12
    assert record["held_out"]["files"]["sentence-sentiment/yelp2/val.json"] == 1
    # licences as MANIFEST.md states them
    assert record["sources"]["acos"]["licence"] == "CC BY 4.0"
    assert record["sources"]["aste"]["licence"] == "not in MANIFEST.md"
    assert record["command"].startswith("python benchmarks/unlabeled.py --data ")
    assert record["output"]["sentences"] == len(rows) == sum(
        c["kept"] for c in record["sources"].values())
    # what `fsa-edge distill` reads: every line a review with its id and text
    lines = (tmp_path / "out" / "sentences.jsonl").read_bytes()
    reviews = list(iter_jsonl_reviews(io.BytesIO(lines)))
    assert [r.review.id for r in reviews] == [row["id"] for row in rows]
    assert all(r.error is None and r.review.text for r in reviews)
    assert len({row["id"] for row in rows}) == len(rows)
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["source", "reviews", "sentences", "held", "out",
                                              "duplicates", "kept"]
    assert table.splitlines()[-1].split()[-1] == str(len(rows))


def test_builder_sources_order_and_cap(unlabeled, data, tmp_path):
    rows, record, _ = _run(unlabeled, data, tmp_path, "--sources", "acos,yelp2",
                           "--max-per-source", "1")
    assert list(record["sources"]) == ["acos", "yelp2"]
    assert [row["id"] for row in rows] == ["acos:1", "yelp2:1"]
    assert record["sources"]["acos"]["capped"] and record["sources"]["yelp2"]["reviews"] == 1
    # acos first: its tokenised copy wins and yelp2's is the duplicate
    rows, record, _ = _run(unlabeled, data, tmp_path, "--sources", "acos,yelp2")
    assert record["sources"]["yelp2"]["dropped_duplicate"] == 1
    assert record["sources"]["acos"]["dropped_duplicate"] == 0
    assert not list((tmp_path / "out").glob(".*tmp*"))  # the atomic write left nothing behind


def test_builder_refuses_unknown_sources_and_a_missing_folder(unlabeled, data, tmp_path):
    with pytest.raises(SystemExit, match="unknown sources"):
        unlabeled.main(["--data", str(data), "--out", str(tmp_path / "o.jsonl"),
                        "--sources", "yelp2,imdb"])
    with pytest.raises(SystemExit, match="no data folder"):
        unlabeled.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o.jsonl")])
    assert not (tmp_path / "o.jsonl").exists()


def _vader_sdist(path: Path, snippets: str) -> Path:
    """A stand-in for the vaderSentiment 3.3.2 sdist: the same nesting (a tar.gz inside the
    tar.gz) and the same snippet file name; ``snippets`` is its text."""
    import tarfile

    def add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as archive:
        add(archive, "hutto_ICWSM_2014/_README_.txt", b"readme")
        add(archive, "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
            snippets.encode("utf-8"))
    with tarfile.open(path, "w:gz") as archive:
        add(archive, "vaderSentiment-3.3.2/LICENSE.txt", b"MIT")
        add(archive, "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
            inner.getvalue())
    return path


HU_LIU = ("1_1\t-0.9\tthe picture quality of this camera is amazing .\r\n"
          "1_2\t2.25\tthe battery lasts all day long, which i love.\r\n"  # an acos duplicate
          "1_3\t0.1\tthe bread is top notch as well.\r\n"  # a test sentence: held out
          "2_1\t-1.5\tthe menus are hard to navigate and the zoom is slow .\r\n")


def test_hu_liu_sentences_come_from_the_sdist_without_their_ratings(unlabeled, data, tmp_path,
                                                                    monkeypatch):
    sdist = _vader_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz", HU_LIU)
    monkeypatch.setattr(unlabeled, "HU_LIU_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    rows, record, status = _run(unlabeled, data, tmp_path, "--hu-liu", str(sdist))
    # after --data's sources but before sst2, which came later and is last
    assert status == 0 and list(record["sources"])[-2:] == ["hu-liu", "sst2"]
    hu_liu = [row for row in rows if row["source"] == "hu-liu"]
    assert [row["text"] for row in hu_liu] == [
        "the picture quality of this camera is amazing .",
        "the menus are hard to navigate and the zoom is slow ."]
    assert [row["id"] for row in hu_liu] == ["hu-liu:1", "hu-liu:2"]
    assert hu_liu[1]["origin"] == ("vaderSentiment-3.3.2.tar.gz!hutto_ICWSM_2014/"
                                   "amazonReviewSnippets_GroundTruth.txt#2_1")
    assert set(hu_liu[0]) == {"id", "text", "source", "origin"}  # no rating anywhere
    assert not any(rating in json.dumps(hu_liu) for rating in ("-0.9", "-1.5", "2.25"))
    counts = record["sources"]["hu-liu"]
    assert counts == counts | {"files": [str(sdist)], "reviews": 4, "sentences": 4,
                               "dropped_held_out": 1, "dropped_duplicate": 1, "kept": 2}
    assert counts["licence"] == unlabeled.HU_LIU_LICENCE
    # the other sources' rows and ids are the same as without it (a corpus resumes by id)
    without, _, _ = _run(unlabeled, data, tmp_path)
    assert [row for row in rows if row["source"] != "hu-liu"] == without


def test_sst2_train_text_comes_last_without_its_labels(unlabeled, data, tmp_path):
    rows, record, _ = _run(unlabeled, data, tmp_path)
    assert list(record["sources"])[-1] == "sst2" and rows[-1]["source"] == "sst2"
    sst2 = [row for row in rows if row["source"] == "sst2"]
    assert [(row["id"], row["text"]) for row in sst2] == [
        ("sst2:1", "a charming and often affecting journey ."),
        ("sst2:2", "no movement , no yuks , not much of anything .")]
    assert set(sst2[0]) == {"id", "text", "source", "origin"}
    assert not any(label in json.dumps(sst2) for label in ("positive", "negative"))
    assert record["sources"]["sst2"]["dropped_held_out"] == 1  # SST2_TEST, upper-cased
    assert record["sources"]["sst2"]["licence"] == "none stated"
    # the sources before it give the same rows and ids without it (corpora resume by id)
    names = [n for n in record["sources"] if n != "sst2"]
    without, _, _ = _run(unlabeled, data, tmp_path, "--sources", ",".join(names))
    assert rows[:len(without)] == without


def test_hu_liu_needs_its_sdist_and_checks_it(unlabeled, data, tmp_path):
    out = ["--data", str(data), "--out", str(tmp_path / "o.jsonl"),
           "--record", str(tmp_path / "r.json")]
    with pytest.raises(SystemExit, match="hu-liu needs --hu-liu .*pip download"):
        unlabeled.main([*out, "--sources", "yelp2,hu-liu"])
    with pytest.raises(SystemExit, match="no such file"):
        unlabeled.main([*out, "--hu-liu", str(tmp_path / "missing.tar.gz")])
    sdist = _vader_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz", HU_LIU)  # not the real one
    with pytest.raises(SystemExit, match="sha256 .* is not the vaderSentiment 3.3.2 sdist"):
        unlabeled.main([*out, "--hu-liu", str(sdist)])
    assert not (tmp_path / "o.jsonl").exists()


def test_a_malformed_hu_liu_line_is_named(unlabeled, data, tmp_path, monkeypatch):
    sdist = _vader_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz",
                         "1_1\t0.5\tfine .\n1_2 no tabs here\n")
    monkeypatch.setattr(unlabeled, "HU_LIU_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    with pytest.raises(SystemExit, match="amazonReviewSnippets_GroundTruth.txt: line 2: "):
        _run(unlabeled, data, tmp_path, "--sources", "hu-liu", "--hu-liu", str(sdist))


# -- the real data -------------------------------------------------------------------------------

REAL_HELD_OUT = sorted(
    [f"fsa-benchmark/{s}/{split}.json" for s in ("atsa/rest14", "atsa/laptop14", "acsa/rest16",
                                                  "acsa/laptop16") for split in ("dev", "test")]
    + [f"aste-data-v2/ASTE-Data-V2-EMNLP2020/{s}/{split}_triplets.txt"
       for s in ("14lap", "14res", "15res", "16res") for split in ("dev", "test")]
    + [f"asqp/data/{s}/{split}.txt" for s in ("rest15", "rest16") for split in ("dev", "test")]
    + [f"acos/data/{folder}/{prefix}_quad_{split}.tsv"
       for folder, prefix in (("Laptop-ACOS", "laptop"), ("Restaurant-ACOS", "rest16"))
       for split in ("dev", "test")]
    + [f"semeval14-scapt/data/{d}/{n}_Test_Gold{x}.xml"
       for d, n in (("laptops", "Laptops"), ("restaurants", "Restaurants"))
       for x in ("", "_Implicit_Labeled")]
    + [f"sentence-sentiment/{s}/{split}.json" for s in ("yelp2", "sst2") for split in ("test", "val")])


@pytest.mark.data
def test_real_data_output_holds_no_dev_or_test_sentence(unlabeled, data_dir, tmp_path):
    rows, record, _ = _run(unlabeled, data_dir, tmp_path, "--max-per-source", "200")
    assert sorted(record["held_out"]["files"]) == REAL_HELD_OUT
    assert set(record["sources"]) == set(unlabeled.SOURCES) - set(unlabeled.GIVEN_SOURCES)
    assert all(c["kept"] <= 200 for c in record["sources"].values())
    assert record["sources"]["yelp2"]["kept"] == 200
    # every evaluation text, read here without the script's help, and its sentences
    held_out = set()
    for name in REAL_HELD_OUT:
        for example in read_dataset(data_dir / name).examples:
            text = unlabeled.unescape(example.review.text)
            held_out.add(sentence_key(text))
            held_out.update(sentence_key(s) for s in sentences(text, min_words=0,
                                                                  max_words=None))
    assert not {sentence_key(row["text"]) for row in rows} & held_out
    assert len({sentence_key(row["text"]) for row in rows}) == len(rows)
