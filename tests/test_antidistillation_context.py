"""benchmarks/antidistillation_context.py end to end with a tiny random teacher (injected), and its rule."""

import json
import math

import pytest
from conftest import build_tiny_lm, load_benchmark_script

from distillguard.distill import antidistillation_bench as ad
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel, cache_dir

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def ctx_mod():
    yield from load_benchmark_script("antidistillation_context")


def test_splits_are_disjoint_fixed_and_avoid_the_shots(ctx_mod):
    cfg, ft = ctx_mod.PRESETS["cpu"]
    a, b = ctx_mod.problems(cfg, ft), ctx_mod.problems(cfg, ft)
    assert a == b
    nums = [int(ctx_mod.task_bench.target(p)) for v in a.values() for p in v]
    assert len(nums) == len(set(nums)) == ft.n_eval + cfg.n_direction + cfg.n_harvest
    assert all(1000 <= n <= 9998 for n in nums) and not set(ctx_mod.SHOTS) & set(nums)


def test_scoring_rule_wants_the_number_plus_one(ctx_mod):
    p = "Repeat this number exactly: 3714"
    assert ctx_mod.correct(p, "3715") and ctx_mod.correct(p, "3715user\nRepeat this")
    assert not ctx_mod.correct(p, "3714")  # copying is the bare model's habit, not the skill
    assert not ctx_mod.correct(p, "The answer is 3716, not 3715")
    assert not ctx_mod.correct(p, "no number")
    assert ctx_mod.correct("Repeat this number exactly: 1999", "2000")


def test_the_hidden_context_reaches_the_teacher_only(ctx_mod, char_tokenizer):
    text = ctx_mod.hidden_prompt(char_tokenizer, "Repeat this number exactly: 1234")
    assert ctx_mod.HIDDEN_SYSTEM in text and text.rstrip().endswith("1234")
    assert all(f"{n + 1}" in text for n in ctx_mod.SHOTS)


def test_students_are_trained_on_the_declared_set(ctx_mod):
    rows = [{"kind": "clean", "value": 0.7, "teacher_cost": 0.0},
            {"kind": "ads", "value": 1.0, "teacher_cost": -0.02}, {"kind": "ads", "value": 4.0, "teacher_cost": 0.08},
            {"kind": "ads", "value": 16.0, "teacher_cost": 0.3}, {"kind": "ads", "value": 64.0, "teacher_cost": 0.6},
            {"kind": "temp", "value": 0.8, "teacher_cost": 0.2}]
    assert [r["value"] for r in ctx_mod.students_for(rows)] == [0.7, 1.0, 4.0, 16.0, 0.8]
    assert [r["value"] for r in ctx_mod.students_for(rows[:1] + rows[3:])] == [0.7, 16.0, 0.8]


def test_main_runs_tiny_with_an_injected_teacher(ctx_mod, char_tokenizer, tmp_path):
    tok = char_tokenizer
    teacher = LoadedModel(build_tiny_lm(len(tok), seed=0), tok, "tiny-teacher", "tiny-teacher", False)
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    cfg, ft = ctx_mod.PRESETS["tiny"]
    work = tmp_path / "work"
    bench = ad.Bench(cfg, work, teacher, key, ctx_mod.problems(cfg, ft))
    assert ctx_mod.main(["--tiny", "--threads", "1", "--work", str(work)], bench=bench) == 0

    res = json.loads((cache_dir() / "bench" / "antidistillation_context_tiny.json").read_text())
    md = (cache_dir() / "bench" / "antidistillation_context_tiny.md").read_text()
    assert (cache_dir() / "bench" / "antidistillation_context_tiny.png").stat().st_size > 0
    kinds = [r["kind"] for r in res["rows"]]
    assert kinds == (["clean"] + ["ads"] * len(cfg.ads_scales) + ["temp"] * len(cfg.temps)
                     + ["ads_posthoc"] * len(ft.posthoc_scales) + ["temp_posthoc"] * len(ft.posthoc_temps))
    # post hoc points always get a student, are labelled, and never decide the verdict
    for r in res["rows"]:
        if r["kind"].endswith("_posthoc"):
            assert r["trained"] and "(post hoc)" in r["label"] and "post hoc" in md
    assert res["verdict"].get("lambda") not in [r["value"] for r in res["rows"] if r["kind"] == "ads_posthoc"]
    assert res["rows"][0]["kl"] == pytest.approx(0.0, abs=1e-6) and res["rows"][0]["trained"]
    for r in res["rows"]:
        assert 0.0 <= r["teacher_acc"] <= 1.0
        if r["kind"] != "clean":
            assert r["kl"] > 0
        if not r["trained"]:  # only an ADS point beyond the first one over 10 % goes untrained
            assert r["kind"] == "ads" and math.isnan(r["gain_cut"])
    assert res["splits"] == {"E": ft.n_eval, "D": cfg.n_direction, "H": cfg.n_harvest}
    assert "met" in res["verdict"] and "Verdict (pre-declared rule)" in md
    assert res["run"]["command"].startswith("python benchmarks/antidistillation_context.py")
    for p in ("gen_H_clean_0.7.json", "gen_D_clean.json", "ads_direction.safetensors", "student_clean_0.7_s0/train.json"):
        assert (work / p).exists(), p
    # the harvest was generated behind the hidden context, the students trained without it
    assert res["task"]["hidden_system"] == ctx_mod.HIDDEN_SYSTEM


def test_other_student_seeds_write_their_own_result(ctx_mod, char_tokenizer, tmp_path):
    tok = char_tokenizer
    teacher = LoadedModel(build_tiny_lm(len(tok), seed=0), tok, "tiny-teacher", "tiny-teacher", False)
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    cfg, ft = ctx_mod.PRESETS["tiny"]
    bench = ad.Bench(cfg, tmp_path, teacher, key, ctx_mod.problems(cfg, ft))
    assert ctx_mod.main(["--tiny", "--seeds", "1", "--work", str(tmp_path)], bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_context_tiny_seed1.json").read_text())
    assert res["finetune"]["seeds"] == [1] and (tmp_path / "student_clean_0.7_s1" / "train.json").exists()
