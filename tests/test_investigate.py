"""The whole investigation on tiny random models: the demo's smoke profile, resume, and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from distillguard.cli import main
from distillguard.investigation import combine_lines


def _peaked_tiny_lm(path: Path, tok, seed: int) -> Path:
    """A tiny random LM with peaked next-token distributions (default init gives near-uniform ones, and two
    near-uniform models sampled with the same seed write almost the same text)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # output logits with a standard deviation of ~2.4 nats
        model.get_output_embeddings().weight.normal_(0.0, 0.3)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory, char_tokenizer) -> Path:
    return _peaked_tiny_lm(tmp_path_factory.mktemp("tiny_teacher"), char_tokenizer, seed=3)


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory, char_tokenizer) -> Path:
    """The clean control: an independent model from the fingerprint null's population -- a student of the
    smoke recipe trained on ChatGPT answers the demo's calibration students never saw."""
    from distillguard.data import sharegpt_pairs
    from distillguard.demo import PROFILES
    from distillguard.distill.student import chat_sequences, train_text_student

    prof = PROFILES["smoke"]
    pairs = sharegpt_pairs(None, seed=999, max_chars=2000)[: prof.harvest_prompts]
    path = tmp_path_factory.mktemp("tiny_ref")
    train_text_student(path, char_tokenizer, chat_sequences(char_tokenizer, pairs, 128, prof.harvest_tokens),
                       layers=prof.student_layers, hidden=prof.student_hidden, epochs=prof.epochs, seed=7,
                       desc="control")
    return path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, teacher_dir, reference_dir):
    from distillguard.demo import run_demo
    from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
    from distillguard.models import load_tokenizer

    out = tmp_path_factory.mktemp("demo")
    # a character-level vocabulary has ~100 tokens: a unigram key (h = 0, the demo's default) would score at most
    # ~100 distinct coins; h = 1 gives ~10k (context, token) coins, which a tiny student learns in seconds.
    # A fixed key (the demo reuses out/teacher.key): with a random one the keyed-text guard refuses the reading
    # text for ~1 % of keys by design, which made this fixture flaky.
    tok = load_tokenizer(str(teacher_dir))
    WatermarkKey(b"\x33" * 32, WatermarkSpec(vocab_size=len(tok), gamma=0.25, delta=2.0, context_width=1,
                                             tokenizer_id=tokenizer_id(tok))).save(out / "teacher.key")
    doc = run_demo(out, "smoke", teacher=str(teacher_dir), reference=str(reference_dir), context_width=1,
                   print_table=False)
    return out, doc


def test_demo_smoke_verdicts_are_right(demo_run):
    out, doc = demo_run
    assert doc["complete"]
    assert doc["checks"], "the demo must compare its verdicts with the ground truth"
    wrong = [k for k, ok in doc["checks"].items() if not ok]
    assert not wrong, wrong
    # the smoke world is sized so that radioactivity alone finds the student (power, reported apart from claims);
    # the fingerprint's few calibration students cannot give an exact p at alpha, so that line alone is never
    # "detected" -- at most indicative. (Whether its t tail gets below alpha on these tiny random models depends
    # on the CPU thread count's rounding in training -- measured: 1.7e-3 with one thread -- so it is not asserted.)
    assert set(doc["line_power"]) == {"student: radioactivity", "student: fingerprint"}
    power = doc["line_power"]
    assert power["student: radioactivity"]["detected"], power
    fp = power["student: fingerprint"]
    assert not fp["detected"] and fp["indicative"] == (fp["p_value"] <= doc["alpha"]), power
    ra = doc["suspects"]["student"]["lines"]["radioactivity"]
    assert ra["attributed"] == [doc["expected"]["harvester"]]
    # the report files exist, the JSON is what the HTML was made from, the key never appears
    js = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    assert js["suspects"]["student"]["verdict"] == doc["suspects"]["student"]["verdict"]
    secret = json.loads((out / "teacher.key").read_text())["secret_hex"]
    assert secret not in html and secret not in (out / "report.json").read_text()
    assert "data:image/png;base64" in html


def test_demo_resumes_without_redoing_steps(demo_run, teacher_dir, reference_dir):
    from distillguard.demo import run_demo

    out, doc = demo_run
    work = out.parent / (out.name + "-resume")
    shutil.copytree(out, work)
    # an interruption during the calibration students: their last one and the probe file are missing
    shutil.rmtree(work / "null-students" / "s2")
    (work / "probes.json").unlink()
    (work / "report.json").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in [work / "harvest.jsonl", work / "student" / "model.safetensors",
                                                  work / "null-students" / "s0" / "model.safetensors"]}
    again = run_demo(work, "smoke", teacher=str(teacher_dir), reference=str(reference_dir), context_width=1,
                     print_table=False)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "finished steps were redone"
    assert (work / "null-students" / "s2" / "model.safetensors").exists()
    for name, s in doc["suspects"].items():
        assert again["suspects"][name]["verdict"]["distilled"] == s["verdict"]["distilled"]
    assert again["checks"] == doc["checks"]


def test_demo_cli_exit_code_says_verdicts_right(demo_run, teacher_dir, reference_dir, capsys):
    out, _ = demo_run  # every step is cached: this reruns only the investigation
    rc = main(["demo", "--profile", "smoke", "--out", str(out), "--teacher", str(teacher_dir),
               "--reference", str(reference_dir), "--context-width", "1"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "ground truth: " in printed and "WRONG" not in printed
    assert "lines on the distilled suspects (power, not part of the claims): student: radioactivity found" in printed


def test_demo_refuses_other_settings_in_same_dir(demo_run, teacher_dir, reference_dir, capsys):
    out, _ = demo_run
    rc = main(["demo", "--profile", "quick", "--out", str(out), "--teacher", str(teacher_dir),
               "--reference", str(reference_dir), "--context-width", "1"])
    assert rc == 2
    assert "other settings" in capsys.readouterr().err


def test_investigate_cli_on_demo_outputs(demo_run, tmp_path, capsys):
    out, _ = demo_run
    rc = main(["investigate", "--key", str(out / "teacher.key"), "--suspect", str(out / "student"),
               "--logs", str(out / "api_logs.csv"), "--logs-reference", str(out / "reference_logs.csv"),
               "--target-fpr", "0.01", "--probes", str(out / "probes.json"),
               "--teacher", str(out / "student"), "--n-prompts", "24", "--max-new-tokens", "48", "--n-texts", "12",
               "--out", str(tmp_path / "inv")])
    printed = capsys.readouterr().out
    assert rc == 1, printed
    assert "DISTILLED" in printed
    doc = json.loads((tmp_path / "inv" / "report.json").read_text())
    assert doc["complete"] and doc["suspects"]["student"]["lines"]["fingerprint"]["p_value"] <= 1.0


def test_investigate_logs_only(demo_run, tmp_path, capsys):
    out, doc = demo_run
    rc = main(["investigate", "--logs", str(out / "api_logs.csv"), "--logs-reference", str(out / "reference_logs.csv"),
               "--target-fpr", "0.01", "--out", str(tmp_path / "inv")])
    assert rc == 1
    assert doc["expected"]["harvester"] in json.loads((tmp_path / "inv" / "report.json").read_text())["logs"]["flagged"]


@pytest.mark.parametrize("argv, message", [
    ([], "nothing to investigate"),
    (["--suspect", "x"], "needs --key"),
])
def test_investigate_without_evidence_source(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISTILLGUARD_KEY", raising=False)
    rc = main(["investigate", *argv, "--out", str(tmp_path / "inv")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "inv" / "report.json").exists()


def test_investigate_unloadable_suspect(demo_run, tmp_path, capsys):
    out, _ = demo_run
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    rc = main(["investigate", "--key", str(out / "teacher.key"), "--suspect", str(bad), "--out", str(tmp_path / "inv")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("distillguard: error:") and err.count("\n") == 1
    assert not (tmp_path / "inv" / "report.json").exists() and not (tmp_path / "inv" / "report.html").exists()


def test_investigate_refuses_to_write_into_the_suspect(demo_run, capsys):
    out, _ = demo_run
    before = sorted(p.name for p in (out / "student").iterdir())
    rc = main(["investigate", "--key", str(out / "teacher.key"), "--suspect", str(out / "student"),
               "--out", str(out / "student")])
    assert rc == 2 and "inside the suspect" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "student").iterdir()) == before


def test_investigate_logs_missing_columns(tmp_path, capsys):
    logs = tmp_path / "logs.csv"
    logs.write_text("timestamp,prompt\n2025-01-01T00:00:00Z,hello\n")
    before = logs.read_bytes()
    rc = main(["investigate", "--logs", str(logs), "--out", str(tmp_path / "inv")])
    err = capsys.readouterr().err
    assert rc == 2 and "account_id" in err and err.count("\n") == 1
    assert not (tmp_path / "inv" / "report.json").exists()
    assert logs.read_bytes() == before


def test_combine_lines_is_bonferroni():
    v = combine_lines({"radioactivity": 4e-4, "fingerprint": 0.5}, alpha=1e-3)
    assert v["overall_p"] == pytest.approx(8e-4) and v["distilled"]
    assert not combine_lines({"radioactivity": 6e-4, "fingerprint": 0.5}, alpha=1e-3)["distilled"]
    assert combine_lines({}, alpha=1e-3)["overall_p"] is None


# -- verdict rule: an untested tail alone never accuses (issue 30) -----------------------------------------------
def _fp_line(p_value: float, R: int, alpha: float = 1e-3) -> dict:
    from distillguard.fingerprint.stats import t_tail_assumption

    p_rank = 1 / (R + 1)
    return {"line": "fingerprint", "p_value": p_value, "p_exact": p_rank, "p_floor": p_rank,
            "assumption": t_tail_assumption(R), "detected": p_rank <= alpha, "indicative": p_value <= alpha < p_rank,
            "t": 5.4, "p_rank": p_rank, "min_p_rank": p_rank, "summary": "fake fingerprint line", "mode": "logprob",
            "statistic": 0.526, "null_statistics": [0.27 + 0.01 * i for i in range(R)], "null": "H0: fake",
            "calibration_models": R, "calibration_names": [f"null{i}" for i in range(R)], "n_probes": 32,
            "queries_used": 64, "probes": [{"id": "p1", "family": "real", "prompt": "q", "z": 2.5}]}


def test_combine_lines_parametric_tail_alone_is_indicative():
    # the false accusation of issue 30: radioactivity p 0.16, fingerprint t-tail 4.8e-4 over 8 null models
    v = combine_lines({"radioactivity": 0.16, "fingerprint": _fp_line(4.8e-4, R=8)}, alpha=1e-3)
    assert v["overall_p"] == pytest.approx(9.6e-4)  # what the old rule called DISTILLED
    assert v["status"] == "INDICATIVE" and not v["distilled"]
    assert v["overall_p_exact"] == pytest.approx(2 / 9)
    text = " ".join(v["caveats"])
    assert "Student-t" in text and "can never reach alpha" in text


def test_combine_lines_exact_line_still_decides():
    v = combine_lines({"radioactivity": 1e-40, "fingerprint": _fp_line(0.3, R=8)}, alpha=1e-3)
    assert v["status"] == "DISTILLED" and v["distilled"] and v["strongest_line"] == "radioactivity"
    assert any("one line of evidence" in c for c in v["caveats"])
    # a fingerprint whose null is large enough for its rank p to reach alpha can decide on its own
    big = _fp_line(1e-6, R=4000)
    assert combine_lines({"fingerprint": big}, alpha=1e-3)["status"] == "DISTILLED"
    assert combine_lines({"radioactivity": float("nan")}, alpha=1e-3)["status"] == "not distilled"


def test_investigate_cli_tail_only_exits_0_and_says_indicative(demo_run, tmp_path, capsys, monkeypatch):
    import distillguard.investigation as inv

    out, _ = demo_run
    monkeypatch.setattr(inv, "radioactivity_evidence", lambda *a, **k: {
        "line": "radioactivity", "p_value": 0.16, "detected": False, "attributed": [], "notes": [],
        "modes": {}, "summary": "not detected"})
    monkeypatch.setattr(inv, "fingerprint_evidence", lambda *a, **k: _fp_line(4.8e-4, R=8))
    rc = main(["investigate", "--key", str(out / "teacher.key"), "--suspect", str(out / "student"),
               "--accounts", "acct-1", "--probes", str(out / "probes.json"), "--teacher", str(out / "student"),
               "--out", str(tmp_path / "inv")])
    cap = capsys.readouterr()
    printed = cap.out
    assert rc == 0, cap.err
    assert "INDICATIVE" in printed and "DISTILLED" not in printed
    doc = json.loads((tmp_path / "inv" / "report.json").read_text())
    assert doc["suspects"]["student"]["verdict"]["status"] == "INDICATIVE"
    html = (tmp_path / "inv" / "report.html").read_text()
    assert "INDICATIVE" in html and ">DISTILLED<" not in html
    # the reproducibility block names every local input by its SHA-256, never the key
    import hashlib

    probes = doc["provenance"]["inputs"]["probe file"]
    assert probes["sha256"] == hashlib.sha256((out / "probes.json").read_bytes()).hexdigest()
    assert "Reproducibility" in html and probes["sha256"] in html and doc["provenance"]["utc"].endswith("+00:00")
    secret = json.loads((out / "teacher.key").read_text())["secret_hex"]
    assert secret not in html and secret not in json.dumps(doc)


def _fake_report(mode: str, scores: dict[str, float], explained: dict | None = None):
    import math

    from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, _holm_fill

    results = [KeyScore(f"fp-{a}", a, 100, 50, 0.25, 0.5, 5.0, p, math.log10(p)) for a, p in scores.items()]
    rep = RadioactivityReport(mode=mode, suspect="s", alpha=1e-3, results=_holm_fill(results, 1e-3),
                              units={"queries": 1}, spec={})
    rep.explained.update(explained or {})
    return rep


def test_attribution_one_correction_and_explained_respected(monkeypatch):
    import distillguard.investigation as radio  # the names investigate uses
    from distillguard.investigation import radioactivity_evidence
    from distillguard.keys import WatermarkKey, WatermarkSpec

    key = WatermarkKey(b"\x07" * 32, WatermarkSpec(vocab_size=100))

    class S:
        identity = "s"

    reading = _fake_report("reading", {"harvester": 1e-30, "sibling": 1e-20, "edge": 6e-4},
                           explained={"sibling": {"by": "harvester"}})
    generation = _fake_report("generation", {"harvester": 1e-12, "sibling": 1e-10, "edge": 0.5})
    monkeypatch.setattr(radio, "can_read", lambda *a: True)
    monkeypatch.setattr(radio, "reading_test", lambda *a, **k: reading)
    monkeypatch.setattr(radio, "generation_test", lambda *a, **k: generation)
    ev = radioactivity_evidence(S(), key, None, accounts=["harvester", "sibling", "edge"], alpha=1e-3)
    # sibling: explained away by the reading mode's overlap test, so never named although generation flags it;
    # edge: Holm p 6e-4 (the least significant of 3: multiplier 1) <= alpha in one mode, but 2 modes x 6e-4 > alpha
    assert ev["attributed"] == ["harvester"]
    assert not any(n.startswith("WARNING") for n in ev["notes"])


def test_radioactivity_without_accounts_warns(monkeypatch):
    import distillguard.investigation as radio  # the names investigate uses
    from distillguard.investigation import radioactivity_evidence
    from distillguard.keys import WatermarkKey, WatermarkSpec

    key = WatermarkKey(b"\x07" * 32, WatermarkSpec(vocab_size=100))

    class S:
        identity = "s"

    monkeypatch.setattr(radio, "can_read", lambda *a: False)
    monkeypatch.setattr(radio, "generation_test", lambda *a, **k: _fake_report("generation", {"x": 0.5}))
    ev = radioactivity_evidence(S(), key, None, accounts=None, alpha=1e-3)
    assert any(n.startswith("WARNING: only the master key") for n in ev["notes"])


def test_logs_evidence_lists_every_flagged_account_and_the_fpr_the_data_supports():
    from distillguard.detect.api_logs import simulate_logs, validate_logs
    from distillguard.investigation import logs_evidence
    from distillguard.report import render_html

    logs, _ = simulate_logs(60, 1, hydra_size=12, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
    ref = validate_logs(logs[logs["label"] == 0].drop(columns=["label", "family"]))
    logs = validate_logs(logs.drop(columns=["label", "family"]))
    ev, scores = logs_evidence(logs, reference=ref, target_fpr=1e-3)
    # a few dozen held-out benign accounts cannot support FPR 1e-3: the bound is 1 / (n + 1), and it is said
    assert ev["fpr_bound"] == pytest.approx(1 / (ev["calibration_accounts"] + 1)) and ev["fpr_bound"] > 1e-3
    assert "cannot support less" in ev["summary"]
    flagged = set(scores.loc[scores["flag"], "account_id"].astype(str))
    listed = [a for g in ev["flagged_groups"] for a in g["accounts"]]
    assert flagged and sorted(listed) == sorted(flagged)  # every flagged account, each once
    clusters = [g for g in ev["flagged_groups"] if g["cluster_id"] is not None]
    assert all(len(g["accounts"]) > 1 for g in clusters)
    page = render_html({"alpha": 1e-3, "logs": ev, "suspects": {}, "complete": True})
    assert f"All {len(flagged)} flagged accounts" in page
