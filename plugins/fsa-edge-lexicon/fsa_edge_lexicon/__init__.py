"""Example third-party fsa-edge plugin: a backend that needs no model weights.

It tags the aspect terms of a small word list and gives each the polarity of the nearest
opinion word (a negation just before flips it). It is deliberately simple: it shows how an
outside package plugs a backend and a model alias into fsa-edge through the ``fsa_edge``
entry-point group.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

from fsa_edge import Backend, Prediction, SentimentElement, hookimpl, reject_unknown_options
from fsa_edge.tasks import SlotTask

LEXICON_FILE = "lexicon.json"
BUNDLED = Path(__file__).parent / "lexicon"
_WORD = re.compile(r"[\w']+")
_NEGATIONS = {"not", "no", "never", "n't", "isn't", "wasn't", "don't", "didn't", "hardly"}


class LexiconBackend(Backend):
    name = "lexicon"
    description = "opinion-lexicon tagger (example third-party plugin)"

    def __init__(self, path, *, device="auto", window: int = 6, cpu_threads=None, **options):
        super().__init__(path, device=device, **options)
        reject_unknown_options(self, options)  # a misspelt option is an error, not ignored
        data = json.loads((self.path / LEXICON_FILE).read_text(encoding="utf-8"))
        self.aspects = sorted((a.lower() for a in data["aspects"]), key=len, reverse=True)
        self.opinions = {w.lower(): "positive" for w in data["positive"]}
        self.opinions.update({w.lower(): "negative" for w in data["negative"]})
        self.window = window

    @classmethod
    def can_load(cls, path: Path) -> bool:
        return (path / LEXICON_FILE).is_file()

    def _opinion_near(self, words: list[re.Match], index: int) -> str | None:
        order = sorted(range(len(words)), key=lambda j: abs(j - index))
        for j in order:
            if abs(j - index) > self.window:
                break
            polarity = self.opinions.get(words[j].group().lower())
            if polarity:
                negated = j > 0 and words[j - 1].group().lower() in _NEGATIONS
                return {"positive": "negative", "negative": "positive"}[polarity] if negated else polarity
        return None

    def _predict_one(self, text: str, task: SlotTask) -> Prediction:
        words = list(_WORD.finditer(text))
        if task.name == "sentence":
            votes = [self._opinion_near(words, i) for i in range(len(words))
                     if words[i].group().lower() in self.opinions]
            polarity = max(("positive", "negative"), key=votes.count) if votes else "neutral"
            return Prediction((SentimentElement(polarity=polarity),))
        if task.name != "atsa":
            return Prediction(())
        lowered = text.lower()
        elements, taken = [], set()
        for aspect in self.aspects:
            for match in re.finditer(rf"\b{re.escape(aspect)}\b", lowered):
                span = match.span()
                if any(i in taken for i in range(*span)):
                    continue
                index = next((k for k, w in enumerate(words) if w.start() >= span[0]), 0)
                polarity = self._opinion_near(words, index)
                if polarity:
                    taken.update(range(*span))
                    elements.append(SentimentElement(polarity=polarity, aspect=text[span[0]:span[1]],
                                                     aspect_span=span))
        return Prediction(task.project(elements))

    def predict(self, texts: Sequence[str], *, task: SlotTask) -> list[Prediction]:
        return [self._predict_one(text, task) for text in texts]


@hookimpl
def register_backends(register):
    register(LexiconBackend)


@hookimpl
def register_models(register):
    register("lexicon-demo", BUNDLED, description="a 60-word restaurant/laptop lexicon")
