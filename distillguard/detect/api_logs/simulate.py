"""A labelled API-traffic simulator: benign families (with hard look-alikes) and harvesting attacker families.

Benign families: ``human`` (heavy-tailed volumes, sessions, diurnal/weekly rhythm in the user's own time
zone; some accounts sit behind a shared corporate NAT), ``power_user``, and the hard look-alikes
``eval_harness`` (templated benchmark prompts in fast bursts, half of them chain-of-thought evals),
``batch_enterprise`` (nightly templated jobs, thousands of requests), ``tutoring`` (step-by-step heavy, human
timing) and ``reseller`` (one key shared by many end users: many IPs and user agents, high volume). Optional
(``onboarding_cohorts``): ``onboarding``, the benign twin of a bare ``proxy_spread`` campaign -- an organisation
that opens accounts for a class or a team within a day or two: ordinary people (real conversations, follow-ups,
ordinary answer lengths) in one time zone, each from their own home addresses and browser, alike in how their
client is set up (the same max-token setting) and first seen together. Nothing but what they ask separates them
from a campaign.

Attacker families: ``heavy_harvester``, ``cot_rubric`` (reasoning / rubric-grading elicitation),
``topic_sweep`` (systematic coverage of a topic taxonomy), ``hydra`` (campaigns of many small accounts
sharing a proxy pool and templates, each under 1,000 exchanges), ``slow_low`` (human-like timing, modest
volume, long answers), ``dist_matched`` (lightly paraphrased real prompts), ``proxy_spread`` (campaigns of
hundreds of small accounts opened within a few days, each behind its own few addresses of a large residential
proxy pool -- no shared IPs -- one browser user agent each, a human daily rhythm in the operator's time zone,
a few prompt templates reused across the accounts; odd-numbered campaigns, ``proxy-1``, ``proxy-3``, ..., send
their prompts bare, with no template) and ``verbatim`` (real human prompts sent verbatim, one
shot each, at benign-looking volumes with human timing). The two newest families draw their parameters
(templates, opening window, volumes, answer lengths, max-token habits, time zone) afresh from the run's seed,
so a benchmark on a new seed meets new settings.

Prompts are real human prompts from ShareGPT; benign and attacker accounts draw from disjoint halves of the
conversations. By default (:func:`sharegpt_conversations`) a human, power-user or tutoring session follows one
real conversation's human turns in order -- humans follow up on an answer -- while attackers send single turns;
with a flat ``prompts`` list every request draws one prompt independently (the earlier behaviour).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from distillguard.data import iter_sharegpt

__all__ = ["ATTACK_FAMILIES", "BENIGN_FAMILIES", "CAMPAIGN_FAMILIES", "family_prompts", "sharegpt_conversations",
           "simulate_logs"]

BENIGN_FAMILIES = ("human", "power_user", "eval_harness", "batch_enterprise", "tutoring", "reseller", "onboarding")
ATTACK_FAMILIES = ("heavy_harvester", "cot_rubric", "topic_sweep", "hydra", "slow_low", "dist_matched",
                   "proxy_spread", "verbatim")
#: families made of coordinated campaigns (``campaign_id`` set; account counts set per campaign)
CAMPAIGN_FAMILIES = ("hydra", "proxy_spread")
_BENIGN_MIX = {"human": 0.855, "power_user": 0.05, "tutoring": 0.04, "eval_harness": 0.02,
               "batch_enterprise": 0.02, "reseller": 0.015}
_BROWSERS = [f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 Chrome/{v}.0 Safari/537.36"
             for os_ in ("Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64")
             for v in range(118, 126)]
_SDKS = [f"openai-python/1.{v}.0" for v in range(10, 40, 3)] + ["node-fetch/3.3", "curl/8.5.0"]
_SUBJECTS = ["abstract algebra", "anatomy", "astronomy", "college chemistry", "econometrics", "virology",
             "world religions", "high school physics", "jurisprudence", "marketing", "philosophy", "nutrition"]
_TOPICS = ["organic chemistry", "linear algebra", "contract law", "cardiology", "compilers", "macroeconomics",
           "medieval history", "quantum mechanics", "machine learning", "genetics", "tax accounting",
           "operating systems", "pharmacology", "number theory", "structural engineering", "epidemiology"]
_ASPECTS = ["core definitions", "key theorems", "common misconceptions", "worked examples", "edge cases",
            "historical development", "open problems", "practical applications", "exam questions",
            "step-by-step derivations", "comparisons with related ideas", "advanced techniques"]
_COT_WRAP = ["{q}\n\nThink step by step and show all of your reasoning before the final answer.",
             "Solve the following carefully. Explain your reasoning at each step.\n\n{q}",
             "{q}\n\nLet's think step by step. Write out your full chain of thought."]
_RUBRIC_WRAP = ["Here is a question and a candidate answer. Grade the answer on a scale of 1 to 10 using a "
                "rubric for correctness, completeness and clarity, then justify each score.\n\nQuestion: {q}",
                "Evaluate the answer to the question below. Which response is better, A or B? Use a rubric "
                "and explain.\n\n{q}"]
_TUTOR_WRAP = ["Can you explain this step by step? {q}", "{q}\nPlease show your work step by step.",
               "I'm studying for an exam. {q} Walk me through it."]
_ROLES = ["senior software engineer", "physician", "tax lawyer", "research scientist", "data analyst",
          "university professor", "financial advisor", "product manager", "security researcher", "editor"]
_OPENERS = ["You are a {role}. Answer the question below with a complete, expert answer.",
            "Act as an experienced {role} and respond in depth to the following request.",
            "As a {role}, give a thorough and well structured answer to this:",
            "Imagine you are a {role} explaining to a colleague. Request:",
            "Respond as a {role} would, covering background, details and caveats.",
            "Task for a {role}: answer fully, with examples where useful."]
_CLOSERS = ["Be comprehensive and include examples.", "Structure the answer with headings and a summary.",
            "Explain your reasoning before the final answer.", "Cover edge cases and common mistakes.",
            "Write at least several paragraphs.", "End with a short list of key takeaways.",
            "Use precise terminology and define it.", "Do not skip any steps."]
_PARA = [("Can you", "Could you"), ("can you", "could you"), ("Please", "Kindly"), ("please", "kindly"),
         ("write", "draft"), ("Write", "Draft"), ("explain", "describe"), ("Explain", "Describe"),
         ("help me", "assist me"), ("I want", "I would like"), ("give me", "provide"), ("make", "create")]


def _campaign_params(family: str, rng: np.random.Generator, days: int, templated: bool = True) -> dict:
    """Per-run (per-campaign) parameters of the randomised families, drawn from the run's generator.

    ``templated=False``: a ``proxy_spread`` campaign that sends its prompts bare (no template shared across
    its accounts); the other parameters are drawn exactly as for a templated one."""
    if family == "proxy_spread":
        n_tpl = int(rng.integers(3, 13))
        tpls = []
        for _ in range(n_tpl):
            role = _ROLES[int(rng.integers(len(_ROLES)))]
            op = _OPENERS[int(rng.integers(len(_OPENERS)))].format(role=role)
            cl = " ".join(rng.choice(_CLOSERS, size=int(rng.integers(1, 3)), replace=False))
            tpls.append(f"{op}\n\n{{q}}\n\n{cl}" if rng.random() < 0.7 else f"{op} {{q}} {cl}")
        span = float(rng.uniform(1.0, 4.0))
        share = float(rng.uniform(0.5, 1.0))
        return {"templates": tpls, "template_share": share if templated else 0.0,
                "open_day": float(rng.uniform(0, max(days - span - 2, 0.5))), "open_span_days": span,
                "volume": (int(rng.integers(60, 200)), int(rng.integers(400, 950))),
                "ct_median": float(rng.uniform(350, 900)), "maxtok_prob": float(rng.uniform(0.0, 0.9)),
                "tz": int(rng.integers(-8, 10)), "session_mean": float(rng.uniform(3.0, 10.0)),
                "ips_per_account": (1, int(rng.integers(2, 6)))}
    if family == "verbatim":
        return {"volume": (int(rng.integers(40, 150)), int(rng.integers(300, 1500))),
                "ct_median": float(rng.uniform(250, 800)), "maxtok_prob": float(rng.uniform(0.0, 0.8)),
                "session_mean": float(rng.uniform(3.0, 8.0)), "sdk_prob": float(rng.uniform(0.0, 1.0))}
    return {}


def _onboarding_params(rng: np.random.Generator, days: int) -> dict:
    """One onboarding cohort's parameters: when it opens and over how many days, its time zone, its members'
    session length, volume and answer-length medians, and its client's max-token setting."""
    span = float(rng.uniform(0.3, 2.0))
    return {"open_day": float(rng.uniform(0, max(days - span - 2, 0.5))), "open_span_days": span,
            "tz": int(rng.integers(-8, 10)), "session_mean": float(rng.uniform(3.0, 8.0)),
            "volume_median": float(rng.uniform(30.0, 120.0)), "ct_median": float(rng.uniform(200.0, 450.0)),
            "max_tokens": float([np.nan, 1024.0, 4096.0][int(rng.integers(3))])}


def _onboarding_account(rng: np.random.Generator, days: int, par: dict, pool: list[str],
                        convs: list[list[str]] | None) -> dict:
    """One member of an onboarding cohort: a person first seen in the cohort's opening window (see module doc)."""
    n = int(min(3000, max(2, np.ceil(rng.lognormal(np.log(par["volume_median"]), 0.8)))))
    first = par["open_day"] + float(rng.uniform(0, par["open_span_days"]))
    tz = par["tz"] + int(rng.integers(-1, 2))
    if convs:
        t, sid, rank = _human_times(rng, n, days, session_mean=par["session_mean"], tz=tz, first_day=first,
                                    sessions=True)
        prompts = _conversation_prompts(rng, sid, rank, convs)
    else:
        t = _human_times(rng, n, days, session_mean=par["session_mean"], tz=tz, first_day=first)
        prompts = [pool[i] for i in rng.integers(0, len(pool), size=n)]
    t = np.maximum(t, first * 86400.0)
    t[0] = min(t[0], (first + float(rng.uniform(0, 0.25))) * 86400.0)  # everyone tries it on the day they join
    ct = np.minimum(rng.lognormal(np.log(par["ct_median"]), 0.8, size=n), 4096).astype(int)
    pt = np.array([max(1, len(p) // 4) for p in prompts]) + rng.integers(0, 5, size=n)
    ips, ua = _ip(rng, int(rng.integers(1, 4))), str(rng.choice(_BROWSERS))
    return {"t": t, "prompt": prompts, "pt": pt, "ct": ct, "max_tokens": np.full(n, par["max_tokens"]),
            "ip": [ips[i] for i in rng.integers(0, len(ips), size=n)], "ua": [ua] * n,
            "status": np.where(rng.random(n) < 0.015, "429", "200")}


def sharegpt_conversations(seed: int = 0, max_chars: int = 2000) -> list[list[str]]:
    """ShareGPT conversations as lists of their human turns (each 5 to ``max_chars`` characters), shuffled.

    Example:
        >>> from distillguard.detect.api_logs.simulate import sharegpt_conversations
        >>> convs = sharegpt_conversations(0)  # doctest: +SKIP
        >>> sum(len(c) > 1 for c in convs) / len(convs) > 0.5  # doctest: +SKIP
        True
    """
    out = []
    for conv in iter_sharegpt():
        turns = [t.strip() for r, t in conv.turns if r == "human" and 5 <= len(t.strip()) <= max_chars]
        if turns:
            out.append(turns)
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order]


def _ip(rng: np.random.Generator, n: int = 1) -> list[str]:
    a = rng.integers(1, 255, size=(n, 4))
    return [f"{x[0]}.{x[1]}.{x[2]}.{x[3]}" for x in a]


def _paraphrase(p: str, rng: np.random.Generator) -> str:
    for a, b in _PARA:
        if a in p and rng.random() < 0.7:
            p = p.replace(a, b, 1)
    return p if rng.random() < 0.5 else p.rstrip("?.!") + ("?" if p.endswith("?") else ".")


def family_prompts(family: str, n: int, rng: np.random.Generator, pool: list[str]) -> list[str]:
    """Draw ``n`` prompts in the style of ``family`` from a pool of real prompts.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.simulate import family_prompts
        >>> ps = family_prompts("cot_rubric", 2, np.random.default_rng(0), ["What is 2+2?"])
        >>> len(ps)
        2
    """
    pick = [pool[i] for i in rng.integers(0, len(pool), size=n)]
    if family in ("human", "power_user", "reseller", "heavy_harvester"):
        return pick
    if family == "dist_matched":
        return [_paraphrase(p, rng) for p in pick]
    if family in ("tutoring", "slow_low"):
        share = 0.6 if family == "tutoring" else 0.5
        wraps = _TUTOR_WRAP if family == "tutoring" else _COT_WRAP
        return [wraps[int(rng.integers(len(wraps)))].format(q=p) if rng.random() < share else p for p in pick]
    if family == "cot_rubric":
        return [(_COT_WRAP if rng.random() < 0.6 else _RUBRIC_WRAP)[int(rng.integers(2))].format(q=p)
                for p in pick]
    if family == "topic_sweep":
        i0 = int(rng.integers(0, 10_000))
        return [f"Write a detailed, expert-level explanation of the {_ASPECTS[i % len(_ASPECTS)]} of "
                f"{_TOPICS[(i // len(_ASPECTS)) % len(_TOPICS)]} (part {i // 192 + 1}). Include examples."
                for i in range(i0, i0 + n)]
    if family == "hydra":
        return [_COT_WRAP[0].format(q=p) if rng.random() < 0.5 else
                f"As an expert in {_TOPICS[int(rng.integers(len(_TOPICS)))]}, answer thoroughly: {p}" for p in pick]
    if family == "eval_harness":
        if rng.random() < 0.5:
            return [f"The following are multiple choice questions (with answers) about "
                    f"{_SUBJECTS[int(rng.integers(len(_SUBJECTS)))]}.\n\n{p[:300]}\nA. yes\nB. no\nC. maybe\n"
                    f"D. none of the above\nAnswer:" for p in pick]
        return [f"Question: {p[:400]}\nLet's think step by step. At the end, write 'The answer is X'." for p in pick]
    if family == "batch_enterprise":
        task = ["Summarize the following customer support ticket in one sentence",
                "Extract the product names and the customer's main complaint from this message",
                "Translate this message into formal English and classify its urgency",
                "Classify the sentiment (positive, neutral, negative) of the review below"][int(rng.integers(4))]
        org = f"[{int(rng.integers(1e4)):04d}]"
        return [f"{org} {task}.\n\nRecord {int(rng.integers(1e6))}: {p[:500]}" for p in pick]
    raise ValueError(f"unknown family {family!r}")


def _human_times(rng: np.random.Generator, n: int, days: int, session_mean: float = 5.0,
                 tz: int | None = None, first_day: float = 0.0, sessions: bool = False):
    tz = int(rng.integers(-8, 10)) if tz is None else tz
    n_sess = max(1, int(np.ceil(n / session_mean)))
    day_w = np.array([1.0 if ((d + 0) % 7) < 5 else 0.45 for d in range(days)])  # day 0 is a Monday
    day_w[: int(np.ceil(first_day))] = 0.0
    if day_w.sum() == 0:
        day_w[-1] = 1.0
    sess_day = rng.choice(days, size=n_sess, p=day_w / day_w.sum())
    local_h = np.clip(rng.normal(15.0, 3.5, size=n_sess), 7, 24)
    start = sess_day * 86400 + (local_h - tz) * 3600 + rng.uniform(0, 3600, size=n_sess)
    lens = rng.multinomial(n - n_sess, np.ones(n_sess) / n_sess) + 1
    gaps = rng.lognormal(np.log(50.0), 1.0, size=n)
    sid = np.repeat(np.arange(n_sess), lens)
    first = np.r_[0, np.cumsum(lens)[:-1]]
    gaps[first] = 0.0
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first], lens)
    t = start[sid] + within
    if not sessions:
        return np.sort(t)
    order = np.argsort(t, kind="stable")
    rank = np.arange(n) - np.repeat(first, lens)
    return t[order], sid[order], rank[order]


def _conversation_prompts(rng: np.random.Generator, sid: np.ndarray, rank: np.ndarray,
                          convs: list[list[str]]) -> list[str]:
    """A human's prompts: each session follows one real conversation's human turns (then another's)."""
    out = [""] * len(sid)
    by_session: dict[int, list[str]] = {}
    for i, (s, r) in enumerate(zip(sid.tolist(), rank.tolist())):
        turns = by_session.setdefault(s, [])
        while len(turns) <= r:
            turns.extend(convs[int(rng.integers(len(convs)))])
        out[i] = turns[r]
    return out


def _bot_times(rng: np.random.Generator, n: int, span_s: float, start_s: float, shape: float = 3.0) -> np.ndarray:
    gaps = rng.gamma(shape, (span_s / max(n, 1)) / shape, size=n)
    return start_s + np.cumsum(gaps)


def _burst_times(rng: np.random.Generator, n: int, days: int, runs: int, gap_s: float,
                 hour: float | None = None) -> np.ndarray:
    per = rng.multinomial(n, np.ones(runs) / runs)
    out = []
    for r, k in enumerate(per):
        d = int(rng.integers(days)) if hour is None else r % days
        h = rng.uniform(0, 24) if hour is None else hour + rng.uniform(0, 0.5)
        out.append(d * 86400 + h * 3600 + np.cumsum(rng.gamma(8.0, gap_s / 8.0, size=k)))
    return np.sort(np.concatenate(out))


def _randomised_account(rng, fam, n, days, attack_pool, par) -> dict:
    """One account of a randomised family (``proxy_spread``, ``verbatim``) under its run parameters ``par``."""
    pick = [attack_pool[i] for i in rng.integers(0, len(attack_pool), size=n)]
    if fam == "proxy_spread":
        first = par["open_day"] + float(rng.uniform(0, par["open_span_days"]))
        t = _human_times(rng, n, days, session_mean=par["session_mean"], tz=par["tz"] + int(rng.integers(-1, 2)),
                         first_day=first)
        t = np.maximum(t, first * 86400.0)
        tpls = par["templates"]
        prompts = [tpls[int(rng.integers(len(tpls)))].format(q=p) if rng.random() < par["template_share"] else p
                   for p in pick]
        ips = _ip(rng, int(rng.integers(par["ips_per_account"][0], par["ips_per_account"][1] + 1)))
        uas = [str(rng.choice(_BROWSERS))]
    else:
        t = _human_times(rng, n, days, session_mean=par["session_mean"])
        prompts = pick
        ips = _ip(rng, int(rng.integers(1, 4)))
        uas = [str(rng.choice(_SDKS if rng.random() < par["sdk_prob"] else _BROWSERS))]
    ct = np.minimum(rng.lognormal(np.log(par["ct_median"]), 0.6, size=n), 4096).astype(int)
    max_tokens = np.full(n, 4096.0 if rng.random() < par["maxtok_prob"] else np.nan)
    pt = np.array([max(1, len(p) // 4) for p in prompts]) + rng.integers(0, 5, size=n)
    err = rng.random(n) < 0.015
    return {"t": t[:n], "prompt": prompts, "pt": pt, "ct": ct, "max_tokens": max_tokens,
            "ip": [ips[i] for i in rng.integers(0, len(ips), size=n)],
            "ua": [uas[i] for i in rng.integers(0, len(uas), size=n)],
            "status": np.where(err, "429", "200")}


def _account(rng, fam, n, days, pool, attack_pool, convs=None) -> dict:
    """Times (seconds from start), prompts, token counts and request metadata of one account."""
    span = days * 86400.0
    src = attack_pool if fam in ATTACK_FAMILIES else pool
    conv_prompts = None
    if fam in ("human", "power_user", "tutoring") and convs:
        t, sid, rank = _human_times(rng, n, days, sessions=True)
        conv_prompts = _conversation_prompts(rng, sid, rank, convs)
    elif fam in ("human", "power_user", "tutoring"):
        t = _human_times(rng, n, days)
    elif fam == "slow_low":
        t = _human_times(rng, n, days, session_mean=8.0)
    elif fam == "reseller":
        t = np.sort(np.concatenate([_human_times(rng, k, days) for k in
                                    rng.multinomial(n, np.ones(40) / 40) if k > 0]))
    elif fam == "eval_harness":
        t = _burst_times(rng, n, days, runs=int(rng.integers(1, 4)), gap_s=float(rng.uniform(0.3, 2.0)))
    elif fam == "batch_enterprise":
        t = _burst_times(rng, n, days, runs=days, gap_s=float(rng.uniform(0.5, 3.0)), hour=1.0)
    elif fam == "hydra":
        active = min(float(rng.uniform(1.0, 4.0)) * 86400, span)
        t = _bot_times(rng, n, active, float(rng.uniform(0, span - active)), shape=2.0)
    else:
        t = _bot_times(rng, n, span * float(rng.uniform(0.5, 1.0)), float(rng.uniform(0, span * 0.2)),
                       shape=float(rng.uniform(1.5, 4.0)))
    if conv_prompts is None:
        prompts = family_prompts(fam, n, rng, src)
    elif fam == "tutoring":  # the platform's wrappers around the conversation's own turns, in session order
        prompts = [_TUTOR_WRAP[int(rng.integers(len(_TUTOR_WRAP)))].format(q=c) if rng.random() < 0.6 else c
                   for c in conv_prompts]
    else:
        prompts = conv_prompts
    pt = np.array([max(1, len(p) // 4) for p in prompts]) + rng.integers(0, 5, size=n)
    max_tokens = np.full(n, np.nan)
    if fam == "eval_harness":
        ct = rng.integers(1, 6, size=n) if "multiple choice" in prompts[0] else rng.integers(60, 400, size=n)
        max_tokens[:] = 8 if "multiple choice" in prompts[0] else 512
    elif fam == "batch_enterprise":
        ct = rng.integers(15, 60, size=n)
        max_tokens[:] = 128
    elif fam in ("heavy_harvester", "cot_rubric", "topic_sweep", "hydra", "slow_low"):
        ct = np.minimum(rng.lognormal(np.log(650), 0.6, size=n), 4096).astype(int)
        max_tokens[:] = 4096 if rng.random() < 0.7 else np.nan
    else:
        ct = np.minimum(rng.lognormal(np.log(260 if fam != "tutoring" else 380), 0.8, size=n), 4096).astype(int)
        max_tokens[:] = rng.choice([np.nan, 1024, 4096], p=[0.5, 0.3, 0.2])
    if fam in ("reseller",):
        ips, uas = _ip(rng, 300), list(rng.choice(_BROWSERS + _SDKS, size=25))
    elif fam in ("human", "power_user", "tutoring", "slow_low"):
        ips, uas = _ip(rng, int(rng.integers(1, 4))), [str(rng.choice(_BROWSERS + _SDKS))]
    else:
        ips, uas = _ip(rng, int(rng.integers(1, 3))), [str(rng.choice(_SDKS[-4:] + ["python-requests/2.31.0",
                                                                                   "httpx/0.27.0"]))]
    err = rng.random(n) < 0.015
    return {"t": t[:n], "prompt": prompts, "pt": pt, "ct": ct, "max_tokens": max_tokens,
            "ip": [ips[i] for i in rng.integers(0, len(ips), size=n)],
            "ua": [uas[i] for i in rng.integers(0, len(uas), size=n)],
            "status": np.where(err, "429", "200")}


def _volume(rng: np.random.Generator, fam: str, par: dict | None = None) -> int:
    ranges = {"eval_harness": (500, 4000), "batch_enterprise": (1500, 15000), "reseller": (2000, 12000),
              "power_user": (300, 2500), "heavy_harvester": (3000, 20000), "cot_rubric": (1000, 6000),
              "topic_sweep": (1000, 5000), "hydra": (150, 900), "slow_low": (200, 800),
              "dist_matched": (2000, 8000)}
    if fam in ("human", "tutoring"):
        return int(min(3000, max(1, np.ceil(rng.lognormal(np.log(14 if fam == "human" else 40), 1.2)))))
    lo, hi = par["volume"] if par else ranges[fam]
    return int(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def simulate_logs(
    n_benign: int = 2000,
    n_per_attack: int = 10,
    *,
    hydra_campaigns: int = 1,
    hydra_size: int = 100,
    proxy_campaigns: int = 1,
    proxy_size: int = 50,
    days: int = 14,
    seed: int = 0,
    start: str = "2025-03-03",
    prompts: list[str] | None = None,
    families: tuple[str, ...] = ATTACK_FAMILIES,
    progress: bool = False,
    conversations: list[list[str]] | None = None,
    onboarding_cohorts: int = 0,
    onboarding_size: int = 100,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate labelled API logs; return ``(logs, accounts)``.

    The parameters of ``proxy_spread`` (per campaign) and ``verbatim`` are drawn from a generator of their
    own seeded by ``seed``, so adding them leaves the other families' traffic of a seed unchanged.

    ``logs`` has the canonical columns plus ``ip``, ``user_agent``, ``model``, ``request_id``, ``org_id``,
    ``status``, ``max_tokens`` and the ground truth ``label`` (1 = attacker) and ``family``. ``accounts``
    has one row per account: ``account_id``, ``label``, ``family``, ``campaign_id``, ``n_requests``, ``seed``.

    Args:
        n_benign: benign accounts (families mixed as in the module docstring).
        n_per_attack: accounts per attacker family other than hydra.
        hydra_campaigns: number of hydra campaigns (coordinated groups of accounts).
        hydra_size: accounts per hydra campaign.
        proxy_campaigns: number of ``proxy_spread`` campaigns (when that family is in ``families``); the
            odd-numbered ones send no template.
        proxy_size: accounts per ``proxy_spread`` campaign.
        days: length of the log; day 0 is a Monday; a new model is released on day ``days // 2``.
        seed: everything is reproducible from it.
        start: the date of day 0 (UTC).
        prompts: pool of real prompts; each benign request draws one independently (default: ShareGPT
            conversations, see ``conversations``).
        conversations: real conversations (lists of human turns); human, power-user and tutoring sessions
            follow one conversation's turns in order (humans follow up), attackers draw single turns from
            the other half. Default when ``prompts`` is None: ShareGPT conversations (turns up to 2,000
            characters, shuffled with ``seed``).
        families: attacker families to include.
        progress: show a tqdm progress bar over accounts.
        onboarding_cohorts: benign ``onboarding`` cohorts (module docstring) of ``onboarding_size`` accounts
            each, campaign ids ``onboard-<c>``; drawn from a generator of their own, after every other account,
            so the rest of a seed's traffic is the same with or without them.

    Example:
        >>> from distillguard.detect.api_logs.simulate import simulate_logs
        >>> logs, acc = simulate_logs(20, 1, hydra_size=3, days=3, prompts=["hello world"] * 10)
        >>> sorted(acc["label"].unique().tolist()), bool((logs["prompt_tokens"] > 0).all())
        ([0, 1], True)
    """
    rng = np.random.default_rng(seed)
    if prompts is None and conversations is None:
        conversations = sharegpt_conversations(seed)
    convs = None
    if conversations is not None:
        convs = [list(c) for c in conversations if len(c)]
        if not convs:
            raise ValueError("conversations holds no turns")
        ch = max(1, len(convs) // 2)
        convs, attack_convs = convs[:ch], convs[ch:] or convs
        pool = [p for c in convs for p in c]
        attack_pool = [p for c in attack_convs for p in c]
    else:
        half = max(1, len(prompts) // 2)
        pool, attack_pool = list(prompts[:half]), list(prompts[half:]) or list(prompts)
    fams = rng.choice(list(_BENIGN_MIX), size=n_benign, p=np.array(list(_BENIGN_MIX.values())))
    plan = [(f"b{i:06d}", str(f), "") for i, f in enumerate(fams)]
    for fam in families:
        if fam == "hydra":
            plan += [(f"h{c}-{j:05d}", "hydra", f"hydra-{c}") for c in range(hydra_campaigns)
                     for j in range(hydra_size)]
        elif fam == "proxy_spread":
            plan += [(f"p{c}-{j:05d}", "proxy_spread", f"proxy-{c}") for c in range(proxy_campaigns)
                     for j in range(proxy_size)]
        else:
            plan += [(f"x-{fam}-{j:04d}", fam, "") for j in range(n_per_attack)]
    plan += [(f"o{c}-{j:05d}", "onboarding", f"onboard-{c}") for c in range(onboarding_cohorts)
             for j in range(onboarding_size)]
    # corporate NATs: a fifth of the humans sit behind shared office IPs
    humans = [i for i, (_, f, _) in enumerate(plan) if f == "human"]
    org_of = {}
    for i in humans:
        if rng.random() < 0.2:
            org_of[i] = int(rng.integers(0, max(1, len(humans) // 25)))
    org_ips = {o: _ip(rng, 2) for o in set(org_of.values())}
    campaign_ips = {c: _ip(rng, 40) for c in sorted({p[2] for p in plan if p[1] == "hydra"})}
    campaign_uas = {c: list(rng.choice(_BROWSERS, size=3)) for c in campaign_ips}
    prng = np.random.default_rng([seed, 29])  # the randomised families' own stream
    # odd-numbered proxy campaigns (proxy-1, proxy-3, ...) send no template: nothing shared but when and how
    par = {c: _campaign_params("proxy_spread", prng, days, templated=int(c.split("-")[1]) % 2 == 0)
           for c in sorted({p[2] for p in plan if p[1] == "proxy_spread"})}
    par["verbatim"] = _campaign_params("verbatim", prng, days)
    orng = np.random.default_rng([seed, 31])  # the onboarding cohorts' own stream
    par.update({f"onboard-{c}": _onboarding_params(orng, days) for c in range(onboarding_cohorts)})
    t0 = pd.Timestamp(start, tz="UTC")
    release = days // 2 * 86400
    parts, acc_rows = [], []
    it = enumerate(plan)
    if progress:
        it = tqdm(it, total=len(plan), desc="simulating accounts", unit="acct")
    for i, (aid, fam, camp) in it:
        if fam == "onboarding":
            a = _onboarding_account(orng, days, par[camp], pool, convs)
            n = len(a["t"])
        elif fam in ("proxy_spread", "verbatim"):
            fp = par[camp or fam]
            n = _volume(prng, fam, fp)
            a = _randomised_account(prng, fam, n, days, attack_pool, fp)
        else:
            n = _volume(rng, fam)
            a = _account(rng, fam, n, days, pool, attack_pool, convs)
        if i in org_of:
            a["ip"] = [org_ips[org_of[i]][k] for k in rng.integers(0, 2, size=n)]
        if camp and fam == "hydra":
            a["ip"] = [campaign_ips[camp][k] for k in rng.integers(0, 40, size=n)]
            a["ua"] = [campaign_uas[camp][k] for k in rng.integers(0, 3, size=n)]
        t = np.clip(a["t"], 0, days * 86400 - 1)
        label = int(fam in ATTACK_FAMILIES)
        newmodel = t >= release if label else (t >= release) & (rng.random(n) < 0.3)
        parts.append(pd.DataFrame({
            "timestamp": t, "account_id": aid, "prompt": a["prompt"], "prompt_tokens": a["pt"].astype(np.int64),
            "completion_tokens": np.asarray(a["ct"], dtype=np.int64), "ip": a["ip"], "user_agent": a["ua"],
            "model": np.where(newmodel, "teacher-v2", "teacher-v1"), "org_id": f"org-{org_of[i]}" if i in org_of
            else "", "status": a["status"], "max_tokens": a["max_tokens"], "label": label, "family": fam,
        }))
        acc_rows.append((aid, label, fam, camp, n, seed))
    logs = pd.concat(parts, ignore_index=True)
    logs["timestamp"] = t0 + pd.to_timedelta(np.round(logs["timestamp"].to_numpy() * 1000), unit="ms")
    logs = logs.sort_values("timestamp", kind="stable").reset_index(drop=True)
    logs.insert(0, "request_id", [f"req-{seed}-{k:09d}" for k in range(len(logs))])
    cols = ["timestamp", "account_id", "prompt", "prompt_tokens", "completion_tokens", "ip", "user_agent",
            "model", "request_id", "org_id", "status", "max_tokens", "label", "family"]
    accounts = pd.DataFrame(acc_rows, columns=["account_id", "label", "family", "campaign_id", "n_requests", "seed"])
    return logs[cols], accounts
