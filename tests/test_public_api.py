"""The package's public API: the names a user needs, importable from ``distillguard`` itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

import distillguard


def test_every_public_name_resolves_to_its_definition():
    for name in distillguard.__all__:
        obj = getattr(distillguard, name)
        assert obj is not None, name
        if name != "__version__":
            assert getattr(obj, "__name__", name) == name, name
    assert set(distillguard.__all__) <= set(dir(distillguard))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        distillguard.no_such_thing  # noqa: B018


def test_investigate_is_the_function_even_after_its_module_is_imported():
    import distillguard.investigation

    assert callable(distillguard.investigate) and distillguard.investigate is distillguard.investigation.investigate


def test_import_is_light():
    code = "import sys, distillguard; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
