"""`generate --out` never destroys a file that is not its own output, and resume never drops a record (issue 28)."""

from __future__ import annotations

import hashlib
import json

import pytest

from distillguard.cli import main
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel
from distillguard.watermark.generate import generate_jsonl, manifest_path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error_line(err):
    return err.count("\n") == 1 and err.startswith("distillguard: error:") and "Traceback" not in err


@pytest.fixture()
def key(char_tokenizer):
    spec = WatermarkSpec(vocab_size=len(char_tokenizer), delta=4.0, tokenizer_id=tokenizer_id(char_tokenizer))
    return WatermarkKey.generate(spec)


@pytest.fixture()
def key_file(tmp_path, key):
    return key.save(tmp_path / "k.key")


@pytest.fixture()
def prompts(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("hello there\nwhat is up\nthird one\n")
    return path


@pytest.fixture()
def no_heavy_work(monkeypatch):
    """Record any model load or ShareGPT read (a raise would be turned into exit 2 by main, hiding the call)."""
    import distillguard.data
    import distillguard.models

    calls: list[str] = []

    def load_model(*a, **k):
        calls.append("load_model")
        raise RuntimeError("the model must not be loaded")

    def sharegpt_prompts(*a, **k):
        calls.append("sharegpt_prompts")
        raise RuntimeError("ShareGPT must not be read")

    monkeypatch.setattr(distillguard.models, "load_model", load_model)
    monkeypatch.setattr(distillguard.data, "sharegpt_prompts", sharegpt_prompts)
    return calls


@pytest.fixture()
def tiny(char_tokenizer):
    from conftest import build_tiny_lm

    model = build_tiny_lm(len(char_tokenizer))
    return LoadedModel(model=model, tokenizer=char_tokenizer, source="tiny", identity="tiny@sha256:000000000000",
                       is_chat=False)


def _recs(n, start=0):
    return [{"id": f"p{i}", "prompt": f"prompt number {i}"} for i in range(start, start + n)]


def _gen(tiny, recs, out, key, **kw):
    kw = {"batch_size": 2, "max_new_tokens": 6, "progress": False, **kw}
    return generate_jsonl(tiny, recs, out, key, **kw)


def _ids(path):
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


# -- the CLI refuses a foreign --out before loading anything -----------------------------------------------
def _target(kind, tmp_path, key_file, prompts):
    if kind == "key":
        return key_file
    if kind == "prompts":
        return prompts
    path = tmp_path / ("api_log.csv" if kind == "api-log" else "other.jsonl")
    if kind == "api-log":
        path.write_text("timestamp,account_id,prompt,response\n2024-01-01T00:00:00,acct-1,hi,hello\n")
    else:  # records that even look like generate output, but no manifest says this command made them
        path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": "x", "response": "y"}) + "\n" for i in (1, 2)))
    return path


@pytest.mark.parametrize("kind, source", [(k, s) for k in ("key", "prompts", "api-log", "other-jsonl")
                                           for s in ("prompts", "sharegpt") if (k, s) != ("prompts", "sharegpt")])
def test_foreign_out_refused_untouched_before_loading(kind, source, tmp_path, key_file, prompts, no_heavy_work,
                                                      capsys):
    target = _target(kind, tmp_path, key_file, prompts)
    before = _sha(target)
    src = ["--prompts", prompts] if source == "prompts" else ["--sharegpt", "4"]
    code, _, err = _run(["generate", "--key", key_file, *src, "--out", target], capsys)
    assert code == 2 and _one_error_line(err), err
    assert _sha(target) == before
    assert not manifest_path(target).exists()
    assert no_heavy_work == []
    if kind in ("key", "prompts"):
        assert f"the {kind} file" in err
    else:
        assert "not the output of this generate command" in err and "choose another --out" in err


def test_key_file_refused_also_through_its_own_path_spelling(tmp_path, key_file, prompts, no_heavy_work, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _sha(key_file)
    code, _, err = _run(["generate", "--key", key_file, "--prompts", prompts, "--out", "./k.key"], capsys)
    assert code == 2 and _one_error_line(err) and _sha(key_file) == before and no_heavy_work == []


def test_out_in_missing_folder_or_a_directory(tmp_path, key_file, prompts, no_heavy_work, capsys):
    missing = tmp_path / "nope" / "a.jsonl"
    code, _, err = _run(["generate", "--key", key_file, "--prompts", prompts, "--out", missing], capsys)
    assert code == 2 and _one_error_line(err) and "does not exist" in err
    assert not missing.parent.exists()
    code, _, err = _run(["generate", "--key", key_file, "--prompts", prompts, "--out", tmp_path], capsys)
    assert code == 2 and _one_error_line(err) and "directory" in err
    assert no_heavy_work == []


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--max-new-tokens", "0"], "--max-new-tokens"),
        (["--min-new-tokens", "-1"], "--min-new-tokens"),
        (["--max-new-tokens", "4", "--min-new-tokens", "5"], "--min-new-tokens"),
        (["--temperature", "0"], "--temperature"),
        (["--temperature", "-0.5"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        (["--temperature", "inf"], "--temperature"),
    ],
)
def test_bad_numbers_refused_before_loading(extra, match, tmp_path, key_file, prompts, no_heavy_work, capsys):
    out = tmp_path / "a.jsonl"
    code, _, err = _run(["generate", "--key", key_file, "--prompts", prompts, "--out", out, *extra], capsys)
    assert code == 2 and _one_error_line(err) and match in err
    assert not out.exists() and no_heavy_work == []


def test_sharegpt_zero_refused_before_reading(tmp_path, key_file, no_heavy_work, capsys):
    code, _, err = _run(["generate", "--key", key_file, "--sharegpt", "0", "--out", tmp_path / "a.jsonl"], capsys)
    assert code == 2 and _one_error_line(err) and "--sharegpt" in err and no_heavy_work == []


def test_cli_resume_with_other_settings_refused_before_loading(tmp_path, tiny_model_dir, key_file, prompts,
                                                               monkeypatch, capsys):
    out = tmp_path / "a.jsonl"
    args = ["generate", "--key", key_file, "--prompts", prompts, "--out", out, "--model", tiny_model_dir,
            "--max-new-tokens", "6", "--batch-size", "2", "--json"]
    code, stdout, _ = _run(args, capsys)
    assert code == 0 and json.loads(stdout)["generated"] == 3
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["format"] == "distillguard-generate" and manifest["settings"]["max_new_tokens"] == 6
    assert manifest["model"].startswith(str(tiny_model_dir))
    before = _sha(out)

    import distillguard.models

    calls = []
    monkeypatch.setattr(distillguard.models, "load_model", lambda *a, **k: calls.append(1))
    code, _, err = _run([*args[:-5], "--max-new-tokens", "7", "--batch-size", "2"], capsys)
    assert code == 2 and _one_error_line(err) and "max_new_tokens 6 there, 7 now" in err
    other = WatermarkKey.generate(WatermarkKey.load(key_file).spec).save(tmp_path / "other.key")
    code, _, err = _run([*args[:2], other, *args[3:]], capsys)
    assert code == 2 and _one_error_line(err) and "key" in err
    code, _, err = _run([*args[:1], "--no-watermark", *args[3:]], capsys)
    assert code == 2 and _one_error_line(err)
    assert _sha(out) == before and calls == []


def test_greedy_ignores_temperature(tmp_path, tiny_model_dir, key_file, prompts, capsys):
    out = tmp_path / "a.jsonl"
    code, _, err = _run(["generate", "--key", key_file, "--prompts", prompts, "--out", out, "--model",
                         tiny_model_dir, "--max-new-tokens", "4", "--greedy", "--temperature", "0"], capsys)
    assert code == 0, err
    assert _ids(out) == ["p1", "p2", "p3"]


# -- the library: manifest and resume ----------------------------------------------------------------------
def test_manifest_written_atomically_without_the_secret(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    stats = _gen(tiny, _recs(3), out, key, temperature=0.9, seed=3)
    assert stats == {"total": 3, "skipped": 0, "generated": 3}
    mpath = tmp_path / "a.jsonl.manifest.json"
    assert manifest_path(out) == mpath
    text = mpath.read_text()
    doc = json.loads(text)
    assert doc["format"] == "distillguard-generate" and doc["version"] == 1
    assert doc["key_fingerprint"] == key.fingerprint and doc["spec"] == key.require_spec().to_dict()
    assert doc["model"] == tiny.identity
    assert doc["settings"] == {"max_new_tokens": 6, "min_new_tokens": 0, "do_sample": True, "temperature": 0.9,
                               "top_k": 0, "seed": 3, "batch_size": 2}
    assert key._master.hex() not in text
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_no_watermark_manifest_has_null_key(tmp_path, tiny):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(2), out, None)
    doc = json.loads(manifest_path(out).read_text())
    assert doc["key_fingerprint"] is None and doc["spec"] is None


def test_resume_appends_only_missing_ids_and_keeps_every_record(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(3), out, key)
    before = out.read_bytes()
    stats = _gen(tiny, _recs(5), out, key)  # two more prompts
    assert stats == {"total": 5, "skipped": 3, "generated": 2}
    after = out.read_bytes()
    assert after.startswith(before)
    assert _ids(out) == ["p0", "p1", "p2", "p3", "p4"]
    assert _gen(tiny, _recs(5), out, key)["generated"] == 0 and out.read_bytes() == after


def test_corrupted_middle_line_refused_file_unchanged(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(4), out, key)
    lines = out.read_text().splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"  # a broken record in the middle, valid ones after it
    out.write_text("".join(lines))
    before = _sha(out)
    with pytest.raises(DistillguardError, match=r"a\.jsonl:2: not a generate record"):
        _gen(tiny, _recs(6), out, key)
    assert _sha(out) == before


@pytest.mark.parametrize("bad", ["\n", "[1, 2]\n", '{"prompt": "no id"}\n', "\udcff\n"])
def test_any_invalid_complete_line_refused(bad, tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(2), out, key)
    raw = out.read_bytes() + bad.encode("utf-8", "surrogateescape") + out.read_bytes().splitlines(True)[0]
    out.write_bytes(raw)
    with pytest.raises(DistillguardError, match=r":3: not a generate record"):
        _gen(tiny, _recs(2), out, key)
    assert out.read_bytes() == raw


def test_torn_last_line_dropped_and_regenerated(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(4), out, key)
    lines = out.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:3])
    out.write_bytes(kept + lines[3][:20])  # killed while writing the 4th record
    stats = _gen(tiny, _recs(4), out, key)
    assert stats == {"total": 4, "skipped": 3, "generated": 1}
    assert out.read_bytes().startswith(kept)
    assert _ids(out) == ["p0", "p1", "p2", "p3"]


def test_torn_line_that_parses_is_still_regenerated_once(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(3), out, key)
    out.write_bytes(out.read_bytes()[:-1])  # the final newline never reached the disk
    _gen(tiny, _recs(3), out, key)
    assert _ids(out) == ["p0", "p1", "p2"]


@pytest.mark.parametrize("change", ["key", "no-watermark", "spec", "model", "max_new_tokens", "temperature",
                                    "seed", "batch_size", "greedy"])
def test_resume_with_other_key_model_or_settings_refused(change, tmp_path, tiny, key):
    import dataclasses

    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(2), out, key)
    before, mbefore = _sha(out), _sha(manifest_path(out))
    other_key, kw, loaded = key, {}, tiny
    if change == "key":
        other_key = WatermarkKey.generate(key.spec)
    elif change == "no-watermark":
        other_key = None
    elif change == "spec":
        other_key = key.with_spec(key.spec.replace(delta=1.0))
    elif change == "model":
        loaded = dataclasses.replace(tiny, identity="other@sha256:111111111111")
    elif change == "greedy":
        kw = {"do_sample": False}
    else:
        kw = {change: {"max_new_tokens": 7, "temperature": 0.5, "seed": 1, "batch_size": 3}[change]}
    with pytest.raises(DistillguardError, match="another key, model or settings.*choose another --out"):
        _gen(loaded, _recs(4), out, other_key, **kw)
    assert _sha(out) == before and _sha(manifest_path(out)) == mbefore


def test_existing_empty_file_without_manifest_is_used(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    out.write_bytes(b"")
    assert _gen(tiny, _recs(2), out, key)["generated"] == 2
    assert manifest_path(out).exists() and _ids(out) == ["p0", "p1"]


def test_existing_output_without_manifest_refused(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    _gen(tiny, _recs(2), out, key)
    manifest_path(out).unlink()
    before = _sha(out)
    with pytest.raises(DistillguardError, match="not the output of this generate command"):
        _gen(tiny, _recs(3), out, key)
    assert _sha(out) == before and not manifest_path(out).exists()


def test_foreign_file_at_manifest_path_not_overwritten(tmp_path, tiny, key):
    out = tmp_path / "a.jsonl"
    mpath = manifest_path(out)
    mpath.write_text('{"something": "else"}\n')
    before = _sha(mpath)
    with pytest.raises(DistillguardError, match="not a distillguard-generate manifest"):
        _gen(tiny, _recs(2), out, key)
    assert _sha(mpath) == before and not out.exists()
