"""ADFP (antidistillation fingerprinting) and ADS (antidistillation sampling) on tiny models built from configs."""

import json

import numpy as np
import pytest
import torch
from conftest import build_tiny_lm
from transformers import LogitsProcessorList

from distillguard.detect.text import score_batch
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel
from distillguard.watermark import ADFPLogitsProcessor, ADSLogitsProcessor, WatermarkLogitsProcessor
from distillguard.watermark.adfp import ProxyRunner, adfp_shift
from distillguard.watermark.ads import ads_direction, direction_path, load_direction, save_direction

V = 997
MODES = [("left", 0), ("left", 1), ("left", 3), ("min", 1), ("min", 4)]

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _key(seed: int = 0, vocab: int = V, **spec) -> WatermarkKey:
    return WatermarkKey(bytes([seed + 1]) * 32, WatermarkSpec(vocab_size=vocab, **spec))


def _logits(rows: int, vocab: int = V, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny(char_tokenizer):
    """A tiny teacher and a tiny proxy of another shape, both with the char tokenizer."""
    n = len(char_tokenizer)
    teacher = LoadedModel(build_tiny_lm(n, seed=0), char_tokenizer, "tiny-teacher", "tiny-teacher", False)
    proxy = LoadedModel(build_tiny_lm(n, seed=1, layers=1, hidden=32), char_tokenizer, "tiny-proxy", "tiny-proxy",
                        False)
    return teacher, proxy


def _tiny_key(tok, seed: int = 0, **spec) -> WatermarkKey:
    return WatermarkKey(bytes([seed + 1]) * 32, WatermarkSpec(vocab_size=len(tok), tokenizer_id=tokenizer_id(tok),
                                                              **spec))


def _prompts(tok, texts=("Hello there", "What is 2+2?", "ab")):
    enc = tok(list(texts), return_tensors="pt", padding=True)
    return enc["input_ids"], enc["attention_mask"]


# -- ADFP: the shift ---------------------------------------------------------------------------------------
def test_shift_sums_to_zero_and_matches_the_formula():
    key = _key(2)
    ids = torch.randint(0, V, (5, 4), generator=torch.Generator().manual_seed(1))
    z = _logits(5)
    proc = ADFPLogitsProcessor(key, lam=7.0)
    out = proc(ids, z.clone())
    shift = (out - z) / 7.0
    assert torch.allclose(shift.sum(dim=1), torch.zeros(5), atol=1e-5)
    q = z.softmax(-1)
    mask = proc.green(ids, 5, z.device)
    green_mass = (q * mask).sum(1, keepdim=True)
    assert torch.allclose(shift, q * (mask - green_mass), atol=1e-5)
    assert torch.allclose(adfp_shift(q, mask).sum(1), torch.zeros(5), atol=1e-6)


@pytest.mark.parametrize("seeding, h", MODES)
def test_green_mask_is_exactly_the_kgw_green_list_per_row_key(seeding, h):
    master = _key(4, context_width=h, seeding=seeding)
    keys = [master.for_account(f"acct-{i}") for i in range(3)] + [master]
    ids = torch.randint(0, V, (4, 6), generator=torch.Generator().manual_seed(h))
    adfp = ADFPLogitsProcessor(keys, lam=1.0)
    kgw = WatermarkLogitsProcessor(keys, delta=1.0)
    assert torch.equal(adfp.green(ids, 4, torch.device("cpu")) > 0, kgw(ids, torch.zeros(4, V)) > 0)
    # row keys act per row: the batched shift equals each row processed alone with its own key
    z = _logits(4, seed=h)
    batched = adfp(ids, z.clone())
    for i, k in enumerate(keys):
        alone = ADFPLogitsProcessor(k, lam=1.0)(ids[i : i + 1], z[i : i + 1].clone())
        assert torch.allclose(batched[i : i + 1], alone, atol=1e-6)


def _tilt(p: torch.Tensor, s: torch.Tensor, c: float) -> torch.Tensor:
    return torch.softmax(p.log() + c * s, dim=-1)


def _kl(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * (a.log() - b.log())).sum())


def _lam_for_kl(p: torch.Tensor, s: torch.Tensor, target: float) -> float:
    lo, hi = 0.0, 1.0
    while _kl(_tilt(p, s, hi), p) < target:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _kl(_tilt(p, s, mid), p) < target else (lo, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("proxy_is_teacher", [True, False])
def test_adfp_raises_the_proxys_green_mass_more_than_kgw_at_equal_kl(proxy_is_teacher):
    """The proxy's green-mass gain from one SGD step on a sampled token is ``eta * E_p'[D]`` (logit-space
    student): at the same KL(p' || p) from the unmarked distribution, ADFP's tilt beats KGW's +delta."""
    key = _key(5)
    ids = torch.randint(0, V, (8, 3), generator=torch.Generator().manual_seed(5))
    z = _logits(8, seed=5)
    proc = ADFPLogitsProcessor(key, lam=1.0)
    mask = proc.green(ids, 8, z.device)
    q = z.softmax(-1) if proxy_is_teacher else _logits(8, seed=6).softmax(-1)
    wins = 0
    for delta in (0.5, 1.0, 2.0, 3.0):
        for i in range(8):
            p, d = z[i].double().softmax(-1), adfp_shift(q[i : i + 1], mask[i : i + 1])[0].double()
            kgw = _tilt(p, mask[i].double(), delta)
            kl = _kl(kgw, p)
            adfp = _tilt(p, d, _lam_for_kl(p, d, kl))
            assert abs(_kl(adfp, p) - kl) < 1e-6 * max(kl, 1e-3)
            gain_kgw, gain_adfp = float((kgw - p) @ d), float((adfp - p) @ d)
            assert gain_adfp >= gain_kgw - 1e-12
            wins += gain_adfp > 1.05 * gain_kgw
    assert wins >= 28  # strictly better in (almost) every context, not only equal


# -- ADFP: proxies -----------------------------------------------------------------------------------------
def test_proxy_runner_kv_cache_matches_a_full_forward_with_left_padding(tiny, char_tokenizer):
    _, proxy = tiny
    ids, _ = _prompts(char_tokenizer)
    runner = ProxyRunner(proxy.model, len(char_tokenizer), pad_token_id=char_tokenizer.pad_token_id)
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        step = runner(ids)
        for row in range(ids.shape[0]):
            unpadded = ids[row][ids[row] != char_tokenizer.pad_token_id][None]
            with torch.no_grad():
                full = proxy.model(unpadded).logits[:, -1].float()
            assert torch.allclose(step[row], full[0], atol=1e-4)
        ids = torch.cat([ids, torch.randint(3, len(char_tokenizer), (ids.shape[0], 1), generator=gen)], dim=1)


def test_adfp_generation_with_a_proxy_is_detected_by_the_unchanged_text_test(tiny, char_tokenizer):
    teacher, proxy = tiny
    key = _tiny_key(char_tokenizer, 3)
    ids, mask = _prompts(char_tokenizer, ["The quick brown fox"] * 4)
    proc = ADFPLogitsProcessor(key, lam=600.0, proxy=proxy, pad_token_id=char_tokenizer.pad_token_id)
    torch.manual_seed(0)
    out = teacher.model.generate(input_ids=ids, attention_mask=mask, do_sample=True, max_new_tokens=120,
                                 min_new_tokens=120, logits_processor=LogitsProcessorList([proc]),
                                 pad_token_id=char_tokenizer.pad_token_id)
    seqs = [row[ids.shape[1]:].tolist() for row in out]
    marked = score_batch(seqs, key)
    other = score_batch(seqs, _tiny_key(char_tokenizer, 9))
    assert min(r.z for r in marked) > 3.0
    assert max(r.z for r in other) < 3.0


# -- ADS ---------------------------------------------------------------------------------------------------
def _direction(proxy, tok):
    seqs = [(tok.encode(t), 3) for t in ("Hello world, how are you?", "2+2=4. The answer is four.")]
    return ads_direction(proxy.model, seqs)[0]


def test_ads_with_lambda_zero_is_plain_sampling_bit_for_bit(tiny, char_tokenizer):
    teacher, proxy = tiny
    g = _direction(proxy, char_tokenizer)
    ids, mask = _prompts(char_tokenizer)
    runs = []
    for processors in ([], [ADSLogitsProcessor(proxy, g, lam=0.0, epsilon=1e-2, temperature=0.7,
                                               teacher_tokenizer=char_tokenizer,
                                               pad_token_id=char_tokenizer.pad_token_id)]):
        torch.manual_seed(11)
        out = teacher.model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=0.7,
                                     top_k=0, max_new_tokens=40, logits_processor=LogitsProcessorList(processors),
                                     pad_token_id=char_tokenizer.pad_token_id, output_scores=True,
                                     return_dict_in_generate=True)
        runs.append(out)
    assert torch.equal(runs[0].sequences, runs[1].sequences)
    assert all(torch.equal(a, b) for a, b in zip(runs[0].scores, runs[1].scores))


def test_ads_shift_is_the_directional_derivative_of_the_proxys_logits(tiny, char_tokenizer):
    import copy

    _, proxy = tiny
    g = _direction(proxy, char_tokenizer)
    ids, _ = _prompts(char_tokenizer, ["Hello there"])
    proc = ADSLogitsProcessor(proxy, g, lam=1.0, epsilon=1e-2, teacher_tokenizer=char_tokenizer)
    exact = []  # a float64 central difference with a tiny step: the directional derivative to ~1e-8
    for sign in (1, -1):
        m = copy.deepcopy(proxy.model).double()
        with torch.no_grad():
            for n, p in m.named_parameters():
                p.add_(sign * 1e-6 * g[n].double())
            exact.append(m(ids).logits[:, -1])
    exact = ((exact[0] - exact[1]) / 2e-6).float()
    d = proc.shift(ids)
    assert torch.allclose(d, exact, atol=1e-2 * float(exact.abs().max()) + 1e-4)
    assert float(d.abs().max()) > 0


def test_ads_changes_sampling_and_composes_additively_with_adfp(tiny, char_tokenizer):
    teacher, proxy = tiny
    g = _direction(proxy, char_tokenizer)
    key = _tiny_key(char_tokenizer, 1)
    ids, _ = _prompts(char_tokenizer)
    z = _logits(ids.shape[0], len(char_tokenizer), seed=2)
    pad = char_tokenizer.pad_token_id

    def ads():
        return ADSLogitsProcessor(proxy, g, lam=2.0, epsilon=1e-2, temperature=0.5, spec=key.spec, pad_token_id=pad)

    def adfp():
        return ADFPLogitsProcessor(key, lam=50.0, proxy=proxy, pad_token_id=pad)

    only_ads = ads()(ids, z.clone()) - z
    only_adfp = adfp()(ids, z.clone()) - z
    both = LogitsProcessorList([adfp(), ads()])(ids, z.clone()) - z
    assert float(only_ads.abs().max()) > 0
    assert torch.allclose(both, only_ads + only_adfp, atol=1e-5)


def test_direction_artefact_round_trip_and_hash_check(tmp_path, tiny, char_tokenizer):
    _, proxy = tiny
    g = _direction(proxy, char_tokenizer)
    path = direction_path(tmp_path / "teacher.key")
    sha = save_direction(g, path, proxy_id="tiny-proxy")
    loaded = load_direction(path, sha)
    assert set(loaded) == set(g) and all(torch.equal(loaded[n], g[n]) for n in g)
    with pytest.raises(DistillguardError, match="SHA-256"):
        load_direction(path, "0" * 64)
    with pytest.raises(DistillguardError, match="already exists"):
        save_direction(g, path)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DistillguardError, match="not a safetensors"):
        load_direction(tmp_path / "bad.safetensors", None)
    spec = _tiny_key(char_tokenizer).spec.replace(mark_scheme="ads", ads_lambda=1.0, ads_epsilon=1e-2,
                                                  ads_direction_sha256=sha, proxy_id="tiny-proxy")
    assert WatermarkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# -- calibration, keys, refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["adfp", "ads", "adfp+ads"])
def test_unmarked_text_stays_calibrated_under_the_new_schemes_keys(scheme):
    fields = {"adfp": dict(adfp_lambda=64.0), "ads": dict(ads_lambda=1.0, ads_epsilon=1e-2,
                                                          ads_direction_sha256="a" * 64)}
    extra = {k: v for part in scheme.split("+") for k, v in fields[part].items()}
    rng = np.random.default_rng(len(scheme) * 7919)
    seqs = [rng.integers(0, 500, 150) for _ in range(4)]
    pvals = []
    for _ in range(300):
        key = WatermarkKey(rng.bytes(32), WatermarkSpec(vocab_size=500, mark_scheme=scheme, **extra))
        pvals += [r.p_value for r in score_batch(seqs, key)]
    pvals = np.array(pvals)
    n = len(pvals)
    for alpha in (0.2, 0.05, 0.01):
        k = int((pvals <= alpha).sum())
        assert k <= alpha * n + 4 * np.sqrt(alpha * (1 - alpha) * n) + 1, (alpha, k, n)
    assert float(np.mean(pvals <= 0.5)) > 0.35  # not degenerate: p-values spread over (0, 1]


def test_old_key_files_load_as_kgw_and_serialise_unchanged(tmp_path):
    old = {"format": "distillguard-key", "version": 1, "secret_hex": "ab" * 32, "account": None,
           "spec": {"vocab_size": 100, "gamma": 0.25, "delta": 2.0, "context_width": 1, "seeding": "left",
                    "tokenizer_id": None, "num_permutations": 16, "scheme": "dg-arc-v1"},
           "fingerprint": "x"}
    path = tmp_path / "old.key"
    path.write_text(json.dumps(old))
    path.chmod(0o600)
    key = WatermarkKey.load(path)
    assert key.spec.mark_scheme == "kgw" and key.spec.adfp_lambda is None and key.spec.is_marked
    assert key.spec.to_dict() == old["spec"]  # a kgw spec writes exactly the old fields
    new = key.with_spec(key.spec.replace(mark_scheme="adfp", adfp_lambda=32.0, proxy_id="teacher"))
    again = WatermarkKey.from_json(new.to_json())
    assert again.spec == new.spec and again.spec.mark_scheme == "adfp"


@pytest.mark.parametrize("fields, match", [
    (dict(mark_scheme="adfp"), "adfp_lambda must be a finite number > 0"),
    (dict(mark_scheme="adfp", adfp_lambda=0.0), "adfp_lambda must be"),
    (dict(mark_scheme="adfp", adfp_lambda=float("nan")), "adfp_lambda must be"),
    (dict(mark_scheme="adfp", adfp_lambda=True), "adfp_lambda must be"),
    (dict(adfp_lambda=2.0), "does not use it"),
    (dict(mark_scheme="ads", ads_lambda=-1.0, ads_epsilon=1e-2, ads_direction_sha256="a" * 64), "ads_lambda"),
    (dict(mark_scheme="ads", ads_lambda=1.0, ads_epsilon=0.0, ads_direction_sha256="a" * 64), "ads_epsilon"),
    (dict(mark_scheme="ads", ads_lambda=1.0, ads_epsilon=1e-2, ads_direction_sha256="xyz"), "64 lowercase hex"),
    (dict(mark_scheme="ads", ads_lambda=1.0, ads_epsilon=1e-2), "64 lowercase hex"),
    (dict(mark_scheme="nope"), "unknown mark scheme"),
    (dict(proxy_id="teacher"), "proxy_id"),
])
def test_bad_spec_fields_are_refused(fields, match):
    with pytest.raises(DistillguardError, match=match):
        WatermarkSpec(vocab_size=100, **fields)


def test_bad_lambda_epsilon_and_proxy_are_refused(tiny, char_tokenizer, tmp_path):
    teacher, proxy = tiny
    key = _tiny_key(char_tokenizer)
    for lam in (-1.0, 0.0, float("inf"), float("nan")):
        with pytest.raises(DistillguardError, match="adfp_lambda"):
            ADFPLogitsProcessor(key, lam=lam)
    with pytest.raises(DistillguardError, match="adfp_lambda"):
        ADFPLogitsProcessor(key)  # no lambda given and none in the spec
    with pytest.raises(DistillguardError, match="proxy must have"):
        ADFPLogitsProcessor(key, lam=1.0, proxy=object())

    class OtherTok:
        def get_vocab(self):
            return {str(i): i for i in range(len(char_tokenizer))}

    other = LoadedModel(proxy.model, OtherTok(), "x", "x", False)
    with pytest.raises(DistillguardError, match="not the teacher's"):
        ADFPLogitsProcessor(key, lam=1.0, proxy=other)
    g = _direction(proxy, char_tokenizer)
    with pytest.raises(DistillguardError, match="not the teacher's"):
        ADSLogitsProcessor(other, g, lam=1.0, epsilon=1e-2, spec=key.spec)
    for lam, eps, match in ((-1.0, 1e-2, "lambda"), (float("nan"), 1e-2, "lambda"), (1.0, 0.0, "epsilon"),
                            (1.0, float("inf"), "epsilon")):
        with pytest.raises(DistillguardError, match=match):
            ADSLogitsProcessor(proxy, g, lam=lam, epsilon=eps, spec=key.spec)
    with pytest.raises(DistillguardError, match="does not fit the proxy"):
        ADSLogitsProcessor(teacher, g, lam=1.0, epsilon=1e-2, spec=key.spec)  # made for the other model
    with pytest.raises(DistillguardError, match="cannot check"):
        ADSLogitsProcessor(proxy, g, lam=1.0, epsilon=1e-2)


# -- the CLI: generate --scheme, ads-direction --------------------------------------------------------------
def _cli(argv, capsys):
    from distillguard.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_generate_adfp_and_adfp_plus_ads(tmp_path, tiny_model_dir, char_tokenizer, capsys):
    model = str(tiny_model_dir)
    assert _cli(["keygen", "--out", str(tmp_path / "random.json"), "--model", model], capsys)[0] == 0
    # A fixed key and sampling seed from here on: on the random char-level model a strong ADFP bias drives the
    # text into loops, so with a fresh random key the number of distinct scored (context, token) pairs -- and
    # so the p-value -- varies from run to run (1 run in 10 missed alpha 1e-5 with 2 x 100 tokens).
    key = _tiny_key(char_tokenizer, seed=5).save(tmp_path / "k.json")
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello there\nwhat is up\nhow are you\ntell me more\n")
    common = ["--key", str(key), "--prompts", str(prompts), "--model", model, "--max-new-tokens", "200",
              "--min-new-tokens", "200", "--temperature", "1.0", "--seed", "0"]
    out = tmp_path / "adfp.jsonl"
    code, _, err = _cli(["generate", *common, "--out", str(out), "--scheme", "adfp", "--lam", "600"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "adfp.jsonl.manifest.json").read_text())
    assert manifest["spec"]["mark_scheme"] == "adfp" and manifest["spec"]["adfp_lambda"] == 600.0
    assert manifest["spec"]["proxy_id"] == "teacher" and "delta" in manifest["spec"]
    code, stdout, _ = _cli(["score-text", "--key", str(key), "--model", model, "--jsonl", str(out), "--json"], capsys)
    assert code == 1 and json.loads(stdout)["detected"]  # the unchanged text test reads the ADFP mark

    held = tmp_path / "held.jsonl"
    assert _cli(["generate", *common, "--out", str(held), "--no-watermark"], capsys)[0] == 0
    code, stdout, err = _cli(["ads-direction", "--key", str(key), "--answers", str(held), "--model", model,
                              "--json"], capsys)
    assert code == 0, err
    sha = json.loads(stdout)["sha256"]
    assert direction_path(key).is_file()
    both = tmp_path / "both.jsonl"
    code, _, err = _cli(["generate", *common, "--out", str(both), "--scheme", "adfp+ads", "--lam", "600",
                         "--ads-lam", "1.0", "--proxy", model], capsys)
    assert code == 0, err
    spec = json.loads((tmp_path / "both.jsonl.manifest.json").read_text())["spec"]
    assert spec["mark_scheme"] == "adfp+ads" and spec["ads_direction_sha256"] == sha and spec["ads_lambda"] == 1.0
    recs = [json.loads(line) for line in both.read_text().splitlines()]
    assert len(recs) == 4 and all(r["watermarked"] for r in recs)


@pytest.mark.parametrize("extra, match", [
    (["--scheme", "adfp"], "needs --lam"),
    (["--scheme", "adfp+ads", "--lam", "8"], "needs --ads-lam"),
    (["--scheme", "ads", "--lam", "1"], "needs the ADS direction"),
    (["--scheme", "kgw", "--lam", "1"], "kgw uses the key's delta"),
    (["--scheme", "adfp", "--lam", "0"], "adfp_lambda must be a finite number > 0"),
    (["--scheme", "adfp", "--lam", "nan"], "--lam"),
    (["--scheme", "ads", "--lam", "1", "--ads-eps", "0"], "--ads-eps"),
    (["--scheme", "wgw"], "--scheme"),
])
def test_cli_generate_refuses_bad_scheme_options(tmp_path, tiny_model_dir, capsys, extra, match):
    key = tmp_path / "k.json"
    assert _cli(["keygen", "--out", str(key), "--model", str(tiny_model_dir)], capsys)[0] == 0
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    argv = ["generate", "--key", str(key), "--prompts", str(prompts), "--out", str(tmp_path / "a.jsonl"),
            "--model", str(tiny_model_dir), *extra]
    try:
        code, _, err = _cli(argv, capsys)
    except SystemExit as exc:  # argparse refusals
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and match in err
    assert not (tmp_path / "a.jsonl").exists()


def test_cli_refuses_a_proxy_with_another_tokenizer(tmp_path, tiny_model_dir, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab={"<unk>": 0, "a": 1, "b": 2}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    other = tmp_path / "other_model"
    build_tiny_lm(3).save_pretrained(other, safe_serialization=True)
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<unk>").save_pretrained(other)
    key = tmp_path / "k.json"
    assert _cli(["keygen", "--out", str(key), "--model", str(tiny_model_dir)], capsys)[0] == 0
    prompts = tmp_path / "p.txt"
    prompts.write_text("hi\n")
    code, _, err = _cli(["generate", "--key", str(key), "--prompts", str(prompts), "--out", str(tmp_path / "a.jsonl"),
                         "--model", str(tiny_model_dir), "--scheme", "adfp", "--lam", "8", "--proxy", str(other)],
                        capsys)
    assert code == 2 and "not the teacher's" in err and not (tmp_path / "a.jsonl").exists()


def test_keygen_scheme_adfp_and_serve_with_adfp_plus_ads(tmp_path, tiny_model_dir, capsys):
    import http.client

    from distillguard.models import load_model
    from distillguard.serve import make_server, serve_in_thread

    path = tmp_path / "k.json"
    code, _, err = _cli(["keygen", "--out", str(path), "--model", str(tiny_model_dir), "--scheme", "adfp",
                         "--lam", "300"], capsys)
    assert code == 0, err
    key = WatermarkKey.load(path)
    assert key.spec.mark_scheme == "adfp" and key.spec.adfp_lambda == 300.0
    code, _, err = _cli(["keygen", "--out", str(tmp_path / "k2.json"), "--vocab-size", "100", "--scheme", "adfp"],
                        capsys)
    assert code == 2 and "needs --lam" in err

    loaded = load_model(tiny_model_dir)
    g = _direction(loaded, loaded.tokenizer)
    sha = save_direction(g, direction_path(path))
    spec = key.spec.replace(mark_scheme="adfp+ads", ads_lambda=1.0, ads_epsilon=1e-2, ads_direction_sha256=sha)
    srv = make_server(loaded, key=key.with_spec(spec), account_from_request=True, max_tokens_cap=32,
                      ads_direction=load_direction(direction_path(path), sha))
    serve_in_thread(srv)
    try:
        body = json.dumps({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "seed": 1}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=60)
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json",
                                                            "X-Account": "acct-7"})
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        conn.close()
        assert resp.status == 200, doc
        assert isinstance(doc["choices"][0]["message"]["content"], str)
    finally:
        srv.shutdown()
        srv.server_close()


def test_adfp_generation_with_account_sub_keys_is_attributed_to_the_right_account(tiny):
    from distillguard.watermark.generate import generate_records

    teacher, _ = tiny
    tok = teacher.tokenizer
    master = _tiny_key(tok, 6, mark_scheme="adfp", adfp_lambda=250.0, proxy_id="teacher")
    records = [{"id": f"r{i}", "prompt": "Tell me a story", "account_id": f"acct-{i % 2}"} for i in range(4)]
    out = list(generate_records(teacher, records, master, batch_size=4, max_new_tokens=160, min_new_tokens=160,
                                progress=False))
    for rec in out:
        own = score_batch([rec["response_ids"]], master.for_account(rec["account_id"]))[0]
        other = score_batch([rec["response_ids"]], master.for_account("acct-1" if rec["account_id"] == "acct-0"
                                                                       else "acct-0"))[0]
        assert rec["key_fingerprint"].endswith(rec["account_id"])
        assert own.scored >= 10 and own.z > 3.0 and own.z > other.z + 2.0, (own, other)


def test_ads_with_a_bf16_proxy_keeps_the_step(tiny, char_tokenizer):
    import copy

    _, proxy = tiny
    g = _direction(proxy, char_tokenizer)
    half = LoadedModel(copy.deepcopy(proxy.model).to(torch.bfloat16), char_tokenizer, "bf16", "bf16", False)
    ids, _ = _prompts(char_tokenizer, ["Hello there"])
    d32 = ADSLogitsProcessor(proxy, g, 1.0, 1e-2, teacher_tokenizer=char_tokenizer).shift(ids)
    d16 = ADSLogitsProcessor(half, g, 1.0, 1e-2, teacher_tokenizer=char_tokenizer).shift(ids)
    assert float(d16.abs().max()) > 0
    assert float(torch.nn.functional.cosine_similarity(d16.flatten(), d32.flatten(), dim=0)) > 0.9


def test_an_unmarked_model_stays_calibrated_under_adfp_keys(tiny, char_tokenizer):
    """Generation-mode radioactivity of a model never trained on marked text, against 200 random ADFP keys."""
    from distillguard.detect.radioactivity import score_generated

    teacher, _ = tiny
    ids, mask = _prompts(char_tokenizer, ["Once upon a time", "The weather today", "Numbers: 1 2 3"])
    torch.manual_seed(3)
    out = teacher.model.generate(input_ids=ids, attention_mask=mask, do_sample=True, max_new_tokens=150,
                                 min_new_tokens=150, pad_token_id=char_tokenizer.pad_token_id)
    answers = char_tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)
    rng = np.random.default_rng(11)
    spec = _tiny_key(char_tokenizer).spec.replace(mark_scheme="adfp", adfp_lambda=64.0, proxy_id="teacher")
    keys = [WatermarkKey(rng.bytes(32), spec) for _ in range(200)]
    scores, _ = score_generated(answers, char_tokenizer, keys)
    p = np.array([s.p_value for s in scores])
    for alpha in (0.1, 0.01):
        assert (p <= alpha).sum() <= alpha * len(p) + 4 * np.sqrt(alpha * len(p)) + 1, (alpha, sorted(p)[:5])
    assert not any(s.detected for s in scores)


def test_dilute_makes_the_marked_share_and_shares_the_diluent_prefix():
    """The dilution benchmark's mixtures: marked first, then the same diluent prefix at every fraction."""
    from distillguard.distill.sampled import diluent_count, dilute

    marked, pool = [f"m{i}" for i in range(8)], [f"d{i}" for i in range(200)]
    for f in (1.0, 0.5, 0.25, 0.05):
        mix = dilute(marked, pool, f)
        assert mix[:8] == marked and mix[8:] == pool[: len(mix) - 8]
        assert len(mix) - 8 == diluent_count(8, f)
        assert abs(8 / len(mix) - f) < 1e-9
    assert dilute(marked[:3], pool, 0.05) == marked[:3] + pool[:57]
    with pytest.raises(ValueError, match="need 152 unmarked"):
        dilute(marked, pool[:10], 0.05)
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            diluent_count(8, bad)
