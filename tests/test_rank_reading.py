"""Reading mode's rank statistic (h = 0 keys): validity of the bound, calibration, power on tiny students."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from conftest import TINY_CHARS, build_tiny_lm
from scipy import stats

from distillguard.cli import main
from distillguard.detect.radioactivity import (
    account_keys,
    green_masks,
    read_predictions,
    reading_test,
    score_ranks,
    teacher_vocabulary,
    unigram_logprobs,
)
from distillguard.detect.stats import blocked_rank_sum_test, rank_scores, rank_sum_cgf, rank_sum_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel
from distillguard.suspects import LocalSuspect


def _fpr_ok(p_values: np.ndarray, alpha: float) -> bool:
    """Rejections at alpha stay below the 0.999 quantile of Binomial(n, alpha)."""
    return int((p_values <= alpha).sum()) <= stats.binom.ppf(0.999, len(p_values), alpha)


def _exact_tail(ranks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    """Every attainable rank sum of an n-subset (by enumeration), its exact upper tail P(W >= w), one subset each."""
    subsets = list(itertools.combinations(range(len(ranks)), n))
    sums = np.round([ranks[list(c)].sum() for c in subsets], 6)
    values, first, counts = np.unique(sums, return_index=True, return_counts=True)
    return values, np.cumsum(counts[::-1])[::-1] / counts.sum(), [subsets[i] for i in first]


@pytest.mark.parametrize("scores", [
    np.arange(14.0),                                                  # no ties
    np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 6, np.nan]),         # NaN, block of 3s merged up, small ties
    np.array([9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8.0]),            # a tied block at the top
    np.array([0, 1, 5, 5, 5, 5, 5, 5, 5, 6, 7, 8, 9, 10.0]),           # a tied block in the middle: merged down
])
def test_rank_sum_bound_holds_against_the_exact_tail(scores):
    """Small populations, every subset enumerated: at every attainable sum the p-value is >= the exact tail
    (ties, NaN and tied blocks included), never looser than Bernstein's bound, and exact at the extreme."""
    N, n = len(scores), 5
    ranks, tied, top = rank_scores(scores)
    assert ranks.sum() == pytest.approx(N * (N + 1) / 2)
    values, tail, witnesses = _exact_tail(ranks, n)
    t = values - n * (N + 1) / 2
    var, b = ranks.var(), ranks.max() - ranks.mean()  # Bernstein with the true variance and range, no ties lost
    bernstein = np.where(t > 0, -(t**2) / (2 * n * var + 2 * b * t / 3) / math.log(10), 0.0)
    for w, exact, bern, subset in zip(values, tail, bernstein, witnesses):
        members = np.zeros(N, bool)
        members[list(subset)] = True
        lp, z, mean_rank = rank_sum_test(scores, members)
        assert 10.0 ** lp[0] >= exact * (1 - 1e-9)
        assert lp[0] <= bern + 1e-9
        assert mean_rank[0] == pytest.approx((w / n - 1) / (N - 1))
    assert math.log10(tail[-1]) - 1e-9 <= lp[0] <= math.log10(tail[-1]) + 0.25  # the top subset: Chernoff ~ exact


def test_tied_blocks_are_merged_on_their_shorter_side_only_when_large():
    assert rank_scores(np.array([0, 5, 5, 5, 5, 7, 8.0]), block=0.5)[1:] == (5, False)
    assert rank_scores(np.array([0, 1, 5, 5, 5, 5, 7.0]), block=0.5)[1:] == (5, True)
    assert rank_scores(np.array([0, 5, 5, 5, 5, 7, 8.0]), block=0.9)[1:] == (1, False)  # small ties: mean ranks
    assert rank_scores(np.array([np.nan, np.nan, 1.0, 2.0]), block=0.9)[1:] == (2, False)  # NaN lowest, tied


@pytest.mark.parametrize("N, n, tied, at_top", [(9, 2, 1, False), (9, 7, 1, False), (10, 10, 1, False),
                                                 (12, 6, 1, False), (12, 5, 7, False), (12, 5, 7, True),
                                                 (11, 8, 4, True), (8, 3, 8, False)])
def test_rank_sum_cgf_is_the_exact_moment_generating_function(N, n, tied, at_top):
    """The Gaussian-binomial CGF equals log E exp(lam (W - mean)) computed by enumeration."""
    lam = np.array([1e-4, 0.01, 0.2, 1.0, 5.0])
    M, c = N - tied, (tied + 1) / 2
    values = np.concatenate([np.arange(1, M + 1), np.full(tied, M + c)]) if at_top else \
        np.concatenate([np.full(tied, c), np.arange(tied + 1, N + 1)])
    w = np.array([values[list(s)].sum() for s in itertools.combinations(range(N), n)]) - n * (N + 1) / 2
    exact = np.log(np.exp(np.outer(lam, w)).mean(axis=1))
    assert np.allclose(rank_sum_cgf(N, n, lam, tied=tied, at_top=at_top), exact, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError):
        rank_sum_cgf(N, 0, lam)


def test_rank_sum_test_is_calibrated_on_random_subsets_and_has_power():
    """Truly random subsets of tied scores: P(p <= alpha) <= alpha; a shifted subset is found; bad shapes raise."""
    rng = np.random.default_rng(0)
    scores = np.round(rng.exponential(size=600) ** 2, 1)
    members = np.zeros((20000, 600), bool)
    for row in members:
        row[rng.choice(600, 150, replace=False)] = True
    lp, z, _ = rank_sum_test(scores, members)
    p = 10.0**lp
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert abs(z.mean()) < 0.05 and 0.95 < z.std() < 1.05  # z uses the exact null variance, ties included
    shifted = np.zeros(600, bool)
    shifted[np.argsort(scores, kind="stable")[-150:]] = True
    assert rank_sum_test(scores, shifted)[0][0] < -60
    with pytest.raises(ValueError):
        rank_sum_test(scores, np.zeros(600, bool))


def test_support_mask_keeps_the_rank_test_exact_and_drops_unlearnable_vocabulary():
    """Ranking only the teacher's vocabulary: calibrated over 3,000 account keys; where the mark sits on the
    teacher's few hundred tokens and the rest of the vocabulary is noise, the support finds it and the whole
    vocabulary does not; a support built from other tokens gains nothing; bad masks and ids raise."""
    V = 6000
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    rng = np.random.default_rng(3)
    teacher_answers = [rng.integers(0, 400, 50) for _ in range(20)]  # the teacher writes tokens 0..399 only
    support = teacher_vocabulary(teacher_answers, V)
    assert 350 < support.sum() <= 400 and not support[400:].any()
    lp = rng.normal(size=V)  # independent of every key
    keys = account_keys(WatermarkKey(b"\x05" * 32, spec), [f"a{i}" for i in range(3000)])
    p = np.array([r.p_value for r in score_ranks(lp, keys, alpha=1.0, support=support)])
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert stats.kstest(p, "uniform", alternative="greater").pvalue > 1e-3  # no excess of small p-values
    harvester = keys[0]
    green = green_masks([harvester], spec)[0]
    student = rng.normal(scale=3.0, size=V)  # the student's ranking of tokens it never saw: noise
    student[:400] = rng.normal(size=400) + 1.0 * green[:400]  # it learned the bias on the teacher's tokens
    assert score_ranks(student, [harvester], support=support)[0].log10_p < -8
    assert score_ranks(student, [harvester])[0].log10_p > -3
    elsewhere = np.zeros(V, bool)
    elsewhere[3000:3400] = True
    assert score_ranks(student, [harvester], support=elsewhere)[0].log10_p > -3
    assert score_ranks(student, [harvester], support=support)[0].scored == support.sum()
    with pytest.raises(DistillguardError, match="support mask has"):
        score_ranks(student, [harvester], support=support[:100])
    with pytest.raises(DistillguardError, match="fewer than 2"):
        score_ranks(student, [harvester], support=np.zeros(V, bool))
    with pytest.raises(DistillguardError, match="outside the vocabulary"):
        teacher_vocabulary([[1, V]], V)


def test_block_last_moves_the_tied_block_below_every_other_entry_and_merges_nothing():
    ranks, tied, top = rank_scores(np.array([3.0, 5, 5, 5, 5, 7, 1]), block=0.5, block_last=True)
    assert ranks.tolist() == [6.0, 2.5, 2.5, 2.5, 2.5, 7.0, 5.0] and (tied, top) == (4, False)
    assert rank_scores(np.array([1.0, np.nan, 5, 5, 5]), block=0.5, block_last=True)[1] == 4  # NaN joins it
    no_block = np.arange(10.0)
    assert np.array_equal(rank_scores(no_block, block_last=True)[0], rank_scores(no_block)[0])


@pytest.mark.parametrize("scores", [
    np.array([0, 1, 5, 5, 5, 5, 5, 5, 5, 6, 7, 8, 9, 10.0]),   # a block in the middle: moved to the bottom
    np.array([9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8.0]),    # a block at the top: moved to the bottom
])
def test_block_last_bound_holds_against_the_exact_tail(scores):
    N, n = len(scores), 5
    ranks, tied, top = rank_scores(scores, block_last=True)
    values, tail, witnesses = _exact_tail(ranks, n)
    for exact, subset in zip(tail, witnesses):
        members = np.zeros(N, bool)
        members[list(subset)] = True
        assert 10.0 ** rank_sum_test(scores, members, block_last=True)[0][0] >= exact * (1 - 1e-9)


def test_untrained_last_is_calibrated_and_finds_a_mark_the_shorter_side_merge_inverts():
    """A student whose never-trained rows stay at logit 0: a tied block in the middle of its ranking, above the
    entries it saw rarely. Null over 3,000 account keys: calibrated. A student that saw more green entries (the
    watermarked teacher wrote them) and learned them a little: untrained_last detects it; the default merge,
    which ties the entries above the block into it, reads the same student the wrong way."""
    V = 6000
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    rng = np.random.default_rng(4)
    keys = account_keys(WatermarkKey(b"\x06" * 32, spec), [f"a{i}" for i in range(3000)])

    def student(seen_prob: np.ndarray, shift: np.ndarray) -> np.ndarray:
        seen = rng.random(V) < seen_prob
        frequent = seen & (rng.random(V) < 0.3)  # the frequent tokens rank above 0, the rare ones below
        lp = np.where(frequent, rng.normal(2.0, 1.0, V), rng.normal(-2.0, 1.0, V)) + shift
        return np.where(seen, lp, 0.0)  # never-trained rows: logit 0, one tied block

    null_lp = student(np.full(V, 0.4), np.zeros(V))
    p = np.array([r.p_value for r in score_ranks(null_lp, keys, alpha=1.0, untrained_last=True)])
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert stats.kstest(p, "uniform", alternative="greater").pvalue > 1e-3
    green = green_masks(keys[:1], spec)[0]
    marked = student(np.where(green, 0.48, 0.4), 0.3 * green)
    assert score_ranks(marked, keys[:1], untrained_last=True)[0].log10_p < -8
    assert score_ranks(marked, keys[:1])[0].z < 0


def test_unigram_reference_is_calibrated_and_subtracts_what_public_data_taught():
    """A student from scratch on public text D plus a 5 % share of watermarked answers W: its ranking is mostly
    the public unigram. Ranked relative to the unigram of *another* public sample, with its never-trained block
    (found in its own scores, before the subtraction) last: a student of D alone is calibrated over 3,000
    account keys, and the W student is found more strongly than by its own ranking."""
    V = 6000
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    rng = np.random.default_rng(11)
    keys = account_keys(WatermarkKey(b"\x07" * 32, spec), [f"a{i}" for i in range(3000)])
    public = 1.0 / (rng.permutation(V) + 20.0) ** 1.5  # a Zipf law over a shuffled vocabulary
    public /= public.sum()
    green = green_masks(keys[:1], spec)[0]

    def student(n_public: int, n_marked: int) -> np.ndarray:
        marked = public * np.exp(2.0 * green)  # the teacher's answers with the green list boosted (delta 2)
        counts = rng.multinomial(n_public, public) + rng.multinomial(n_marked, marked / marked.sum())
        lp = np.log(counts + 0.1) + rng.normal(0, 0.2, V)  # what it learned: its data's frequencies, noisily
        return np.where(counts > 0, lp, np.log(0.5))  # never-trained rows: one tied value, above the rare ones

    reference = unigram_logprobs([rng.choice(V, 400_000, p=public)], V)
    null_lp = student(190_000, 0)
    p = np.array([r.p_value for r in score_ranks(null_lp, keys, alpha=1.0, reference=reference,
                                                 untrained_last=True)])
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert stats.kstest(p, "uniform", alternative="greater").pvalue > 1e-3
    marked = student(190_000, 10_000)
    relative = score_ranks(marked, keys[:1], reference=reference, untrained_last=True)[0]
    own = score_ranks(marked, keys[:1], untrained_last=True)[0]
    assert relative.log10_p < -6 and relative.z > own.z + 2, (relative.z, own.z)
    # the block is the suspect's own: the same as subtracting first and sending its entries to the bottom
    assert (marked == np.log(0.5)).sum() > 0.05 * V  # a never-trained block
    by_hand = np.where(marked == np.log(0.5), -np.inf, marked - reference)
    assert score_ranks(by_hand, keys[:1], untrained_last=True)[0].log10_p == pytest.approx(relative.log10_p)
    assert score_ranks(marked - reference, keys[:1])[0].z != pytest.approx(relative.z)  # not a scattered block
    with pytest.raises(DistillguardError, match="outside the vocabulary"):
        unigram_logprobs([[0, V]], V)


def test_blocked_rank_sum_test_is_calibrated_and_pools_blocks():
    """Independent random subsets in 4 blocks: calibrated; 4 weak blocks together beat each one alone."""
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(4, 300))
    p = []
    for _ in range(3000):
        members = np.zeros((4, 300), bool)
        for row in members:
            row[rng.choice(300, 75, replace=False)] = True
        p.append(10.0 ** blocked_rank_sum_test(scores, members)[0])
    p = np.array(p)
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01)
    shifted = np.zeros((4, 300), bool)
    for b, row in enumerate(shifted):
        row[np.argsort(scores[b] + rng.normal(scale=2.0, size=300))[-75:]] = True  # a weak preference per block
    pooled = blocked_rank_sum_test(scores, shifted)[0]
    alone = [rank_sum_test(scores[b], shifted[b])[0][0] for b in range(4)]
    assert pooled < min(alone) and pooled < -6
    with pytest.raises(ValueError):
        blocked_rank_sum_test(scores[0], shifted[0])


def _random_texts(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    chars = [c for c in TINY_CHARS if c.strip()]
    return ["".join(rng.choice(chars, length)) for _ in range(n)]


def test_rank_statistic_calibrated_on_a_tiny_model_over_2000_account_keys(char_tokenizer):
    """A real (tiny, random) model reads clean text once; 2,000 h = 0 account sub-keys are its null."""
    V = len(char_tokenizer)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    loaded = LoadedModel(build_tiny_lm(V, seed=5), char_tokenizer, "tiny", "tiny", False)
    seqs = [char_tokenizer.encode(t, add_special_tokens=False) for t in _random_texts(30, 100, 1)]
    preds = read_predictions(LocalSuspect(loaded), seqs)
    assert preds.mean_logprobs is not None and preds.mean_logprobs.shape[0] >= V
    assert np.allclose(np.exp(preds.mean_logprobs).sum(), 1.0, atol=0.5)  # an average of distributions (in logs)
    keys = account_keys(WatermarkKey.generate(spec), [f"a{i}" for i in range(2000)])
    res = score_ranks(preds.mean_logprobs, keys, alpha=1e-3)
    p = np.array([r.p_value for r in res])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05)
    assert not any(r.detected for r in res) and {r.statistic for r in res} == {"rank"}
    assert green_masks(keys[:3], spec).sum(axis=1).tolist() == [spec.green_size] * 3


WORDS = 1000


def _word_tokenizer(words: int = WORDS):
    """A real fast tokenizer over ``words`` entries: words ``w0, w1, ...`` plus 4 specials. 1,000 make one green
    list powerful enough (with 100 tokens, 25 green ones bound even a perfect test to p ~ 1e-4)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3}
    vocab.update({f"w{i}": i + 4 for i in range(words - 4)})
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
                                   unk_token="<unk>")


def _streams(mask: np.ndarray, n: int, length: int, rng: np.random.Generator) -> list[list[int]]:
    """Zipf-like unigram token streams over ids 4..803; the tokens of ``mask`` boosted by e^2."""
    ids = np.arange(4, 804)
    w = 1.0 / np.arange(1, len(ids) + 1) ** 0.7 * np.where(mask[ids], np.exp(2.0), 1.0)
    return [rng.choice(ids, size=length, p=w / w.sum()).tolist() for _ in range(n)]


@pytest.fixture(scope="module")
def h0_students(tmp_path_factory):
    """Tiny students trained from scratch on h = 0 marked (account acct-7) or clean token streams."""
    from distillguard.distill.student import train_text_student

    tok = _word_tokenizer()
    V = len(tok)
    # a fixed key: the outcome is deterministic (the keyed-text guard refuses ~1% of random texts by design)
    master = WatermarkKey(b"\x21" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0,
                                                      tokenizer_id=tokenizer_id(tok)))
    accounts = [f"acct-{i}" for i in range(40)]
    mask = green_masks([master.for_account("acct-7")], master.spec)[0]
    root = tmp_path_factory.mktemp("rank")
    rng = np.random.default_rng(4)
    out = {}
    for name, m in (("marked", mask), ("clean", np.zeros(V, bool))):
        train_text_student(root / name, tok, _streams(m, 96, 64, rng), layers=1, hidden=32, epochs=6, lr=5e-3,
                           desc=name)
        out[name] = root / name
    key_path = root / "teacher.key"
    master.save(key_path)
    texts = root / "read.txt"  # clean text to read: uniform random words
    texts.write_text("\n".join(" ".join(f"w{i}" for i in rng.integers(0, WORDS - 4, 60)) for _ in range(20)) + "\n")
    return master, accounts, key_path, texts, out


def test_rank_statistic_detects_and_attributes_a_tiny_h0_student(h0_students):
    master, accounts, _, texts, paths = h0_students
    keys = account_keys(master, accounts)
    text = texts.read_text().splitlines()
    marked = reading_test(LocalSuspect.load(paths["marked"]), keys, text)
    assert marked.units["statistic"] == "rank" and marked.best.statistic == "rank"
    assert marked.detected and marked.attributed == ["acct-7"], marked.best
    clean = reading_test(LocalSuspect.load(paths["clean"]), keys, text)
    assert not clean.detected and clean.attributed == []


def test_cli_reading_statistic_flag(h0_students, capsys):
    _, accounts, key_path, texts, paths = h0_students
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts)]
    assert main(base + ["--suspect", str(paths["marked"])]) == 1
    assert "mean rank" in capsys.readouterr().out
    rc = main(base + ["--suspect", str(paths["clean"]), "--reading-statistic", "top1"])
    assert rc == 0 and "green " in capsys.readouterr().out


def test_cli_reading_vocabulary_ranks_only_the_teachers_tokens(h0_students, tmp_path, capsys):
    """--reading-vocabulary: clean teacher answers restrict the ranking to their tokens; the marked student is
    still found and attributed, the clean one is not; with top-1 coins or an empty file it is a one-line error."""
    _, accounts, key_path, texts, paths = h0_students
    rng = np.random.default_rng(9)
    vocab = tmp_path / "teacher_clean.jsonl"  # the teacher writes words w0..w803 (ids 4..807), unmarked
    vocab.write_text("".join(json.dumps({"response": " ".join(f"w{i}" for i in rng.integers(0, 804, 80))}) + "\n"
                             for _ in range(60)))
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts),
            "--reading-vocabulary", str(vocab), "--json"]
    assert main(base + ["--suspect", str(paths["marked"])]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert 700 < rep["units"]["ranked_entries"] <= 804 and rep["attributed_to"] == ["acct-7"]
    assert main(base + ["--suspect", str(paths["clean"])]) == 0
    capsys.readouterr()
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-statistic", "top1"]) == 2
    assert "rank statistic with h = 0" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert main(base[:-3] + ["--reading-vocabulary", str(empty), "--suspect", str(paths["clean"])]) == 2
    assert "is empty" in capsys.readouterr().err


def test_cli_reading_untrained_last(h0_students, capsys):
    """--reading-untrained-last: the marked student is found and attributed, the clean one is not; with top-1
    coins it is a one-line error (exit 2)."""
    _, accounts, key_path, texts, paths = h0_students
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts),
            "--reading-untrained-last", "--json"]
    assert main(base + ["--suspect", str(paths["marked"])]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["attributed_to"] == ["acct-7"] and "ranks last" in rep["units"]["scored_unit"]
    assert main(base + ["--suspect", str(paths["clean"])]) == 0
    capsys.readouterr()
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-statistic", "top1"]) == 2
    assert "never-trained entries last" in capsys.readouterr().err


def test_cli_reading_unigram(h0_students, tmp_path, capsys):
    """--reading-unigram: ranked relative to public text's token frequencies (with the never-trained block
    last) the marked student is found and attributed, the clean one is not; with a reference model, with top-1
    coins or with an empty file it is a one-line error (exit 2)."""
    _, accounts, key_path, texts, paths = h0_students
    rng = np.random.default_rng(12)
    public = tmp_path / "public.txt"  # public text: random words, no key involved
    public.write_text("".join(" ".join(f"w{i}" for i in rng.integers(0, WORDS - 4, 80)) + "\n" for _ in range(50)))
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts),
            "--reading-unigram", str(public), "--reading-untrained-last", "--json"]
    assert main(base + ["--suspect", str(paths["marked"])]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["attributed_to"] == ["acct-7"] and "unigram" in rep["units"]["reference"]
    assert main(base + ["--suspect", str(paths["clean"])]) == 0
    capsys.readouterr()
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-reference", str(paths["clean"])]) == 2
    assert "choose one" in capsys.readouterr().err
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-statistic", "top1"]) == 2
    assert "unigram texts" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert main(base[:-4] + ["--reading-unigram", str(empty), "--suspect", str(paths["clean"])]) == 2
    assert "is empty" in capsys.readouterr().err


def test_reference_model_cancels_what_a_fine_tuned_copy_kept(h0_students, tmp_path):
    """A copy of the clean model fine-tuned briefly on marked streams: ranked relative to the model it was
    copied from, the green list stands out more than in its own ranking; a model read against itself is null."""
    from transformers import AutoModelForCausalLM

    from distillguard.distill.student import train_text_student

    master, accounts, _, texts, paths = h0_students
    keys = account_keys(master, accounts)
    text = texts.read_text().splitlines()
    tok = LocalSuspect.load(paths["clean"]).tokenizer
    base = AutoModelForCausalLM.from_pretrained(paths["clean"], use_safetensors=True)
    mask = green_masks([master.for_account("acct-7")], master.spec)[0]
    train_text_student(tmp_path / "copy", tok, _streams(mask, 64, 64, np.random.default_rng(8)), epochs=2, lr=2e-3,
                       init=base, desc="copy")
    copy, clean = LocalSuspect.load(tmp_path / "copy"), LocalSuspect.load(paths["clean"])
    own = reading_test(copy, keys, text)
    rel = reading_test(copy, keys, text, reference=clean)
    assert rel.units["reference"] == clean.identity and rel.detected and rel.attributed == ["acct-7"]
    assert rel.best.z > own.best.z + 3  # measured in 3 runs: z 4.0-6.8 alone, 12.6-13.5 relative
    self_null = reading_test(clean, keys, text, reference=clean)  # identical distributions: no evidence at all
    assert not self_null.detected and max(r.z for r in self_null.results) == 0.0
    with pytest.raises(Exception, match="only by the rank and mass statistics"):
        reading_test(copy, keys, text, statistic="top1", reference=clean)


# -- h >= 1 keys: one frequent context window per keyed order -------------------------------------------------
def test_window_rank_statistic_calibrated_over_independent_keys(char_tokenizer):
    """h = 1: a tiny random model's distributions after frequent windows, scored under 1,000 independent keys."""
    from distillguard.detect.radioactivity import score_window_ranks

    V = len(char_tokenizer)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=1)
    loaded = LoadedModel(build_tiny_lm(V, seed=6), char_tokenizer, "tiny", "tiny", False)
    seqs = [char_tokenizer.encode(t, add_special_tokens=False) for t in _random_texts(30, 100, 2)]
    preds = read_predictions(LocalSuspect(loaded), seqs, context_width=1, n_windows=48)
    assert preds.window_ids.shape == (48, 1) and preds.window_logprobs.shape[0] == 48
    assert np.all(np.diff(preds.window_counts) <= 0)  # most frequent first
    keys = [WatermarkKey.generate(spec) for _ in range(1000)]
    res = score_window_ranks(preds, keys, alpha=1e-3)
    p = np.array([r.p_value for r in res])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05) and not any(r.detected for r in res)
    used = np.array([r.scored // V for r in res])  # windows used: one per keyed order (16) that some window hits
    # each of the 48 windows falls in a uniformly random order: 16 (1 - (15/16)^48) = 15.28 orders hit on average.
    # (A min over 1,000 random keys is not a bound: 11 was seen in CI.)
    assert used.max() == 16 and used.min() >= 8 and abs(used.mean() - 16 * (1 - (15 / 16) ** 48)) < 0.2


def _bigram_streams(key: WatermarkKey | None, V: int, n: int, length: int, rng: np.random.Generator):
    """Streams over every word where, with ``key``, the previous token's green list (h = 1) is boosted by e^3."""
    from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

    ids = np.arange(4, V)
    base = 1.0 / np.arange(1, len(ids) + 1) ** 0.5
    boost = np.ones((V, len(ids)))
    if key is not None:
        m = key_material(key)
        p, o = seed_to_arc_np(context_seeds_np(m, np.arange(V)[:, None], np.zeros(V, np.int64)), key.spec)
        boost = np.exp(3.0 * is_green_np(p[:, None], o[:, None], ids[None, :], m.positions, key.spec))
    out = []
    for _ in range(n):
        seq = [int(rng.choice(ids))]
        for _ in range(length - 1):
            w = base * boost[seq[-1]]
            seq.append(int(rng.choice(ids, p=w / w.sum())))
        out.append(seq)
    return out


def test_window_rank_statistic_detects_an_h1_student_and_names_only_the_source(tmp_path):
    """A tiny student of h = 1 marked bigram streams over 196 words: detected by the windowed rank statistic and
    attributed to its source alone, though its 39 sibling accounts share the master's vocabulary orders."""
    from distillguard.distill.student import train_text_student

    tok = _word_tokenizer(200)
    V = len(tok)
    master = WatermarkKey(b"\x22" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=1,
                                                      tokenizer_id=tokenizer_id(tok)))
    keys = account_keys(master, [f"acct-{i}" for i in range(40)])
    rng = np.random.default_rng(5)
    train_text_student(tmp_path / "marked", tok, _bigram_streams(keys[7], V, 320, 64, rng), layers=1, hidden=64,
                       epochs=12, lr=5e-3, desc="marked")
    train_text_student(tmp_path / "clean", tok, _bigram_streams(None, V, 160, 64, rng), layers=1, hidden=64,
                       epochs=4, lr=5e-3, desc="clean")
    text = [" ".join(f"w{i}" for i in rng.integers(0, V - 4, 80)) for _ in range(40)]
    marked = reading_test(LocalSuspect.load(tmp_path / "marked"), keys, text, statistic="rank")
    assert marked.units["statistic"] == "rank" and marked.detected, marked.best
    assert marked.attributed == ["acct-7"] and marked.best.log10_p_holm < -20  # measured (2 keys): z 25.5-25.9
    clean = reading_test(LocalSuspect.load(tmp_path / "clean"), keys, text, statistic="rank")
    assert not clean.detected


def _two_tiny_h1_readings(tok, text_seed: int, model_seeds: tuple[int, int]):
    """``(V, an h = 1 spec, [two unrelated tiny models' readings of the same random texts, 48 windows each])``."""
    V = len(tok)
    seqs = [tok.encode(t, add_special_tokens=False) for t in _random_texts(30, 100, text_seed)]
    read = [read_predictions(LocalSuspect(LoadedModel(build_tiny_lm(V, seed=s), tok, f"m{s}", f"m{s}", False)), seqs,
                             context_width=1, n_windows=48) for s in model_seeds]
    return V, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=1), read


def test_window_rank_reference_stays_calibrated_over_independent_keys(char_tokenizer):
    """h = 1, ranked relative to a reference: two unrelated tiny models (suspect and reference) under 1,000 keys."""
    from distillguard.detect.radioactivity import score_window_ranks

    V, spec, read = _two_tiny_h1_readings(char_tokenizer, text_seed=3, model_seeds=(7, 8))
    assert np.array_equal(read[0].window_ids, read[1].window_ids)  # the windows depend on the text alone
    keys = [WatermarkKey.generate(spec) for _ in range(1000)]
    res = score_window_ranks(read[0], keys, alpha=1e-3, reference=read[1].window_logprobs)
    p = np.array([r.p_value for r in res])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05) and not any(r.detected for r in res)
    alone = np.array([r.z for r in score_window_ranks(read[0], keys[:50])])
    assert not np.allclose(alone, [r.z for r in res[:50]])  # the reference changed the ranking
    with pytest.raises(DistillguardError, match="same texts"):
        score_window_ranks(read[0], keys[:1], reference=read[1].window_logprobs[:10])


def test_window_mass_statistic_stays_calibrated_over_independent_keys(char_tokenizer):
    """h = 1 green-mass test: a tiny random model read alone and relative to an unrelated one, 1,000 keys each."""
    from distillguard.detect.radioactivity import score_window_mass

    V, spec, read = _two_tiny_h1_readings(char_tokenizer, text_seed=4, model_seeds=(9, 10))
    assert read[0].window_probs.shape == read[0].window_logprobs.shape
    assert np.allclose(read[0].window_probs.sum(1), 1.0, atol=1e-4)  # averaged distributions
    keys = [WatermarkKey.generate(spec) for _ in range(1000)]
    for ref in (None, read[1].window_probs):
        res = score_window_mass(read[0], keys, alpha=1e-3, reference=ref)
        p = np.array([r.p_value for r in res])
        assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05) and not any(r.detected for r in res)
        assert all(r.statistic == "mass" and r.scored // V <= 16 for r in res)
    with pytest.raises(DistillguardError, match="h >= 1 key"):
        score_window_mass(read[0], [WatermarkKey.generate(WatermarkSpec(vocab_size=V, context_width=0))])


def test_window_reference_cancels_what_a_fine_tuned_h1_copy_kept(tmp_path):
    """A clean h = 1 student fine-tuned briefly on one account's marked bigram streams: ranked relative to the
    model it was copied from, the mark stands out more than in the copy's own ranking (``auto`` picks the rank
    statistic when a reference is given); a model read against itself has no evidence at all."""
    from transformers import AutoModelForCausalLM

    from distillguard.distill.student import train_text_student

    tok = _word_tokenizer(200)
    V = len(tok)
    master = WatermarkKey(b"\x23" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=1,
                                                      tokenizer_id=tokenizer_id(tok)))
    keys = account_keys(master, [f"acct-{i}" for i in range(40)])
    rng = np.random.default_rng(6)
    train_text_student(tmp_path / "clean", tok, _bigram_streams(None, V, 320, 64, rng), layers=1, hidden=64,
                       epochs=6, lr=5e-3, desc="clean")
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "clean", use_safetensors=True)
    train_text_student(tmp_path / "copy", tok, _bigram_streams(keys[7], V, 320, 64, rng), epochs=8, lr=5e-3,
                       init=base, desc="copy")
    text = [" ".join(f"w{i}" for i in rng.integers(0, V - 4, 80)) for _ in range(40)]
    copy, clean = LocalSuspect.load(tmp_path / "copy"), LocalSuspect.load(tmp_path / "clean")
    own = reading_test(copy, keys, text, statistic="rank")
    rel = reading_test(copy, keys, text, reference=clean)
    assert rel.units["statistic"] == "rank" and rel.units["reference"] == clean.identity
    assert rel.detected and rel.attributed == ["acct-7"], rel.best
    assert rel.best.z > own.best.z + 1.5, (own.best.z, rel.best.z)  # measured, 3 seeds: +2.3 to +2.5
    self_null = reading_test(clean, keys, text, reference=clean)
    assert not self_null.detected and max(r.z for r in self_null.results) == 0.0
    # the green-mass statistic on the same reading texts: detected and attributed too (measured, 3 seeds: log10 p
    # -10.1 to -14.6 relative, -5.4 to -9.2 alone); against itself no evidence at all
    mass = reading_test(copy, keys, text, statistic="mass", reference=clean)
    assert mass.units["statistic"] == "mass" and mass.detected and mass.attributed == ["acct-7"], mass.best
    assert mass.best.log10_p < -6 and mass.best.statistic == "mass"
    mass_null = reading_test(clean, keys, text, statistic="mass", reference=clean)
    assert not mass_null.detected and max(r.z for r in mass_null.results) == 0.0
    # the same through the CLI: exit 1 (detected), the account named in the JSON report
    master.save(tmp_path / "teacher.key")
    (tmp_path / "read.txt").write_text("\n".join(text) + "\n")
    argv = ["detect", "--key", str(tmp_path / "teacher.key"), "--suspect", str(tmp_path / "copy"), "--texts",
            str(tmp_path / "read.txt"), "--reading-statistic", "mass", "--reading-reference", str(tmp_path / "clean"),
            "--accounts", ",".join(k.account for k in keys), "--report", str(tmp_path / "r.json")]
    assert main(argv) == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["attributed_to"] == ["acct-7"] and doc["units"]["statistic"] == "mass"


def test_null_summary_one_sided_ks_flags_only_anticonservative_p_values():
    """The two-sided KS test rejects conservative p-values (a Chernoff bound's); the one-sided one -- the
    validity check -- rejects only p-values that come out small too often."""
    from distillguard.detect.stats import null_summary

    u = np.random.default_rng(11).random(3000)
    conservative, anticonservative = null_summary(np.sqrt(u)), null_summary(u**2)
    assert conservative["ks_uniform_pvalue"] < 1e-6 and conservative["ks_anticonservative_pvalue"] > 0.05
    assert anticonservative["ks_anticonservative_pvalue"] < 1e-6
    assert null_summary(u)["ks_anticonservative_pvalue"] > 0.01


def test_shadow_student_has_the_suspects_shape_and_leaves_the_suspect_untouched(h0_students, tmp_path, capsys):
    """``train_shadow`` reads only the suspect's config.json: the shadow has its shape, its own weights, the
    teacher's tokenizer, and is reused once trained; the suspect's files do not change; bad input -> one line."""
    import hashlib

    from distillguard.distill.shadow import shadow_model, train_shadow

    _, _, _, texts, paths = h0_students
    suspect = paths["marked"]
    digest = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(suspect.iterdir()) if f.is_file()}
    tok = LocalSuspect.load(suspect).tokenizer
    teacher = LoadedModel(build_tiny_lm(len(tok), seed=6), tok, "tiny-teacher", "tiny-teacher", False)
    info = train_shadow(suspect, tmp_path / "shadow", teacher=teacher, texts=texts.read_text().splitlines(),
                        epochs=1, progress=False)
    assert info["positions"] > 0 and info["texts"] == 20 and info["seed"] == 1
    shadow, original = LocalSuspect.load(tmp_path / "shadow"), LocalSuspect.load(suspect)
    cfg_s, cfg_o = shadow.loaded.model.config, original.loaded.model.config
    assert (cfg_s.num_hidden_layers, cfg_s.hidden_size, cfg_s.vocab_size) == (
        cfg_o.num_hidden_layers, cfg_o.hidden_size, cfg_o.vocab_size)
    w_s, w_o = shadow.loaded.model.get_input_embeddings().weight, original.loaded.model.get_input_embeddings().weight
    assert not np.allclose(w_s.detach().numpy(), w_o.detach().numpy())
    assert train_shadow(suspect, tmp_path / "shadow") == info  # cached: no teacher needed
    assert digest == {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
                      for f in sorted(suspect.iterdir()) if f.is_file()}
    with pytest.raises(Exception, match="config.json"):
        train_shadow(tmp_path / "nothing", tmp_path / "s2", teacher=teacher, texts=["w1 w2"])
    with pytest.raises(Exception, match="smaller than the teacher"):
        shadow_model(suspect, len(tok) + 10)
    with pytest.raises(Exception, match="output directory"):
        train_shadow(suspect, suspect, teacher=teacher, texts=["w1 w2"])
    assert main(["shadow", "--like", str(tmp_path / "nothing"), "--out", str(tmp_path / "s4")]) == 2
    assert "config.json" in capsys.readouterr().err
