"""benchmarks/antidistillation_relative.py end to end with a tiny random teacher (injected), and its rule."""

import json

import numpy as np
import pytest
from conftest import load_benchmark_script, tiny_antidistillation_bench

from distillguard.models import cache_dir

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def bench_mod():
    yield from load_benchmark_script("antidistillation_relative")


def _models(**p):
    rows = {"base": (None, 0.0), "clean": (None, 0.0), "kgw_100": ("kgw", 1.0), "adfp_100": ("adfp", 1.0),
            "kgw_5": ("kgw", 0.05), "adfp_5": ("adfp", 0.05)}
    return {n: {"log10_p": p.get(n, -0.4), "nulls": {"min": -3.0, "calibrated": True}, "scheme": s, "share": f}
            for n, (s, f) in rows.items()}


def test_verdict_follows_the_declared_rule(bench_mod):
    v = bench_mod.verdict(_models())
    assert v["valid"] and not any(v["detected"].values()) and v["target_5pct"] == {"adfp": False, "kgw": False}
    v = bench_mod.verdict(_models(kgw_100=-9.0, adfp_100=-12.0, kgw_5=-7.0))
    assert v["per_share"]["100 %"]["winner"] == "adfp" and "both detected" in v["per_share"]["100 %"]["text"]
    assert v["per_share"]["5 %"]["winner"] == "kgw" and v["target_5pct"] == {"adfp": False, "kgw": True}
    m = _models(adfp_5=-7.0)
    m["adfp_5"]["nulls"]["min"] = -8.0  # p <= 1e-6 but a null key went further: not detected
    assert not bench_mod.verdict(m)["detected"]["adfp_5"]
    m = _models(adfp_5=-9.0)
    m["kgw_5"]["nulls"]["calibrated"] = False  # miscalibrated anywhere: nothing is credited
    v = bench_mod.verdict(m)
    assert not v["valid"] and v["target_5pct"]["adfp"] is False and "invalid" in v["text"]
    for control in ("base", "clean"):
        assert not bench_mod.verdict(_models(adfp_5=-9.0, **{control: -7.0}))["valid"]


def test_mass_verdict_credits_only_held_out_models_and_keeps_the_controls(bench_mod):
    def row(scheme, share, mass_lp):
        return {"log10_p": 0.0, "z": 0.0, "nulls": {"min": -3.0, "calibrated": True}, "scheme": scheme,
                "share": share, "mass": {"log10_p": mass_lp, "z": 0.0, "nulls": {"min": -3.0, "calibrated": True}}}
    m = {"base": row(None, 0.0, 0.0), "clean": row(None, 0.0, -0.1), "kgw_100": row("kgw", 1.0, -9.0),
         "adfp_100": row("adfp", 1.0, -0.5), "kgw_5": row("kgw", 0.05, -0.2), "adfp_5": row("adfp", 0.05, -7.5)}
    v = bench_mod.mass_verdict(m)
    assert v["valid"] and v["dev_detected"]["kgw_100"] and "100 %" not in v["per_share"]
    assert v["target_5pct"] == {"adfp": True, "kgw": False}
    m["clean"]["mass"]["log10_p"] = -8.0  # a development model, but still a control: the run is void
    v = bench_mod.mass_verdict(m)
    assert not v["valid"] and not any(v["target_5pct"].values())


def test_mixture_keeps_one_answer_per_prompt(bench_mod):
    marked = [(f"p{i}", f"m{i}") for i in range(20)]
    clean = [(f"p{i}", f"c{i}") for i in range(20)]
    mix = bench_mod.mixture(marked, clean, 0.05)
    assert [p for p, _ in mix] == [p for p, _ in clean] and [a for _, a in mix].count("m0") == 1
    assert sum(a.startswith("m") for _, a in mix) == 1 and bench_mod.mixture(marked, clean, 1.0) == marked
    with pytest.raises(ValueError):
        bench_mod.mixture(marked, clean[::-1], 0.5)


def test_null_calibration_counts_against_binomial_bounds(bench_mod):
    ok = bench_mod.null_calibration(np.log10(np.random.default_rng(0).uniform(size=1000)))
    assert ok["calibrated"] and ok["bound_0.01"] == 21 and ok["bound_0.001"] == 5
    bad = bench_mod.null_calibration(np.full(1000, -2.5))
    assert not bad["calibrated"] and bad["rejected_0.01"] == 1000


def test_main_runs_tiny_with_an_injected_teacher(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "NULL_KEYS", 30)
    work = tmp_path / "work"
    bench, _ = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, work, n_harvest=20)
    assert bench_mod.main(["--preset", "tiny", "--threads", "1", "--read", "3", "--work", str(work)], bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_relative_tiny.json").read_text())
    md = (cache_dir() / "bench" / "antidistillation_relative_tiny.md").read_text()
    assert set(res["models"]) == {"base", "clean", "kgw_100", "adfp_100", "kgw_25", "adfp_25", "kgw_5", "adfp_5"}
    base = res["models"]["base"]
    assert base["z"] == 0.0 and base["log10_p"] == 0.0  # read against itself: every entry ties
    assert res["models"]["kgw_25"]["marked_answers"] <= 5 and res["models"]["adfp_5"]["marked_answers"] == 1
    for r in res["models"].values():
        assert r["nulls"]["n"] == 30 and len(r["null_log10_p"]) == 30 and r["log10_p"] <= 0
        assert 1 <= r["windows"] <= 16
        assert r["mass"]["nulls"]["n"] == 30 and r["mass"]["log10_p"] <= 0
    assert base["mass"]["z"] == 0.0 and base["mass"]["log10_p"] == 0.0
    vm = res["verdict_mass"]
    assert set(vm["dev_detected"]) == {"kgw_100", "adfp_100", "clean"}
    assert set(vm["per_share"]) == {"25 %", "5 %"}  # the development models are not credited
    assert "Green-mass statistic" in md and "(dev)" in md
    assert (work / "ft_kgw_s5" / "train.json").exists() and (work / "ft_adfp_s25" / "train.json").exists()
    assert (cache_dir() / "bench" / "antidistillation_relative_tiny.png").stat().st_size > 0
    assert "Verdict (pre-declared rule)" in md and "| kgw_5 |" in md


def test_attribution_verdict_needs_the_right_account_and_clean_controls(bench_mod):
    src = bench_mod.ATTR_SOURCE
    m = {n: {"best": "acct-0001", "best_log10_p_holm": -0.2, "flagged": 0, "nulls": {"calibrated": True}}
         for n in ("base", "clean", "kgw", "adfp")}
    m["adfp"].update(best=src, best_log10_p_holm=-7.0, flagged=3)
    m["kgw"].update(best="acct-0422", best_log10_p_holm=-9.0, flagged=1)  # strong, but the wrong account
    v = bench_mod.attribution_verdict(m)
    assert v["valid"] and v["attributed"] == {"adfp": True, "kgw": False}
    m["clean"]["flagged"] = 1
    v = bench_mod.attribution_verdict(m)
    assert not v["valid"] and not any(v["attributed"].values())


def test_attribution_runs_tiny_with_an_injected_teacher(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "NULL_KEYS", 20)
    monkeypatch.setattr(bench_mod, "ATTR_ACCOUNTS", 25)
    monkeypatch.setattr(bench_mod, "ATTR_SOURCE", "acct-0011")
    work = tmp_path / "work"
    bench, _ = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, work)
    argv = ["--preset", "tiny", "--threads", "1", "--read", "3", "--work", str(work), "--attribution"]
    assert bench_mod.main(argv, bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_relative_tiny_attribution.json").read_text())
    assert set(res["models"]) == {"base", "kgw", "adfp", "clean"}
    assert res["models"]["base"]["flagged"] == 0 and res["models"]["base"]["best_log10_p"] == 0.0
    for r in res["models"].values():
        assert 1 <= r["source_rank"] <= 25 and r["nulls"]["n"] == 20 and r["best_log10_p"] <= r["source_log10_p"]
    assert (work / "gen_H_kgw_acct-0011.json").exists() and (work / "ft_adfp_acct-0011" / "train.json").exists()
    assert res["harvest"]["kgw"]["kl"] > 0
    assert all(1 <= r["window_rank"]["source_rank"] <= 25 for r in res["models"].values())
