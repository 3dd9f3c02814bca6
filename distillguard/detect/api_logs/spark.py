"""The same feature function on PySpark: ``groupBy("account_id").applyInPandas(account_features)``.

No engine of our own: Spark shuffles the rows of each account to one task and calls the pandas function
:func:`~distillguard.detect.api_logs.features.account_features` on them, so pandas and Spark compute the same
numbers. The session time zone must be UTC (Spark hands timestamps to pandas in the session zone);
:func:`local_session` sets it.

Accounts too large for one group: ``applyInPandas`` materialises a whole group in one Python worker's
memory. An account of ~10M requests (a few GB of prompts) fits a worker with ``spark.executor.memory`` and
``spark.sql.execution.arrow.maxRecordsPerBatch`` set accordingly; beyond that, compute features per
account-window (``window="1D"``: the group key becomes (account, day)) and aggregate the window rows, or
drop the prompt text for the largest accounts (timing and token features need only small columns).
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from distillguard.detect.api_logs.campaigns import template_signatures
from distillguard.detect.api_logs.features import FEATURE_COLUMNS, account_features

__all__ = ["local_session", "spark_account_features", "spark_link_campaigns"]


def local_session(cores: int = 2, app: str = "distillguard-api-logs"):
    """Start (or reuse) a local Spark session with a UTC session time zone and Arrow enabled.

    Example:
        >>> from distillguard.detect.api_logs.spark import local_session
        >>> spark = local_session()  # doctest: +SKIP
    """
    from pyspark.sql import SparkSession  # lazy: pyspark is the optional [spark] extra and slow to import

    # Python workers must run the interpreter that has distillguard and torch installed (a venv), not
    # whatever `python3` is first on PATH; a user's explicit PYSPARK_PYTHON wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master(f"local[{cores}]").appName(app)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
            .config("spark.ui.enabled", "false")
            .getOrCreate())


def _schema(window: str | None) -> str:
    cols = ["account_id string"] + (["window_start timestamp"] if window else [])
    return ", ".join(cols + [f"{c} double" for c in FEATURE_COLUMNS])


def spark_account_features(sdf, *, window: str | None = None):
    """Per-account features of a Spark DataFrame in the canonical schema, via ``applyInPandas``.

    Returns a Spark DataFrame with ``account_id`` (``window_start``) and :data:`.features.FEATURE_COLUMNS`.

    Example:
        >>> from distillguard.detect.api_logs.spark import local_session, spark_account_features
        >>> spark = local_session()  # doctest: +SKIP
        >>> feats = spark_account_features(spark.createDataFrame(logs)).toPandas()  # doctest: +SKIP
    """
    keep = [c for c in ("timestamp", "account_id", "prompt", "prompt_tokens", "completion_tokens", "ip",
                        "user_agent", "status", "max_tokens") if c in sdf.columns]

    def per_group(pdf: pd.DataFrame) -> pd.DataFrame:
        return account_features(pdf, window=window)

    return sdf.select(*keep).groupBy("account_id").applyInPandas(per_group, schema=_schema(window))


def spark_link_campaigns(sdf, *, min_jaccard: float = 0.4, num_hash_tables: int = 8, **signature_options):
    """Template-linked campaigns of a Spark DataFrame with ``pyspark.ml.feature.MinHashLSH``.

    Each account's recurring prompt fragments come from the pandas :func:`.campaigns.template_signatures`
    run per account (``groupBy("account_id").applyInPandas``: a signature depends only on the account's own
    rows); the fragments become binary ``HashingTF`` vectors, ``MinHashLSH.approxSimilarityJoin`` finds the
    pairs with Jaccard distance ``<= 1 - min_jaccard``, and the (small) edge list is joined into connected
    components on the driver. Returns a pandas DataFrame: ``account_id``, ``campaign_id``, ``campaign_size``
    (template links only; shared infrastructure is :func:`.coordination.link_accounts`' job).

    Example:
        >>> from distillguard.detect.api_logs.spark import local_session, spark_link_campaigns
        >>> spark = local_session()  # doctest: +SKIP
        >>> camps = spark_link_campaigns(spark.createDataFrame(logs))  # doctest: +SKIP
    """
    import numpy as np
    from pyspark.ml.feature import HashingTF, MinHashLSH
    from pyspark.sql import functions as F
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    def per_account(pdf: pd.DataFrame) -> pd.DataFrame:
        sig = template_signatures(pdf, **signature_options)
        return pd.DataFrame({"account_id": sig["account_id"].astype(str), "shingle": sig["shingle"].astype(str)})

    accounts = [r[0] for r in sdf.select(F.col("account_id").cast("string")).distinct().collect()]
    sig = (sdf.select(F.col("account_id").cast("string").alias("account_id"), "prompt")
           .groupBy("account_id").applyInPandas(per_account, schema="account_id string, shingle string")
           .groupBy("account_id").agg(F.collect_set("shingle").alias("shingles")))
    vec = HashingTF(inputCol="shingles", outputCol="features", numFeatures=1 << 20, binary=True).transform(sig)
    model = MinHashLSH(inputCol="features", outputCol="hashes", numHashTables=num_hash_tables, seed=29).fit(vec)
    pairs = (model.approxSimilarityJoin(vec, vec, 1.0 - min_jaccard, distCol="jaccard_distance")
             .select(F.col("datasetA.account_id").alias("a"), F.col("datasetB.account_id").alias("b"))
             .where(F.col("a") < F.col("b")).toPandas())
    acc = np.array(sorted(accounts), dtype=object)
    pos = pd.Series(np.arange(len(acc)), index=acc)
    n = len(acc)
    adj = sparse.csr_matrix((np.ones(len(pairs)), (pos[pairs["a"]].to_numpy(), pos[pairs["b"]].to_numpy())),
                            shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    size = np.bincount(labels)
    return pd.DataFrame({"account_id": acc.astype(str), "campaign_id": [f"t{k}" for k in labels],
                         "campaign_size": size[labels].astype(np.int64)})
