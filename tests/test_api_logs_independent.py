"""benchmarks/api_logs_independent.py: reading the CLI's flags against labels it never saw."""

import pandas as pd
import pytest
from conftest import load_benchmark_script


@pytest.fixture(scope="module")
def mod():
    yield from load_benchmark_script("api_logs_independent")


def _labels():
    rows = [("h1", 1, "taxonomy", ""), ("h2", 1, "taxonomy", ""), ("c1", 1, "campaign", "camp-0"),
            ("c2", 1, "campaign", "camp-0"), ("c3", 1, "campaign", "camp-0"), ("b1", 0, "human", ""),
            ("b2", 0, "human", ""), ("b3", 0, "reseller", ""), ("o1", 0, "onboarding", "onb-0"),
            ("o2", 0, "onboarding", "onb-0")]
    return pd.DataFrame(rows, columns=["account_id", "label", "family", "campaign_id"])


def test_evaluate(mod):
    lab = _labels()
    flagged = {"h1", "c1", "c2", "b3"}
    scores = pd.DataFrame({"account_id": lab["account_id"],
                           "score": [9, 1, 8, 7, 2, 0, 1, 6, 0.5, 0.2],
                           "flag": lab["account_id"].isin(flagged)})
    r = mod.evaluate(scores.sample(frac=1, random_state=0), lab)   # order of the CLI's rows must not matter
    assert r["tpr"] == pytest.approx(3 / 5)
    assert r["realised_fpr"]["flagged"] == 1 and r["realised_fpr"]["benign"] == 5
    lo, hi = r["realised_fpr"]["ci95"]
    assert 0 < lo < 0.2 < hi < 1
    assert r["families"]["campaign"] == {"label": 1, "n": 3, "flagged": 2}
    assert r["families"]["reseller"]["flagged"] == 1 and r["families"]["human"]["flagged"] == 0
    assert r["campaigns"] == {"camp-0": {"label": 1, "n": 3, "flagged": 2}, "onb-0": {"label": 0, "n": 2, "flagged": 0}}
    assert 0.5 < r["auroc"] <= 1


def test_evaluate_refuses_accounts_without_labels(mod):
    lab = _labels()
    scores = pd.DataFrame({"account_id": ["h1", "zz"], "score": [1.0, 2.0], "flag": [True, False]})
    with pytest.raises(SystemExit, match="missing from labels"):
        mod.evaluate(scores, lab)


def test_render_names_the_largest_harvesting_campaign(mod):
    lab = _labels()
    scores = pd.DataFrame({"account_id": lab["account_id"], "score": range(10, 0, -1),
                           "flag": [True] * 3 + [False] * 7})
    ev = mod.evaluate(scores, lab)
    ev.update(seconds=1.0, exit_code=1)
    rec = mod.new_record("benchmarks/api_logs_independent.py", ["--seed", "1"], seed=1, held_out=False,
                         rows=100, accounts=10, harvesters=5, reference_rows=50, reference_accounts=4)
    for mode in ("with_reference", "without_reference"):
        rec[mode] = {"0.001": ev, "0.01": ev}
    md = mod.render(rec)
    assert "camp-0: 1/3" in md and "not held out" in md and "| taxonomy | harvester | 2 |" in md


def test_a_refusal_is_one_line_and_exit_code_2(mod, tmp_path, capsys):
    assert mod.main(["--seed", "1001", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no manifest.json, scored.parquet" in capsys.readouterr().err
    for f in ("scored.parquet", "reference.parquet", "labels.csv"):
        (tmp_path / f).write_text("")
    (tmp_path / "manifest.json").write_text('{"seed": 7}')
    assert mod.main(["--seed", "1001", "--data", str(tmp_path), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path} holds seed 7, not 1001\n"
    assert not (tmp_path / "res").exists()
