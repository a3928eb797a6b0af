"""A corpus of short film reviews written by rules, each labelled positive or negative.

The rules, which the training page prints from these lists:

* A clause is a subject, sometimes an adverb, and a verdict phrase, positive or negative,
  sometimes negated ("was not dull", "never dragged on"), which turns its polarity round.
* A review is one of the FRAMES. The label is the polarity of the clause that decides.
  After *but* and *yet* the second clause decides, an *although* clause yields to the
  other one wherever it stands; two clauses joined by *and* or written as two sentences
  agree. Where a contrast word joins two clauses, the other clause's polarity is drawn
  independently of the deciding one: the clauses agree as often as they disagree, so
  neither the first verdict nor the contrast word tells the label: a network must read
  the deciding clause itself.
* Some frames add a sentence: one that agrees with the deciding clause (as in the
  article's review), or a neutral one that says nothing of the film's worth, so that
  waiting for a last verdict does not work either.
* Two frames and three subjects are held out: no training review uses them, so the
  held-out sets measure whether the rules were learnt or the reviews remembered.
* The article's review is written by these rules but left out of the corpus.

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
# Subjects no training review uses: their words keep their random first embeddings.
NEW_SUBJECTS = ("the costumes", "the editing", "the set design")
ADVERBS = ("really", "truly")
# Each verdict with its negation.
POSITIVE = (
    ("was amazing", "was not amazing"),
    ("picked up pace", "never picked up pace"),
    ("was wonderful", "was not wonderful"),
    ("was gripping", "was not gripping"),
    ("was a joy to watch", "was not a joy to watch"),
    ("was brilliant", "was not brilliant"),
    ("was moving", "was not moving"),
    ("kept me hooked", "never kept me hooked"),
    ("was funny", "was not funny"),
    ("was superb", "was not superb"),
)
NEGATIVE = (
    ("was dry", "was not dry"),
    ("was dull", "was not dull"),
    ("dragged on", "never dragged on"),
    ("was boring", "was not boring"),
    ("fell flat", "never fell flat"),
    ("was a mess", "was not a mess"),
    ("was slow", "was not slow"),
    ("was forgettable", "was not forgettable"),
    ("was clumsy", "was not clumsy"),
    ("was tedious", "was not tedious"),
)
NEUTRAL = ("i saw it on a sunday", "it runs for two hours", "we went as a group", "the cinema was full")

# (frame, do a and b agree (True) or is the other clause drawn freely (False), which clause
# decides, held out of training); c agrees with the deciding clause, n is a neutral sentence.
FRAMES = (
    ("{a} .", True, "a", False),
    ("{a} and {b} .", True, "a", False),
    ("{a} . {b} .", True, "a", False),
    ("{a} , but {b} .", False, "b", False),
    ("{a} , yet {b} .", False, "b", False),
    ("although {a} , {b} .", False, "b", False),
    ("{a} , although {b} .", False, "a", False),
    ("{a} , but {b} . {c} .", False, "b", False),
    ("{a} , but {b} . {n} .", False, "b", False),
    ("{a} , although {b} . {n} .", False, "a", False),
    ("{n} . {a} , but {b} .", False, "b", True),
    ("{n} . although {a} , {b} .", False, "b", True),
)
ADVERB_RATE = 0.3  # how often a clause has an adverb before its verdict
NEGATION_RATE = 0.3  # how often a clause's verdict is negated


def tokenize(text: str) -> list[str]:
    """Lower case, with commas and full stops split off as words.

    >>> tokenize("It was dry, but fun.")
    ['it', 'was', 'dry', ',', 'but', 'fun', '.']
    """
    return text.lower().replace(",", " ,").replace(".", " .").split()


def words() -> list[str]:
    """Every word the rules can write, in a fixed order (the order of first use)."""
    verdicts = [v for pair in (*POSITIVE, *NEGATIVE) for v in pair]
    phrases = [*SUBJECTS, *NEW_SUBJECTS, *ADVERBS, *verdicts, *NEUTRAL, *(f[0] for f in FRAMES)]
    slots = ("{a}", "{b}", "{c}", "{n}")
    return list(dict.fromkeys(w for p in phrases for w in tokenize(p) if w not in slots))


def _clause(positive: bool, rng: np.random.Generator, subjects=SUBJECTS) -> str:
    """A clause of the given polarity: a verdict of that polarity, or a negated one of the other."""
    subject = subjects[rng.integers(len(subjects))]
    negated = rng.random() < NEGATION_RATE
    verdicts = POSITIVE if positive != negated else NEGATIVE
    verdict = verdicts[rng.integers(len(verdicts))][int(negated)]
    adverb = f"{ADVERBS[rng.integers(len(ADVERBS))]} " if rng.random() < ADVERB_RATE else ""
    return f"{subject} {adverb}{verdict}"


def review(rng: np.random.Generator, frames=None, subjects=SUBJECTS) -> tuple[list[str], int]:
    """One review by the rules, of one of ``frames`` (the training frames unless given),
    about ``subjects``: (words, label), label 1 for positive."""
    frames = [f for f in FRAMES if not f[3]] if frames is None else frames
    frame, agree, decides, _ = frames[rng.integers(len(frames))]
    label = int(rng.integers(2))
    other = label == 1 if agree else bool(rng.integers(2))
    clauses = {
        decides: _clause(label == 1, rng, subjects),
        "b" if decides == "a" else "a": _clause(other, rng, subjects),
        "c": _clause(label == 1, rng, subjects),
        "n": NEUTRAL[rng.integers(len(NEUTRAL))],
    }
    return tokenize(frame.format(**clauses)), label


def split(size: int, held_out: float, seed: int) -> tuple[list, list]:
    """``size`` distinct reviews of the training frames and subjects (the article's review
    excluded), shuffled and split into (training, held out), the held-out share
    ``held_out``; the same for the same seed.

    >>> train, test = split(100, 0.2, seed=0)
    >>> len(train), len(test), not {" ".join(w) for w, _ in train} & {" ".join(w) for w, _ in test}
    (80, 20, True)
    """
    out = _distinct(size, np.random.default_rng(seed), lambda rng: review(rng))
    cut = size - round(size * held_out)
    return out[:cut], out[cut:]


def new_frames(size: int, seed: int) -> list:
    """``size`` distinct reviews of the held-out frames, about the training subjects."""
    frames = [f for f in FRAMES if f[3]]
    return _distinct(size, np.random.default_rng([seed, 1]), lambda rng: review(rng, frames))


def new_words(size: int, seed: int) -> list:
    """``size`` distinct reviews of the training frames about the held-out subjects only."""
    return _distinct(size, np.random.default_rng([seed, 2]), lambda rng: review(rng, subjects=NEW_SUBJECTS))


def _distinct(size: int, rng: np.random.Generator, write) -> list:
    seen = {" ".join(tokenize(REVIEW))}
    out = []
    while len(out) < size:
        words, label = write(rng)
        if " ".join(words) not in seen:
            seen.add(" ".join(words))
            out.append((words, label))
    return out
