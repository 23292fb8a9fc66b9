"""Unlabeled review sentences for a teacher to annotate (the input of ``fsa-edge distill``).

    python benchmarks/unlabeled.py --out /tmp/unlabeled/sentences.jsonl
    python benchmarks/unlabeled.py --out FILE.jsonl --sources yelp2,acos --max-per-source 200
    python benchmarks/unlabeled.py --out FILE.jsonl --hu-liu vaderSentiment-3.3.2.tar.gz

Reads the sources named by ``--sources`` (in that order; default: all, in the order below) from
``--data`` (default ``../shared/data``), splits every text into sentences with
:func:`fsa_edge.text.split_sentences` (3 to 60 words; its module documents the rule), and keeps
a sentence unless

- its :func:`~fsa_edge.training.sentence_key` (case, spacing, punctuation ignored) is held out:
  the key of any text of any dev, test or val split of every labelled set under ``--data``
  (every file whose name has a ``dev``, ``test``, ``val`` or ``trial`` part: fsa-benchmark,
  ASTE-V2, ASQP, ACOS, SemEval-2014 Test_Gold, sentence-sentiment), or of any sentence of a
  held-out text that splits into several (a yelp2 test review's sentences);
- an earlier sentence (earlier source, or earlier in the same source) has the same key.

Sources (labels are never read into the output; no dev/test/val file is ever a source):

- ``yelp2``: sentence-sentiment/yelp2/train.json: whole Yelp reviews (their doubly escaped
  ``\\n``, ``\\"`` and ``\\uXXXX`` decoded first). Its val split is a held-out split, not a source.
- ``teacher-samples``: teacher-samples/mixtral_500.jsonl, the reviews' ``Text``.
- ``fsa-benchmark``: fsa-benchmark/{atsa,acsa}/*/train.json sentences.
- ``semeval14``: semeval14-scapt Laptops/Restaurants_Train_v2.xml sentences (its train files
  hold the benchmark's dev sentences too: the held-out guard drops them).
- ``acos``, ``asqp``, ``aste``: their train splits' sentences (tokenised text as in the files;
  ACOS is also lower-cased). They come after the others of ``--data`` so that the same sentence,
  untokenised, is kept from fsa-benchmark or semeval14.
- ``hu-liu`` (only with ``--hu-liu SDIST``; then after ``aste``): the 3,708 lower-cased sentences
  of Hu & Liu's (2004) customer reviews of five electronics products (cameras, a DVD player, an
  MP3 player, a phone) that the vaderSentiment 3.3.2 sdist ships in
  ``additional_resources/hutto_ICWSM_2014.tar.gz`` as ``amazonReviewSnippets_GroundTruth.txt``
  (id, a crowd rating that is never read, text). Laptop-like review text, which the benchmark sets
  have little of. Read in place from the sdist (``pip download --no-deps --no-binary :all:
  vadersentiment==3.3.2 -d DIR``; not a run-time dependency); its sha256 is checked.
- ``sst2``: sentence-sentiment/sst2/train.json: 3,000 lower-cased, tokenised movie-review
  sentences (SST-2's train split; its labels are never read), the only movie text here — the
  domain of the zero-shot sst2 test, as yelp2's train reviews are of yelp2's. Last, so that
  adding it changed no other source's sentences or ids.

Writes ``--out`` (JSON lines ``{id: "<source>:<n>", text, source, origin}``, atomically) and the
record ``--record`` (default ``benchmarks/results/unlabeled_sentences.json``): per source the files
read, reviews, sentences, fragments too short/long, dropped as held out, dropped as duplicates,
kept, and the licence that ``MANIFEST.md`` states; the held-out files; the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RECORD = ROOT / "benchmarks" / "results" / "unlabeled_sentences.json"

#: parts of a file name that mark an evaluation split (never a source; always held out)
HELD_OUT_PARTS = frozenset({"dev", "test", "val", "valid", "validation", "trial"})
LABELLED_SUFFIXES = (".json", ".txt", ".tsv", ".xml")

# One text of a source: (file relative to the data folder, the text's id there, the text).
Text = tuple[str, str, str]


def held_out_name(path: Path) -> bool:
    """Whether a file name marks a dev/test/val split (``Laptops_Test_Gold.xml``, ``dev.txt``)."""
    return bool(HELD_OUT_PARTS & set(re.split(r"[^a-z0-9]+", path.stem.lower())))


_ESCAPE = re.compile(r"(?:\\u[0-9a-fA-F]{4})+|\\[\"\\/bfnrt]")


def unescape(text: str) -> str:
    """sentence-sentiment's texts are JSON-escaped twice: ``\\n`` and ``\\u00e9`` are literal
    characters in them. Decode those escapes (an unpaired surrogate becomes U+FFFD)."""
    if "\\" not in text:
        return text

    def decode(match: re.Match) -> str:
        value = json.loads('"' + match.group() + '"')
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    return _ESCAPE.sub(decode, text)


def _relative(path: Path, data: Path) -> str:
    return path.relative_to(data).as_posix()


def _labelled_texts(path: Path, data: Path) -> Iterator[Text]:
    from fsa_edge.readers import read_dataset

    dataset = read_dataset(path)
    clean = unescape if dataset.format == "sentences" else (lambda text: text)
    for example in dataset.examples:
        yield _relative(path, data), example.review.id, clean(example.review.text)


def _files(data: Path, patterns: tuple[str, ...]) -> list[Path]:
    files = sorted({p for pattern in patterns for p in data.glob(pattern) if p.is_file()})
    leaked = [p for p in files if held_out_name(p)]
    if leaked:  # a pattern must never pick an evaluation split
        raise SystemExit(f"refusing to read a held-out split as a source: {leaked[0]}")
    return files


def _teacher_samples(path: Path, data: Path) -> Iterator[Text]:
    from fsa_edge.jsonlines import iter_json_objects

    for line, record in iter_json_objects(path):
        text = record.get("Text", record.get("text"))
        if isinstance(text, str):
            yield _relative(path, data), str(record.get("ID", record.get("id", line))), text


HU_LIU_SDIST = "vaderSentiment-3.3.2.tar.gz"
HU_LIU_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
HU_LIU_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
HU_LIU_MEMBER = "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"
HU_LIU_LICENCE = ("package MIT (vaderSentiment 3.3.2 LICENSE.txt); the Hu & Liu (KDD 2004) "
                  "customer review data CC BY 4.0 per NLTK's data index")


def _hu_liu_snippets(path: Path, data: Path) -> Iterator[Text]:
    """The snippets' texts, in file order; the rating column is skipped, never parsed."""
    import tarfile

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != HU_LIU_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} is not the vaderSentiment 3.3.2 sdist's "
                         f"({HU_LIU_SHA256})")
    with tarfile.open(path, "r:gz") as outer:
        inner_file = outer.extractfile(HU_LIU_INNER)
        with tarfile.open(fileobj=inner_file, mode="r:gz") as inner:
            raw = inner.extractfile(HU_LIU_MEMBER).read()
    label = f"{path.name}!{HU_LIU_MEMBER}"
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].strip():
            raise SystemExit(f"{label}: line {number}: expected id<TAB>rating<TAB>text")
        yield label, fields[0].strip(), fields[2]


class Source(NamedTuple):
    name: str
    manifest: str  # the folder's entry in MANIFEST.md's table ("" for a given file)
    patterns: tuple[str, ...]  # under --data; empty: the file is given on the command line
    read: Callable[[Path, Path], Iterator[Text]] = _labelled_texts
    licence: str | None = None  # as stated by a given file's package (else MANIFEST.md's)

    def files(self, data: Path, given: Path | None = None) -> list[Path]:
        return [given] if given is not None else _files(data, self.patterns)


SOURCES = {source.name: source for source in (
    Source("yelp2", "sentence-sentiment/", ("sentence-sentiment/yelp2/train.json",)),
    Source("teacher-samples", "teacher-samples/mixtral_500.jsonl",
           ("teacher-samples/mixtral_500.jsonl",), _teacher_samples),
    Source("fsa-benchmark", "fsa-benchmark/", ("fsa-benchmark/*/*/train.json",)),
    Source("semeval14", "semeval14-scapt/", ("semeval14-scapt/data/*/*_Train_v2.xml",)),
    Source("acos", "acos/", ("acos/data/*/*_train.tsv",)),
    Source("asqp", "asqp/", ("asqp/data/*/train.txt",)),
    Source("aste", "aste-data-v2/", ("aste-data-v2/*/*/train_triplets.txt",)),
    Source("hu-liu", "", (), _hu_liu_snippets, HU_LIU_LICENCE),
    Source("sst2", "sentence-sentiment/", ("sentence-sentiment/sst2/train.json",)),
)}
#: sources whose file is given by an option (``--hu-liu``), not found under ``--data``
GIVEN_SOURCES = tuple(name for name, source in SOURCES.items() if not source.patterns)


def held_out_files(data: Path) -> list[Path]:
    """Every labelled file under ``data`` whose name marks a dev/test/val split."""
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower()
                  in LABELLED_SUFFIXES and held_out_name(p) and ".git" not in p.parts)


def held_out_keys(data: Path) -> tuple[set[str], dict[str, int]]:
    """The keys of every held-out text, and of every sentence of one that splits into several;
    with the number of texts read per file."""
    from fsa_edge.text import split_sentences
    from fsa_edge.training import sentence_key

    keys: set[str] = set()
    texts: dict[str, int] = {}
    for path in held_out_files(data):
        count = 0
        for _, _, text in _labelled_texts(path, data):
            count += 1
            keys.add(sentence_key(text))
            spans = split_sentences(text, min_words=0, max_words=None)
            if len(spans) > 1:
                keys.update(sentence_key(text[s:e]) for s, e in spans)
        texts[_relative(path, data)] = count
    keys.discard("")
    return keys, texts


def manifest_licences(data: Path) -> dict[str, dict[str, str]]:
    """MANIFEST.md's table: folder → {repository, licence} as stated there."""
    manifest = data / "MANIFEST.md"
    rows: dict[str, dict[str, str]] = {}
    if not manifest.is_file():
        return rows
    for line in manifest.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = {"repository": cells[1], "licence": cells[2]}
    return rows


class Counts:
    """What one source gave (a plain class: the script is loaded without a package, where
    dataclasses cannot resolve its annotations)."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.reviews = self.sentences = self.too_short = self.too_long = 0
        self.dropped_held_out = self.dropped_duplicate = self.kept = 0
        self.capped = False


def collect(data: Path, names: list[str], held_out: set[str], max_per_source: int | None,
            given: dict[str, Path] | None = None
            ) -> tuple[list[dict[str, str]], dict[str, Counts]]:
    """The kept sentences (output rows) and the counts per source (``given``: the file of a
    source that does not live under ``data``)."""
    from fsa_edge.text import MAX_WORDS, MIN_WORDS, normalise_space, split_sentences, word_count
    from fsa_edge.training import sentence_key

    rows: list[dict[str, str]] = []
    counts: dict[str, Counts] = {}
    seen: set[str] = set()
    for name in names:
        source = SOURCES[name]
        tally = counts[name] = Counts()
        for path in source.files(data, (given or {}).get(name)):
            tally.files.append(_relative(path, data) if source.patterns else str(path))
            for file, rid, text in source.read(path, data):
                if tally.capped:
                    break
                tally.reviews += 1
                for start, end in split_sentences(text, min_words=0, max_words=None):
                    sentence = normalise_space(text[start:end])
                    words = word_count(sentence)
                    if words < MIN_WORDS:
                        tally.too_short += 1
                        continue
                    if words > MAX_WORDS:
                        tally.too_long += 1
                        continue
                    tally.sentences += 1
                    key = sentence_key(sentence)
                    if key in held_out:
                        tally.dropped_held_out += 1
                    elif key in seen:
                        tally.dropped_duplicate += 1
                    else:
                        seen.add(key)
                        tally.kept += 1
                        rows.append({"id": f"{name}:{tally.kept}", "text": sentence,
                                     "source": name, "origin": f"{file}#{rid}"})
                        if max_per_source is not None and tally.kept >= max_per_source:
                            tally.capped = True
                            break
            if tally.capped:
                break
    return rows, counts


def write_atomically(path: Path, lines: Iterator[str]) -> str:
    """Write ``lines`` to ``path`` through a temporary file and a rename; the sha256 written."""
    from fsa_edge.files import fsync_dir

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            for line in lines:
                handle.write(line)
                digest.update(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return digest.hexdigest()


def table(counts: dict[str, Counts]) -> str:
    head = ("source", "reviews", "sentences", "held out", "duplicates", "kept")
    body = [(n, c.reviews, c.sentences, c.dropped_held_out, c.dropped_duplicate, c.kept)
            for n, c in counts.items()]
    body.append(("total", *(sum(row[i] for row in body) for i in range(1, 6))))
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(6)]
    return "\n".join("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                               for i, (v, w) in enumerate(zip(row, widths)))
                     for row in [head, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the sentences (JSON lines)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sources", default=None,
                        help="comma-separated, in priority order (default: every source under "
                             f"--data, then those given by a file option); known: "
                             f"{', '.join(SOURCES)}")
    parser.add_argument("--hu-liu", type=Path, default=None, metavar="SDIST",
                        help=f"the {HU_LIU_SDIST} that holds the hu-liu source")
    parser.add_argument("--max-per-source", type=int, default=None,
                        help="keep at most this many sentences of each source")
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    given = {"hu-liu": args.hu_liu} if args.hu_liu is not None else {}
    if args.sources is None:
        names = [n for n in SOURCES if n not in GIVEN_SOURCES or n in given]
    else:
        names = [n.strip() for n in args.sources.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise SystemExit(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
    if len(set(names)) != len(names):
        raise SystemExit("a source is named twice in --sources")
    if args.max_per_source is not None and args.max_per_source < 1:
        raise SystemExit("--max-per-source must be at least 1")
    if not args.data.is_dir():
        raise SystemExit(f"no data folder: {args.data}")
    missing = [n for n in names if n in GIVEN_SOURCES and n not in given]
    if missing:
        raise SystemExit(f"source {missing[0]} needs --{missing[0]} FILE ({HU_LIU_SDIST}: pip "
                         "download --no-deps --no-binary :all: vadersentiment==3.3.2 -d DIR)")
    for name, path in given.items():
        if not path.is_file():
            raise SystemExit(f"--{name}: no such file: {path}")

    from fsa_edge.jsonlines import dumps_line
    from fsa_edge.text import ABBREVIATIONS, MAX_WORDS, MIN_WORDS

    held_out, held_out_texts = held_out_keys(args.data)
    rows, counts = collect(args.data, names, held_out, args.max_per_source, given)
    digest = write_atomically(args.out, (dumps_line(row) + "\n" for row in rows))
    licences = manifest_licences(args.data)
    record = {
        "benchmark": "unlabeled_sentences",
        "command": "python benchmarks/unlabeled.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "output": {"path": str(args.out), "sentences": len(rows), "sha256": digest,
                   "fields": ["id", "text", "source", "origin"]},
        "rules": {
            "splitter": "fsa_edge.text.split_sentences",
            "min_words": MIN_WORDS, "max_words": MAX_WORDS,
            "abbreviations": sorted(ABBREVIATIONS),
            "held_out": "sentence_key of every dev/test/val text under --data, and of each "
                        "sentence of one that splits into several",
            "duplicates": "sentence_key seen before (earlier source or earlier in the source)",
        },
        "sources": {name: {
            "files": c.files, "reviews": c.reviews, "sentences": c.sentences,
            "too_short": c.too_short, "too_long": c.too_long,
            "dropped_held_out": c.dropped_held_out, "dropped_duplicate": c.dropped_duplicate,
            "kept": c.kept, "capped": c.capped,
            "licence": SOURCES[name].licence or licences.get(SOURCES[name].manifest, {}).get(
                "licence", "not in MANIFEST.md"),
            "repository": licences.get(SOURCES[name].manifest, {}).get("repository"),
        } for name, c in counts.items()},
        "held_out": {"files": held_out_texts, "texts": sum(held_out_texts.values()),
                     "keys": len(held_out)},
    }
    write_atomically(args.record, iter([json.dumps(record, indent=2, ensure_ascii=False) + "\n"]))
    print(table(counts))
    print(f"{len(rows)} sentences → {args.out}; record → {args.record}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
