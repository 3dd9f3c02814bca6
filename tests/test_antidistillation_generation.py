"""benchmarks/antidistillation_generation.py end to end with a tiny random teacher (injected), and its rules."""

import json

import pytest
from conftest import load_benchmark_script, tiny_antidistillation_bench

from distillguard.models import cache_dir

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def bench_mod():
    yield from load_benchmark_script("antidistillation_generation")


def _row(scheme, share, lp=-0.4, best="acct-0001", holm=-0.1, flagged=0, calibrated=True):
    return {"log10_p": lp, "nulls": {"min": -3.0, "calibrated": calibrated}, "scheme": scheme, "share": share,
            "attr": {"best": best, "best_log10_p_holm": holm, "flagged": flagged}}


def _models(**over):
    rows = {"base": (None, 0.0), "clean": (None, 0.0), "kgw_100": ("kgw", 1.0), "adfp_100": ("adfp", 1.0),
            "kgw_5": ("kgw", 0.05), "adfp_5": ("adfp", 0.05), "kgw_acct": ("kgw", 1.0), "adfp_acct": ("adfp", 1.0)}
    return {n: _row(s, f, **over.get(n, {})) for n, (s, f) in rows.items()}


def test_verdicts_follow_the_declared_rules(bench_mod):
    src = bench_mod.ATTR_SOURCE
    v = bench_mod.verdict(_models(kgw_5={"lp": -8.0}, kgw_acct={"lp": -20.0}))
    assert v["valid"] and v["target_5pct"] == {"adfp": False, "kgw": True}
    assert "kgw_acct" not in v["detected"]  # the account students are judged by the attribution rule only
    m = _models(kgw_acct={"best": src, "holm": -9.0, "flagged": 1}, adfp_acct={"best": "acct-0422", "holm": -9.0})
    a = bench_mod.attribution_verdict(m)
    assert a["valid"] and a["attributed"] == {"adfp_acct": False, "kgw_acct": True}
    m["clean"]["attr"]["flagged"] = 1  # a control names an account: nothing is attributed
    assert not bench_mod.attribution_verdict(m)["valid"]
    m = _models(kgw_acct={"best": src, "holm": -9.0, "flagged": 1}, adfp_5={"calibrated": False})
    a = bench_mod.attribution_verdict(m)
    assert not a["valid"] and not any(a["attributed"].values()) and "not calibrated" in a["text"]


def test_main_runs_tiny_with_an_injected_teacher(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "NULL_KEYS", 20)
    monkeypatch.setattr(bench_mod, "ATTR_ACCOUNTS", 25)
    monkeypatch.setattr(bench_mod, "ATTR_SOURCE", "acct-0011")
    monkeypatch.setattr(bench_mod.rel, "ATTR_SOURCE", "acct-0011")
    work = tmp_path / "work"
    bench, prompts = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, work, n_harvest=20)
    assert bench_mod.main(["--preset", "tiny", "--threads", "1", "--prompts", "3", "--work", str(work)],
                          bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_generation_tiny.json").read_text())
    md = (cache_dir() / "bench" / "antidistillation_generation_tiny.md").read_text()
    assert set(res["models"]) == {"base", "clean", "kgw_100", "adfp_100", "kgw_25", "adfp_25", "kgw_5", "adfp_5",
                                  "kgw_acct", "adfp_acct"}
    assert res["config"]["prompts"] == 3 and res["models"]["kgw_5"]["marked_answers"] == 1
    for r in res["models"].values():
        assert r["nulls"]["n"] == 20 and len(r["null_log10_p"]) == 20 and r["log10_p"] <= 0
        assert 1 <= r["attr"]["source_rank"] <= 25 and r["attr"]["best_log10_p"] <= r["attr"]["source_log10_p"]
    answers = json.loads((work / "genmode_base.json").read_text())
    assert len(answers["answers"]) == 3 and answers["prompts"][0] not in prompts  # none of the harvest's prompts
    assert (work / "ft_adfp_acct-0011" / "train.json").exists() and (work / "ft_kgw_s5" / "train.json").exists()
    assert "Verdict (pre-declared rule)" in md and "| kgw_acct |" in md
    assert (cache_dir() / "bench" / "antidistillation_generation_tiny.png").stat().st_size > 0


def test_lora_students_run_tiny(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "NULL_KEYS", 10)
    monkeypatch.setattr(bench_mod, "ATTR_ACCOUNTS", 5)
    work = tmp_path / "work"
    bench, _ = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, work)
    argv = ["--preset", "tiny", "--threads", "1", "--prompts", "2", "--work", str(work), "--lora"]
    assert bench_mod.main(argv, bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_generation_tiny_lora.json").read_text())
    assert set(res["models"]) == {"base", "lora_clean", "lora_kgw", "lora_adfp"}
    assert res["config"]["lora"]["rank"] == bench_mod.LORA_RANK
    info = json.loads((work / f"lora{bench_mod.LORA_RANK}_kgw" / "train.json").read_text())
    assert info["lora_rank"] == bench_mod.LORA_RANK and info["lr"] == bench_mod.LORA_LR
    assert res["verdict"]["per_share"]["100 %"]["text"]


def test_the_lora_clean_student_is_a_control(bench_mod):
    m = {n: _row(s, f) for n, s, f in (("base", None, 0.0), ("lora_clean", None, 0.0), ("lora_kgw", "kgw", 1.0),
                                        ("lora_adfp", "adfp", 1.0))}
    assert bench_mod.verdict(m)["valid"]
    m["lora_clean"]["log10_p"] = -9.0
    v = bench_mod.verdict(m)
    assert not v["valid"] and v["detected"]["lora_clean"]


def test_gemma_students_run_tiny_with_their_own_tokenizer(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    """The Gemma run's plumbing, with a tiny stand-in for Gemma: students answer with their own tokenizer (here a
    copy with another chat template, which must reach the generator) and are scored with the teacher's."""
    import copy

    import distillguard.distill.zoo as zoo
    from distillguard.models import LoadedModel

    monkeypatch.setattr(bench_mod, "NULL_KEYS", 10)
    monkeypatch.setattr(bench_mod, "ATTR_ACCOUNTS", 5)
    work = tmp_path / "work"
    bench, _ = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, work)
    other_tok = copy.deepcopy(char_tokenizer)
    other_tok.chat_template = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}"
    trained: list[str] = []
    seen_toks: list[object] = []

    def fake_finetune(pairs, out):
        trained.append(out.name)
        return copy.deepcopy(bench.teacher.model), other_tok, {"seconds": 0.0}

    real_answers_of = bench_mod.answers_of

    def spy_answers_of(model, tok, *a, **k):
        seen_toks.append(tok)
        return real_answers_of(model, tok, *a, **k)

    base = LoadedModel(copy.deepcopy(bench.teacher.model), other_tok, "g", "g", True)
    monkeypatch.setattr(bench_mod, "finetune_gemma", fake_finetune)
    monkeypatch.setattr(bench_mod, "answers_of", spy_answers_of)
    monkeypatch.setattr(zoo, "gemma_base_suspect", lambda: type("S", (), {"loaded": base})())
    argv = ["--preset", "tiny", "--threads", "1", "--prompts", "2", "--work", str(work), "--gemma"]
    assert bench_mod.main(argv, bench=bench) == 0
    res = json.loads((cache_dir() / "bench" / "antidistillation_generation_tiny_gemma.json").read_text())
    assert set(res["models"]) == {"gemma_base", "gemma_clean", "gemma_kgw", "gemma_adfp"}
    assert trained == ["gemma_ft_clean", "gemma_ft_kgw", "gemma_ft_adfp"]
    assert len(seen_toks) == 4 and all(t is other_tok for t in seen_toks)  # every model answered with its own
    assert res["config"]["gemma"]["lr"] == 5e-5 and res["verdict"]["valid"] in (True, False)
    assert res["models"]["gemma_kgw"]["marked_answers"] > 0 and res["models"]["gemma_clean"]["scheme"] is None
    md = (cache_dir() / "bench" / "antidistillation_generation_tiny_gemma.md").read_text()
    assert "Gemma students" in md and "| gemma_adfp |" in md


def test_the_gemma_controls_are_the_controls(bench_mod):
    m = {n: _row(s, f) for n, s, f in (("gemma_base", None, 0.0), ("gemma_clean", None, 0.0),
                                        ("gemma_kgw", "kgw", 1.0), ("gemma_adfp", "adfp", 1.0))}
    assert bench_mod.verdict(m)["valid"]
    for control in ("gemma_base", "gemma_clean"):
        bad = {n: dict(r) for n, r in m.items()}
        bad[control]["log10_p"] = -9.0
        v = bench_mod.verdict(bad)
        assert not v["valid"] and v["detected"][control]


def test_chunked_answers_resume_where_a_stopped_run_left_off(bench_mod, char_tokenizer, tmp_path, monkeypatch):
    """``--chunk``: chunk i is sampled with seed i and cached as it ends, so a run stopped after a chunk resumes at
    the next one and gives the answers an uninterrupted run gives."""
    bench, prompts = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, tmp_path / "work", n_harvest=8)
    model, tok = bench.teacher.model, bench.teacher.tokenizer
    qs = [f"question {i}?" for i in range(5)]
    whole = bench_mod.answers_of(model, tok, qs, tmp_path / "a.json", "t", 6, chunk=2)
    assert len(whole) == 5 and json.loads((tmp_path / "a.json").read_text())["chunk"] == 2
    doc = json.loads((tmp_path / "a.json").read_text())
    doc["answers"] = doc["answers"][:2]  # as if stopped after the first chunk
    (tmp_path / "b.json").write_text(json.dumps(doc))
    asked: list[int] = []
    real = bench_mod.LocalSuspect.generate
    monkeypatch.setattr(bench_mod.LocalSuspect, "generate",
                        lambda self, ps, **k: asked.append(len(ps)) or real(self, ps, **k))
    assert bench_mod.answers_of(model, tok, qs, tmp_path / "b.json", "t", 6, chunk=2) == whole
    assert asked == [2, 1]  # chunks 1 and 2 only
    assert bench_mod.answers_of(model, tok, qs, tmp_path / "b.json", "t", 6, chunk=2) == whole and asked == [2, 1]


def test_fresh_prompts_are_distinct_and_none_answered_before(bench_mod, char_tokenizer, tmp_path):
    bench, _ = tiny_antidistillation_bench(bench_mod.pre, char_tokenizer, tmp_path / "work", n_harvest=8)
    first = bench_mod.prompts_for(bench, 40)
    fresh = bench_mod.fresh_prompts(bench, 40, 60)
    harvest = set(bench.splits["Q"]) | set(bench.splits["H"])
    assert len(fresh) == len(set(fresh)) == 60
    assert not set(fresh) & (set(first) | harvest)
    assert bench_mod.fresh_prompts(bench, 0, 40) == first
