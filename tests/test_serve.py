"""The reference server refuses malformed requests with a JSON 400/413 and keeps serving."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from distillguard.cli import main
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import load_model
from distillguard.serve import MAX_BODY_BYTES, make_server, serve_in_thread


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    loaded = load_model(tiny_model_dir)
    spec = WatermarkSpec(vocab_size=len(loaded.tokenizer), delta=4.0, tokenizer_id=tokenizer_id(loaded.tokenizer))
    key = WatermarkKey.generate(spec)
    log = tmp_path_factory.mktemp("serve") / "api.jsonl"
    srv = make_server(loaded, key=key, log_path=log, account_from_request=True, max_tokens_cap=32)
    serve_in_thread(srv)
    yield srv.server_address[1], key, log, loaded
    srv.shutdown()
    srv.server_close()


def _post(port: int, path: str, body: bytes | str | object, headers: dict | None = None):
    raw = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(raw)), **(headers or {})}
    conn.putrequest("POST", path)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        if not (headers and "Content-Length" in headers):
            conn.send(raw)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def _ok(port: int):
    status, doc = _post(port, "/v1/chat/completions",
                        {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4, "seed": 1})
    assert status == 200, doc
    assert isinstance(doc["choices"][0]["message"]["content"], str)


MSG = [{"role": "user", "content": "hi"}]
BAD_CHAT = [
    ("not json", b"{nope"),
    ("not utf8", b"\xff\xfe{}"),
    ("array body", []),
    ("string body", "\"hello\""),
    ("no messages", {}),
    ("messages not list", {"messages": "hi"}),
    ("messages empty", {"messages": []}),
    ("message not object", {"messages": ["hi"]}),
    ("content null", {"messages": [{"role": "user", "content": None}]}),
    ("content number", {"messages": [{"role": "user", "content": 3}]}),
    ("content list", {"messages": [{"role": "user", "content": ["a"]}]}),
    ("role missing", {"messages": [{"content": "hi"}]}),
    ("role unknown", {"messages": [{"role": "wizard", "content": "hi"}]}),
    ("max_tokens zero", {"messages": MSG, "max_tokens": 0}),
    ("max_tokens negative", {"messages": MSG, "max_tokens": -5}),
    ("max_tokens over cap", {"messages": MSG, "max_tokens": 10**9}),
    ("max_tokens string", {"messages": MSG, "max_tokens": "8"}),
    ("max_tokens float", {"messages": MSG, "max_tokens": 2.5}),
    ("max_tokens bool", {"messages": MSG, "max_tokens": True}),
    ("temperature nan", '{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'),
    ("temperature inf", '{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}'),
    ("temperature negative", {"messages": MSG, "temperature": -1}),
    ("temperature string", {"messages": MSG, "temperature": "hot"}),
    ("seed too big", {"messages": MSG, "seed": 2**70}),
    ("seed string", {"messages": MSG, "seed": "x"}),
    ("n two", {"messages": MSG, "n": 2}),
    ("stream", {"messages": MSG, "stream": True}),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_CHAT], ids=[n for n, _ in BAD_CHAT])
def test_bad_chat_requests_get_400_json(server, body):
    port = server[0]
    status, doc = _post(port, "/v1/chat/completions", body)
    assert status == 400, doc
    assert isinstance(doc["error"]["message"], str) and "\n" not in doc["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"prompt": None}, {"prompt": 5}, {"prompt": "a", "echo": "yes"},
                                  {"prompt": "a", "max_tokens": -1}, {"prompt": "a", "echo": True, "max_tokens": -1}])
def test_bad_completion_requests_get_400_json(server, body):
    status, doc = _post(server[0], "/v1/completions", body)
    assert status == 400 and "error" in doc


@pytest.mark.parametrize("length, status", [("-1", 400), ("abc", 400), (str(MAX_BODY_BYTES + 1), 413),
                                            (str(10**15), 413)])
def test_bad_content_length_refused_without_reading(server, length, status):
    got, doc = _post(server[0], "/v1/chat/completions", b"", headers={"Content-Length": length})
    assert got == status and "error" in doc


def test_server_keeps_serving_after_bad_requests(server):
    port = server[0]
    for _, body in BAD_CHAT[:5]:
        assert _post(port, "/v1/chat/completions", body)[0] == 400
    # a client that announces a body and hangs up: the server must survive it
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess")
    _ok(port)


def test_account_from_bearer_token_or_header(server):
    port, key, log, loaded = server
    for headers, account in (({"Authorization": "Bearer acct-7"}, "acct-7"), ({"X-Account": "acct-9"}, "acct-9"),
                             ({}, "anonymous")):
        status, _ = _post(port, "/v1/chat/completions", {"messages": MSG, "max_tokens": 3}, headers=headers)
        assert status == 200
        assert json.loads(log.read_text().splitlines()[-1])["account_id"] == account
    assert _post(port, "/v1/chat/completions", {"messages": MSG}, headers={"X-Account": "a" * 500})[0] == 400


def test_serve_command_help_and_refusals(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0 and "example" in capsys.readouterr().out
    assert main(["serve", "--port", "-1", "--no-watermark"]) == 2
    assert main(["serve", "--port", "70000", "--no-watermark"]) == 2
    assert main(["serve", "--key", str(tmp_path / "missing.key")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(line.startswith("distillguard") for line in err.splitlines())


def test_a_failure_inside_the_model_is_a_500_and_the_server_survives(server, monkeypatch):
    import distillguard.serve as serve_mod

    def boom(*a, **k):
        raise RuntimeError("model exploded\nsecond line")

    monkeypatch.setattr(serve_mod, "generate_records", boom)
    status, doc = _post(server[0], "/v1/chat/completions", {"messages": MSG, "max_tokens": 2})
    assert status == 500 and "model exploded" in doc["error"]["message"] and "\n" not in doc["error"]["message"]
    monkeypatch.undo()
    _ok(server[0])


def test_serve_command_serves_per_account_watermarks(tiny_model_dir, tmp_path):
    """`distillguard serve` end to end: the account from the bearer token picks the sub-key."""
    import os
    import re
    import subprocess
    import sys

    from distillguard.detect import score_text

    loaded = load_model(tiny_model_dir)
    spec = WatermarkSpec(vocab_size=len(loaded.tokenizer), delta=6.0, tokenizer_id=tokenizer_id(loaded.tokenizer))
    # a fixed secret: the run does not hinge on one random key's green lists
    key_path = WatermarkKey(bytes(range(32)), spec).save(tmp_path / "k.key")
    log = tmp_path / "api.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "distillguard.cli", "serve", "--key", str(key_path), "--model",
                             str(tiny_model_dir), "--port", "0", "--log", str(log)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "DISTILLGUARD_KEY": ""})
    try:
        line = ""
        while "serving" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "server exited"
        port = int(re.search(r":(\d+)/v1", line).group(1))
        # the random tiny model may stop after a few tokens: ask with several seeds until there is text to score
        answers: list[str] = []
        for seed in range(8):
            status, doc = _post(port, "/v1/chat/completions",
                                {"messages": MSG, "max_tokens": 60, "temperature": 1.0, "seed": seed},
                                headers={"Authorization": "Bearer acct-5"})
            assert status == 200
            answers.append(doc["choices"][0]["message"]["content"])
            if sum(len(a) for a in answers) >= 60:
                break
        key = WatermarkKey.load(key_path)
        own = [score_text(a, loaded.tokenizer, key.for_account("acct-5")) for a in answers]
        other = [score_text(a, loaded.tokenizer, key.for_account("acct-6")) for a in answers]
        scored = sum(s.scored for s in own)
        assert scored >= 20, f"only {scored} scored tokens in {len(answers)} answers"
        # the serving account's sub-key finds far more green tokens than another account's
        assert sum(s.green for s in own) / scored > sum(s.green for s in other) / sum(s.scored for s in other) + 0.25
        assert json.loads(log.read_text().splitlines()[-1])["account_id"] == "acct-5"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_scheme_options_are_refused_like_generate_before_any_model_loads(tmp_path, capsys, monkeypatch):
    import distillguard.models as models

    def no_load(*a, **k):
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(models, "load_model", no_load)
    key = tmp_path / "k.key"
    WatermarkKey.generate(WatermarkSpec(vocab_size=100)).save(key)
    cases = [["--key", str(key), "--scheme", "adfp"],  # ADFP needs --lam
             ["--key", str(key), "--scheme", "kgw", "--lam", "3"],  # kgw takes no lambda
             ["--key", str(key), "--scheme", "ads", "--lam", "1"],  # ADS needs its direction file
             ["--no-watermark", "--scheme", "adfp", "--lam", "3"],
             ["--key", str(key), "--scheme", "bogus"]]
    for extra in cases:
        try:
            rc = main(["serve", *extra])
        except SystemExit as stop:  # argparse's own refusal (an unknown choice) exits 2 itself
            rc = stop.code
        assert rc == 2, extra
    err = capsys.readouterr().err
    assert "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("distillguard")]) >= 4


def test_serve_marks_answers_with_the_keys_adfp_scheme(tiny_model_dir):
    """A key made with ADFP (keygen --scheme adfp) is served with ADFP: answers carry the account's green lists."""
    from distillguard.detect.text import score_text

    loaded = load_model(tiny_model_dir)
    spec = WatermarkSpec(vocab_size=len(loaded.tokenizer), tokenizer_id=tokenizer_id(loaded.tokenizer),
                         mark_scheme="adfp", adfp_lambda=200.0, proxy_id="teacher")
    key = WatermarkKey(b"\x21" * 32, spec)  # fixed: the test does not depend on a lucky key
    srv = make_server(loaded, key=key, account_from_request=True, max_tokens_cap=64)
    serve_in_thread(srv)
    try:
        status, body = _post(srv.server_address[1], "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 64,
                              "temperature": 1.0}, headers={"X-Account": "acct-1"})
    finally:
        srv.shutdown()
        srv.server_close()
    assert status == 200
    text = body["choices"][0]["message"]["content"]
    mine = score_text(text, loaded.tokenizer, key.for_account("acct-1"))
    other = score_text(text, loaded.tokenizer, key.for_account("acct-2"))
    assert mine.green_fraction > other.green_fraction + 0.2 and mine.p_value < 1e-3, (mine, other)
