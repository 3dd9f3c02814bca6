"""Fingerprint probes on tiny random models: a copy is flagged, independent models are not."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from distillguard.cli import main
from distillguard.errors import DistillguardError
from distillguard.fingerprint.api import build_probes, make_probes, probe_suspect, select_probes
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.stats import calibrated_test
from distillguard.models import LoadedModel
from distillguard.suspects import LocalSuspect

PROMPTS = ["hello there", "what is 2+2?", "who are you", "tell me a joke", "abc def", "the sky is",
           "list 3 fruits", "why?", "good morning", "zxqv", "count to five", "say yes"]


def _suspect(model, tok, name: str) -> LocalSuspect:
    return LocalSuspect(LoadedModel(model, tok, name, f"{name}@test", is_chat=False))


def _lm(vocab: int, seed: int, scale: float = 15.0):
    """A 1-layer Llama with an untied, scaled head: peaked, idiosyncratic next-token distributions."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    m = LlamaForCausalLM(cfg)
    with torch.no_grad():
        m.lm_head.weight.mul_(scale)
        m.lm_head.weight[:3] = 0  # special tokens and <unk> stay unlikely-ish
        m.lm_head.weight[-1] = 0
    return m.eval()


def _copy_of(teacher, vocab: int, seed: int, steps: int = 200) -> torch.nn.Module:
    """A student trained (a few hundred steps) to match the teacher's next-token distributions."""
    student = _lm(vocab, seed=seed, scale=1.0)
    student.train()
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randint(3, vocab, (32, 16), generator=gen)
        with torch.no_grad():
            target = teacher(input_ids=x).logits.log_softmax(-1)
        logq = student(input_ids=x).logits.log_softmax(-1)
        loss = torch.nn.functional.kl_div(logq, target, log_target=True, reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        opt.step()
    student.eval()
    return student


@pytest.fixture(scope="module")
def zoo(char_tokenizer, tmp_path_factory):
    tok, V = char_tokenizer, len(char_tokenizer)
    teacher = _lm(V, seed=0)
    models = {"teacher": teacher, "reference": _lm(V, seed=10), "independent": _lm(V, seed=30),
              "copy": _copy_of(teacher, V, seed=5)}
    for s in range(5):
        models[f"null{s}"] = _lm(V, seed=20 + s)
    sus = {k: _suspect(m, tok, k) for k, m in models.items()}
    cands = [{"id": f"c{i}", "family": "real", "prompt": p} for i, p in enumerate(PROMPTS)]
    ps = build_probes(sus["teacher"], [sus["reference"]], cands, n_probes=8, teacher_samples=2, max_new_tokens=10,
                      temperature=0.3, min_consistency=0.0,
                      calibration={f"null{s}": sus[f"null{s}"] for s in range(5)})
    root = tmp_path_factory.mktemp("fp")
    dirs = {}
    for k in ("copy", "independent", "teacher"):
        dirs[k] = root / k
        models[k].save_pretrained(dirs[k], safe_serialization=True)
        tok.save_pretrained(dirs[k])
    assert len(ps.probes) >= 4
    path = ps.save(root / "probes.json")
    return {"ps": ps, "sus": sus, "dirs": dirs, "path": path, "root": root, "models": models, "tok": tok}


def test_copy_flagged_independent_not(zoo):
    ps, sus = zoo["ps"], zoo["sus"]
    copy = probe_suspect(ps, sus["copy"], mode="logprob")
    indep = probe_suspect(ps, sus["independent"], mode="logprob")
    # 5 calibration models: the exact rank p cannot go below 1/6, so the copy's tiny t-tail p is only indicative
    assert copy.indicative and not copy.detected and copy.p_value < 1e-3, copy.p_value
    assert not indep.detected and not indep.indicative and indep.p_value > 0.01, indep.p_value
    assert copy.min_p_rank == pytest.approx(1 / 6) and copy.p_rank == pytest.approx(1 / 6)
    assert copy.queries_used == sum(len(p.teacher_answers) + len(p.reference_answers) for p in ps.probes)


def test_text_mode_ranks_copy_above_nulls(zoo):
    ps, sus = zoo["ps"], zoo["sus"]
    copy = probe_suspect(ps, sus["copy"], mode="text")
    assert copy.queries_used == len(ps.probes)
    assert copy.statistic > max(copy.null_statistics)
    assert all(p["suspect_answer"] is not None for p in copy.probes)


def test_probe_file_round_trip_and_bad_files(zoo, tmp_path):
    ps = ProbeSet.load(zoo["path"])
    assert ps.to_dict() == zoo["ps"].to_dict()
    data = json.loads(zoo["path"].read_text())
    for change, msg in [({"version": 99}, "format version"), ({"format": "other"}, "not a distillguard"),
                        ({"probes": []}, "no probes")]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(DistillguardError, match=msg):
            ProbeSet.load(bad)
    with pytest.raises(DistillguardError, match="built for teacher"):
        ProbeSet.load(zoo["path"], teacher="another-teacher@sha256:0")


def test_selection_prefers_distinctive_probes():
    cands = [{"id": i, "family": "real", "prompt": i} for i in ("same", "distinct", "noisy")]
    teacher = {"same": ["The answer is four."] * 2, "distinct": ["I am SmolLM, made by HF."] * 2,
               "noisy": ["qwerty zz", "plonk 123"]}
    refs = {"same": ["The answer is four."], "distinct": ["Gemma here, from Google."], "noisy": ["x"]}
    probes = make_probes(cands, teacher, refs)
    chosen = select_probes(probes, 2)
    assert [p.id for p in chosen] == ["distinct"]  # "same" is not distinct, "noisy" not self-consistent
    assert select_probes(probes, 2, strategy="random-real", seed=1)[0].id in {"same", "distinct", "noisy"}


def test_budget_partial_and_too_small(zoo):
    ps, sus = zoo["ps"], zoo["sus"]
    res = probe_suspect(ps, sus["independent"], mode="text", budget=3)
    assert res.partial and res.n_probes == 3 and res.queries_used == 3
    with pytest.raises(DistillguardError, match="query budget 4 covers 1 probe"):
        probe_suspect(ps, sus["independent"], mode="logprob", budget=4)


def test_empty_answers_refused(zoo):
    class Mute:
        identity, queries, can_score = "mute", 0, False

        def generate(self, prompts, **kw):
            return [""] * len(prompts)

    with pytest.raises(DistillguardError, match="only empty answers"):
        probe_suspect(zoo["ps"], Mute())


def test_calibrated_test_is_valid_under_the_null():
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(2000):  # normal model effects + probe noise: the t-prediction p must be uniform-ish
        eff = rng.normal(size=6)[:, None] + rng.normal(size=(6, 16))
        ps.append(calibrated_test(eff[0], eff[1:])["p_value"])
    assert np.mean(np.array(ps) <= 0.05) == pytest.approx(0.05, abs=0.015)


def test_http_suspect_through_real_server(zoo):
    from distillguard.serve import make_server, serve_in_thread
    from distillguard.suspects import open_suspect

    loaded = zoo["sus"]["copy"].loaded
    server = make_server(loaded, port=0)
    url = serve_in_thread(server)
    try:
        s = open_suspect(url, retries=0)
        res = probe_suspect(zoo["ps"], s)  # auto: our server gives echo log-probs
        assert res.mode == "logprob" and res.indicative and res.queries_used > 0
        txt = probe_suspect(zoo["ps"], s, mode="text", budget=3)
        assert txt.queries_used == 3 and txt.partial
    finally:
        server.shutdown()


def test_cli_exit_codes_and_reports(zoo, tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    # 5 calibration models: the copy's exact rank p is 1/6, its Student-t p tiny -> INDICATIVE, exit 0
    assert main(["fingerprint", "probe", "--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]),
                 "--report", str(html)]) == 0
    assert "INDICATIVE" in capsys.readouterr().out
    assert "data:image/png;base64" in html.read_text() and "INDICATIVE" in html.read_text()
    # at an alpha the exact rank p can reach, the same copy is DETECTED: exit 1
    assert main(["fingerprint", "probe", "--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]),
                 "--alpha", "0.2"]) == 1
    assert capsys.readouterr().out.startswith("DETECTED")
    assert main(["fingerprint", "probe", "--probes", str(zoo["path"]), "--suspect",
                 str(zoo["dirs"]["independent"]), "--report", str(js), "--json"]) == 0
    assert json.loads(js.read_text())["probes"][0]["teacher_answer"]
    capsys.readouterr()
    for argv in (["--probes", str(tmp_path / "missing.json"), "--suspect", str(zoo["dirs"]["copy"])],
                 ["--probes", str(zoo["path"]), "--suspect", str(tmp_path / "nope")],
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]), "--budget", "1"],
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]), "--alpha", "1.5"],
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]), "--alpha", "nan"],
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]), "--budget", "0"],
                 # a report over the probe file or into the suspect: refused before anything is read
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]), "--report", str(zoo["path"])],
                 ["--probes", str(zoo["path"]), "--suspect", str(zoo["dirs"]["copy"]),
                  "--report", str(zoo["dirs"]["copy"] / "r.html")]):
        assert main(["fingerprint", "probe", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()  # transformers may draw a loading bar before it
        assert err[-1].startswith("distillguard: error:") and sum("error" in e for e in err) == 1
    assert not (zoo["dirs"]["copy"] / "r.html").exists() and json.loads(zoo["path"].read_text())  # both untouched


def test_answered_candidates_bring_their_reference_and_respect_exclusions():
    from distillguard.fingerprint.candidates import CORPUS_REFERENCE, answered_candidates

    first = answered_candidates(6)
    assert len({c["id"] for c in first}) == 6
    assert all(c["reference"] == CORPUS_REFERENCE and len(c["reference_answers"][0]) >= 20 for c in first)
    again = answered_candidates(6, exclude={first[0]["prompt"]})
    assert first[0]["prompt"] not in {c["prompt"] for c in again}
    assert again[0] == first[1]  # the same stream, minus the excluded prompt


def test_build_with_corpus_references_needs_no_reference_model(zoo):
    sus = zoo["sus"]
    cands = [{"id": f"a{i}", "family": "real", "prompt": p, "reference_answers": [f"recorded answer {i}"],
              "reference": "corpus:test"} for i, p in enumerate(PROMPTS[:6])]
    ps = build_probes(sus["teacher"], [], cands, n_probes=6, teacher_samples=2, max_new_tokens=8,
                      strategy="random-real", calibration={f"null{s}": sus[f"null{s}"] for s in range(3)},
                      calibration_modes=("logprob",))
    assert ps.references == ["corpus:test"]
    assert sorted(p.reference_answers[0] for p in ps.probes) == sorted(c["reference_answers"][0] for c in cands)
    assert len(ps.calibration["logprob"]) == 3
    with pytest.raises(DistillguardError, match="no reference answers"):
        build_probes(sus["teacher"], [], cands + [{"id": "x", "family": "real", "prompt": "hi"}], n_probes=4)


def test_cli_build_without_any_candidates_or_reference(capsys, tmp_path):
    assert main(["fingerprint", "build", "--no-designed", "--out", str(tmp_path / "p.json")]) == 2
    assert "no candidate prompts" in capsys.readouterr().err
    assert main(["fingerprint", "build", "--out", str(tmp_path / "p.json")]) == 2
    assert "--reference" in capsys.readouterr().err


def test_cli_calibrate_swaps_the_null_and_never_touches_the_input(zoo, tmp_path, capsys):
    src, out = zoo["path"], tmp_path / "family.json"
    before = src.read_bytes()
    indep, teacher = str(zoo["dirs"]["independent"]), str(zoo["dirs"]["teacher"])
    assert main(["fingerprint", "calibrate", "--probes", str(src), "--calibrate", indep, "--calibrate", teacher,
                 "--replace", "--modes", "logprob", "--out", str(out)]) == 0
    assert src.read_bytes() == before
    ps = ProbeSet.load(out)
    assert set(ps.calibration) == {"logprob"} and set(ps.calibration["logprob"]) == {indep, teacher}
    assert [p.teacher_answers for p in ps.probes] == [p.teacher_answers for p in zoo["ps"].probes]
    # the verdict now uses the new null: the teacher is one of its two members, so the copy is no outlier
    res = probe_suspect(ps, zoo["sus"]["copy"], mode="logprob")
    assert res.calibration_names == [indep, teacher] and not res.detected
    # without --replace the models join the file's null (5 + 1 in log-prob mode)
    assert main(["fingerprint", "calibrate", "--probes", str(src), "--calibrate", indep, "--modes", "logprob",
                 "--out", str(tmp_path / "more.json")]) == 0
    assert len(ProbeSet.load(tmp_path / "more.json").calibration["logprob"]) == 6
    capsys.readouterr()
    for argv, msg in ((["--calibrate", indep, "--out", str(src)], "never overwritten"),
                      (["--calibrate", indep, "--replace", "--modes", "logprob", "--out", str(out)], "at least 2"),
                      (["--calibrate", indep, "--modes", "bogus", "--out", str(out)], "unknown calibration mode"),
                      (["--calibrate", str(tmp_path / "nope"), "--out", str(out)], "")):
        assert main(["fingerprint", "calibrate", "--probes", str(src), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("distillguard: error:") and msg in err[-1]
