"""Splitting review text into sentences: a small, deterministic, rule-based splitter.

:func:`split_sentences` returns ``(start, end)`` character spans into the text it was given, so a
caller can keep offsets (``text[start:end]`` is the sentence, stripped of surrounding
whitespace); :func:`sentences` returns the sentences themselves with whitespace normalised.

The rule, in order:

1. A sentence ends after a run of ``.``, ``!``, ``?`` or ``…`` (plus any closing quotes or
   brackets right after it: ``"Great!" He said`` splits after the quote) when whitespace follows
   and then an upper-case letter or a quote (``' " “ ‘``). A digit or a lower-case letter does not
   start a new sentence (``$5. 2 of us``, ``nice... and cheap``); nor does a period without
   whitespace after it (``$5.99``, ``nom..nom``).
2. Not after a single period that ends an abbreviation: a title or short form in
   :data:`ABBREVIATIONS` (``Mr.``, ``Dr.``, ``St.``, ``vs.``, ``approx.``, ...: titles and
   forms that stand before a word), one capital letter other than ``I`` and ``A`` (an initial:
   ``J. Smith``) or a dotted form (``e.g.``, ``i.e.``, ``U.S.``). Words that often close a
   sentence are not abbreviations here: ``etc.``, ``No.``, ``Inc.``, units (``20 min.``,
   ``5 oz.``), ``a.m.``/``p.m.`` (``at 9 p.m. The staff`` is two sentences), ``so did I. The``.
3. A line break always ends a sentence (reviews are not hard-wrapped: a new line is a new
   paragraph or list item).
4. Each piece is stripped of surrounding whitespace; empty pieces go. Pieces with fewer than
   ``min_words`` or more than ``max_words`` words (default 3 and 60; a word is a
   whitespace-separated token with a letter or digit in it) are dropped, not cut.
   ``min_words=0, max_words=None`` keeps every non-empty piece, so that the spans cover all of
   the text's words (for splitting long reviews with offsets).

No dependency beyond :mod:`re`; the same text always gives the same spans.
"""

from __future__ import annotations

import re

#: words ending in a single ``.`` that never end a sentence (compared lower-case, without the dot)
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "vs", "approx", "cf", "fig",
    "dept", "capt", "col", "gen", "gov", "lt", "sen", "sgt", "rev",
})

#: dotted forms that do end a sentence before a capital (``at 9 p.m. The staff``)
SENTENCE_FINAL_DOTTED = frozenset({"a.m", "p.m"})

MIN_WORDS = 3
MAX_WORDS = 60

_CLOSERS = "\"'”’»)]"
_OPENING_QUOTES = "\"'“‘"
# a run of terminal punctuation, any closing quotes/brackets, then whitespace
_END = re.compile(r"[.!?…]+[" + re.escape(_CLOSERS) + r"]*(?=\s)")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")
_LAST_TOKEN = re.compile(r"(\S+)$")
_DOTTED = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")
_WORD = re.compile(r"\w")
_NEXT = re.compile(r"\s*(\S)")


def word_count(text: str) -> int:
    """Whitespace-separated tokens that hold a letter or digit (``"great ."`` is one word)."""
    return sum(1 for token in text.split() if _WORD.search(token))


def normalise_space(text: str) -> str:
    """Runs of whitespace as one space, ends stripped."""
    return " ".join(text.split())


def _is_abbreviation(text: str, period: int) -> bool:
    """Whether the single ``.`` at ``period`` ends an abbreviation (rule 2)."""
    match = _LAST_TOKEN.search(text, 0, period)
    if match is None:
        return False
    token = match.group(1).lstrip(_OPENING_QUOTES + "([")
    lowered = token.lower()
    if lowered in ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isupper() and token not in "IA":
        return True
    return bool(_DOTTED.match(token)) and lowered not in SENTENCE_FINAL_DOTTED


def _boundaries(text: str) -> list[int]:
    """Offsets where a sentence ends (rules 1-3), in order."""
    cuts = []
    for match in _END.finditer(text):
        after = match.end()
        following = _NEXT.match(text, after)
        first = following.group(1) if following else ""
        if not first or not (first.isupper() or first in _OPENING_QUOTES):
            continue
        punctuation = match.group().rstrip(_CLOSERS)
        if punctuation == "." and _is_abbreviation(text, match.start()):
            continue
        cuts.append(after)
    cuts += [m.start() for m in _LINE_BREAK.finditer(text)]
    return sorted(set(cuts))


def split_sentences(text: str, *, min_words: int = MIN_WORDS,
                    max_words: int | None = MAX_WORDS) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the sentences of ``text`` (see the module's rule), in order.

    ``text[start:end]`` is a sentence without surrounding whitespace (inner whitespace is kept:
    :func:`normalise_space` it for output). Pieces outside ``min_words..max_words`` words are
    left out; ``max_words=None`` sets no upper bound.
    """
    spans = []
    start = 0
    for end in [*_boundaries(text), len(text)]:
        piece = text[start:end]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            words = word_count(piece)
            if words >= min_words and (max_words is None or words <= max_words):
                spans.append((start + left, start + right))
        start = end
    return spans


def sentences(text: str, *, min_words: int = MIN_WORDS,
              max_words: int | None = MAX_WORDS) -> list[str]:
    """The sentences of ``text`` (:func:`split_sentences`), whitespace normalised."""
    return [normalise_space(text[s:e])
            for s, e in split_sentences(text, min_words=min_words, max_words=max_words)]


__all__ = ["ABBREVIATIONS", "MAX_WORDS", "MIN_WORDS", "normalise_space", "sentences",
           "split_sentences", "word_count"]
