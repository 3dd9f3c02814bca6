"""benchmarks/antidistillation_pretrained.py end to end with a tiny random teacher (injected), and its helpers."""

import json

import pytest
import torch
from conftest import build_tiny_lm, load_benchmark_script

from distillguard.distill import antidistillation_bench as ad
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel, cache_dir

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def bench_mod():
    yield from load_benchmark_script("antidistillation_pretrained")


def _models(**p):
    return {n: {"reading": {"log10_p": p.get(n, -0.4)}, "null_keys_log10_p": {"min": -1.5}}
            for n in ("base", "clean", "kgw", "adfp")}


def test_verdict_follows_the_declared_rule(bench_mod):
    v = bench_mod.verdict(_models())
    assert v["valid"] and v["winner"] is None and not any(v["detected"].values())
    v = bench_mod.verdict(_models(kgw=-8.0))
    assert v["detected"]["kgw"] and not v["detected"]["adfp"] and v["winner"] == "kgw"
    v = bench_mod.verdict(_models(kgw=-8.0, adfp=-12.0))
    assert v["winner"] == "adfp" and "both detected" in v["text"]
    # p <= 1e-6 but not below the null keys' minimum: not detected
    m = _models(adfp=-7.0)
    m["adfp"]["null_keys_log10_p"]["min"] = -9.0
    assert not bench_mod.verdict(m)["detected"]["adfp"]
    # a detected control voids the comparison
    for control in ("base", "clean"):
        v = bench_mod.verdict(_models(adfp=-9.0, **{control: -7.0}))
        assert not v["valid"] and v["winner"] is None


def test_null_keys_are_fixed_distinct_and_keep_the_spec():
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=500, gamma=0.25))
    a, b = ad.null_keys(key, 5), ad.null_keys(key, 5)
    assert [k.fingerprint for k in a] == [k.fingerprint for k in b]
    assert len({k.fingerprint for k in a} | {key.fingerprint}) == 6
    assert all(k.spec == key.spec for k in a)


def test_main_runs_tiny_with_an_injected_teacher(bench_mod, char_tokenizer, tmp_path):
    tok = char_tokenizer
    teacher = LoadedModel(build_tiny_lm(len(tok), seed=0), tok, "tiny-teacher", "tiny-teacher", False)
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    cfg, _ = bench_mod.PRESETS["tiny"]
    prompts = [f"question {i}: what is {i}+{i}?" for i in range(cfg.n_quality + cfg.n_harvest)]
    splits = {"Q": prompts[: cfg.n_quality], "D": [], "P": [], "H": prompts[cfg.n_quality :]}
    work = tmp_path / "work"
    bench = ad.Bench(cfg, work, teacher, key, splits)
    assert bench_mod.main(["--preset", "tiny", "--threads", "1", "--read", "3", "--work", str(work)], bench=bench) == 0

    res = json.loads((cache_dir() / "bench" / "antidistillation_pretrained_tiny.json").read_text())
    md = (cache_dir() / "bench" / "antidistillation_pretrained_tiny.md").read_text()
    assert set(res["models"]) == {"base", "kgw", "adfp", "clean"}
    assert set(res["harvest"]) == {"kgw", "adfp", "clean"}
    assert res["harvest"]["clean"]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert res["harvest"]["kgw"]["kl"] > 0 and res["harvest"]["adfp"]["kl"] > 0
    assert res["harvest"]["kgw"]["tokens"] == cfg.n_harvest * cfg.new_tokens
    for name, r in res["models"].items():
        assert r["null_keys_log10_p"]["n"] == bench_mod.NULL_KEYS
        assert r["null_keys_log10_p"]["min"] <= r["null_keys_log10_p"]["median"] <= 0
        assert r["reading"]["scored"] > 0 and r["reading"]["log10_p"] <= 0
        assert ("train" in r) == (name != "base")
    assert "green_vs_base" in res["models"]["kgw"] and "green_vs_clean" in res["models"]["adfp"]
    assert res["verdict"]["valid"] is not None and res["read"]["texts"] == 3
    assert res["run"]["command"].startswith("python benchmarks/antidistillation_pretrained.py")
    assert "Verdict (pre-declared rule)" in md and "| base |" in md
    # the students are fine-tuned copies: the teacher itself is untouched, each student moved away from it
    after = teacher.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    for name in ("kgw", "adfp", "clean"):
        student = ad.load_student(work / f"ft_{name}", "cpu")
        assert any(not torch.equal(before[k], v) for k, v in student.state_dict().items() if k in before)
    # harvests are cached: the same marked answers on a rerun
    assert (work / "gen_H_kgw.json").exists() and (work / "ft_adfp" / "train.json").exists()

    # post hoc diagnostics on the cached students
    argv = ["--preset", "tiny", "--threads", "1", "--read", "3", "--work", str(work), "--posthoc"]
    assert bench_mod.main(argv, bench=bench) == 0
    post = json.loads((cache_dir() / "bench" / "antidistillation_pretrained_tiny_posthoc.json").read_text())
    assert set(post["models"]) == {"kgw", "adfp", "clean"}
    for r in post["models"].values():
        assert 0 <= r["changed_positions"] <= r["positions"]
        assert r["changed_coins"]["scored"] <= r["changed_positions"]
        assert r["changed_null_keys_log10_p"]["n"] == bench_mod.NULL_KEYS
        assert 0 <= r["relative_green"]["null_keys_at_or_above"] <= bench_mod.NULL_KEYS
        assert r["relative_green"]["null_sd"] > 0
    assert "green_read_vs_clean" in post["models"]["kgw"] and "green_read_vs_clean" not in post["models"]["clean"]


def test_relative_green_is_zero_for_the_teacher_itself(bench_mod, char_tokenizer):
    tok = char_tokenizer
    teacher, other = build_tiny_lm(len(tok), seed=0), build_tiny_lm(len(tok), seed=3)
    spec = WatermarkSpec(vocab_size=len(tok), gamma=0.5, tokenizer_id=tokenizer_id(tok))
    keys = ad.null_keys(WatermarkKey(ad.BENCH_SECRET, spec), 4)
    pairs = [("hi", "hello there"), ("2+2?", "it is 4")]
    rel = bench_mod.relative_green({"same": teacher, "other": other}, teacher, tok, pairs, keys)
    assert rel["same"].shape == (4, 2) and abs(rel["same"]).max() < 1e-6
    assert abs(rel["other"]).max() > 1e-4  # another model moves the green mass


def test_posthoc_needs_the_cached_students(bench_mod, tmp_path):
    with pytest.raises(SystemExit, match="no cached student"):
        bench_mod.posthoc(*bench_mod.PRESETS["tiny"], tmp_path, bench=None)


def test_changed_coins_keeps_only_the_changed_top1(bench_mod):
    import numpy as np

    from distillguard.detect.radioactivity import Predictions

    ids, seg = np.array([4, 5, 6, 7]), np.zeros(4, np.int64)
    a, b = Predictions(ids, seg, np.array([1, 2, 3, 4])), Predictions(ids, seg, np.array([1, 9, 3, 8]))
    assert bench_mod.changed_coins(a, b).preds.tolist() == [-1, 2, -1, 4]
    assert (bench_mod.changed_coins(a, a).preds == -1).all()
    with pytest.raises(ValueError, match="different texts"):
        bench_mod.changed_coins(a, Predictions(ids + 1, seg, b.preds))
