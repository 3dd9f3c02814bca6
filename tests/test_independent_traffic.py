"""benchmarks/independent_logs.py: an independent traffic simulator (small size), its files and its contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import load_benchmark_script

SEED = 11


@pytest.fixture(scope="module")
def sim():
    yield from load_benchmark_script("independent_logs")


@pytest.fixture(scope="module")
def runs(sim, tmp_path_factory):
    """Two runs with the same seed and one with another seed, all at the small size."""
    base = tmp_path_factory.mktemp("indep")
    out = {}
    for name, seed in (("a", SEED), ("b", SEED), ("c", SEED + 1)):
        sim.generate(seed, base / name, small=True)
        out[name] = base / name
    return out


def _read(d: Path):
    return (pd.read_parquet(d / "scored.parquet"), pd.read_parquet(d / "reference.parquet"),
            pd.read_csv(d / "labels.csv", keep_default_na=False), json.loads((d / "manifest.json").read_text()))


def test_files_load_with_the_project_loader(runs):
    import distillguard

    for name in ("scored.parquet", "reference.parquet"):
        df = distillguard.load_logs(runs["a"] / name)
        assert len(df) > 1000
        for col in ("timestamp", "account_id", "prompt", "prompt_tokens", "completion_tokens", "ip", "user_agent",
                    "model", "request_id", "org_id", "status", "max_tokens"):
            assert col in df.columns, col
        assert (df["prompt_tokens"] >= 0).all() and (df["completion_tokens"] >= 0).all()


def test_schema_and_windows(runs):
    scored, ref, _, man = _read(runs["a"])
    assert "label" not in scored.columns and "family" not in scored.columns
    assert str(scored["timestamp"].dt.tz) == "UTC"
    assert scored["request_id"].is_unique and ref["request_id"].is_unique
    assert not set(scored["request_id"]) & set(ref["request_id"])
    start = pd.Timestamp(man["params"]["period"]["scored_start"])
    end = pd.Timestamp(man["params"]["period"]["scored_end"])
    assert scored["timestamp"].min() >= start and scored["timestamp"].max() < end
    assert ref["timestamp"].max() < start and ref["timestamp"].min() >= start - pd.Timedelta(days=7)
    assert scored["timestamp"].is_monotonic_increasing
    assert set(scored["status"]) <= {"200", "400", "429", "500", "529"}
    assert (scored.loc[scored["status"] != "200", "completion_tokens"] == 0).all()
    mt = scored["max_tokens"]
    assert mt.isna().any() and mt.notna().any()
    capped = scored[mt.notna()]
    assert (capped["completion_tokens"] <= capped["max_tokens"]).all()
    assert man["sizes"]["scored_rows"] == len(scored) and man["sizes"]["reference_rows"] == len(ref)


def test_labels_cover_exactly_the_scored_accounts(sim, runs):
    scored, _, labels, _ = _read(runs["a"])
    assert list(labels.columns) == ["account_id", "label", "family", "campaign_id"]
    assert labels["account_id"].is_unique
    assert set(labels["account_id"]) == set(scored["account_id"])
    harv = labels["family"].isin(sim.HARVESTER_FAMILIES)
    assert (labels["label"] == harv.astype(int)).all()
    assert ((labels["campaign_id"] != "") == (labels["family"] == "proxy_campaign")).all()


def test_family_counts_as_configured(sim, runs):
    _, _, labels, man = _read(runs["a"])
    want = sim.family_counts(small=True)
    assert labels["family"].value_counts().to_dict() == want
    assert man["family_accounts"] == want
    assert man["configured_counts"] == want
    full = sim.family_counts()
    assert sum(full[f] for f in sim.HARVESTER_FAMILIES) == 505
    assert 3000 <= sum(full[f] for f in sim.BENIGN_FAMILIES) <= 3200


def test_reference_holds_no_harvester(sim, runs):
    _, ref, labels, man = _read(runs["a"])
    harvesters = set(labels.loc[labels["label"] == 1, "account_id"])
    assert not harvesters & set(ref["account_id"])
    assert set(man["reference_family_accounts"]) <= set(sim.BENIGN_FAMILIES)
    # the reference shares account ids with the scored window for part of the benign accounts only
    shared = set(ref["account_id"]) & set(labels["account_id"])
    assert 0 < len(shared) < (labels["label"] == 0).sum()


def test_same_seed_same_files(runs):
    a, b = _read(runs["a"]), _read(runs["b"])
    for x, y in zip(a[:3], b[:3]):
        pd.testing.assert_frame_equal(x, y)
    assert a[3]["params"] == b[3]["params"] and a[3]["sizes"] == b[3]["sizes"]


def test_different_seeds_differ(runs):
    a, c = _read(runs["a"]), _read(runs["c"])
    assert a[3]["params"] != c[3]["params"]
    assert not set(a[2]["account_id"]) & set(c[2]["account_id"])
    assert len(a[0]) != len(c[0]) or not a[0]["prompt"].equals(c[0]["prompt"])


def test_campaign_shape(runs):
    scored, _, labels, _ = _read(runs["a"])
    camp = set(labels.loc[labels["family"] == "proxy_campaign", "account_id"])
    g = scored[scored["account_id"].isin(camp)].groupby("account_id")
    assert (g.size() < 1000).all()
    assert (g["user_agent"].nunique() == 1).all()
    assert g["user_agent"].first().str.startswith("Mozilla/5.0").all()
    ip_owners = scored[scored["account_id"].isin(camp)].groupby("ip")["account_id"].nunique()
    assert (ip_owners > 1).mean() < 0.02
    first = g["timestamp"].min()
    assert first.max() - first.min() < pd.Timedelta(days=5)


def test_completions_reflect_the_request(runs):
    scored, _, labels, _ = _read(runs["a"])
    ok = scored[scored["status"] == "200"]
    long_ask = ok[ok["prompt"].str.contains("essay|comprehensive study guide|step by step", case=False)]
    short_ask = ok[ok["prompt"].str.contains("Answer with one word|Reply with the label only", regex=True)]
    assert len(long_ask) > 20 and len(short_ask) > 5
    assert long_ask["completion_tokens"].median() > 10 * short_ask["completion_tokens"].median()


def test_cli_refuses_a_non_empty_directory(sim, tmp_path, capsys):
    (tmp_path / "x.txt").write_text("keep me")
    assert sim.main(["--seed", "3", "--out", str(tmp_path), "--small"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
