"""examples/api_logs.ipynb runs top to bottom (from a temporary copy: nothing in the repository is written)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "api_logs.ipynb"


def test_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    before = NOTEBOOK.read_bytes()
    nb = nbformat.read(copy, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 3  # score distributions, cluster graph, timelines
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "checks passed" in text and "hydra:" in text
    assert NOTEBOOK.read_bytes() == before
