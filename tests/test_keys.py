import hashlib
import hmac
import json
import os
import pickle

import pytest

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec

SPEC = WatermarkSpec(vocab_size=1000, gamma=0.25, delta=2.0)


def test_generate_has_at_least_128_random_bits_and_differs():
    a, b = WatermarkKey.generate(SPEC), WatermarkKey.generate(SPEC)
    assert len(a._master) * 8 >= 128
    assert a.fingerprint != b.fingerprint
    with pytest.raises(DistillguardError):
        WatermarkKey(b"\x00" * 15)


def test_save_is_0600_and_roundtrips(tmp_path):
    key = WatermarkKey.generate(SPEC)
    path = key.save(tmp_path / "k.json")
    assert os.stat(path).st_mode & 0o777 == 0o600
    back = WatermarkKey.load(path)
    assert back == key and back.spec == SPEC
    with pytest.raises(DistillguardError, match="already exists"):
        key.save(path)


def test_secret_never_shown():
    key = WatermarkKey.generate(SPEC)
    secret_hex = key._master.hex()
    sub = key.for_account("acct-1")
    for text in (repr(key), str(key), repr(sub), key.fingerprint, sub.fingerprint):
        assert secret_hex not in text and secret_hex[:16] not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_account_subkey_is_hmac_sha256_of_master():
    key = WatermarkKey(b"\x11" * 32, SPEC)
    sub = key.for_account("acct-42")
    expected = hmac.new(b"\x11" * 32, b"distillguard/account/v1\x00acct-42", hashlib.sha256).digest()
    assert sub._context_secret() == expected
    assert key.for_account("acct-43")._context_secret() != expected
    assert sub.fingerprint.endswith("/acct-42")
    with pytest.raises(DistillguardError):
        sub.for_account("nested")


def test_from_env_json_and_hex(monkeypatch):
    key = WatermarkKey.generate(SPEC)
    monkeypatch.setenv("DG_TEST_KEY", key.to_json())
    assert WatermarkKey.from_env("DG_TEST_KEY") == key
    monkeypatch.setenv("DG_TEST_KEY", "ab" * 16)
    assert WatermarkKey.from_env("DG_TEST_KEY", spec=SPEC).spec == SPEC
    monkeypatch.setenv("DG_TEST_KEY", "not a key")
    with pytest.raises(DistillguardError, match="neither"):
        WatermarkKey.from_env("DG_TEST_KEY")
    monkeypatch.delenv("DG_TEST_KEY")
    with pytest.raises(DistillguardError, match="not set"):
        WatermarkKey.from_env("DG_TEST_KEY")


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "invalid JSON"),
        ('{"format": "other"}', "format marker"),
        ('{"format": "distillguard-key", "secret_hex": "zz"}', "corrupt"),
        ('{"format": "distillguard-key", "secret_hex": "' + "ab" * 16 + '", "spec": {"vocab_size": 10, "bogus": 1}}',
         "unknown fields"),
    ],
)
def test_corrupt_key_files(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(DistillguardError, match=match):
        WatermarkKey.load(path)


def test_unreadable_and_missing_key_file(tmp_path):
    with pytest.raises(DistillguardError, match="does not exist"):
        WatermarkKey.load(tmp_path / "nope.json")
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DistillguardError, match="cannot be read"):
        WatermarkKey.load(path)


def test_open_permissions_warn(tmp_path):
    path = WatermarkKey.generate(SPEC).save(tmp_path / "k.json")
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        WatermarkKey.load(path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(vocab_size=100, seeding="sha"), "unknown seeding"),
        (dict(vocab_size=100, gamma=1.5), "gamma"),
        (dict(vocab_size=1), "vocab_size"),
        (dict(vocab_size=100, context_width=-1), "context_width"),
        (dict(vocab_size=100, seeding="min", context_width=0), "min"),
        (dict(vocab_size=100, num_permutations=3), "power of two"),
    ],
)
def test_spec_validation(kwargs, match):
    with pytest.raises(DistillguardError, match=match):
        WatermarkSpec(**kwargs)


def test_spec_json_roundtrip():
    spec = WatermarkSpec(vocab_size=49152, gamma=0.5, delta=3.0, context_width=4, seeding="min", tokenizer_id="x")
    assert WatermarkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
