"""From which account did the suspect learn? Account sub-keys, and explaining away flagged accounts whose evidence
another flagged account's green lists account for.

Example:
    >>> from distillguard.keys import WatermarkKey
    >>> len(account_keys(WatermarkKey(b"\\x01" * 32), None))  # no account: the key itself
    1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from distillguard.detect.radioactivity.result import RadioactivityReport
from distillguard.detect.stats import binom_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

__all__ = ["account_keys", "conditional_test", "attribute"]


def account_keys(key: WatermarkKey, accounts: Sequence[str] | None) -> list[WatermarkKey]:
    """The keys to test: the account sub-keys of ``key``'s master, or ``[key]`` when no account is given.

    Example:
        >>> from distillguard.keys import WatermarkKey
        >>> from distillguard.detect.radioactivity import account_keys
        >>> [k.account for k in account_keys(WatermarkKey(b"\\x01" * 32), ["a", "b"])]
        ['a', 'b']
    """
    if not accounts:
        return [key]
    names = [str(a).strip() for a in accounts]
    if any(not a for a in names):
        raise DistillguardError("empty account id in the account list")
    if len(set(names)) != len(names):
        raise DistillguardError("duplicate account ids in the account list")
    master = key.master()
    return [master.for_account(a) for a in names]


def _arcs(windows: np.ndarray, tokens: np.ndarray, key: WatermarkKey, spec: WatermarkSpec):
    """Key material, arc (order p, offset o) and greenness of every (window, token) tuple under ``key``."""
    material = key_material(key, spec)
    p, o = seed_to_arc_np(context_seeds_np(material, windows, tokens), spec)
    return material, p, o, is_green_np(p, o, tokens, material.positions, spec)


def conditional_test(windows: np.ndarray, tokens: np.ndarray, key_x: WatermarkKey, key_y: WatermarkKey,
                     spec: WatermarkSpec) -> dict[str, Any]:
    """Is key X's evidence explained by key Y? Test X only on the coins that are *red* under Y.

    Sub-keys of one master share the keyed vocabulary orders, so two accounts' green lists can overlap (with
    h = 0 each account has a single list, and a pair can share much of it): a student that learned Y's list
    then also tests positive for X. Under H0' "the suspect learned nothing about X beyond Y", a token that
    is red under Y lies in X's list with probability ``q = |X ∩ not-Y| / |not-Y|`` (the orders are keyed
    random permutations, independent of language). The count of X-green coins among Y-red ones is then a
    Poisson-binomial with these ``q``; its upper tail is bounded by the binomial with their mean (Hoeffding
    1956), so the binomial p-value reported here is valid (conservative).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import conditional_test
        >>> m = WatermarkKey(b"\x05" * 32, WatermarkSpec(vocab_size=400, context_width=0))
        >>> r = conditional_test(np.zeros((50, 0), np.int64), np.arange(50), m.for_account("a"), m.for_account("b"),
        ...                      m.spec)
        >>> 0 <= r["p_value"] <= 1
        True
    """
    V, G = spec.vocab_size, spec.green_size
    mx, px, ox, gx = _arcs(windows, tokens, key_x, spec)
    my, py, oy, gy = _arcs(windows, tokens, key_y, spec)
    coin = (px * V + ox) * V + tokens
    _, first = np.unique(coin, return_index=True)  # X's coins, counted once, as in its own test
    keep = first[~gy[first]]
    if len(keep) == 0:
        return {"scored": 0, "green": 0, "q_mean": math.nan, "p_value": 1.0, "log10_p": 0.0}
    # q per coin: |X arc minus Y arc| / (V - G); computed once per distinct pair of arcs
    pairs, inv = np.unique(np.stack([px[keep], ox[keep], py[keep], oy[keep]], axis=1), axis=0, return_inverse=True)
    q = np.empty(len(pairs))
    span = np.arange(G)
    for j, (a, b, c, d) in enumerate(pairs):
        x_tokens = mx.orders[a][(b + span) % V]  # the tokens of X's arc
        in_y = (my.positions[c][x_tokens] - d) % V < G
        q[j] = (G - int(in_y.sum())) / (V - G)
    qm = float(q[np.asarray(inv).ravel()].mean())
    k = int(gx[keep].sum())
    pv, lp, _ = binom_test(k, len(keep), qm)
    return {"scored": int(len(keep)), "green": k, "q_mean": qm, "p_value": pv, "log10_p": lp}


def attribute(report: RadioactivityReport, windows: np.ndarray, tokens: np.ndarray,
              keys: Sequence[WatermarkKey], spec: WatermarkSpec) -> RadioactivityReport:
    """Explain away flagged accounts whose evidence another flagged account's green lists account for.

    Every flagged key X is tested on the coins red under the most significant *other* flagged key Y
    (:func:`conditional_test`); X stays attributed when that conditional p-value is <= alpha / #flagged
    (Bonferroni). The true source survives (its list predicts the suspect where Y's does not); a key that
    only overlaps it does not. Fills ``report.explained``; returns the report.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, attribute
        >>> m = WatermarkKey(b"\\x05" * 32, WatermarkSpec(vocab_size=400, context_width=0))
        >>> keys = [m.for_account("a"), m.for_account("b")]
        >>> flagged = [KeyScore(k.fingerprint, k.account, 9, 9, 0.25, 1.0, 5.0, 1e-9, -9.0, detected=True)
        ...            for k in keys]
        >>> rep = RadioactivityReport("reading", "s", 1e-3, flagged, {}, {})
        >>> # neither account's list predicts these tokens beyond the other's: both are explained away
        >>> sorted(attribute(rep, np.zeros((40, 0), np.int64), np.arange(40), keys, m.spec).explained)
        ['a', 'b']
    """
    flagged = sorted((i for i, r in enumerate(report.results) if r.detected),
                     key=lambda i: report.results[i].log10_p)
    if len(flagged) < 2:
        return report
    if spec.seeding == "min":  # the arc depends on the candidate token itself: q has no closed form here
        report.notes.append("attribution: overlap between flagged keys not explained away (min seeding)")
        return report
    level = report.alpha / len(flagged)
    for i in flagged:
        j = next(f for f in flagged if f != i)
        cond = conditional_test(windows, tokens, keys[i], keys[j], spec)
        name = report.results[i].account or report.results[i].key_fingerprint
        if cond["p_value"] > level:
            report.explained[name] = {"by": report.results[j].account or report.results[j].key_fingerprint,
                                      "conditional_p": cond["p_value"], "conditional_log10_p": cond["log10_p"],
                                      "scored_red_coins": cond["scored"], "green": cond["green"],
                                      "expected_rate": cond["q_mean"]}
    return report
