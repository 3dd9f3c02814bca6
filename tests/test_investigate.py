"""The whole investigation on tiny random models: the demo's smoke profile, resume, and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from distillguard.cli import main
from distillguard.investigate import combine_lines


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
    # the smoke world is sized so that each line alone finds the student (power, reported apart from claims)
    assert set(doc["line_power"]) == {"student: radioactivity", "student: fingerprint"}
    missed = [k for k, v in doc["line_power"].items() if not v["detected"]]
    assert not missed, (missed, doc["line_power"])
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
