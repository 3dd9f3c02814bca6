"""benchmarks/antidistillation_carried.py: export with a tiny random teacher (injected), then the device step from
the artefacts alone, and its rules."""

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import load_benchmark_script, tiny_antidistillation_bench

from distillguard.detect.stats import holm, holm_log10

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def mod():
    yield from load_benchmark_script("antidistillation_carried")


@pytest.fixture(scope="module")
def pre():
    yield from load_benchmark_script("antidistillation_pretrained")


def _row(mod, f, scheme, detected=False, lp=-0.5, best="acct-0001", holm_lp=-0.1, flagged=0, calibrated=True, m=4):
    return {"fraction": f, "marked_answers": m, "scheme": scheme, "detected": detected, "reading": {"log10_p": lp},
            "nulls": {"calibrated": calibrated},
            "attribution": {"best": best, "best_log10_p_holm": holm_lp, "flagged": flagged}}


def test_the_verdict_follows_the_declared_rule(mod):
    size = mod.SIZES["tiny"]
    rows = [_row(mod, f, s) for f in size.fractions for s in ("kgw", "adfp", "clean")]
    v = mod.verdict(rows, size)
    assert v["valid"] and v["complete"] and set(v["per_share"].values()) == {"null (neither detected)"}
    rows[1] = _row(mod, 0.05, "adfp", detected=True, lp=-9.0, best=mod.SOURCE, holm_lp=-7.0, flagged=1)
    v = mod.verdict(rows, size)
    assert v["per_share"]["0.05"] == "ADFP beats KGW" and v["target_met"] == {"kgw": False, "adfp": True}
    assert v["attributed"]["adfp_0.05"] and not v["attributed"]["kgw_0.05"]
    bad = list(rows)
    bad[2] = _row(mod, 0.05, "clean", flagged=1)  # a clean twin names an account: the run is not valid
    v = mod.verdict(bad, size)
    assert not v["valid"] and v["target_met"] == {"kgw": False, "adfp": False}
    bad = list(rows)
    bad[4] = _row(mod, 1.0, "adfp", calibrated=False)
    assert not mod.verdict(bad, size)["valid"]
    assert not mod.verdict(rows[:4], size)["complete"]


def test_holm_in_log_space_is_holm():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(1e-6, 1, size=int(rng.integers(1, 30)))
        assert np.allclose(holm_log10(np.log10(p)), np.log10(holm(p)))
    assert holm_log10(np.array([-500.0, -1.0]))[0] == pytest.approx(-500 + np.log10(2))  # no underflow


def test_a_changed_artefact_is_refused(mod, tmp_path):
    sha = mod.save_seqs(tmp_path / "a.npz", [[1, 2], [3]], [1, 0])
    with pytest.raises(SystemExit, match="SHA-256"):
        mod.load_seqs(tmp_path / "a.npz", sha[:-1] + ("0" if sha[-1] != "0" else "1"))
    with pytest.raises(ValueError, match="uint16"):
        mod.save_seqs(tmp_path / "b.npz", [[70000]])


def test_export_then_run_from_the_artefacts_alone(mod, pre, char_tokenizer, tmp_path):
    size = mod.SIZES["tiny"]
    bench, _ = tiny_antidistillation_bench(pre, char_tokenizer, tmp_path / "cache", n_harvest=size.n_harvest)
    bench = replace(bench, cfg=replace(bench.cfg, new_tokens=size.new_tokens, batch_size=size.chunk))
    art = tmp_path / "art"
    man = mod.export(bench, size, art)
    files = sorted(p.name for p in art.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith((".safetensors", ".bin", ".gguf", ".pt"))]  # no model travels
    assert man["files"].keys() == {"harvest_kgw.npz", "harvest_adfp.npz", "harvest_clean.npz", "diluent.npz", "read.npz"}
    assert len(list((tmp_path / "cache").glob("gen_carried_tiny_kgw_c*.json"))) == 2  # chunks of 2: a stop resumes
    loaded = mod.load_artefacts(art)
    kgw, clean = loaded.harvest["kgw"][0], loaded.harvest["clean"][0]
    assert len(kgw) == size.n_harvest and kgw != clean  # the same prompts, marked and not
    assert len(loaded.diluent[0]) == 19 * size.n_harvest and len(loaded.read) == size.n_read

    out = tmp_path / "res"
    assert mod.main(["run", "--preset", "tiny", "--artefacts", str(art), "--out", str(out), "--device", "cpu",
                     "--workers", "2", "--threads", "1"]) == 0
    res = json.loads((out / "antidistillation_carried_tiny.json").read_text())
    assert [(r["fraction"], r["marked_answers"], r["scheme"]) for r in res["students"]] == mod.plan(size)
    for r in res["students"]:
        assert r["nulls"]["n"] == size.null_keys and r["reading"]["log10_p"] <= 0
        assert ("attribution" in r) == (r["marked_answers"] == size.n_harvest)
        if "attribution" in r:
            a = r["attribution"]
            assert a["accounts"] == size.accounts and 1 <= a["source_rank"] <= size.accounts
            assert a["best_log10_p"] <= a["source_log10_p"] and a["best_log10_p_holm"] >= a["best_log10_p"]
    small = [r for r in res["students"] if r["fraction"] == 0.05 and r["scheme"] == "kgw"]
    assert sorted(r["marked_answers"] for r in small) == [1, 2, 4] and res["extrapolation"]["kgw"]["points"]
    assert res["verdict"]["complete"] and "Verdict" in (out / "antidistillation_carried_tiny.md").read_text()
    # --resume keeps the students read and trains the others
    path = out / "antidistillation_carried_tiny.json"
    cut = dict(res, students=res["students"][:-2])
    path.write_text(json.dumps(cut))
    assert mod.main(["run", "--preset", "tiny", "--artefacts", str(art), "--out", str(out), "--device", "cpu",
                     "--workers", "1", "--threads", "1", "--resume"]) == 0
    res2 = json.loads(path.read_text())
    assert [(r["fraction"], r["marked_answers"], r["scheme"]) for r in res2["students"]] == mod.plan(size)
    assert res2["students"][:-2] == res["students"][:-2]
    assert [r["reading"] for r in res2["students"][-2:]] == [r["reading"] for r in res["students"][-2:]]
    path.write_text(json.dumps(dict(res, size={**res["size"], "epochs": 9})))
    assert mod.main(["run", "--preset", "tiny", "--artefacts", str(art), "--out", str(out), "--device", "cpu",
                     "--resume"]) == 2
    # the same students from the same artefacts: a rerun after a stop is the same run
    again = mod.student_row(loaded, size, 1.0, size.n_harvest, "kgw", "cpu", mod.ad.null_keys(loaded.key, 5),
                            mod.account_keys(loaded.key, mod.account_names(size)))
    first = next(r for r in res["students"] if r["fraction"] == 1.0 and r["scheme"] == "kgw")
    assert again["reading"] == first["reading"] and again["final_loss"] == first["final_loss"]


def test_export_refuses_an_exported_folder(mod, tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("{}")
    assert mod.main(["export", "--preset", "tiny", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already exported" in err and err.count("\n") == 1  # one line, exit code 2
