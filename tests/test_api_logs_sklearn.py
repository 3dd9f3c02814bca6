"""scikit-learn conventions of the API-log detectors (fit returns self, NotFittedError, -1/+1 outliers, clone).

None of these estimators takes an arbitrary numeric feature matrix: the account detectors take a feature table
with the named columns of FEATURE_COLUMNS, the window detectors a list of windows, AccountScorer a raw log table.
``sklearn.utils.estimator_checks.check_estimator`` feeds random matrices of 1-10 unnamed columns, so it cannot
apply as a whole (the estimators declare ``input_tags.two_d_array = False``, and check_estimator then skips
them). Below, the checks that do not depend on that input run as scikit-learn wrote them (SKLEARN_CHECKS), and
the data-dependent ones are redone on our own inputs (fit idempotence, parameters untouched by fit, subset and
sample-order invariance, pickling, fit_predict, ``__dict__`` unchanged by predict).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_outlier_detector
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.utils import estimator_checks as ec

from distillguard.detect.api_logs import (
    AccountScorer,
    HarvestWindowDetector,
    MMDWindowDetector,
    SupervisedDetector,
    UnsupervisedDetector,
    account_features,
    simulate_logs,
)

_W = ("how why what explain write list compare summarize translate describe the a my our python tax law bread "
      "music rain cats dogs salt sun code poem story recipe history physics garden travel budget email").split()
_R = np.random.default_rng(11)
POOL = [" ".join(_R.choice(_W, size=int(_R.integers(6, 14)))) + "?" for _ in range(300)]

# estimator name -> (constructor with non-default parameters, input kind)
MAKERS = {
    "unsup_harvest": lambda: UnsupervisedDetector(target_fpr=0.05, margin=0.5, random_state=1),
    "unsup_robust_z": lambda: UnsupervisedDetector(method="robust_z", target_fpr=0.05),
    "unsup_iforest": lambda: UnsupervisedDetector(method="iforest", target_fpr=0.05, n_estimators=30),
    "supervised": lambda: SupervisedDetector(target_fpr=0.05, max_iter=30, learning_rate=0.2),
    "mmd": lambda: MMDWindowDetector(window=40, n_reference=150, target_fpr=0.05, random_state=2),
    "harvest_window": lambda: HarvestWindowDetector(target_fpr=0.05, min_repeat=4),
    "scorer": lambda: AccountScorer(target_fpr=0.05, min_cluster_size=3, cluster_links=("ip",)),
}
OUTLIERS = ["unsup_harvest", "unsup_robust_z", "unsup_iforest", "mmd", "harvest_window", "scorer"]
ROWWISE = ["unsup_harvest", "unsup_robust_z", "unsup_iforest", "supervised", "mmd", "harvest_window"]


def _window(rng, n=60, n_cot=0):
    p = [f"{POOL[int(i)]} #{int(j)}" for i, j in zip(rng.integers(0, len(POOL), n), rng.integers(0, 10**6, n))]
    ct = rng.integers(20, 600, size=n)
    for i in range(n_cot):
        p[i] = f"Solve carefully and think step by step: case {rng.integers(10**6)}"
        ct[i] = 2000
    return pd.DataFrame({"prompt": p, "completion_tokens": ct})


@pytest.fixture(scope="module")
def data():
    """Fit and scoring inputs of every estimator: (fit args, fit kwargs, X to score)."""
    logs, acc = simulate_logs(160, 2, hydra_size=6, days=4, seed=5, prompts=POOL)
    feats = account_features(logs)
    y = feats["account_id"].map(acc.set_index("account_id")["label"]).to_numpy()
    rng = np.random.default_rng(3)
    null = [rng.normal(size=(40, 4)) for _ in range(50)]
    mmd_x = [rng.normal(size=(40, 4)) + (1.5 if i % 3 == 0 else 0.0) for i in range(15)]
    win_x = [_window(rng, n_cot=12 if i % 3 == 0 else 0) for i in range(15)]
    feats_x = feats.copy()
    return {
        "unsup_harvest": ((feats[y == 0],), {}, feats_x),
        "unsup_robust_z": ((feats[y == 0],), {}, feats_x),
        "unsup_iforest": ((feats[y == 0],), {}, feats_x),
        "supervised": ((feats, y), {}, feats_x),
        "mmd": ((null,), {"reference": rng.normal(size=(300, 4))}, mmd_x),
        "harvest_window": (([_window(rng) for _ in range(60)],), {}, win_x),
        "scorer": ((logs[logs["label"] == 0],), {}, logs),
        "_y": y,
    }


@pytest.fixture(scope="module")
def fitted(data):
    """name -> (estimator, what fit returned): one fit per estimator for the whole module."""
    out = {}
    for name, make in MAKERS.items():
        est = make()
        args, kwargs, _ = data[name]
        out[name] = (est, est.fit(*args, **kwargs))
    return out


# ---------------------------------------------------------------- fit / not fitted

@pytest.mark.parametrize("name", list(MAKERS))
def test_fit_returns_self(fitted, name):
    est, ret = fitted[name]
    assert ret is est


@pytest.mark.parametrize("name", list(MAKERS))
def test_not_fitted_error_before_fit(data, name):
    est = MAKERS[name]()
    X = data[name][2]
    methods = [m for m in ("predict", "decision_function", "score_samples", "suspicion_score", "flag",
                           "predict_proba", "p_values", "score_accounts", "score_logs", "evidence")
               if hasattr(est, m)]
    assert {"predict", "decision_function", "suspicion_score", "flag"} <= set(methods)
    for m in methods:
        with pytest.raises(NotFittedError, match=f"This {type(est).__name__} instance is not fitted yet"):
            getattr(est, m)(X)
    assert not hasattr(est, "offset_")


# ---------------------------------------------------------------- outlier conventions

def _values(x) -> np.ndarray:
    return x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x)


@pytest.mark.parametrize("name", OUTLIERS)
def test_outlier_convention(fitted, data, name):
    est, _ = fitted[name]
    X = data[name][2]
    s, ss, d = est.suspicion_score(X), est.score_samples(X), est.decision_function(X)
    pred, flag = est.predict(X), est.flag(X)
    assert set(_values(pred).tolist()) == {-1, 1}  # both occur: the checks below are not vacuous
    np.testing.assert_array_equal(_values(ss), -_values(s))
    assert est.offset_ == -est.threshold_
    np.testing.assert_array_equal(_values(d), _values(ss) - est.offset_)
    np.testing.assert_array_equal(_values(pred), np.where(_values(d) < 0, -1, 1))
    np.testing.assert_array_equal(_values(pred) == -1, _values(s) > est.threshold_)  # the old 0/1 flags
    np.testing.assert_array_equal(_values(flag), (_values(pred) == -1).astype(np.int64))
    assert _values(flag).dtype == np.int64 and _values(pred).dtype.kind == "i"
    if name != "scorer":
        assert is_outlier_detector(est)


@pytest.mark.parametrize("name", ["unsup_harvest", "unsup_robust_z", "unsup_iforest"])
def test_flagged_accounts_are_the_minus_one_ones(fitted, data, name):
    # the old API: score_accounts' flag column (score > threshold_); the new one: predict == -1
    est, _ = fitted[name]
    X = data[name][2]
    old = est.score_accounts(X)
    pred = pd.Series(est.predict(X), index=X["account_id"].to_numpy())
    assert set(old.loc[old["flag"], "account_id"]) == set(pred.index[pred == -1])
    np.testing.assert_array_equal(old.set_index("account_id")["score"].reindex(pred.index),
                                  est.suspicion_score(X))


def test_account_scorer_predict_matches_score_logs(fitted, data):
    est, _ = fitted["scorer"]
    logs = data["scorer"][2]
    out = est.score_logs(logs).set_index("account_id")
    pred, s = est.predict(logs), est.suspicion_score(logs)
    assert pred.index.name == "account_id" and pred.index.is_monotonic_increasing
    assert set(pred.index) == set(out.index) == set(logs["account_id"])
    assert set(pred.index[pred == -1]) == set(out.index[out["flag"]]) and (pred == -1).sum() >= 3
    np.testing.assert_array_equal(s.to_numpy(), out["score"].reindex(s.index).to_numpy())
    assert (est.flag(logs) == out["flag"].reindex(pred.index).astype(np.int64)).all()


@pytest.mark.parametrize("name", ["unsup_harvest", "mmd", "scorer"])
def test_changed_threshold_moves_predict(fitted, data, name):
    est = pickle.loads(pickle.dumps(fitted[name][0]))
    X = data[name][2]
    s = _values(est.suspicion_score(X))
    est.threshold_ = float(np.median(s))  # recalibration after fit
    assert est.offset_ == -est.threshold_
    np.testing.assert_array_equal(_values(est.predict(X)) == -1, s > np.median(s))
    est.offset_ = -np.inf  # threshold +inf: nothing flagged
    assert est.threshold_ == np.inf and (_values(est.predict(X)) == 1).all()


def test_fit_predict_is_fit_then_predict(data):
    for name in ("unsup_harvest", "mmd", "harvest_window"):
        args, kwargs, _ = data[name]
        fp = MAKERS[name]().fit_predict(*args, **kwargs)
        np.testing.assert_array_equal(fp, MAKERS[name]().fit(*args, **kwargs).predict(args[0]))


# ---------------------------------------------------------------- classifier conventions

def test_supervised_classifier_convention(fitted, data):
    est, _ = fitted["supervised"]
    X, y = data["supervised"][2], data["_y"]
    assert is_classifier(est) and est.classes_.tolist() == [0, 1]
    pred, d, P = est.predict(X), est.decision_function(X), est.predict_proba(X)
    assert set(pred.tolist()) == {0, 1} and pred.dtype == est.classes_.dtype
    np.testing.assert_array_equal(pred, est.classes_[(d > 0).astype(int)])
    np.testing.assert_array_equal(d, est.suspicion_score(X) - est.threshold_)
    np.testing.assert_array_equal(est.flag(X), (pred == 1).astype(np.int64))
    old = est.score_accounts(X)  # the old API's flags
    assert set(old.loc[old["flag"], "account_id"]) == set(X["account_id"][pred == 1])
    assert P.shape == (len(X), 2) and np.allclose(P.sum(axis=1), 1.0)
    order = np.argsort(d, kind="stable")  # predict_proba ranks as decision_function does
    assert (np.diff(P[order, 1]) >= -1e-12).all()
    assert est.score(X, y) == pytest.approx(np.mean(pred == y)) and np.mean(pred[y == 1] == 1) >= 0.8


# ---------------------------------------------------------------- clone, get_params / set_params

@pytest.mark.parametrize("name", list(MAKERS))
def test_clone_and_params_round_trip(fitted, data, name):
    est, _ = fitted[name]
    params = est.get_params()
    fresh = MAKERS[name]()
    assert fresh.get_params() == params
    for k, v in params.items():  # constructor parameters stored unmodified
        assert getattr(fresh, k) is v, k
    c = clone(est)
    assert type(c) is type(est) and c.get_params() == params and c is not est
    with pytest.raises(NotFittedError):
        c.predict(data[name][2])
    c.set_params(**params)
    assert c.get_params() == params
    c.set_params(target_fpr=0.2)
    assert c.target_fpr == 0.2 and est.target_fpr == 0.05  # the clone is independent


@pytest.mark.parametrize("name", ROWWISE)  # AccountScorer: its fit is the seconds-long part of this module
def test_fit_does_not_change_params_and_is_idempotent(data, name):
    est = MAKERS[name]()
    before = est.get_params()
    args, kwargs, X = data[name]
    est.fit(*args, **kwargs)
    assert est.get_params() == before
    first = _values(est.decision_function(X)).copy()
    est.fit(*args, **kwargs)
    np.testing.assert_array_equal(_values(est.decision_function(X)), first)


def _take(X, idx):
    return X.iloc[idx].reset_index(drop=True) if isinstance(X, pd.DataFrame) else [X[i] for i in idx]


@pytest.mark.parametrize("name", ROWWISE)
def test_methods_subset_and_order_invariant(fitted, data, name):
    # AccountScorer is absent: an account's score depends on the other accounts of its coordinated cluster
    est, _ = fitted[name]
    X = data[name][2]
    n = len(X)
    perm = np.random.default_rng(0).permutation(n)
    sub = np.arange(0, n, 3)
    for m in ("predict", "decision_function", "score_samples", "predict_proba"):
        if not hasattr(est, m):
            continue
        full = np.asarray(getattr(est, m)(X))
        np.testing.assert_allclose(np.asarray(getattr(est, m)(_take(X, perm))), full[perm], rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.asarray(getattr(est, m)(_take(X, sub))), full[sub], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(MAKERS))
def test_pickle_round_trip_and_predict_leaves_dict_unchanged(fitted, data, name):
    est, _ = fitted[name]
    X = data[name][2]
    before = dict(vars(est))
    pred = _values(est.predict(X))
    est.decision_function(X)
    assert vars(est).keys() == before.keys() and all(vars(est)[k] is v for k, v in before.items())
    np.testing.assert_array_equal(_values(pickle.loads(pickle.dumps(est)).predict(X)), pred)


# ---------------------------------------------------------------- scikit-learn's own checks

# The checks of sklearn.utils.estimator_checks that need no numeric X (or stop, by design, before using it):
# API and parameter handling, tags, repr, cloning, and NotFittedError before fit (check_estimators_unfitted
# passes a numeric matrix, but check_is_fitted raises before it is read). Not applicable, because they fit on
# random numeric matrices with unnamed columns (redone above on our inputs where the property is meaningful):
# check_fit_score_takes_y, check_estimators_overwrite_params, check_dont_overwrite_parameters,
# check_estimators_fit_returns_self, check_readonly_memmap_input, check_n_features_in_after_fitting,
# check_positive_only_tag_during_fit, check_methods_sample_order_invariance, check_methods_subset_invariance,
# check_fit2d_*, check_fit1d, check_dict_unchanged, check_fit_idempotent, check_fit_check_is_fitted,
# check_n_features_in, check_estimators_pickle, check_estimators_dtypes, check_estimators_nan_inf,
# check_outliers_train / check_outliers_fit_predict / check_outlier_* and check_classifiers_* (also built on
# make_blobs matrices; check_outlier_contamination needs a `contamination` parameter, which the FPR-calibrated
# threshold replaces).
SKLEARN_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_estimators_unfitted,
    ec.check_mixin_order,
]


@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_applicable_checks(name, check):
    est = MAKERS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkipTestWarning)  # a skipped check would pass silently
        check(type(est).__name__, est)


@pytest.mark.parametrize("name", list(MAKERS))
def test_check_estimator_declines_non_matrix_input(name):
    # the generic suite is skipped (with scikit-learn's warning), not failed, for these input types
    with pytest.warns(SkipTestWarning, match="requires input"):
        ec.check_estimator(MAKERS[name](), on_fail="raise")
