"""Issue 28: a table of bad inputs across every subcommand. Each must exit 2 with exactly one line on stderr,
no traceback, every input file byte-identical afterwards and no output (partial or not) left behind.

Every input here is refused before a model loads, so the table runs in seconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from distillguard.cli import main
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.suspects import HTTPSuspect

NO_CUDA = not torch.cuda.is_available()

KG = ["keygen", "--out", "{d}/new.key", "--vocab-size", "100"]
GEN = ["generate", "--key", "{d}/key.json", "--prompts", "{d}/prompts.txt", "--out", "{d}/out.jsonl"]
ST = ["score-text", "--key", "{d}/key.json"]
DET = ["detect", "--key", "{d}/key.json", "--suspect", "{d}/suspect"]
SIM = ["simulate", "--out", "{d}/sim"]
SH = ["shadow", "--like", "{d}/suspect", "--out", "{d}/shadow"]
LSIM = ["logs", "simulate", "--out", "{d}/sim.csv"]
LSC = ["logs", "score", "{d}/logs.csv", "--out", "{d}/scores.csv"]
FB = ["fingerprint", "build", "--out", "{d}/p.json"]
FC = ["fingerprint", "calibrate", "--probes", "{d}/probes.json", "--calibrate", "{d}/suspect"]
FP = ["fingerprint", "probe", "--probes", "{d}/probes.json", "--suspect", "{d}/suspect"]
INV = ["investigate", "--logs", "{d}/logs.csv", "--out", "{d}/inv"]
DEMO = ["demo", "--out", "{d}/demo"]
SRV = ["serve", "--no-watermark"]

_LOG_HEADER = "timestamp,account_id,prompt,prompt_tokens,completion_tokens\n"
_LOG_ROW = "2024-01-01T00:00:00Z,a,hi,3,5\n"
_JSON_ROW = ('{"timestamp": "2024-01-01T00:00:00Z", "account_id": "a", "prompt": "hi", "prompt_tokens": 3, '
             '"completion_tokens": 5}')
#: Log files that must be refused (issue 28: silent wrong answers), written by the ``inputs`` fixture.
LOG_FILES = {"inf tokens": "tokens_inf.csv", "1e30 tokens": "tokens_1e30.csv", "negative tokens": "tokens_neg.csv",
             "fractional tokens": "tokens_frac.csv", "text tokens": "tokens_text.csv",
             "infinite JSON tokens": "tokens_inf.jsonl", "boolean JSON tokens": "tokens_bool.jsonl",
             "duplicated column": "dup_column.csv", "duplicate JSON key": "dup_key.jsonl",
             "NaN account ids": "nan_ids.csv", "null account ids": "null_ids.jsonl",
             "float account ids": "float_ids.jsonl",
             "invalid UTF-8": "bad_utf8.csv", "unparsable timestamp": "bad_time.csv", "corrupt gzip": "corrupt.csv.gz"}
_LOG_BODIES: dict[str, bytes] = {
    "good_logs.csv": (_LOG_HEADER + _LOG_ROW).encode(),
    "tokens_inf.csv": (_LOG_HEADER + _LOG_ROW + "2024-01-01T00:00:01Z,b,hi,inf,5\n").encode(),
    "tokens_1e30.csv": (_LOG_HEADER + _LOG_ROW + "2024-01-01T00:00:01Z,b,hi,3,1e30\n").encode(),
    "tokens_neg.csv": (_LOG_HEADER + _LOG_ROW + "2024-01-01T00:00:01Z,b,hi,-3,5\n").encode(),
    "tokens_frac.csv": (_LOG_HEADER + _LOG_ROW + "2024-01-01T00:00:01Z,b,hi,2.5,5\n").encode(),
    "tokens_text.csv": (_LOG_HEADER + _LOG_ROW + "2024-01-01T00:00:01Z,b,hi,abc,5\n").encode(),
    "tokens_inf.jsonl": (_JSON_ROW + "\n" + _JSON_ROW.replace('"prompt_tokens": 3', '"prompt_tokens": Infinity')
                         + "\n").encode(),
    "tokens_bool.jsonl": (_JSON_ROW.replace('"completion_tokens": 5', '"completion_tokens": true') + "\n").encode(),
    "dup_column.csv": (_LOG_HEADER.strip() + ",prompt\n" + _LOG_ROW.strip() + ",again\n").encode(),
    "dup_key.jsonl": (_JSON_ROW.replace('"account_id": "a"', '"account_id": "a", "account_id": "b"') + "\n").encode(),
    "nan_ids.csv": (_LOG_HEADER + "2024-01-01T00:00:00Z,NaN,hi,3,5\n2024-01-01T00:00:01Z,NaN,yo,3,5\n").encode(),
    "null_ids.jsonl": (_JSON_ROW.replace('"a"', "null") + "\n").encode(),
    "float_ids.jsonl": (_JSON_ROW.replace('"a"', "1.0") + "\n").encode(),
    "bad_utf8.csv": _LOG_HEADER.encode() + _LOG_ROW.encode() + b"2024-01-01T00:00:01Z,b,caf\xe9,3,5\n",
    "bad_time.csv": (_LOG_HEADER + _LOG_ROW + "2024-13-45T00:00:00Z,b,hi,3,5\n").encode(),
    "corrupt.csv.gz": b"\x1f\x8b\x08\x00not really gzip",
}

CASES: list[tuple[str, list[str]]] = [
    # keygen
    ("keygen vocab 0", [*KG[:-1], "0"]),
    ("keygen vocab negative", [*KG[:-1], "-5"]),
    ("keygen vocab text", [*KG[:-1], "abc"]),
    ("keygen vocab 1", [*KG[:-1], "1"]),
    ("keygen gamma 0", [*KG, "--gamma", "0"]),
    ("keygen gamma 1", [*KG, "--gamma", "1"]),
    ("keygen gamma nan", [*KG, "--gamma", "nan"]),
    ("keygen gamma 1.5", [*KG, "--gamma", "1.5"]),
    ("keygen gamma tiny", [*KG, "--gamma", "0.0001"]),
    ("keygen delta nan", [*KG, "--delta", "nan"]),
    ("keygen delta inf", [*KG, "--delta", "inf"]),
    ("keygen delta negative", [*KG, "--delta", "-1"]),
    ("keygen h negative", [*KG, "--context-width", "-1"]),
    ("keygen h float", [*KG, "--context-width", "2.5"]),
    ("keygen h 17", [*KG, "--context-width", "17"]),
    ("keygen min seeding h 0", [*KG, "--context-width", "0", "--seeding", "min"]),
    ("keygen existing key", ["keygen", "--out", "{d}/key.json", "--vocab-size", "100"]),
    ("keygen missing folder", ["keygen", "--out", "{d}/nodir/k.key", "--vocab-size", "100"]),
    ("keygen out is a folder", ["keygen", "--out", "{d}/suspect", "--vocab-size", "100"]),
    # generate
    ("generate batch 0", [*GEN, "--batch-size", "0"]),
    ("generate batch negative", [*GEN, "--batch-size", "-3"]),
    ("generate max-new 0", [*GEN, "--max-new-tokens", "0"]),
    ("generate min-new negative", [*GEN, "--min-new-tokens", "-1"]),
    ("generate min > max", [*GEN, "--max-new-tokens", "4", "--min-new-tokens", "5"]),
    ("generate temperature 0", [*GEN, "--temperature", "0"]),
    ("generate temperature nan", [*GEN, "--temperature", "nan"]),
    ("generate temperature negative", [*GEN, "--temperature", "-1"]),
    ("generate seed negative", [*GEN, "--seed", "-1"]),
    ("generate sharegpt 0", ["generate", "--key", "{d}/key.json", "--sharegpt", "0", "--out", "{d}/out.jsonl"]),
    ("generate sharegpt text", ["generate", "--key", "{d}/key.json", "--sharegpt", "x", "--out", "{d}/o.jsonl"]),
    ("generate out is the key", [*GEN[:-1], "{d}/key.json"]),
    ("generate out is the prompts", [*GEN[:-1], "{d}/prompts.txt"]),
    ("generate out folder missing", [*GEN[:-1], "{d}/nodir/out.jsonl"]),
    ("generate device tpu", [*GEN, "--device", "tpu"]),
    ("generate bad gamma key", ["generate", "--key", "{d}/gamma_str.key", *GEN[3:]]),
    ("generate missing key", ["generate", "--key", "{d}/missing.key", *GEN[3:]]),
    ("generate missing prompts", [*GEN[:4], "{d}/missing.txt", *GEN[5:]]),
    ("generate empty prompts", [*GEN[:4], "{d}/empty.txt", *GEN[5:]]),
    # score-text
    ("score-text alpha 0", [*ST, "--text", "hi", "--alpha", "0"]),
    ("score-text alpha 1", [*ST, "--text", "hi", "--alpha", "1"]),
    ("score-text alpha nan", [*ST, "--text", "hi", "--alpha", "nan"]),
    ("score-text alpha negative", [*ST, "--text", "hi", "--alpha", "-0.1"]),
    ("score-text alpha text", [*ST, "--text", "hi", "--alpha", "abc"]),
    ("score-text nothing", ST),
    ("score-text blank", [*ST, "--text", "   "]),
    ("score-text invalid utf-8", [*ST, "{d}/invalid.txt"]),
    ("score-text missing file", [*ST, "{d}/missing.txt"]),
    ("score-text jsonl not json", [*ST, "--jsonl", "{d}/bad.jsonl"]),
    ("score-text jsonl no field", [*ST, "--jsonl", "{d}/prompts.jsonl", "--field", "nope"]),
    ("score-text too large", [*ST, "{big}"]),
    ("score-text gamma string key", ["score-text", "--key", "{d}/gamma_str.key", "--text", "hi"]),
    ("score-text delta nan key", ["score-text", "--key", "{d}/delta_nan.key", "--text", "hi"]),
    ("score-text vocab string key", ["score-text", "--key", "{d}/vocab_str.key", "--text", "hi"]),
    ("score-text not json key", ["score-text", "--key", "{d}/prompts.txt", "--text", "hi"]),
    ("score-text missing key", ["score-text", "--key", "{d}/missing.key", "--text", "hi"]),
    # detect
    ("detect alpha 0", [*DET, "--alpha", "0"]),
    ("detect alpha 2", [*DET, "--alpha", "2"]),
    ("detect n-texts 0", [*DET, "--n-texts", "0"]),
    ("detect n-prompts negative", [*DET, "--n-prompts", "-1"]),
    ("detect max-new 0", [*DET, "--max-new-tokens", "0"]),
    ("detect timeout 0", [*DET, "--timeout", "0"]),
    ("detect timeout nan", [*DET, "--timeout", "nan"]),
    ("detect run-timeout 0", [*DET, "--run-timeout", "0"]),
    ("detect run-timeout inf", [*DET, "--run-timeout", "inf"]),
    ("detect retries negative", [*DET, "--retries", "-1"]),
    ("detect reading-top 0", [*DET, "--reading-top", "0"]),
    ("detect report is the key", [*DET, "--report", "{d}/key.json"]),
    ("detect report in suspect", [*DET, "--report", "{d}/suspect/r.json"]),
    ("detect report folder is a file", [*DET, "--report", "{d}/notes.txt/r.json"]),
    ("fingerprint probe report folder is a file", [*FP, "--report", "{d}/notes.txt/sub/r.html"]),
    ("detect report existing file", [*DET, "--report", "{d}/notes.txt"]),
    ("detect html existing file", [*DET, "--html", "{d}/notes.txt"]),
    ("detect report == html", [*DET, "--report", "{d}/r.json", "--html", "{d}/r.json"]),
    ("detect missing suspect", ["detect", "--key", "{d}/key.json", "--suspect", "{d}/nope"]),
    ("detect bad key", ["detect", "--key", "{d}/gamma_str.key", "--suspect", "{d}/suspect"]),
    # simulate, shadow
    ("simulate fraction 0", [*SIM, "--fractions", "0"]),
    ("simulate fraction 1.5", [*SIM, "--fractions", "1.5"]),
    ("simulate fraction text", [*SIM, "--fractions", "a,b"]),
    ("simulate fraction empty item", [*SIM, "--fractions", "1,,0.5"]),
    ("simulate n-train 0", [*SIM, "--n-train", "0"]),
    ("simulate epochs 0", [*SIM, "--epochs", "0"]),
    ("simulate delta nan", [*SIM, "--delta", "nan"]),
    ("simulate h negative", [*SIM, "--context-width", "-1"]),
    ("simulate out is a file", ["simulate", "--out", "{d}/notes.txt"]),
    ("shadow n-texts 0", [*SH, "--n-texts", "0"]),
    ("shadow skip negative", [*SH, "--skip", "-1"]),
    ("shadow no config", ["shadow", "--like", "{d}/nothing", "--out", "{d}/shadow"]),
    ("shadow out is a file", ["shadow", "--like", "{d}/suspect", "--out", "{d}/notes.txt"]),
    ("shadow out inside suspect", ["shadow", "--like", "{d}/suspect", "--out", "{d}/suspect/sh"]),
    # logs
    ("logs simulate benign 0", [*LSIM, "--benign", "0"]),
    ("logs simulate days 0", [*LSIM, "--days", "0"]),
    ("logs simulate per-attack negative", [*LSIM, "--per-attack", "-1"]),
    ("logs simulate unknown format", ["logs", "simulate", "--out", "{d}/sim.txt"]),
    ("logs simulate existing non-table", ["logs", "simulate", "--out", "{d}/notes.csv"]),
    ("logs simulate folder missing", ["logs", "simulate", "--out", "{d}/nodir/sim.csv"]),
    ("logs score out is the input", ["logs", "score", "{d}/logs.csv", "--out", "{d}/logs.csv"]),
    ("logs score target-fpr 0", [*LSC, "--target-fpr", "0"]),
    ("logs score target-fpr 1", [*LSC, "--target-fpr", "1"]),
    ("logs score unknown format", ["logs", "score", "{d}/logs.csv", "--out", "{d}/s.txt"]),
    ("logs score html existing", [*LSC, "--html", "{d}/notes.txt"]),
    *[(f"logs score {name}", ["logs", "score", f"{{d}}/{file}", "--out", "{d}/scores.csv", "--html", "{d}/s.html"])
      for name, file in LOG_FILES.items()],
    ("logs score reference with inf tokens", [*LSC[:3], "{d}/good_logs.csv", *LSC[3:], "--reference",
                                              "{d}/tokens_inf.csv"]),
    # fingerprint
    ("fingerprint build n-probes 0", [*FB, "--n-probes", "0"]),
    ("fingerprint build out existing key", ["fingerprint", "build", "--out", "{d}/key.json"]),
    ("fingerprint build bad modes", [*FB, "--modes", "bogus"]),
    ("fingerprint build timeout 0", [*FB, "--timeout", "0"]),
    ("fingerprint calibrate out is input", [*FC, "--out", "{d}/probes.json"]),
    ("fingerprint calibrate out existing", [*FC, "--out", "{d}/notes.txt"]),
    ("fingerprint calibrate bad modes", [*FC, "--out", "{d}/p2.json", "--modes", "bogus"]),
    ("fingerprint probe alpha 0", [*FP, "--alpha", "0"]),
    ("fingerprint probe budget 0", [*FP, "--budget", "0"]),
    ("fingerprint probe retries negative", [*FP, "--retries", "-2"]),
    ("fingerprint probe report is input", [*FP, "--report", "{d}/probes.json"]),
    ("fingerprint probe report existing", [*FP, "--report", "{d}/notes.txt"]),
    ("fingerprint probe missing probes", ["fingerprint", "probe", "--probes", "{d}/missing.json", "--suspect",
                                          "{d}/suspect"]),
    # investigate
    ("investigate alpha 0", [*INV, "--alpha", "0"]),
    ("investigate target-fpr 2", [*INV, "--target-fpr", "2"]),
    ("investigate n-prompts 0", [*INV, "--n-prompts", "0"]),
    ("investigate budget 0", [*INV, "--fingerprint-budget", "0"]),
    ("investigate timeout negative", [*INV, "--timeout", "-1"]),
    ("investigate run-timeout negative", [*INV, "--run-timeout", "-5"]),
    ("investigate out is a file", ["investigate", "--logs", "{d}/logs.csv", "--out", "{d}/notes.txt"]),
    ("investigate out is the logs", ["investigate", "--logs", "{d}/logs.csv", "--out", "{d}/logs.csv"]),
    ("investigate nothing", ["investigate", "--out", "{d}/inv"]),
    ("investigate device tpu", [*INV, "--device", "tpu"]),
    *[(f"investigate logs {name}", ["investigate", "--logs", f"{{d}}/{file}", "--out", "{d}/inv"])
      for name, file in LOG_FILES.items() if name in ("inf tokens", "duplicated column", "NaN account ids",
                                                        "invalid UTF-8", "duplicate JSON key")],
    ("investigate reference logs 1e30 tokens", ["investigate", "--logs", "{d}/good_logs.csv", "--logs-reference",
                                                "{d}/tokens_1e30.csv", "--out", "{d}/inv"]),
    # demo, serve
    ("demo h negative", [*DEMO, "--context-width", "-1"]),
    ("demo out is a file", ["demo", "--out", "{d}/notes.txt"]),
    ("demo device tpu", [*DEMO, "--device", "tpu"]),
    ("serve port negative", [*SRV, "--port", "-1"]),
    ("serve port too large", [*SRV, "--port", "70000"]),
    ("serve missing key", ["serve", "--key", "{d}/missing.key"]),
    ("serve cap 0", [*SRV, "--max-tokens-cap", "0"]),
    ("serve device tpu", [*SRV, "--device", "tpu"]),
    ("serve log is the key", [*SRV, "--log", "{d}/key.json"]),
]
CUDA_CASES = [
    ("generate cuda without cuda", [*GEN, "--device", "cuda"]),
    ("investigate cuda without cuda", [*INV, "--device", "cuda"]),
    ("serve cuda without cuda", [*SRV, "--device", "cuda"]),
]


@pytest.fixture(scope="module")
def big_text(tmp_path_factory) -> Path:
    from distillguard.detect.text import MAX_TEXT_CHARS

    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_bytes(b"a" * (4 * MAX_TEXT_CHARS + 10))
    return path


def _key_json(**spec_changes) -> str:
    doc = json.loads(WatermarkKey.generate(WatermarkSpec(vocab_size=100)).to_json())
    doc["spec"].update(spec_changes)
    return json.dumps(doc)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    WatermarkKey.generate(WatermarkSpec(vocab_size=100)).save(d / "key.json")
    for name, text in (("gamma_str.key", _key_json(gamma="0.25")), ("delta_nan.key", _key_json(delta=float("nan"))),
                       ("vocab_str.key", _key_json(vocab_size="100"))):
        (d / name).write_text(text)
        (d / name).chmod(0o600)
    (d / "prompts.txt").write_text("hello\nworld\n")
    (d / "prompts.jsonl").write_text('{"prompt": "hi"}\n')
    (d / "empty.txt").write_text("\n\n")
    (d / "invalid.txt").write_bytes(b"caf\xe9 \xff\n")
    (d / "bad.jsonl").write_text("{not json\n")
    (d / "notes.txt").write_text("my notes, not an output of distillguard\n")
    (d / "notes.csv").write_text("name,comment\nx,y\n")
    (d / "logs.csv").write_text("timestamp,account_id,prompt,response\n2024-01-01T00:00:00Z,a,hi,there\n")
    for name, body in _LOG_BODIES.items():
        (d / name).write_bytes(body)
    (d / "probes.json").write_text(json.dumps({"format": "distillguard-fingerprint-probes", "version": 1}))
    (d / "suspect").mkdir()
    (d / "suspect" / "model.txt").write_text("weights would be here\n")
    return d


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(root.rglob("*"))}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("DISTILLGUARD_DEBUG", raising=False)
    monkeypatch.delenv("DISTILLGUARD_KEY", raising=False)


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's structural usage errors
        code = exc.code
    return code, capsys.readouterr().err


def _check_refused(argv, inputs, big_text, capsys, monkeypatch):
    import distillguard.models

    loads: list = []
    monkeypatch.setattr(distillguard.models, "load_model", lambda *a, **k: loads.append(a) or 1 / 0)
    monkeypatch.chdir(inputs)
    before = _snapshot(inputs)
    big_before = big_text.stat().st_size
    code, err = _run([a.format(d=inputs, big=big_text) for a in argv], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("distillguard") and "error" in err and "Traceback" not in err, err
    assert _snapshot(inputs) == before  # inputs byte-identical, no output and no temporary file left
    assert big_text.stat().st_size == big_before
    assert loads == []


def test_the_table_is_large():
    assert len(CASES) + len(CUDA_CASES) >= 80


@pytest.mark.parametrize("argv", [a for _, a in CASES], ids=[n for n, _ in CASES])
def test_bad_input_is_refused_cleanly(argv, inputs, big_text, capsys, monkeypatch):
    _check_refused(argv, inputs, big_text, capsys, monkeypatch)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("argv", [a for _, a in CUDA_CASES], ids=[n for n, _ in CUDA_CASES])
def test_cuda_without_cuda_is_refused(argv, inputs, big_text, capsys, monkeypatch):
    _check_refused(argv, inputs, big_text, capsys, monkeypatch)


@pytest.mark.parametrize("file, fragments", [
    ("tokens_inf.csv", ["tokens_inf.csv", "column 'prompt_tokens', row 2", "not finite"]),
    ("tokens_1e30.csv", ["column 'completion_tokens', row 2", "above 10,000,000"]),
    ("dup_column.csv", ["dup_column.csv", "column 'prompt' appears 2 times"]),
    ("nan_ids.csv", ["column 'account_id', row 1", "'NaN' reads as a missing value"]),
    ("bad_utf8.csv", ["line 3 is not valid UTF-8", "byte 0xe9 at byte offset"]),
    ("bad_time.csv", ["column 'timestamp', row 2: cannot parse '2024-13-45T00:00:00Z'"]),
])
def test_log_errors_name_file_column_and_row(inputs, capsys, file, fragments):
    code, err = _run(["logs", "score", str(inputs / file), "--out", str(inputs / "scores.csv")], capsys)
    assert code == 2 and all(f in err for f in fragments), err


def test_key_errors_name_the_field(inputs, capsys):
    for name, field in (("gamma_str.key", "gamma"), ("delta_nan.key", "delta"), ("vocab_str.key", "vocab_size")):
        code, err = _run(["score-text", "--key", str(inputs / name), "--text", "hi"], capsys)
        assert code == 2 and field in err and "Traceback" not in err


def test_own_output_is_rewritten_but_not_a_foreign_file(inputs, capsys):
    from distillguard.cli.common import check_output

    report = inputs / "r.json"
    report.write_text('{"detected": false}')
    check_output("--report", str(report), {}, own="json")  # a previous report: rewritten
    with pytest.raises(DistillguardError, match="--force"):
        check_output("--report", str(inputs / "key.json"), {}, own="json")
    check_output("--report", str(inputs / "notes.txt"), {}, force=True)


# -- HTTP suspects: a total deadline, and answers that cannot be scored ------------------------------------
def _server(handler_body):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            handler_body(self)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"


def _json_answer(doc):
    raw = json.dumps(doc).encode()

    def body(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    return body


def test_slow_drip_server_hits_the_total_deadline():
    raw = json.dumps({"choices": [{"message": {"content": "x" * 200}}]}).encode()

    def drip(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        try:
            for b in raw:
                h.wfile.write(bytes([b]))
                h.wfile.flush()
                time.sleep(0.05)  # every read is quick; the whole answer takes ~10 s
        except OSError:
            pass

    srv, url = _server(drip)
    t0 = time.monotonic()
    with pytest.raises(DistillguardError, match="within"):
        HTTPSuspect(url, model="m", timeout=1.0, retries=0).generate(["x"])
    assert time.monotonic() - t0 < 4
    srv.shutdown()


def test_slow_drip_headers_hit_the_total_deadline():
    def drip(h):
        try:
            for line in [b"HTTP/1.1 200 OK\r\n"] + [b"X-Slow-%d: %s\r\n" % (i, b"y" * 20) for i in range(200)]:
                for b in line:
                    h.wfile.write(bytes([b]))
                    h.wfile.flush()
                    time.sleep(0.02)
        except OSError:
            pass

    srv, url = _server(drip)
    t0 = time.monotonic()
    with pytest.raises(DistillguardError, match="within"):
        HTTPSuspect(url, model="m", timeout=1.0, retries=1).generate(["x"])
    assert time.monotonic() - t0 < 6  # two attempts of 1 s each, plus the back-off
    srv.shutdown()


def test_run_deadline_bounds_every_request_and_retry_together():
    """A server that always answers 503 would hold ``retries`` x ``timeout`` plus back-off per request, for every
    request of a run; --run-timeout caps the whole run, retries and sleeps included."""
    def busy(h):
        h.send_response(503)
        h.send_header("Retry-After", "5")
        h.send_header("Content-Length", "0")
        h.end_headers()

    srv, url = _server(busy)
    t0 = time.monotonic()
    s = HTTPSuspect(url, model="m", timeout=5.0, retries=10, run_timeout=1.5)
    with pytest.raises(DistillguardError, match="run's deadline of 1.5 s"):
        s.generate(["x"])
    assert time.monotonic() - t0 < 4  # without the run deadline: ten 5-s Retry-After sleeps
    with pytest.raises(DistillguardError, match="run's deadline"):  # no request starts after it
        s.generate(["y"])
    srv.shutdown()
    for bad in (0, -1, float("nan"), True, "3"):
        with pytest.raises(DistillguardError, match="run_timeout"):
            HTTPSuspect(url, model="m", run_timeout=bad)


@pytest.mark.parametrize("content", [None, 42, ["a"], {"text": "a"}])
def test_non_string_content_is_refused(content):
    srv, url = _server(_json_answer({"choices": [{"message": {"content": content}}]}))
    with pytest.raises(DistillguardError, match="not a string"):
        HTTPSuspect(url, model="m", retries=0).generate(["x"])
    srv.shutdown()


@pytest.mark.parametrize("logprobs", [["-1.0", "-2.0"], [float("nan"), -1.0], [True, -1.0], "x"])
def test_malformed_logprobs_are_refused(logprobs):
    lp = {"tokens": ["a", "b"], "token_logprobs": logprobs, "text_offset": [0, 1]}
    srv, url = _server(_json_answer({"choices": [{"text": "ab", "logprobs": lp}]}))
    with pytest.raises(DistillguardError, match="log-probs"):
        HTTPSuspect(url, model="m", retries=0).continuation_logprobs(["a"], ["b"])
    srv.shutdown()


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"timeout": float("nan")}, {"retries": -1}, {"retries": 1.5}])
def test_http_suspect_refuses_bad_settings(kw):
    with pytest.raises(DistillguardError):
        HTTPSuspect("http://127.0.0.1:9/v1", model="m", **kw)
