"""API-usage classifiers: find the accounts that harvest the teacher through its API.

Pieces, each in its own small module:

* :mod:`.schema` -- load CSV / Parquet / JSONL logs, validate and normalise them to the canonical schema;
* :mod:`.features` -- one pandas function computes every per-account (or per account-window) feature;
* :mod:`.coordination` -- link accounts through shared IPs / user agents / templates / timing into clusters;
* :mod:`.campaigns` -- campaigns without shared infrastructure: accounts linked by near-duplicate prompt
  templates (MinHash-LSH), scored against benign pseudo-campaigns with cohort (first-seen-together) evidence;
* :mod:`.detectors` -- unsupervised (directional benign-tail evidence), supervised and window (MMD) detectors
  with finite-sample FPR-calibrated thresholds (the code: :mod:`.calibration`, :mod:`.account_detectors`,
  :mod:`.window_detectors`, :mod:`.scorer`);
* :mod:`.simulate` -- a labelled traffic simulator (benign families, hard look-alikes, attacker families);
* :mod:`.spark` -- the same feature function on PySpark via ``groupBy("account_id").applyInPandas``;
* reports: :mod:`distillguard.report.api_logs` (HTML with embedded plots); command line: ``distillguard logs ...``.

Example:
    >>> from distillguard.detect.api_logs import simulate_logs, account_features
    >>> logs, accounts = simulate_logs(n_benign=30, n_per_attack=1, seed=0, days=3, prompts=["hi there"] * 50)
    >>> feats = account_features(logs)
    >>> len(feats) == logs["account_id"].nunique()
    True
"""

from distillguard.detect.api_logs.calibration import supported_fpr
from distillguard.detect.api_logs.campaigns import CampaignDetector, link_campaigns
from distillguard.detect.api_logs.coordination import link_accounts
from distillguard.detect.api_logs.detectors import (
    HARVEST_EVIDENCE,
    AccountScorer,
    HarvestWindowDetector,
    MMDWindowDetector,
    SupervisedDetector,
    UnsupervisedDetector,
    threshold_for_fpr,
)
from distillguard.detect.api_logs.features import FEATURE_COLUMNS, AccountFeatures, account_features
from distillguard.detect.api_logs.schema import CANONICAL_COLUMNS, iter_log_chunks, load_logs, validate_logs
from distillguard.detect.api_logs.simulate import ATTACK_FAMILIES, BENIGN_FAMILIES, simulate_logs

__all__ = [
    "ATTACK_FAMILIES",
    "BENIGN_FAMILIES",
    "CANONICAL_COLUMNS",
    "FEATURE_COLUMNS",
    "HARVEST_EVIDENCE",
    "AccountFeatures",
    "AccountScorer",
    "CampaignDetector",
    "HarvestWindowDetector",
    "MMDWindowDetector",
    "SupervisedDetector",
    "UnsupervisedDetector",
    "account_features",
    "iter_log_chunks",
    "link_accounts",
    "link_campaigns",
    "load_logs",
    "simulate_logs",
    "supported_fpr",
    "threshold_for_fpr",
    "validate_logs",
]
