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

from distillguard.detect.api_logs.features import FEATURE_COLUMNS, account_features

__all__ = ["local_session", "spark_account_features"]


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
