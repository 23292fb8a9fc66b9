"""Find generated terms in the original text to recover their character spans.

Matching order for one term: exact, then ignoring case and accents (uncased WordPiece writes
``cafe`` for ``Café``), then also ignoring whitespace (a decoded WordPiece string such as
``hot - dog`` still finds ``hot-dog``).

A linearised target names terms but not which occurrence, so :func:`assign_spans` chooses the
occurrences of all elements of a generation together: elements are written in sentence order,
so their (aspect, opinion) positions must not go backwards; among the orders that respect
this, an aspect is paired with its nearest opinion, then the earliest occurrences win.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

from ..model import Span

MAX_OCCURRENCES = 12
_ORDER_PENALTY = 1e6
_OVERLAP_PENALTY = 1e5


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    folded = base.lower()
    return folded if len(folded) == 1 else char.lower() if len(char.lower()) == 1 else char


def fold(text: str) -> str:
    """Lower-cased, accents removed, one character per character (indices stay valid)."""
    return "".join(_fold_char(char) for char in text)


def _flexible_pattern(term: str) -> re.Pattern[str] | None:
    compact = re.sub(r"\s+", "", term)
    if not compact:
        return None
    return re.compile(r"\s*".join(re.escape(char) for char in compact))


def occurrences(text: str, term: str) -> list[Span]:
    """All spans of ``term`` in ``text`` by the first matching rule that finds any."""
    term = " ".join(term.split())
    if not term:
        return []
    found = _all(text, term, 0)
    if not found:
        folded_text, folded_term = fold(text), fold(term)
        found = _all(folded_text, folded_term, 0)
        if not found:
            pattern = _flexible_pattern(folded_term)
            if pattern is not None:
                found = [m.span() for m in pattern.finditer(folded_text)][:MAX_OCCURRENCES]
    return found


def _all(text: str, term: str, start: int) -> list[Span]:
    spans: list[Span] = []
    index = text.find(term, start)
    while index >= 0 and len(spans) < MAX_OCCURRENCES:
        spans.append((index, index + len(term)))
        index = text.find(term, index + 1)
    return spans


def locate(text: str, term: str) -> Span | None:
    """The first span of ``term`` in ``text``."""
    found = occurrences(text, term)
    return found[0] if found else None


def _gap(a: Span, b: Span) -> int:
    if a[1] <= b[0]:
        return b[0] - a[1]
    if b[1] <= a[0]:
        return a[0] - b[1]
    return 0


def locate_near(text: str, term: str, anchor: Span | None) -> Span | None:
    """The occurrence of ``term`` closest to ``anchor`` (the first one without an anchor)."""
    found = occurrences(text, term)
    if not found:
        return None
    if anchor is None:
        return found[0]
    return min(found, key=lambda span: (_gap(span, anchor), span[0]))


Choice = tuple[Span | None, Span | None]


def assign_spans(candidates: Sequence[Sequence[Choice]], *, strictly_increasing: bool,
                 same_as_previous: Sequence[bool]) -> list[Choice]:
    """Pick one (aspect span, opinion span) per element by dynamic programming.

    ``candidates[i]`` lists the possible choices of element ``i`` (``None`` = implicit).
    ``same_as_previous[i]`` says element ``i`` is written exactly like element ``i - 1``: it
    then prefers a later occurrence. Never fails: order violations are penalised, not forbidden.
    """
    if not candidates:
        return []

    def key(choice: Choice) -> tuple[int, int]:
        aspect, opinion = choice
        return (aspect[0] if aspect else -1, opinion[0] if opinion else -1)

    def own_cost(choice: Choice) -> float:
        aspect, opinion = choice
        cost = 0.001 * (key(choice)[0] + key(choice)[1])
        if aspect and opinion:
            cost += 10 * _gap(aspect, opinion)
            if aspect[0] < opinion[1] and opinion[0] < aspect[1]:
                cost += _OVERLAP_PENALTY
        return cost

    def step_cost(prev: Choice, cur: Choice, same: bool) -> float:
        kp, kc = key(prev), key(cur)
        if kc < kp:
            return _ORDER_PENALTY
        if strictly_increasing and prev[0] and cur[0] and cur[0][0] <= prev[0][0]:
            return _ORDER_PENALTY
        if same and kc == kp:
            return 1e3
        return 0.0

    best = [own_cost(c) for c in candidates[0]]
    back: list[list[int]] = []
    for index in range(1, len(candidates)):
        row, pointers = [], []
        for current in candidates[index]:
            options = [best[j] + step_cost(prev, current, same_as_previous[index])
                       for j, prev in enumerate(candidates[index - 1])]
            j = min(range(len(options)), key=options.__getitem__)
            row.append(options[j] + own_cost(current))
            pointers.append(j)
        best = row
        back.append(pointers)
    choice = min(range(len(best)), key=best.__getitem__)
    path = [choice]
    for pointers in reversed(back):
        choice = pointers[choice]
        path.append(choice)
    path.reverse()
    return [candidates[i][c] for i, c in enumerate(path)]
