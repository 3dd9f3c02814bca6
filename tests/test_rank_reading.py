"""Reading mode's rank statistic (h = 0 keys): validity of the bound, calibration, power on tiny students."""

from __future__ import annotations

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
)
from distillguard.detect.stats import subset_mean_test
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel
from distillguard.suspects import LocalSuspect


def _fpr_ok(p_values: np.ndarray, alpha: float) -> bool:
    """Rejections at alpha stay below the 0.999 quantile of Binomial(n, alpha)."""
    return int((p_values <= alpha).sum()) <= stats.binom.ppf(0.999, len(p_values), alpha)


def test_subset_mean_bound_is_valid_and_has_power():
    """Truly random subsets of heavy-tailed, tied values: P(p <= alpha) <= alpha; a shifted subset is found."""
    rng = np.random.default_rng(0)
    values = np.round(rng.exponential(size=600) ** 2, 1)
    values = values / values.max()
    members = np.zeros((20000, 600), bool)
    for row in members:
        row[rng.choice(600, 150, replace=False)] = True
    lp, z, _ = subset_mean_test(values, members)
    p = 10.0**lp
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert abs(z.mean()) < 0.05 and 0.9 < z.std() < 1.1  # the displayed z has the exact permutation variance
    top = np.argsort(values)[-150:]
    shifted = np.zeros(600, bool)
    shifted[top] = True
    assert subset_mean_test(values, shifted)[0][0] < -5  # heavy tail: b >> sigma, the bound is loose but finds it
    ranks = stats.rankdata(values) / 600
    assert subset_mean_test(ranks, shifted)[0][0] < -25
    with pytest.raises(ValueError):
        subset_mean_test(values, np.zeros(600, bool))


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
    with pytest.raises(Exception, match="only by the rank statistic"):
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
    assert used.max() == 16 and used.min() >= 12


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
    with pytest.raises(Exception, match="h = 0 keys only"):
        reading_test(LocalSuspect.load(tmp_path / "marked"), keys, text, statistic="rank",
                     reference=LocalSuspect.load(tmp_path / "clean"))
