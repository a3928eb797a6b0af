"""Training over the generated modules: the hand-written gradients of the layers around
the cell against finite differences, Adam and clipping against hand computations, the
corpus's labels against an independent reading of its rules, determinism, the command
line, and the committed records against the weights they came with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive import CATALOGUE, generate
from derive.training import corpus, experiments
from derive.training.adam import Adam
from derive.training.loop import train
from derive.training.model import Model
from derive.training.tasks import adding, encode, vocabulary

ROOT = Path(__file__).resolve().parent.parent


def _numeric_gradient(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of array (in place)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        up = f()
        array[index] = old - eps
        down = f()
        array[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad


def _tokens_problem(rng):
    """Token sequences of different lengths (the padded steps must get no gradient)."""
    lengths = np.array([4, 2, 3])
    tokens = rng.integers(1, 6, (4, 3))
    return tokens, lengths


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_every_gradient_matches_finite_differences(cell, loss):
    rng = np.random.default_rng(1)
    module = generate(CATALOGUE[cell])
    model = Model(module, n_input=3, n_hidden=4, n_output=2, loss=loss, vocabulary=6)
    params = model.init_params(rng)
    params["c"] += rng.normal(size=2)
    tokens, lengths = _tokens_problem(rng)
    targets = rng.integers(0, 2, (3, 2)).astype(float) if loss == "logistic" else rng.normal(size=(3, 2))

    def value():
        return model.loss_and_gradients(params, tokens, lengths, targets)[0]

    _, grads, _ = model.loss_and_gradients(params, tokens, lengths, targets)
    assert set(grads) == set(params)
    for name in params:
        numeric = _numeric_gradient(value, params[name])
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_the_first_step_gradient_is_the_initial_states_adjoint():
    """d_state from loss_and_gradients against finite differences of the loss in the initial state."""
    rng = np.random.default_rng(2)
    module = generate(CATALOGUE["lstm"])
    model = Model(module, n_input=2, n_hidden=3, n_output=1, loss="mse")
    params = model.init_params(rng)
    batch = adding(6, 2, rng)
    start = {s: rng.normal(size=(2, 3)) * 0.1 for s in module.STATES}

    def value():
        cell_params = {k: params[k] for k in module.PARAMETERS}
        outputs, _ = module.forward(cell_params, batch.data, {k: v.copy() for k, v in start.items()})
        y = outputs["h"][-1] @ params["V"].T + params["c"]
        return float(np.mean((y - batch.targets) ** 2))

    # loss_and_gradients starts from zeros: compare at zero.
    for s in start:
        start[s][:] = 0
    _, _, d_state = model.loss_and_gradients(params, batch.data, batch.lengths, batch.targets)
    for s in module.STATES:
        np.testing.assert_allclose(d_state[s], _numeric_gradient(value, start[s]), rtol=1e-6, atol=1e-10)


def test_adam_two_steps_by_hand_and_clipping_keeps_the_direction():
    p = {"w": np.array([1.0, -2.0])}
    adam = Adam(p, learning_rate=0.1)
    g1, g2 = np.array([3.0, 4.0]), np.array([0.3, -0.1])
    assert adam.step({"w": g1}, clip=1.0) == pytest.approx(5.0)
    c1 = g1 / 5  # clipped to norm 1
    m, v = 0.1 * c1, 0.001 * c1**2
    w = np.array([1.0, -2.0]) - 0.1 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8)
    np.testing.assert_allclose(p["w"], w, rtol=1e-6)
    adam.step({"w": g2}, clip=1.0)  # under the clip: used as it is
    m = 0.9 * m + 0.1 * g2
    v = 0.999 * v + 0.001 * g2**2
    w = w - 0.1 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(p["w"], w, rtol=1e-6)


def _label_by_rules(words):
    """An independent reading of the corpus's rules: drop the neutral sentences, split the
    review into clauses at commas, 'and' and full stops, find each clause's verdict (turned
    round by a negation), and let the contrast words decide which clause counts."""
    verdicts = {}
    for pairs, polarity in ((corpus.POSITIVE, 1), (corpus.NEGATIVE, 0)):
        for plain, negated in pairs:
            verdicts[" ".join(corpus.tokenize(plain))] = polarity
            verdicts[" ".join(corpus.tokenize(negated))] = 1 - polarity
    text = " ".join(words)

    def polarity(clause):
        # the longest verdict phrase that ends the clause ("was not dull" before "was dull")
        found = [(len(p), v) for p, v in verdicts.items() if clause.endswith(" " + p)]
        assert found, clause
        return max(found)[1]

    neutral = {" ".join(corpus.tokenize(n)) for n in corpus.NEUTRAL}
    sentences = [s.strip() for s in text.split(" .") if s.strip() and s.strip() not in neutral]
    first = sentences[0]
    if first.startswith("although "):
        return polarity(first.split(" , ")[1])
    if " , although " in first:
        return polarity(first.split(" , although ")[0])
    for word in (" , but ", " , yet "):
        if word in first:
            return polarity(first.split(word)[1])
    return polarity(first.split(" and ")[0])


def test_the_corpus_labels_follow_its_rules():
    training, held_out = corpus.split(600, 0.25, seed=3)
    assert len(training) == 450 and len(held_out) == 150
    new_frames, new_words = corpus.new_frames(100, seed=3), corpus.new_words(100, seed=3)
    for words, label in training + held_out + new_frames + new_words:
        assert _label_by_rules(words) == label, " ".join(words)
    labels = [label for _, label in training]
    assert 0.4 < np.mean(labels) < 0.6
    review = corpus.tokenize(corpus.REVIEW)
    assert review not in [w for w, _ in training + held_out]
    assert _label_by_rules(review) == 1  # the article's review is one the rules write
    # What is held out is never trained on: no training review starts with a neutral
    # sentence, or names a held-out subject.
    neutral = [corpus.tokenize(n) for n in corpus.NEUTRAL]
    assert not any(w[: len(n)] == n for w, _ in training for n in neutral)
    assert all(any(w[: len(n)] == n for n in neutral) for w, _ in new_frames)
    held_words = {w for s in corpus.NEW_SUBJECTS for w in corpus.tokenize(s)} - {"the"}
    assert not any(held_words & set(w) for w, _ in training)
    assert all(held_words & set(w) for w, _ in new_words)


def test_no_shortcut_tells_the_label_in_the_contrast_frames():
    """Where a contrast word joins two clauses, the first clause's polarity and the contrast
    word together say nothing of the label: the label agrees with the first clause about
    half of the time, for each contrast word; and a negation turns a clause round."""
    training, _ = corpus.split(3000, 0.2, seed=0)
    for word in ("but", "yet", "although"):
        # the clause that does not decide: the first after but or yet, or the although clause
        rows = [(w, label) for w, label in training if word in w and (word != "although" or w[0] == word)]
        first = [_label_by_rules([x for x in w[: w.index(",")] if x != "although"] + ["."]) for w, _ in rows]
        agree = np.mean([f == label for f, (_, label) in zip(first, rows, strict=True)])
        assert 0.4 < agree < 0.6, (word, agree)
    negated = [w for w, _ in training if "not" in w or "never" in w]
    assert len(negated) > 0.3 * len(training)


def test_padding_is_never_read():
    """A review's prediction does not depend on what is padded after it."""
    words = vocabulary()
    data = encode([(corpus.tokenize("the plot was dull ."), 0), (corpus.tokenize(corpus.REVIEW), 1)], words)
    model = experiments.review_model("lstm")
    params = model.init_params(np.random.default_rng(0))
    alone = model.predict(params, data.tokens[:5, :1], data.lengths[:1])
    assert model.predict(params, data.tokens, data.lengths)[0] == pytest.approx(alone[0], abs=1e-15)


def test_same_seed_same_numbers_and_another_seed_others():
    model = Model(generate(CATALOGUE["gru"]), n_input=2, n_hidden=5, n_output=1, loss="mse")

    def run(seed):
        return train(model, lambda rng: adding(6, 8, rng), steps=20, learning_rate=0.01, seed=seed)

    a, b, c = run(4), run(4), run(5)
    assert json.dumps(a.log) == json.dumps(b.log)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert a.log["loss"] != c.log["loss"]


def test_a_cell_file_trains_through_its_module_generated_in_memory(tmp_path, capsys):
    from derive import cli

    path = tmp_path / "tiny.toml"
    path.write_text((ROOT / "derive" / "catalogue" / "mgu.toml").read_text())
    assert (
        cli.main(["train", "adding", "--cell", str(path), "--lag", "4", "--steps", "5", "--seed", "0"]) == 0
    )
    out = capsys.readouterr().out
    assert "held-out MSE" in out and str(path) in out


def test_the_command_prints_the_same_bytes_for_a_seed():
    args = [sys.executable, "-m", "derive", "train", "adding", "--cell", "rnn", "--lag", "5", "--steps", "30"]
    one = subprocess.run([*args, "--seed", "2"], capture_output=True, text=True, cwd=ROOT)
    two = subprocess.run([*args, "--seed", "2"], capture_output=True, text=True, cwd=ROOT)
    assert one.returncode == 0 and one.stdout == two.stdout and "rnn" in one.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["adding", "--lag", "1"], "the lag must be 2 or more"),
        (["review", "--lag", "5"], "the review task has none"),
        (["adding", "--record", "--cell", "lstm"], "drop --cell and --lag"),
        (["adding", "--seed", "x"], "expected a whole number"),
        (["sorting"], "invalid choice"),
        (["review", "--check", "--seed", "1"], "--check repeats the record's own runs"),
    ],
)
def test_usage_mistakes_are_one_line(args, says):
    out = subprocess.run(
        [sys.executable, "-m", "derive", "train", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 2 and says in out.stderr and len(out.stderr.splitlines()) == 1
