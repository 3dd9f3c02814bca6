"""The exit-code contract lives in `distillguard.cli.app`: 0 / 1 = ran (not detected / detected), 2 = any error.

A crash must never exit 1 (which reads as "detected"), and must never print the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

import distillguard.cli.app as cli_main
import distillguard.cli.watermark as cli
from distillguard.cli import main
from distillguard.keys import WatermarkKey, WatermarkSpec

UNEXPECTED = [
    RuntimeError("boom\nwith a second line"),
    KeyError("response"),
    UnicodeDecodeError("utf-8", b"\xff\xfe", 0, 1, "invalid start byte"),
    OSError(28, "No space left on device"),
    ValueError("x" * 5000),
]


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _raiser(exc):
    def cmd(args):
        raise exc

    return cmd


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("DISTILLGUARD_DEBUG", raising=False)


@pytest.mark.parametrize("exc", UNEXPECTED, ids=lambda e: type(e).__name__)
def test_unexpected_exception_is_one_line_exit_2(exc, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_keygen", _raiser(exc))
    code, out, err = _run(["keygen", "--out", tmp_path / "k.key", "--vocab-size", "10"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"distillguard: error: {type(exc).__name__}")
    assert "Traceback" not in err and "--debug" in err
    assert len(err) < 420  # long messages are cut


def test_distillguard_error_keeps_its_plain_line(tmp_path, capsys):
    code, _, err = _run(["score-text", "--key", tmp_path / "missing.key", "--text", "abc"], capsys)
    assert code == 2 and err == f"distillguard: error: key file {tmp_path / 'missing.key'} does not exist\n"


@pytest.mark.parametrize("how", ["env", "flag"])
def test_debug_reraises(how, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_keygen", _raiser(KeyError("boom")))
    argv = ["keygen", "--out", str(tmp_path / "k.key"), "--vocab-size", "10"]
    if how == "env":
        monkeypatch.setenv("DISTILLGUARD_DEBUG", "1")
    else:
        argv = ["--debug", *argv]
    with pytest.raises(KeyError, match="boom"):
        main(argv)


def _subprocess(code_lines, env_extra=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "DISTILLGUARD_DEBUG"}
    env.update(env_extra or {})
    # in a fresh folder: a command that is not patched as meant must not write into the checkout
    return subprocess.run([sys.executable, "-c", "\n".join(code_lines)], input=stdin, capture_output=True, env=env,
                          cwd=tempfile.mkdtemp())


_CRASHING_KEYGEN = [
    "import sys, distillguard.cli as c, distillguard.cli.watermark as w",
    "def boom(args): raise RuntimeError('unexpected failure')",
    "w._cmd_keygen = boom",
    "sys.exit(c.main(['keygen', '--out', 'never.key', '--vocab-size', '10']))",
]


def test_real_process_crash_exits_2_never_1(tmp_path):
    proc = _subprocess(_CRASHING_KEYGEN)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err == "distillguard: error: RuntimeError: unexpected failure (rerun with --debug for the traceback)\n"
    proc = _subprocess(_CRASHING_KEYGEN, {"DISTILLGUARD_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr.decode()


def test_invalid_utf8_on_stdin_exits_2(tmp_path):
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=100)).save(tmp_path / "k.key")
    proc = subprocess.run([sys.executable, "-m", "distillguard.cli", "score-text", "--key", str(key), "-"],
                          input=b"caf\xe9 \xff\xfe not utf-8\n", capture_output=True,
                          env={k: v for k, v in os.environ.items() if k != "DISTILLGUARD_DEBUG"})
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("distillguard: error:") and "UTF-8" in err
    assert "Traceback" not in err


def test_generate_temperature_zero_refused_before_loading(tmp_path, monkeypatch, capsys):
    import distillguard.models

    calls = []
    monkeypatch.setattr(distillguard.models, "load_model", lambda *a, **k: calls.append(1))
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=100)).save(tmp_path / "k.key")
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    code, _, err = _run(["generate", "--key", key, "--prompts", prompts, "--out", tmp_path / "a.jsonl",
                         "--temperature", "0"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--temperature" in err and "Traceback" not in err
    assert calls == [] and not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize("form", ["hex", "HEX", "json"])
def test_error_line_never_shows_the_env_key(form, tmp_path, monkeypatch, capsys):
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=100))
    secret = key._master.hex()
    value = {"hex": secret, "HEX": secret.upper(), "json": key.to_json()}[form]  # key JSON is multi-line
    monkeypatch.setenv("DISTILLGUARD_KEY", value)
    leak = RuntimeError(f"could not use {value} / {secret} / {secret.upper()}")
    monkeypatch.setattr(cli, "_cmd_score_text", _raiser(leak))
    code, _, err = _run(["score-text", "--text", "abc"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert secret not in err.lower() and "<redacted>" in err


def test_error_line_never_shows_the_key_file_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISTILLGUARD_KEY", raising=False)
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=100))
    path = key.save(tmp_path / "k.key")
    monkeypatch.setattr(cli, "_cmd_score_text", _raiser(ValueError(f"bad secret {key._master.hex()}")))
    code, _, err = _run(["score-text", "--key", path, "--text", "abc"], capsys)
    assert code == 2 and key._master.hex() not in err and "<redacted>" in err


def test_a_failing_command_group_is_loud(monkeypatch, capsys):
    class Broken:
        @staticmethod
        def register(sub):
            raise ImportError("distillguard.no_such_cli")

    monkeypatch.setattr(cli_main, "_COMMAND_GROUPS", (*cli_main._COMMAND_GROUPS, Broken))
    with pytest.raises(ImportError):
        cli_main.build_parser()
    code, _, err = _run(["keygen", "--help"], capsys)
    assert code == 2 and "ImportError" in err and "distillguard.no_such_cli" in err


def test_every_command_is_registered():
    text = cli_main.build_parser().format_help()
    for command in ("keygen", "generate", "score-text", "demo", "detect", "simulate", "shadow", "logs",
                    "fingerprint", "investigate"):
        assert f"    {command}" in text, command


def test_usage_errors_still_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--out", "x.jsonl"])  # neither --prompts nor --sharegpt
    assert info.value.code == 2


def test_help_states_the_contract(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "exit codes" in out and "--debug" in out and "DISTILLGUARD_DEBUG" in out
    for code in ("0 ", "1 ", "2 "):
        assert f"  {code}" in out

