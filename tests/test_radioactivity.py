"""Radioactivity: calibration over many keys, the hard null, tiny distilled students, attribution, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_CHARS, build_tiny_lm
from scipy import stats

from distillguard.cli import main
from distillguard.detect.radioactivity import (
    Predictions,
    account_keys,
    read_predictions,
    reading_test,
    score_predictions,
)
from distillguard.distill.harvest import harvest_topk, load_topk, watermark_topk
from distillguard.distill.student import make_student, save_student, train_student
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel
from distillguard.suspects import LocalSuspect

ACCOUNTS = ["acct-a"] + [f"acct-{i:03d}" for i in range(30)]


def _fpr_ok(p_values: np.ndarray, alpha: float) -> bool:
    """Rejections at alpha stay below the 0.999 quantile of Binomial(n, alpha)."""
    n = len(p_values)
    return int((p_values <= alpha).sum()) <= stats.binom.ppf(0.999, n, alpha)


def _random_texts(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    chars = [c for c in TINY_CHARS if c.strip()]
    return ["".join(rng.choice(chars, length)) for _ in range(n)]


# -- calibration: fixed predictions, many keys -------------------------------------------------------------
def test_reading_calibrated_over_1000_random_keys():
    rng = np.random.default_rng(1)
    spec = WatermarkSpec(vocab_size=1000, gamma=0.25)
    ids = rng.integers(0, 1000, 6000)
    preds = Predictions(ids, np.repeat(np.arange(30), 200), rng.zipf(1.5, 6000) % 1000, "fixed")
    keys = [WatermarkKey.generate(spec) for _ in range(1000)]
    p = np.array([r.p_value for r in score_predictions(preds, keys, alpha=1.0)])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05)
    # scored counts are large here, so p-values are close to continuous: compare with the uniform law
    assert stats.kstest(p, "uniform").pvalue > 1e-3 or np.mean(p) > 0.45


def test_reading_calibrated_on_tiny_model_predictions(char_tokenizer):
    """A real (tiny, random) model's predictions on clean text, scored under 1,000 account sub-keys."""
    spec = WatermarkSpec(vocab_size=len(char_tokenizer), gamma=0.25)
    loaded = LoadedModel(build_tiny_lm(len(char_tokenizer), seed=3), char_tokenizer, "tiny", "tiny", False)
    seqs = [char_tokenizer.encode(t, add_special_tokens=False) for t in _random_texts(40, 120, 5)]
    preds = read_predictions(LocalSuspect(loaded), seqs)
    keys = account_keys(WatermarkKey.generate(spec), [f"a{i}" for i in range(1000)])
    res = score_predictions(preds, keys, alpha=1e-3)
    p = np.array([r.p_value for r in res])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05)
    assert not any(r.detected for r in res)  # Holm over 1,000 keys at 1e-3


# -- the hard null: a clean model reading text watermarked with the key under test -----------------------
def _watermarked_stream(key: WatermarkKey, n_texts: int, length: int, seed: int) -> list[list[int]]:
    """Token streams sampled with the key's green lists boosted (delta = 4)."""
    from distillguard.watermark.prf import context_seeds_np, key_material, seed_to_arc_np

    spec = key.require_spec()
    m = key_material(key, spec)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_texts):
        seq = [int(rng.integers(spec.vocab_size))]
        for _ in range(length - 1):
            p, o = seed_to_arc_np(context_seeds_np(m, np.array([[seq[-1]]]), np.array([0])), spec)
            green = m.orders[p[0], (o[0] + np.arange(spec.green_size)) % spec.vocab_size]
            w = np.ones(spec.vocab_size)
            w[green] = np.exp(4.0)
            seq.append(int(rng.choice(spec.vocab_size, p=w / w.sum())))
        out.append(seq)
    return out


class CopySuspect:
    """The hardest null: a model independent of the key that predicts the text's actual next token."""

    identity, can_read = "copy-suspect", True

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def next_token_predictions(self, sequences, *, batch_size=8):
        return [np.append(np.asarray(s[1:]), 0) for s in sequences]


def test_hard_null_naive_scoring_is_biased_but_default_pipeline_is_not(char_tokenizer):
    V = len(char_tokenizer)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, delta=4.0, tokenizer_id=tokenizer_id(char_tokenizer))
    key = WatermarkKey.generate(spec)
    marked = _watermarked_stream(key, 10, 150, seed=0)
    suspect = CopySuspect(char_tokenizer)
    texts = [char_tokenizer.decode(s) for s in marked]
    # naive scoring (guard lifted) flags the clean suspect: the bias DESIGN.md contract 4 describes
    naive = reading_test(suspect, [key], texts, allow_keyed_text=True)
    assert naive.detected and any("WARNING" in n for n in naive.notes)
    # the default pipeline refuses key-dependent text ...
    with pytest.raises(DistillguardError, match="carries the watermark"):
        reading_test(suspect, [key], texts)
    # ... and reading clean text does not flag it, over many keys (each key marks its own hard-null text)
    clean = _random_texts(20, 150, 9)
    preds = read_predictions(suspect, [char_tokenizer.encode(t, add_special_tokens=False) for t in clean])
    keys = [WatermarkKey.generate(spec) for _ in range(300)]
    p = np.array([r.p_value for r in score_predictions(preds, keys, alpha=1.0)])
    assert _fpr_ok(p, 0.01) and _fpr_ok(p, 0.05)
    assert not reading_test(suspect, [key], clean).detected


# -- tiny distilled students -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def students(char_tokenizer, tmp_path_factory):
    """Tiny teacher -> top-k harvest on random text -> watermark with acct-a -> students (marked / clean)."""
    tok = char_tokenizer
    V = len(tok)
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, delta=4.0, tokenizer_id=tokenizer_id(tok))
    master = WatermarkKey.generate(spec)
    root = tmp_path_factory.mktemp("radio")
    teacher = LoadedModel(build_tiny_lm(V, seed=11), tok, "tiny-teacher", "tiny-teacher", False)
    harvest_topk(teacher, _random_texts(160, 80, 1), root / "harvest", k=32, shard_size=64, progress=False)
    harvest = load_topk(root / "harvest")
    assert len(harvest.lengths) == 160
    out = {}
    for name, key in (("marked", master.for_account("acct-a")), ("clean", None)):
        ids, lp, _ = watermark_topk(harvest, key, k=8)
        model = make_student(V, layers=1, hidden=64, seed=2)
        train_student(model, harvest.ids, harvest.lengths, ids, lp, epochs=3, lr=5e-3, progress=False)
        out[name] = save_student(model, tok, root / name)
    key_path = root / "teacher.key"
    master.save(key_path)
    texts = root / "read.txt"
    texts.write_text("\n".join(_random_texts(30, 100, 77)) + "\n")
    return master, key_path, texts, out


def test_marked_student_detected_and_attributed(students, char_tokenizer):
    master, _, texts, paths = students
    clean_text = texts.read_text().splitlines()
    keys = account_keys(master, ACCOUNTS)
    marked = reading_test(LocalSuspect.load(paths["marked"]), keys, clean_text)
    assert marked.detected and marked.attributed == ["acct-a"]
    assert marked.best.log10_p_holm < -6
    clean = reading_test(LocalSuspect.load(paths["clean"]), keys, clean_text)
    assert not clean.detected and clean.attributed == []


def test_cli_detect_reading_exit_codes_and_report(students, tmp_path, capsys):
    import json

    _, key_path, texts, paths = students
    report = tmp_path / "r.json"
    rc = main(["detect", "--key", str(key_path), "--suspect", str(paths["marked"]), "--mode", "reading",
               "--texts", str(texts), "--accounts", ",".join(ACCOUNTS), "--report", str(report)])
    assert rc == 1
    doc = json.loads(report.read_text())
    assert doc["attributed_to"] == ["acct-a"] and doc["threshold"]["alpha"] == 1e-3
    assert doc["log10_p"] < -6 and doc["units"]["tokens_read"] > 1000 and doc["versions"]["distillguard"]
    assert "secret" not in report.read_text() and doc["key_fingerprint"].startswith("dg-")
    rc = main(["detect", "--key", str(key_path), "--suspect", str(paths["clean"]), "--texts", str(texts),
               "--accounts", ",".join(ACCOUNTS)])
    assert rc == 0 and "not detected" in capsys.readouterr().out


def test_cli_detect_html_report_and_evidence_curve(students, tmp_path, capsys):
    """--html: one page with the three plots, the verdict and the flagged account, no key material; the JSON
    carries the best key's evidence on growing prefixes of the text read, ending at the verdict's own p-value;
    a report path inside the suspect is refused before anything is read (exit 2)."""
    import json

    master, key_path, texts, paths = students
    page, report = tmp_path / "out" / "r.html", tmp_path / "r.json"
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(ACCOUNTS)]
    assert main(base + ["--suspect", str(paths["marked"]), "--html", str(page), "--report", str(report)]) == 1
    doc, text = json.loads(report.read_text()), page.read_text()
    assert text.count("<img") == 3 and "RADIOACTIVE" in text and "acct-a" in text
    assert master._master.hex() not in text and master._master.hex()[:16] not in text  # the secret itself
    curve = doc["curve"]
    assert len(curve) >= 4 and [c["texts"] for c in curve] == sorted({c["texts"] for c in curve})
    assert curve[-1]["tokens"] == doc["units"]["tokens_read"]
    assert curve[-1]["log10_p"] == pytest.approx(doc["log10_p"]) and curve[0]["log10_p"] > curve[-1]["log10_p"]
    capsys.readouterr()
    before = sorted(p.name for p in paths["marked"].iterdir())
    assert main(base + ["--suspect", str(paths["marked"]), "--html", str(paths["marked"] / "r.html")]) == 2
    assert "into the suspect" in capsys.readouterr().err
    assert sorted(p.name for p in paths["marked"].iterdir()) == before


# -- generation mode through a real local HTTP server ----------------------------------------------------
def test_generation_mode_over_http(students, tmp_path):
    from distillguard.models import load_model
    from distillguard.serve import make_server, serve_in_thread

    master, key_path, _, paths = students
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(_random_texts(12, 20, 4)) + "\n")
    codes = {}
    for name in ("marked", "clean"):
        srv = make_server(load_model(paths[name]))  # serves the student, no watermark of its own
        url = serve_in_thread(srv)
        try:
            codes[name] = main(["detect", "--key", str(key_path), "--suspect", url, "--mode", "generation",
                                "--prompts", str(prompts), "--teacher", str(paths[name]), "--max-new-tokens", "60",
                                "--accounts", "acct-a,acct-b,acct-c", "--report", str(tmp_path / f"{name}.json")])
        finally:
            srv.shutdown()
    assert codes == {"marked": 1, "clean": 0}
    import json

    doc = json.loads((tmp_path / "marked.json").read_text())  # the evidence curve over growing answer sets
    assert doc["curve"][-1]["texts"] == doc["units"]["queries"] == 12
    assert doc["curve"][-1]["tokens"] == doc["units"]["answer_tokens"]
    assert doc["curve"][-1]["log10_p"] == pytest.approx(doc["log10_p"])


# -- bad inputs -> exit 2, one line ----------------------------------------------------------------------
def test_bad_inputs_exit_2(students, tmp_path, capsys, tiny_model_dir):
    _, key_path, texts, paths = students
    base = ["detect", "--key", str(key_path)]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    other_key = tmp_path / "other.key"
    WatermarkKey.generate(WatermarkSpec(vocab_size=50)).save(other_key)
    cases = [
        base + ["--suspect", str(tmp_path / "missing")],
        base + ["--suspect", "http://127.0.0.1:9/v1", "--mode", "generation", "--retries", "0", "--timeout", "2"],
        base + ["--suspect", str(pickled)],
        base + ["--suspect", str(paths["marked"]), "--mode", "generation", "--prompts", str(empty)],
        base + ["--suspect", str(paths["marked"]), "--texts", str(tmp_path / "nope.txt")],
        base + ["--suspect", str(paths["marked"]), "--texts", str(texts), "--reading-reference", str(paths["clean"]),
                "--reading-statistic", "top1"],
        base + ["--suspect", str(paths["marked"]), "--mode", "generation", "--reading-statistic", "rank"],
        ["detect", "--key", str(other_key), "--suspect", str(paths["marked"]), "--mode", "reading",
         "--texts", str(texts)],
    ]
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("distillguard:")]
        assert len(lines) == 1 and lines[0].startswith("distillguard: error:") and "Traceback" not in err
    main(cases[-1])
    assert "generation" in capsys.readouterr().err  # the vocab-mismatch error names the way out
    main(cases[-2])
    assert "reading mode only" in capsys.readouterr().err  # reading options are not silently ignored


def _student_predictions(keys, vocab, n, rng):
    """Predictions of a 'student' that prefers the union of the given keys' (h = 0) green lists."""
    from distillguard.detect.radioactivity import Predictions

    liked = np.zeros(vocab, bool)
    for k in keys:
        liked |= _green_mask(k, vocab)
    w = np.where(liked, 4.0, 1.0)
    preds = rng.choice(vocab, size=n, p=w / w.sum())
    ids = rng.integers(0, vocab, n)
    return Predictions(ids, np.zeros(n, np.int64), preds, "student")


def test_h0_account_lists_are_independent_so_only_the_source_is_flagged():
    """h = 0: each account's single green list comes from its own keyed order; with orders shared by the
    master, some account pairs overlapped heavily and an innocent account was flagged beside the source."""
    from distillguard.detect.radioactivity import account_keys
    from distillguard.keys import WatermarkKey, WatermarkSpec

    V = 2000
    master = WatermarkKey(b"\x11" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0))
    keys = account_keys(master, [f"acct-{i}" for i in range(400)])
    greens = np.array([np.sort(np.flatnonzero(_green_mask(k, V))) for k in keys])
    overlap = np.array([len(np.intersect1d(greens[0], g)) for g in greens[1:]]) / master.spec.green_size
    assert overlap.max() < 0.4  # ~ gamma = 0.25 for every pair, never a near-copy
    preds = _student_predictions([keys[0]], V, 3000, np.random.default_rng(0))
    rep = _attributed(preds, keys)
    assert [r.account for r in rep.results if r.detected] == [keys[0].account]
    assert rep.attributed == [keys[0].account] and not rep.explained


def _attributed(preds, keys):
    """Score every key at alpha = 1e-3 (Holm), then explain away overlapping ones: the report."""
    from distillguard.detect.radioactivity import (
        RadioactivityReport,
        _reading_tuples,
        attribute,
        score_predictions,
    )

    spec = keys[0].spec
    report = RadioactivityReport("reading", "s", 1e-3, score_predictions(preds, keys, alpha=1e-3), {}, {})
    return attribute(report, *_reading_tuples(preds, spec), keys, spec)


def _green_mask(key, vocab):
    from distillguard.watermark.prf import is_green_np, key_material, seed_to_arc_np

    m = key_material(key)
    p, o = seed_to_arc_np(np.array([m.fixed_seed], dtype=np.uint64), key.spec)
    return is_green_np(np.repeat(p, vocab), np.repeat(o, vocab), np.arange(vocab), m.positions, key.spec)


def test_attribution_keeps_two_true_sources():
    from distillguard.detect.radioactivity import account_keys
    from distillguard.keys import WatermarkKey, WatermarkSpec

    V = 2000
    master = WatermarkKey(b"\x12" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0))
    keys = account_keys(master, [f"acct-{i}" for i in range(50)])
    preds = _student_predictions([keys[3], keys[17]], V, 4000, np.random.default_rng(1))
    rep = _attributed(preds, keys)
    assert set(rep.attributed) >= {keys[3].account, keys[17].account}


def test_conditional_test_is_calibrated_for_unrelated_keys():
    """X unrelated to the student (which learned Y): the conditional p-value is (conservatively) uniform."""
    from distillguard.detect.radioactivity import _reading_tuples, account_keys, conditional_test
    from distillguard.keys import WatermarkKey, WatermarkSpec

    V = 1500
    master = WatermarkKey(b"\x13" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0))
    keys = account_keys(master, [f"acct-{i}" for i in range(300)])
    preds = _student_predictions([keys[0]], V, 2000, np.random.default_rng(2))
    w, t = _reading_tuples(preds, master.spec)
    p = np.array([conditional_test(w, t, k, keys[0], master.spec)["p_value"] for k in keys[1:]])
    assert (p <= 0.01).mean() <= 0.03 and (p <= 0.05).mean() <= 0.09


def test_text_student_is_cached_and_can_be_trained_further(char_tokenizer, tmp_path):
    """train_text_student: from scratch, then continued (persistence), each cached by its train.json."""
    from transformers import AutoModelForCausalLM

    from distillguard.distill.student import substitute_tokens, train_text_student

    V = len(char_tokenizer)
    rng = np.random.default_rng(0)
    seqs = [rng.integers(3, V // 2, size=40).tolist() for _ in range(16)]
    first = train_text_student(tmp_path / "a", char_tokenizer, seqs, layers=1, hidden=32, epochs=1, desc="a")
    assert first["init"] == "from scratch" and first["steps"] == 2 and (tmp_path / "a" / "model.safetensors").exists()
    assert train_text_student(tmp_path / "a", char_tokenizer, [], epochs=9) == first  # cached, not retrained
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "a", use_safetensors=True)
    before = base.get_output_embeddings().weight.detach().clone()
    # further training on other ids: rows of ids only the first data had must not be zeroed (full softmax)
    other = [rng.integers(V // 2, V, size=40).tolist() for _ in range(8)]
    more = train_text_student(tmp_path / "b", char_tokenizer, other, epochs=1, lr=1e-3, init=base, desc="b")
    assert more["init"] == "continued" and more["steps"] == 1
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "b", use_safetensors=True).get_output_embeddings().weight
    seen_first = sorted({t for s in seqs for t in s})
    assert after[seen_first].abs().sum() > 0 and not torch.equal(after, before)
    # substitution touches only the answer part and about the asked share of it
    sub = substitute_tokens([[7] * 400], 0.1, V, start=[100], seed=1)[0]
    assert sub[:100] == [7] * 100 and 15 < sum(t != 7 for t in sub[100:]) < 50
    with pytest.raises(ValueError):
        substitute_tokens(seqs, 1.5, V)


def test_fine_tune_on_answers_with_frozen_embeddings(char_tokenizer, tmp_path):
    """The Gemma fine-tune recipe on a tiny model: loss on the answers only, embeddings fixed, bf16 autocast."""
    from distillguard.distill.student import chat_examples, train_text_student

    rng = np.random.default_rng(3)
    pairs = [("".join(rng.choice(list("abcdefgh"), 12)), "the same answer.") for _ in range(24)]
    seqs, starts = chat_examples(char_tokenizer, pairs, max_prompt=128, max_answer=128)
    assert len(seqs) == 24 and all(char_tokenizer.decode(s[a:-1]) == "the same answer." for s, a in zip(seqs, starts))
    model = build_tiny_lm(len(char_tokenizer), seed=4)
    emb = model.get_input_embeddings().weight.detach().clone()
    layer = model.model.layers[0].mlp.up_proj.weight.detach().clone()

    def answer_logprob(m):
        x = torch.tensor([seqs[0]])
        with torch.no_grad():
            lp = m(input_ids=x).logits[0, :-1].log_softmax(-1).gather(-1, x[0, 1:, None])[:, 0]
        return float(lp[starts[0] - 1 :].mean())

    before = answer_logprob(model)
    info = train_text_student(tmp_path / "ft", char_tokenizer, seqs, epochs=8, lr=5e-3, init=model, desc="ft",
                              answer_starts=starts, freeze_embeddings=True, bf16=True)
    assert info["loss_on"] == "answers" and info["frozen_embeddings"] and info["bf16"]
    assert torch.equal(model.get_input_embeddings().weight, emb)  # tied embeddings: input and output fixed
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, layer)
    assert answer_logprob(model) > before + 0.5  # 1.25 nats measured; an untrained model gains nothing


def test_mixed_targets_watermark_whole_texts_at_the_given_fraction(char_tokenizer, tmp_path):
    """The simulator's mixture: round(f x n) whole texts carry the key's top-k targets, the rest the clean ones."""
    from distillguard.distill.simulate import mixed_targets

    tok = char_tokenizer
    V = len(tok)
    key = WatermarkKey(b"\x31" * 32, WatermarkSpec(vocab_size=V, gamma=0.25, delta=4.0, context_width=0,
                                                   tokenizer_id=tokenizer_id(tok)))
    teacher = LoadedModel(build_tiny_lm(V, seed=3), tok, "tiny-teacher", "tiny-teacher", False)
    harvest_topk(teacher, _random_texts(20, 40, 3), tmp_path / "h", k=16, shard_size=64, progress=False)
    harvest = load_topk(tmp_path / "h")
    wm_ids, wm_lp, _ = watermark_topk(harvest, key, k=8)
    clean_ids, clean_lp, _ = watermark_topk(harvest, None, k=8)
    ids, lp, info = mixed_targets(harvest, key, 0.25, k=8)
    per_text = np.split(np.arange(len(ids)), np.cumsum(harvest.lengths)[:-1])
    marked = [bool(np.array_equal(ids[r], wm_ids[r]) and np.allclose(lp[r], wm_lp[r])) for r in per_text]
    clean = [bool(np.array_equal(ids[r], clean_ids[r]) and np.allclose(lp[r], clean_lp[r])) for r in per_text]
    assert sum(marked) == info["watermarked_texts"] == 5 and all(m != c for m, c in zip(marked, clean))
    assert info["watermarked_positions"] == sum(len(r) for r, m in zip(per_text, marked) if m)
    ids0, _, info0 = mixed_targets(harvest, key, 0.0, k=8)
    assert info0["watermarked_texts"] == 0 and np.array_equal(ids0, clean_ids)


def test_real_text_splits_are_disjoint_and_skip_gives_the_next_block():
    """The simulator's text blocks: train and read never overlap, and ``skip`` (the shadow student's texts)
    continues the train split without touching the first block or the read split."""
    from distillguard.distill.harvest import real_texts

    first, second = real_texts("train", 50), real_texts("train", 50, skip=50)
    read = real_texts("read", 50)
    assert second == real_texts("train", 100)[50:] and not set(first) & set(second)
    assert not (set(first) | set(second)) & set(read)
    with pytest.raises(DistillguardError, match="texts per split"):
        real_texts("train", 10, skip=10**7)
