"""Suspects: local weights and a real OpenAI-compatible HTTP server (ours, wrapping a tiny model)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from distillguard.detect import score_text
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import load_model
from distillguard.serve import make_server, serve_in_thread
from distillguard.suspects import HTTPSuspect, LocalSuspect, open_suspect


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    loaded = load_model(tiny_model_dir)
    spec = WatermarkSpec(vocab_size=len(loaded.tokenizer), delta=4.0, tokenizer_id=tokenizer_id(loaded.tokenizer))
    key = WatermarkKey.generate(spec)
    log = tmp_path_factory.mktemp("srv") / "api.jsonl"
    srv = make_server(loaded, key=key, accounts={"tok-a": "acct-a"}, log_path=log)
    url = serve_in_thread(srv)
    yield url, key, log, loaded
    srv.shutdown()


def test_http_suspect_generates_watermarked_answers_and_logs(served, monkeypatch):
    url, key, log, loaded = served
    monkeypatch.setenv("DG_TEST_TOKEN", "tok-a")
    s = open_suspect(url, api_key_env="DG_TEST_TOKEN", concurrency=2)
    answers = s.generate(["hello there", "how are you"], max_new_tokens=80, temperature=1.0)
    assert len(answers) == 2 and s.queries == 2
    text = " ".join(answers)
    assert score_text(text, loaded.tokenizer, key.for_account("acct-a")).p_value < 1e-6
    assert score_text(text, loaded.tokenizer, key.for_account("acct-b")).p_value > 1e-3
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["account_id"] for r in rows} == {"acct-a"} and all(r["completion_tokens"] > 0 for r in rows)


def test_http_and_local_logprobs_agree(served):
    url, _, _, loaded = served
    http = HTTPSuspect(url)
    assert http.can_score
    got = http.continuation_logprobs(["abc"], ["defg"])[0]
    local = LocalSuspect(loaded)
    seq = loaded.tokenizer.encode("abcdefg", add_special_tokens=False)
    assert np.isfinite(got) and got < 0
    preds = local.next_token_predictions([seq])
    assert preds[0].shape == (len(seq),)


def test_http_errors_are_one_line(served):
    url, *_ = served
    with pytest.raises(DistillguardError, match="HTTP 404"):
        HTTPSuspect(url.replace("/v1", "/nope"), model="m", retries=0).generate(["x"])
    with pytest.raises(DistillguardError, match="unreachable"):
        HTTPSuspect("http://127.0.0.1:9/v1", model="m", retries=1, timeout=1).generate(["x"])
    with pytest.raises(DistillguardError, match="not an http"):
        HTTPSuspect("ftp://x")


def _garbage_server(status: int, body: bytes, calls: list):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            calls.append(1)
            self.send_response(status if len(calls) < 3 else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_malformed_json_and_retries_on_5xx():
    calls: list = []
    srv = _garbage_server(200, b"<html>not json", calls)
    with pytest.raises(DistillguardError, match="malformed JSON"):
        HTTPSuspect(f"http://127.0.0.1:{srv.server_address[1]}/v1", model="m").generate(["x"])
    srv.shutdown()
    calls = []
    ok = json.dumps({"choices": [{"message": {"content": "fine"}}]}).encode()
    srv = _garbage_server(503, ok, calls)  # two 503s, then 200
    s = HTTPSuspect(f"http://127.0.0.1:{srv.server_address[1]}/v1", model="m", retries=3)
    assert s.generate(["x"]) == ["fine"] and len(calls) == 3
    srv.shutdown()
