"""A corpus of short film reviews written by rules, each labelled positive or negative.

The rules, which the training page prints from these lists:

* A clause is a subject, sometimes an adverb, and a verdict phrase, positive or negative.
* A review is one of the FRAMES: one clause; two clauses that agree (joined by
  *and*, or as two sentences); two clauses that disagree, joined by a contrast word;
  or such a pair followed by a sentence that agrees with the deciding clause.
* Which clause decides the label is the contrast word's doing: after *but* and *yet*
  the second clause decides, an *although* clause at the front yields to the clause
  after it, and an *although* clause at the back yields to the clause before it.
  So the last clause does not always decide, and a network must read the contrast word.
* The seed's review is written by these rules (the last frame) but left out of the corpus.

Words are lower case; commas and full stops are words of their own.
"""

from __future__ import annotations

import numpy as np

REVIEW = (
    "The first half of the movie was dry, but the second half really picked up pace. "
    "The lead actor's performance was amazing."
)
PAD = "<pad>"

SUBJECTS = (
    "the first half of the movie",
    "the second half",
    "the lead actor's performance",
    "the plot",
    "the ending",
    "the script",
    "the soundtrack",
    "the film",
    "the story",
    "the dialogue",
    "the camera work",
    "the cast",
)
ADVERBS = ("really", "truly")
POSITIVE = (
    "was amazing",
    "picked up pace",
    "was wonderful",
    "was gripping",
    "was a joy to watch",
    "was brilliant",
    "was moving",
    "kept me hooked",
    "was funny",
    "was superb",
)
NEGATIVE = (
    "was dry",
    "was dull",
    "dragged on",
    "was boring",
    "fell flat",
    "was a mess",
    "was slow",
    "was forgettable",
    "was clumsy",
    "was tedious",
)

# (frame, do the clauses a and b agree, which clause decides); c always agrees with the decider.
FRAMES = (
    ("{a} .", True, "a"),
    ("{a} and {b} .", True, "a"),
    ("{a} . {b} .", True, "a"),
    ("{a} , but {b} .", False, "b"),
    ("{a} , yet {b} .", False, "b"),
    ("although {a} , {b} .", False, "b"),
    ("{a} , although {b} .", False, "a"),
    ("{a} , but {b} . {c} .", False, "b"),
    ("{a} , although {b} . {c} .", False, "a"),
)
ADVERB_RATE = 0.3  # how often a clause has an adverb before its verdict


def tokenize(text: str) -> list[str]:
    """Lower case, with commas and full stops split off as words.

    >>> tokenize("It was dry, but fun.")
    ['it', 'was', 'dry', ',', 'but', 'fun', '.']
    """
    return text.lower().replace(",", " ,").replace(".", " .").split()


def words() -> list[str]:
    """Every word the rules can write, in a fixed order (the order of first use)."""
    phrases = [*SUBJECTS, *ADVERBS, *POSITIVE, *NEGATIVE, *(f for f, _, _ in FRAMES)]
    return list(dict.fromkeys(w for p in phrases for w in tokenize(p) if w not in ("{a}", "{b}", "{c}")))


def _clause(positive: bool, rng: np.random.Generator) -> str:
    subject = SUBJECTS[rng.integers(len(SUBJECTS))]
    verdicts = POSITIVE if positive else NEGATIVE
    verdict = verdicts[rng.integers(len(verdicts))]
    adverb = f"{ADVERBS[rng.integers(len(ADVERBS))]} " if rng.random() < ADVERB_RATE else ""
    return f"{subject} {adverb}{verdict}"


def review(rng: np.random.Generator) -> tuple[list[str], int]:
    """One review by the rules: (words, label), label 1 for positive."""
    frame, agree, decides = FRAMES[rng.integers(len(FRAMES))]
    label = int(rng.integers(2))
    first = label == 1 if decides == "a" else (label == 1) == agree
    clauses = {"a": _clause(first, rng), "b": _clause(first == agree, rng), "c": _clause(label == 1, rng)}
    return tokenize(frame.format(**clauses)), label


def split(size: int, held_out: float, seed: int) -> tuple[list, list]:
    """``size`` distinct reviews (the seed's review excluded), shuffled and split into
    (training, held out), the held-out share ``held_out``; the same for the same seed.

    >>> train, test = split(100, 0.2, seed=0)
    >>> len(train), len(test), not {" ".join(w) for w, _ in train} & {" ".join(w) for w, _ in test}
    (80, 20, True)
    """
    rng = np.random.default_rng(seed)
    seen = {" ".join(tokenize(REVIEW))}
    out = []
    while len(out) < size:
        words, label = review(rng)
        if " ".join(words) not in seen:
            seen.add(" ".join(words))
            out.append((words, label))
    cut = size - round(size * held_out)
    return out[:cut], out[cut:]
