"""One ``SuspectLike`` protocol: what every function that takes a model relies on, satisfied by our suspects
and by any object with the same members."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import distillguard
from distillguard.errors import DistillguardError
from distillguard.suspects import HTTPSuspect, LocalSuspect, Suspect, SuspectLike, open_suspect

PACKAGE = Path(distillguard.__file__).parent
# where a model under test is taken: every parameter that receives one is annotated with the protocol
ANNOTATED = ["detect/radioactivity", "fingerprint", "investigation"]
# parameter names that always receive a model under test there (others, e.g. ``teacher``, are listed below)
MODEL_PARAMS = {"suspect", "suspects", "model"}


class DuckSuspect:
    """A client of another API that only generates: no base class, the protocol's members only."""

    identity = "duck://model"
    tokenizer = None
    queries = 0
    can_read = False
    can_score = False

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.7, seed=0):
        self.queries += len(prompts)
        return [p[::-1] for p in prompts]

    def next_token_predictions(self, sequences, *, batch_size=8):
        raise DistillguardError(f"{self.identity}: no next-token predictions")

    def continuation_logprobs(self, prompts, continuations):
        raise DistillguardError(f"{self.identity}: no log-probabilities")


def test_local_suspect_satisfies_the_protocol(tiny_model_dir):
    s = LocalSuspect.load(tiny_model_dir)
    assert isinstance(s, SuspectLike) and isinstance(open_suspect(tiny_model_dir), SuspectLike)


def test_http_suspect_satisfies_the_protocol_without_a_request():
    s = HTTPSuspect("http://127.0.0.1:9/v1", model="m", retries=0)

    def no_request(*args, **kwargs):
        raise AssertionError("isinstance() must not ask the suspect anything")

    s._request = no_request  # can_score is a property that asks the server: the check must not evaluate it
    assert isinstance(s, SuspectLike) and s.queries == 0 and s._logprobs_ok is None
    assert isinstance(open_suspect("http://127.0.0.1:9/v1", model="m"), SuspectLike)


def test_a_duck_typed_object_satisfies_the_protocol_and_is_accepted():
    from distillguard.detect.radioactivity import can_read
    from distillguard.fingerprint.answers import sample_answers
    from distillguard.fingerprint.api import resolve_mode

    duck = DuckSuspect()
    assert isinstance(duck, SuspectLike) and not isinstance(duck, Suspect)
    assert resolve_mode(duck, "auto") == "text" and can_read(duck, None) is False
    assert sample_answers(duck, [{"id": "a", "prompt": "hi"}]) == {"a": ["ih"]} and duck.queries == 1


def test_objects_missing_a_member_do_not():
    class GenerateOnly:
        identity = "g"

        def generate(self, prompts, **kwargs):
            return list(prompts)

    assert not isinstance(GenerateOnly(), SuspectLike)
    assert not isinstance("gemma3-270m", SuspectLike)


def test_the_base_class_declares_every_member_of_the_protocol():
    members = {name for name in dir(SuspectLike) if not name.startswith("_")} | set(SuspectLike.__annotations__)
    assert members <= set(dir(Suspect)), members - set(dir(Suspect))


def _model_params():
    """``(file, function, parameter, annotation)`` of every parameter that receives a model under test."""
    for folder in ANNOTATED:
        for path in sorted((PACKAGE / folder).rglob("*.py")) if (PACKAGE / folder).is_dir() else []:
            rel = path.relative_to(PACKAGE).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                    for a in args:
                        if a.arg in MODEL_PARAMS:
                            yield rel, node.name, a.arg, ast.unparse(a.annotation) if a.annotation else None


def test_every_signature_that_takes_a_model_uses_the_protocol():
    found = list(_model_params())
    assert len(found) >= 15, found  # the scan sees the detectors, the fingerprint and the investigation
    wrong = [f for f in found if f[3] is None or "SuspectLike" not in f[3]]
    assert not wrong, wrong


@pytest.mark.parametrize("func, param", [
    ("distillguard.detect.radioactivity:reading_test", "suspect"),
    ("distillguard.detect.radioactivity:generation_test", "suspect"),
    ("distillguard.fingerprint.api:probe_suspect", "suspect"),
    ("distillguard.fingerprint.api:build_probes", "teacher"),
    ("distillguard.fingerprint.api:build_probes", "references"),
    ("distillguard.fingerprint.api:build_probes", "panel"),
    ("distillguard.fingerprint.api:build_probes", "calibration"),
    ("distillguard.investigation:investigate", "suspects"),
])
def test_public_entry_points_name_the_protocol(func, param):
    import importlib

    module, name = func.split(":")
    annotation = inspect.signature(getattr(importlib.import_module(module), name)).parameters[param].annotation
    assert "SuspectLike" in str(annotation)


def test_the_reading_reference_model_uses_the_protocol():
    from distillguard.detect.radioactivity import ReadingOptions

    assert "SuspectLike" in str(ReadingOptions.__dataclass_fields__["reference"].type)
