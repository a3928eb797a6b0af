"""The data: batches of the adding problem, and the review corpus as token ids.

A batch is (data, lengths, targets): data (T, B, n_input) vectors or (T, B) token
ids, lengths (B,), targets (B, n_output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import corpus


@dataclass(frozen=True)
class Batch:
    data: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray


def adding(lag: int, batch: int, rng: np.random.Generator) -> Batch:
    """The adding problem (Hochreiter and Schmidhuber, 1997): T = ``lag`` steps, each
    reading two numbers, a value drawn uniformly from [0, 1] and a marker.  Two steps
    are marked with 1, one in the first half and one in the second, and the target is
    the sum of their two values.  The first marked value lies between T/2 and T steps
    before the answer is read.  Predicting the mean sum, 1, scores an error of 1/6.

    >>> b = adding(10, 3, np.random.default_rng(0))
    >>> b.data.shape, b.lengths.tolist(), b.data[:, :, 1].sum(axis=0).tolist()
    ((10, 3, 2), [10, 10, 10], [2.0, 2.0, 2.0])
    >>> bool(np.allclose(b.targets[:, 0], (b.data[:, :, 0] * b.data[:, :, 1]).sum(axis=0)))
    True
    """
    if lag < 2:
        raise ValueError(f"the adding problem needs a lag of at least 2 steps, got {lag}")
    values = rng.uniform(0, 1, (lag, batch))
    half = lag // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, lag, batch)
    markers = np.zeros((lag, batch))
    markers[first, np.arange(batch)] = 1
    markers[second, np.arange(batch)] = 1
    targets = (values * markers).sum(axis=0)[:, None]
    return Batch(np.stack([values, markers], axis=-1), np.full(batch, lag), targets)


ADDING_INPUTS = 2  # what each step of the adding problem reads: a value and a marker


# Predicting the mean (1) scores the variance of the sum of two uniform values.
ADDING_BASELINE = 1 / 6


@dataclass(frozen=True)
class Encoded:
    """Sentences as token ids, padded at the end, with their lengths and labels."""

    tokens: np.ndarray  # (T, N) int
    lengths: np.ndarray  # (N,)
    labels: np.ndarray  # (N, 1) 0 or 1

    def batch(self, rows: np.ndarray) -> Batch:
        lengths = self.lengths[rows]
        return Batch(self.tokens[: lengths.max(), rows], lengths, self.labels[rows])

    def __len__(self) -> int:
        return len(self.lengths)


def encode(sentences: list[tuple[list[str], int]], vocabulary: dict[str, int]) -> Encoded:
    """Token ids of the words (padded with id 0, the padding token, which no
    read-out sees), lengths and labels."""
    longest = max(len(words) for words, _ in sentences)
    tokens = np.zeros((longest, len(sentences)), dtype=np.int64)
    for j, (words, _) in enumerate(sentences):
        tokens[: len(words), j] = [vocabulary[w] for w in words]
    lengths = np.array([len(words) for words, _ in sentences])
    labels = np.array([[label] for _, label in sentences], dtype=float)
    return Encoded(tokens, lengths, labels)


def vocabulary() -> dict[str, int]:
    """{word: id} over every word the corpus's rules can write; id 0 is the padding."""
    return {w: k for k, w in enumerate((corpus.PAD, *corpus.words()))}
