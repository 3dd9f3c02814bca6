"""Outputs are written atomically (issue 28): a failure mid-write -- an exception, a full disk, Ctrl-C --
leaves an existing output byte-identical and no temporary file behind; success replaces it whole."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import sys
from pathlib import Path

import pytest

from distillguard.cli.common import atomic_output
from distillguard.fingerprint.probeset import Probe, ProbeSet
from distillguard.io import atomic_path, atomic_write_text
from distillguard.report import investigation
from distillguard.report import write_report as report_write_report

OLD = b"the old output, which must survive\n"


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@contextlib.contextmanager
def _disk_full_after(n_bytes: int):
    """Any write that grows a file past ``n_bytes`` fails with EFBIG, as a full disk would fail mid-write
    (Python ignores SIGXFSZ, so the write raises OSError instead of killing the process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


needs_rlimit = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE test is Linux-only")


def _big_probeset(n: int = 200) -> ProbeSet:
    probes = [Probe(f"p{i}", "real", "x" * 200, ["answer " * 40] * 2, ["ref " * 40]) for i in range(n)]
    return ProbeSet(teacher="t", references=["r"], probes=probes)


# ---------------------------------------------------------------- the helper

@pytest.mark.parametrize("error", [OSError("disk full"), ValueError("bad value"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "out.json"
    target.write_bytes(OLD)
    with pytest.raises(type(error)):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp.name.startswith(".")
            with open(tmp, "wb") as fh:
                fh.write(b"half of the new")
            raise error
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_success_replaces_whole_and_keeps_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_bytes(OLD)
    target.chmod(0o600)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) == 0o600
    fresh = atomic_write_text(tmp_path / "a" / "b" / "new.txt", "x")  # missing folders are created
    assert fresh.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out.txt"]


def test_a_writer_that_leaves_a_directory_is_cleaned_up(tmp_path):
    target = tmp_path / "t.parquet"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            raise RuntimeError("a partitioned writer failed")
    assert _snapshot(tmp_path) == {"t.parquet": hashlib.sha256(OLD).hexdigest()}


def test_replacing_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "d", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["d"] and (tmp_path / "d").is_dir()


@needs_rlimit
def test_a_full_disk_mid_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.html"
    target.write_bytes(OLD)
    with pytest.raises(OSError), _disk_full_after(4096):
        atomic_write_text(target, "<p>" * 100_000)
    assert target.read_bytes() == OLD and [p.name for p in tmp_path.iterdir()] == ["out.html"]


def test_the_cli_helper_is_the_same_helper(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_bytes(OLD)
    with pytest.raises(OSError):
        with atomic_output(target) as tmp:
            tmp.write_text("account_id\n")
            raise OSError("no space left")
    assert target.read_bytes() == OLD and len(list(tmp_path.iterdir())) == 1
    with atomic_output(target) as tmp:
        tmp.write_text("account_id\n")
    assert target.read_text() == "account_id\n"


# ---------------------------------------------------------------- ProbeSet.save

@needs_rlimit
def test_probeset_save_full_disk_leaves_the_old_probe_file(tmp_path):
    target = tmp_path / "probes.json"
    small = ProbeSet(teacher="t", references=["r"], probes=[Probe("p", "real", "hi", ["a"], ["b"])])
    small.save(target)
    before = _snapshot(tmp_path)
    with pytest.raises(OSError), _disk_full_after(8192):
        _big_probeset().save(target)
    assert _snapshot(tmp_path) == before
    assert ProbeSet.load(target).probes[0].id == "p"
    _big_probeset().save(target)  # and without the limit it is replaced whole
    assert len(ProbeSet.load(target).probes) == 200 and len(list(tmp_path.iterdir())) == 1


def test_probeset_save_unserialisable_leaves_the_old_file(tmp_path):
    target = tmp_path / "probes.json"
    target.write_bytes(OLD)
    bad = ProbeSet(teacher="t", references=["r"], probes=[], settings={"oops": object()})
    with pytest.raises(TypeError):
        bad.save(target)
    assert target.read_bytes() == OLD and len(list(tmp_path.iterdir())) == 1


# ---------------------------------------------------------------- write_report (report.json + report.html)

DOC = {"alpha": 1e-3, "logs": None, "suspects": {}, "complete": True}


def _old_report(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_bytes(b'{"old": true}\n')
    (folder / "report.html").write_bytes(b"<html>old</html>\n")
    (folder / "notes.txt").write_bytes(b"mine\n")
    return _snapshot(folder)


def test_write_report_render_failure_leaves_both_old_files(tmp_path, monkeypatch):
    before = _old_report(tmp_path / "inv")

    def boom(doc):
        raise RuntimeError("a figure failed to render")

    monkeypatch.setattr(investigation, "render_html", boom)
    with pytest.raises(RuntimeError):
        report_write_report(DOC, tmp_path / "inv")
    assert _snapshot(tmp_path / "inv") == before


def test_write_report_failure_while_writing_the_page_leaves_both_old_files(tmp_path, monkeypatch):
    before = _old_report(tmp_path / "inv")
    real_write_text = Path.write_text

    def write_text(self, data, *a, **k):
        if self.suffix == ".html":
            real_write_text(self, data[: len(data) // 2], *a, **k)
            raise OSError(28, "No space left on device")
        return real_write_text(self, data, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(OSError):
        report_write_report(DOC, tmp_path / "inv")
    assert _snapshot(tmp_path / "inv") == before


@needs_rlimit
def test_write_report_full_disk_leaves_both_old_files(tmp_path, monkeypatch):
    before = _old_report(tmp_path / "inv")
    monkeypatch.setattr(investigation, "render_html", lambda doc: "<html>" + "x" * 200_000 + "</html>")
    with pytest.raises(OSError), _disk_full_after(16_384):
        report_write_report(DOC, tmp_path / "inv")
    assert _snapshot(tmp_path / "inv") == before


def test_write_report_incomplete_doc_writes_nothing(tmp_path):
    before = _old_report(tmp_path / "inv")
    with pytest.raises(ValueError, match="did not finish"):
        report_write_report({**DOC, "complete": False}, tmp_path / "inv")
    assert _snapshot(tmp_path / "inv") == before


def test_write_report_success_replaces_both(tmp_path):
    _old_report(tmp_path / "inv")
    js, page = report_write_report(DOC, tmp_path / "inv")
    assert js.read_text().startswith("{") and "<html" in page.read_text()
    assert sorted(os.listdir(tmp_path / "inv")) == ["notes.txt", "report.html", "report.json"]
