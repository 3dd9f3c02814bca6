"""benchmarks/antidistillation_task.py end to end with a tiny random teacher (injected), and its rule."""

import json
import math

import numpy as np
import pytest
from conftest import build_tiny_lm, load_benchmark_script

from distillguard.distill import antidistillation_bench as ad
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel, cache_dir

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def task_mod():
    yield from load_benchmark_script("antidistillation_task")


def test_splits_are_disjoint_and_fixed(task_mod):
    cfg, task = task_mod.PRESETS["cpu"]
    a, b = task_mod.problems(cfg, task), task_mod.problems(cfg, task)
    assert a == b
    nums = [task_mod.target(p) for v in a.values() for p in v]
    assert len(nums) == len(set(nums)) == task.n_eval + cfg.n_direction + cfg.n_proxy + cfg.n_harvest
    assert all(len(n) == 4 for n in nums)


def test_scoring_rule(task_mod):
    p = "Repeat this number exactly: 3714"
    assert task_mod.correct(p, "3714")
    assert task_mod.correct(p, "Repeat this number exactly: 3714.")
    assert task_mod.correct(p, "3714 is 1766")  # the first integer counts
    assert task_mod.correct(p, "The sum of 3714")
    assert not task_mod.correct(p, "371 4")
    assert not task_mod.correct(p, "37140")
    assert not task_mod.correct(p, "1766 then 3714")
    assert not task_mod.correct(p, "no number")


def test_gain_cut_and_verdict(task_mod):
    assert task_mod.gain_cut(0.9, 0.9, 0.0) == 0.0
    assert task_mod.gain_cut(0.0, 0.9, 0.0) == 1.0
    assert task_mod.gain_cut(0.45, 0.9, 0.0) == pytest.approx(0.5)
    assert task_mod.gain_cut(1.0, 0.9, 0.0) < 0  # a better student than the clean one: negative cut
    assert math.isnan(task_mod.gain_cut(0.3, 0.0, 0.0))
    rng = np.random.default_rng(0)
    clean, none = (rng.random(200) < 0.8).astype(float), np.zeros(200)
    same = task_mod.bootstrap_cut(clean, clean, none)
    assert same == (0.0, 0.0)
    lo, hi = task_mod.bootstrap_cut(clean * (rng.random(200) < 0.5), clean, none)
    assert 0.3 < lo < 0.5 < hi < 0.7
    rows = [{"kind": "temp", "value": 0.8, "teacher_cost": 0.01, "gain_cut": 0.9},
            {"kind": "ads", "value": 1.0, "teacher_cost": 0.04, "gain_cut": 0.7},
            {"kind": "ads", "value": 2.0, "teacher_cost": 0.09, "gain_cut": 0.3},
            {"kind": "ads", "value": 4.0, "teacher_cost": 0.2, "gain_cut": 0.95}]
    v = task_mod.verdict(rows)
    assert v["lambda"] == 2.0 and not v["met"]  # the largest lambda within 10 %, not the best cut
    assert task_mod.verdict(rows[:2])["met"]
    assert not task_mod.verdict(rows[3:])["met"] and task_mod.verdict(rows[3:])["lambda"] is None
    nan_row = [{"kind": "ads", "value": 1.0, "teacher_cost": 0.0, "gain_cut": math.nan}]
    assert not task_mod.verdict(nan_row)["met"] and "no gain" in task_mod.verdict(nan_row)["text"]


def test_main_runs_tiny_with_an_injected_teacher(task_mod, char_tokenizer, tmp_path):
    tok = char_tokenizer
    teacher = LoadedModel(build_tiny_lm(len(tok), seed=0), tok, "tiny-teacher", "tiny-teacher", False)
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    cfg, task = task_mod.PRESETS["tiny"]
    work = tmp_path / "work"
    bench = ad.Bench(cfg, work, teacher, key, task_mod.problems(cfg, task))
    assert task_mod.main(["--tiny", "--threads", "1", "--seeds", "0,1", "--work", str(work)], bench=bench) == 0

    res = json.loads((cache_dir() / "bench" / "antidistillation_task_tiny.json").read_text())
    md = (cache_dir() / "bench" / "antidistillation_task_tiny.md").read_text()
    assert (cache_dir() / "bench" / "antidistillation_task_tiny.png").stat().st_size > 0
    kinds = [r["kind"] for r in res["rows"]]
    assert kinds == ["clean"] + ["ads"] * len(cfg.ads_scales) + ["temp"] * len(cfg.temps)
    clean = res["rows"][0]
    assert clean["kl"] == pytest.approx(0.0, abs=1e-6)
    # cost relative to the clean teacher: 0 for itself (NaN when the random teacher copies nothing at all)
    assert clean["teacher_cost"] == 0.0 or (clean["teacher_acc"] == 0.0 and math.isnan(clean["teacher_cost"]))
    for r in res["rows"]:
        assert 0.0 <= r["teacher_acc"] <= 1.0 and len(r["student_acc_per_seed"]) == 2
        assert r["teacher_acc_ci95"][0] <= r["teacher_acc"] <= r["teacher_acc_ci95"][1]
        if r["kind"] != "clean":
            assert r["kl"] > 0  # ADS and T = 1 both move the sampling distribution
    assert res["rows"][1]["matched_temperature"] == "T=1"
    assert res["splits"] == {"E": task.n_eval, "D": cfg.n_direction, "P": cfg.n_proxy, "H": cfg.n_harvest}
    assert res["task"]["seeds"] == [0, 1] and "met" in res["verdict"]
    assert res["run"]["command"].startswith("python benchmarks/antidistillation_task.py")
    assert "Verdict (pre-declared rule)" in md and "| clean T=0.7 |" in md
    # the random teacher cannot copy numbers, so no student gains anything: no verdict is claimed
    if res["rows"][0]["student_acc"] == res["undistilled"]["student_acc"]:
        assert not res["verdict"]["met"]
    # cached: harvests, proxy, direction and students are reused on a rerun
    for p in ("gen_H_clean_0.7.json", "proxy/train.json", "ads_direction.safetensors", "student_temp_1_s1/train.json"):
        assert (work / p).exists(), p
