import hashlib
import json
import os
import subprocess
import sys

import pytest
import torch

from distillguard.cli import main
from distillguard.keys import WatermarkKey


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def key_file(tmp_path, tiny_model_dir, capsys):
    path = tmp_path / "k.json"
    code, out, _ = _run(["keygen", "--out", str(path), "--model", str(tiny_model_dir), "--delta", "4", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["fingerprint"] in out and WatermarkKey.load(path)._master.hex() not in out
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_then_score_exit_codes(tmp_path, tiny_model_dir, key_file, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello there\nwhat is up\nthird one\nand a fourth\n")
    out = tmp_path / "a.jsonl"
    weights = next(tiny_model_dir.glob("*.safetensors"))
    before = _sha(weights)
    code, _, _ = _run(["generate", "--key", str(key_file), "--prompts", str(prompts), "--out", str(out),
                       "--model", str(tiny_model_dir), "--max-new-tokens", "120", "--min-new-tokens", "120", "--temperature", "1.0"], capsys)
    assert code == 0 and _sha(weights) == before  # never modify the model
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["p1", "p2", "p3", "p4"] and all(r["watermarked"] for r in recs)
    code, stdout, _ = _run(["score-text", "--key", str(key_file), "--model", str(tiny_model_dir),
                            "--jsonl", str(out), "--json"], capsys)
    res = json.loads(stdout)
    assert code == 1 and res["detected"]
    # <eos> is forbidden, but a random tiny model can still sample <pad> (a stop token) early: every text long
    # enough to carry the mark is detected
    long_enough = [r for r in res["results"] if r["scored"] >= 20]
    assert long_enough and all(r["detected"] for r in long_enough)
    # the same text under another key: ran, not detected -> 0
    other = tmp_path / "other.json"
    WatermarkKey.generate(WatermarkKey.load(key_file).spec).save(other)
    code, _, _ = _run(["score-text", "--key", str(other), "--model", str(tiny_model_dir), "--jsonl", str(out)], capsys)
    assert code == 0


def test_generate_resumes_after_interruption(tmp_path, tiny_model_dir, key_file, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("\n".join(f"prompt {i}" for i in range(5)) + "\n")
    out = tmp_path / "a.jsonl"
    args = ["generate", "--key", str(key_file), "--prompts", str(prompts), "--out", str(out),
            "--model", str(tiny_model_dir), "--max-new-tokens", "8", "--batch-size", "2", "--json"]
    assert _run(args, capsys)[0] == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:15])  # killed mid-write
    code, stdout, _ = _run(args, capsys)
    assert code == 0 and json.loads(stdout)["skipped"] == 2 and json.loads(stdout)["generated"] == 3
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == [f"p{i}" for i in range(1, 6)]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["score-text", "--text", "   ", "--key", "{key}"], "empty text"),
        (["score-text", "--text", "abc", "--key", "{bad}"], "not a distillguard key file"),
        (["score-text", "--text", "abc", "--key", "{missing}"], "does not exist"),
        (["score-text", "--key", "{key}"], "nothing to score"),
        (["generate", "--key", "{key}", "--prompts", "{missing}", "--out", "{tmp}/o.jsonl"], "does not exist"),
        (["generate", "--key", "{key}", "--prompts", "{prompts}", "--out", "{tmp}/o.jsonl", "--model", "{pickle}"],
         "pickled checkpoints are refused"),
        (["score-text", "--text", "abc"], "DISTILLGUARD_KEY"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, key_file, argv, match, capsys, monkeypatch):
    monkeypatch.delenv("DISTILLGUARD_KEY", raising=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    bad.chmod(0o600)
    pickle_ckpt = tmp_path / "model.bin"
    torch.save({"w": torch.zeros(2)}, pickle_ckpt)
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    subs = dict(key=str(key_file), bad=str(bad), missing=str(tmp_path / "nope"), tmp=str(tmp_path),
                pickle=str(pickle_ckpt), prompts=str(prompts))
    code, _, err = _run([a.format(**subs) for a in argv], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("distillguard: error:") and match in err


def test_wrong_tokenizer_for_key(tmp_path, key_file, capsys):
    # key made for the tiny char tokenizer; scoring with a different tokenizer must refuse, not mis-score
    from conftest import build_char_tokenizer, build_tiny_lm
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab={"<unk>": 0, "a": 1, "b": 2}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    other = tmp_path / "other_model"
    build_tiny_lm(3).save_pretrained(other, safe_serialization=True)
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<unk>").save_pretrained(other)
    code, _, err = _run(["score-text", "--key", str(key_file), "--model", str(other), "--text", "a b a"], capsys)
    assert code == 2 and "wrong tokenizer" in err
    assert build_char_tokenizer() is not None


def test_open_key_permissions_warn_on_one_line(tmp_path, key_file, tiny_model_dir):
    os.chmod(key_file, 0o644)
    proc = subprocess.run(
        [sys.executable, "-m", "distillguard.cli", "score-text", "--key", str(key_file), "--model",
         str(tiny_model_dir), "--text", "hello world, this is a text"],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "chmod 600" in proc.stderr and "Traceback" not in proc.stderr


def test_help_has_examples(capsys):
    leaves = [["keygen"], ["generate"], ["ads-direction"], ["score-text"], ["demo"], ["detect"], ["simulate"],
              ["shadow"], ["logs", "simulate"], ["logs", "score"], ["fingerprint", "build"],
              ["fingerprint", "calibrate"], ["fingerprint", "probe"], ["investigate"], ["serve"]]
    for cmd in leaves:
        with pytest.raises(SystemExit):
            main([*cmd, "--help"])
        out = capsys.readouterr().out
        assert "example" in out and "exit code" in out, cmd
