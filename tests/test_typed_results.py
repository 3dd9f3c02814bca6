"""Typed results: probe_suspect -> FingerprintResult, investigate -> InvestigationResult (issue 26, item 4).

Each keeps the dict its function returned before as ``to_dict()`` (same keys in the same order, same values,
JSON-ready), so report.json and the HTML pages stay as they were. No model is loaded: the suspects are
text-only fakes, and the logs are simulated.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import distillguard
from distillguard.cli import main
from distillguard.fingerprint import FingerprintResult
from distillguard.fingerprint.api import probe_suspect
from distillguard.fingerprint.probeset import Probe, ProbeSet
from distillguard.fingerprint.stats import calibrated_test
from distillguard.investigation import InvestigationResult, fingerprint_evidence, investigate

ROOT = Path(__file__).resolve().parents[1]

# the keys probe_suspect's dict had, in order (calibrated_test's, null_by_source when the null's sources are
# known, then probe_suspect's own)
FP_KEYS = ["test", "null", "statistic", "t", "null_mean", "null_sd", "null_statistics", "p_value", "log10_p",
           "p_rank", "min_p_rank", "p_exact", "p_floor", "assumption", "calibration_models", "n_probes", "alpha",
           "detected", "indicative", "null_by_source", "mode", "suspect", "teacher", "references",
           "calibration_names", "queries_used", "budget", "partial", "probes_total", "key_fingerprint", "command",
           "probe_file_version", "reference_contrast", "probes", "versions"]
# the keys investigate's dict had, in order (expected, checks, line_power only with a ground truth; _scores,
# the per-account scores DataFrame, only with logs, and never in report.json)
INV_KEYS = ["format", "version", "alpha", "key_fingerprint", "provenance", "logs", "suspects", "complete", "command",
            "versions", "machine", "_scores", "expected", "checks", "line_power", "seconds"]

ANSWERS = {"who are you?": "I am T, made by the teacher lab.", "hi": "Hello from T! How can I help?",
           "2+2?": "The answer is 4, says T."}


class TextSuspect:
    """A text-only suspect: answers from a table (the teacher's answers, or the prompt echoed back)."""

    can_score = False

    def __init__(self, identity: str, answers: dict[str, str] | None = None):
        self.identity, self.answers, self.queries = identity, answers, 0

    def generate(self, prompts, **kw):
        self.queries += len(prompts)
        return [self.answers[p] if self.answers else p for p in prompts]


def _probes(sources: bool = False) -> ProbeSet:
    probes = [Probe(f"p{i}", "real", q, [a], [f"Some other reply {i}."]) for i, (q, a) in enumerate(ANSWERS.items())]
    calib = {"m1": [0.0, 0.1, 0.0], "m2": [0.1, 0.0, 0.05], "m3": [0.05, -0.05, 0.0], "m4": [-0.05, 0.0, 0.1]}
    settings = {"max_new_tokens": 20, "temperature": 0.7, "reference_contrast": "closest"}
    if sources:
        settings["calibration_sources"] = {"m1": "chatgpt", "m2": "chatgpt", "m3": "human", "m4": "human"}
    return ProbeSet(teacher="teacher@test", references=["ref@test"], probes=probes, settings=settings,
                    calibration={"text": calib})


@pytest.mark.parametrize("sources", [False, True])
def test_fingerprint_result_fields_are_the_dict_keys_and_it_round_trips_json(sources):
    res = probe_suspect(_probes(sources), TextSuspect("parrot", ANSWERS), alpha=0.25)
    assert isinstance(res, FingerprintResult)
    d = res.to_dict()
    assert list(d) == [k for k in FP_KEYS if sources or k != "null_by_source"]
    for k, v in d.items():
        assert getattr(res, k) == v, k
    assert (res.null_by_source is None) != sources
    assert res.detected and res.p_rank == pytest.approx(0.2) and res.mode == "text" and res.queries_used == 3
    # calibrated_test's keys come first, as before
    assert list(d)[:19] == list(calibrated_test([1.0], [[0.0], [0.1]]))
    again = json.loads(json.dumps(d))  # JSON-ready as it is: no default= needed
    assert again == d and FingerprintResult.from_dict(again) == res
    # frozen, and to_dict hands out copies
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.detected = False  # type: ignore[misc]
    d["probes"][0]["score"] = 99.0
    assert res.probes[0]["score"] != 99.0
    with pytest.raises(TypeError, match="unknown key"):
        FingerprintResult.from_dict({**res.to_dict(), "extra": 1})


def test_fingerprint_line_and_cli_report_read_the_result(tmp_path):
    ps = _probes()
    res = probe_suspect(ps, TextSuspect("echo"), alpha=0.25)
    assert not res.detected and res.suspect == "echo"
    line = fingerprint_evidence(ps, TextSuspect("echo"), alpha=0.25)
    assert line["line"] == "fingerprint" and line["p_rank"] == res.p_rank and line["statistic"] == res.statistic
    # the fingerprint report is written from to_dict(): the JSON report is the dict, key for key
    from distillguard.report.fingerprint import write_report

    path = write_report(res.to_dict(), tmp_path / "fp.json")
    assert json.loads(path.read_text()) == res.to_dict()
    assert FingerprintResult.from_dict(json.loads(path.read_text())) == res
    # ... and takes the result itself: the same files, byte for byte
    for name in ("fp.json", "fp.html"):
        a = write_report(res.to_dict(), tmp_path / "dict" / name).read_bytes()
        assert write_report(res, tmp_path / "typed" / name).read_bytes() == a


def _logs():
    from distillguard.detect.api_logs import simulate_logs

    logs, _ = simulate_logs(60, 1, hydra_size=4, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
    return logs.drop(columns=["label", "family"])


def test_investigation_result_fields_are_the_dict_keys_and_the_report_is_unchanged(tmp_path):
    from distillguard.detect.api_logs import validate_logs
    from distillguard.report import render_html, write_report

    suspects = {"parrot": TextSuspect("parrot", ANSWERS), "echo": TextSuspect("echo")}
    res = investigate(suspects, probes=_probes(), logs=validate_logs(_logs()), alpha=0.25, target_fpr=0.05,
                      expected={"distilled": ["parrot"], "clean": ["echo"]}, progress=False)
    assert isinstance(res, InvestigationResult) and res.complete
    full = res.to_dict(include_private=True)
    assert list(full) == INV_KEYS
    assert full["_scores"] is res.scores and len(res.scores) == res.logs["accounts"]
    d = res.to_dict()
    assert list(d) == [k for k in INV_KEYS if k != "_scores"]
    for k, v in d.items():
        assert getattr(res, k) == v, k
    assert res.distilled == [n for n, s in d["suspects"].items() if s["verdict"]["distilled"]]
    assert set(res.suspects["parrot"]["lines"]) == {"fingerprint"} and res.line_power and res.checks
    # report.json is to_dict(), byte for byte; the page is rendered from the same document
    js, page = write_report(full, tmp_path)
    assert js.read_text() == json.dumps(d, indent=2) + "\n"  # JSON-ready without a default=
    assert page.read_text() == render_html(full)
    back = InvestigationResult.from_dict(json.loads(js.read_text()))
    assert back == res and back.scores is None and back.to_dict() == d
    # the writer and the summary table take the result itself, with the same output
    js2, page2 = write_report(res, tmp_path / "typed")
    assert js2.read_bytes() == js.read_bytes() and page2.read_bytes() == page.read_bytes()
    from distillguard.investigation import summary_table

    assert summary_table(res) == summary_table(full) and "parrot" in summary_table(res)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.alpha = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError, match="not an investigation"):
        InvestigationResult.from_dict({"format": "distillguard-fingerprint-probes"})


def test_investigation_without_ground_truth_has_no_optional_keys():
    from distillguard.detect.api_logs import validate_logs

    res = investigate(logs=validate_logs(_logs()), target_fpr=0.05, progress=False)
    assert res.expected is None and res.checks is None and res.line_power is None and res.suspects == {}
    assert list(res.to_dict()) == [k for k in INV_KEYS if k not in ("_scores", "expected", "checks", "line_power")]


def test_committed_demo_report_round_trips_byte_for_byte():
    path = ROOT / "examples" / "demo_quick" / "report.json"
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    res = InvestigationResult.from_dict(doc)
    assert list(res.extra) == ["demo", "notes"]  # what the demo adds after investigate()
    assert res.to_dict() == doc and list(res.to_dict()) == list(doc)
    assert json.dumps(res.to_dict(), indent=2) + "\n" == text
    assert res.distilled == ["student"] and res.alpha == doc["alpha"]
    assert all(res.checks.values())


def test_investigate_cli_logs_only_writes_the_result(tmp_path, capsys):
    logs = tmp_path / "logs.csv"
    _logs().to_csv(logs, index=False)
    rc = main(["investigate", "--logs", str(logs), "--target-fpr", "0.05", "--out", str(tmp_path / "inv")])
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "inv" / "report.json").read_text())
    assert list(doc) == [k for k in INV_KEYS if k not in ("_scores", "expected", "checks", "line_power")]
    assert rc == (1 if doc["logs"]["flagged"] else 0) and "report:" in out
    assert InvestigationResult.from_dict(doc).logs == doc["logs"]


def test_exported_from_the_package():
    import distillguard.fingerprint as fp
    import distillguard.investigation as inv

    assert distillguard.FingerprintResult is FingerprintResult and "FingerprintResult" in distillguard.__all__
    assert distillguard.InvestigationResult is InvestigationResult and "InvestigationResult" in distillguard.__all__
    assert "FingerprintResult" in fp.__all__ and "InvestigationResult" in inv.__all__
