"""The Spark path (applyInPandas over the same pandas function) gives exactly the pandas features."""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.detect.api_logs import FEATURE_COLUMNS, account_features, simulate_logs, validate_logs

pytestmark = pytest.mark.spark
POOL = [f"prompt {i} about topic {i % 7}, please explain" for i in range(200)]


@pytest.fixture(scope="module")
def spark():
    from distillguard.detect.api_logs.spark import local_session

    s = local_session(2)
    yield s
    s.stop()


def test_spark_features_equal_pandas(spark):
    from distillguard.detect.api_logs.spark import spark_account_features

    logs, _ = simulate_logs(60, 1, hydra_size=4, days=4, seed=2, prompts=POOL)
    logs = validate_logs(logs.drop(columns=["label", "family"]))
    pdf = account_features(logs)
    sp = spark_account_features(spark.createDataFrame(logs)).toPandas()
    sp = sp.sort_values("account_id").reset_index(drop=True)
    assert sp["account_id"].tolist() == pdf["account_id"].tolist()
    np.testing.assert_allclose(sp[FEATURE_COLUMNS].to_numpy(), pdf[FEATURE_COLUMNS].to_numpy(), rtol=1e-12,
                               atol=1e-12)
    win = spark_account_features(spark.createDataFrame(logs), window="1D").toPandas()
    pw = account_features(logs, window="1D")
    assert len(win) == len(pw) and win["n_requests"].sum() == len(logs)


def test_spark_minhash_lsh_links_the_proxy_campaign_like_pandas(spark):
    from distillguard.detect.api_logs.campaigns import link_campaigns
    from distillguard.detect.api_logs.spark import spark_link_campaigns

    rng = np.random.default_rng(0)
    pool = [" ".join(rng.choice([f"w{i}x" for i in range(2000)], size=12)) for _ in range(2000)]
    logs, acc = simulate_logs(60, 0, proxy_size=12, days=6, seed=3, prompts=pool, families=("proxy_spread",))
    logs = validate_logs(logs.drop(columns=["label", "family"]))
    sp = spark_link_campaigns(spark.createDataFrame(logs)).merge(acc[["account_id", "family", "label"]], on="account_id")
    pdl = link_campaigns(logs, infrastructure=False).merge(acc[["account_id", "family", "label"]], on="account_id")
    for cl in (sp, pdl):
        proxy = cl[cl["family"] == "proxy_spread"]
        assert proxy["campaign_id"].nunique() == 1 and int(proxy["campaign_size"].iloc[0]) == 12
    assert sorted(sp["account_id"]) == sorted(pdl["account_id"])
