"""The shared steps of the antidistillation benchmarks (``benchmarks/antidistillation.py`` and
``benchmarks/antidistillation_dilution.py``): sizes (:data:`PRESETS`), the fixed public benchmark key, the
teacher's answers with per-step measurements (KL from the unmarked distribution, green-mass gains), the
paired perplexity ratio, student training and reading, per-step processor costs, the KL-matching rule
that pairs an ADFP lambda with KGW delta = 2 (:func:`matched_pair`), and the fixed unrelated keys that give a
reading its null (:func:`null_keys`).

Example:
    >>> from distillguard.distill.antidistillation_bench import PRESETS, matched_pair
    >>> PRESETS["tiny"].n_harvest
    4
    >>> grid = [{"kind": "kgw", "value": 2.0, "kl": 0.46}, {"kind": "adfp", "value": 24.0, "kl": 0.48},
    ...         {"kind": "adfp", "value": 64.0, "kl": 1.1}]
    >>> [r["value"] for r in matched_pair(grid)]
    [2.0, 24.0]
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from distillguard.data import sharegpt_prompts
from distillguard.distill.student import chat_examples, train_text_student
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import LoadedModel, cache_dir, load_model
from distillguard.watermark import ADFPLogitsProcessor, ADSLogitsProcessor, WatermarkLogitsProcessor
from distillguard.watermark.adfp import ProxyRunner, adfp_shift
from distillguard.watermark.ads import ads_direction, load_direction, save_direction
from distillguard.watermark.generate import encode_prompt_text, encode_prompts

GAMMA = 0.25
BASE_T = 0.7
#: A fixed, *public* benchmark key (reproducible runs); never derive a production key from a string.
BENCH_SECRET = hashlib.sha256(b"distillguard/benchmarks/antidistillation/v1").digest()


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    preset: str
    n_quality: int
    n_direction: int
    n_proxy: int
    n_harvest: int
    new_tokens: int
    batch_size: int
    kgw_deltas: tuple[float, ...]
    adfp_lams: tuple[float, ...]
    adfp_proxy_lams: tuple[float, ...]  # ADFP with the student-shaped proxy (P-trained) instead of the teacher
    ads_scales: tuple[float, ...]  # ADS lambda = scale / sd(D) on D's answers (logit units of the shift)
    temps: tuple[float, ...]
    student_layers: int
    student_hidden: int
    student_epochs: int
    speed_batches: tuple[int, ...]
    speed_reps: int
    ads_epsilon: float
    device: str
    seed: int


PRESETS = {
    "cpu": Config("cpu", n_quality=16, n_direction=16, n_proxy=32, n_harvest=48, new_tokens=48, batch_size=16,
                  kgw_deltas=(1.0, 2.0, 3.0), adfp_lams=(8.0, 24.0, 64.0), adfp_proxy_lams=(1000.0, 3000.0, 9000.0),
                  ads_scales=(0.03, 0.06, 0.12),
                  temps=(0.8, 0.9, 1.0), student_layers=2, student_hidden=128, student_epochs=6,
                  speed_batches=(1, 16, 64), speed_reps=10, ads_epsilon=1e-2, device="cpu", seed=0),
    "tiny": Config("tiny", n_quality=4, n_direction=4, n_proxy=4, n_harvest=4, new_tokens=12, batch_size=4,
                   kgw_deltas=(2.0,), adfp_lams=(24.0,), adfp_proxy_lams=(64.0,), ads_scales=(0.06,), temps=(1.0,), student_layers=1,
                   student_hidden=32, student_epochs=1, speed_batches=(1, 4), speed_reps=2, ads_epsilon=1e-2,
                   device="cpu", seed=0),
    "gpu": Config("gpu", n_quality=256, n_direction=128, n_proxy=512, n_harvest=1024, new_tokens=128, batch_size=64,
                  kgw_deltas=(1.0, 2.0, 3.0), adfp_lams=(16.0, 32.0, 64.0, 128.0, 256.0),
                  adfp_proxy_lams=(100.0, 300.0, 1000.0, 3000.0, 9000.0),
                  ads_scales=(0.015, 0.03, 0.06, 0.12, 0.24), temps=(0.8, 0.9, 1.0, 1.2, 1.5), student_layers=4,
                  student_hidden=384, student_epochs=4, speed_batches=(1, 16, 64), speed_reps=50,
                  ads_epsilon=1e-2, device="cuda", seed=0),
}


# -- generation with per-step measurements ----------------------------------------------------------------
class _Snapshot(LogitsProcessor):
    """First in the list: keeps the unmarked scores of this step for the meter."""

    def __init__(self) -> None:
        self.z: torch.Tensor | None = None

    def __call__(self, input_ids, scores):
        self.z = scores.float().clone()
        return scores


class _Meter(LogitsProcessor):
    """Last in the list: KL of the sampled distribution from the unmarked T = 0.7 one, green-mass gains."""

    def __init__(self, snap: _Snapshot, green: ADFPLogitsProcessor, t_sample: float, t_ref: float = BASE_T):
        self.snap, self.green, self.ts, self.tr = snap, green, t_sample, t_ref
        self.kl: list[float] = []
        self.teacher_gain: list[float] = []
        self.proxy_gain: list[float] = []

    def __call__(self, input_ids, scores):
        V = self.green.spec.vocab_size
        z, z2 = self.snap.z[:, :V], scores[:, :V].float()
        p, p2 = torch.softmax(z / self.tr, -1), torch.softmax(z2 / self.ts, -1)
        lp, lp2 = torch.log_softmax(z / self.tr, -1), torch.log_softmax(z2 / self.ts, -1)
        self.kl += torch.where(p2 > 0, p2 * (lp2 - lp), torch.zeros_like(p2)).sum(-1).tolist()
        mask = self.green.green(input_ids, z.shape[0], z.device)
        self.teacher_gain += ((p2 - p) * mask).sum(-1).tolist()
        d = adfp_shift(torch.softmax(z, -1), mask)
        self.proxy_gain += ((p2 - p) * d).sum(-1).tolist()
        return scores


def generate(teacher: LoadedModel, prompts: Sequence[str], marks: list[Any], cfg: Config, t: float, key: WatermarkKey,
             seed: int) -> tuple[list[list[int]], dict[str, float]]:
    """Exactly ``new_tokens`` answer tokens per prompt; the marks' processors, then the meter."""
    tok = teacher.tokenizer
    out_ids: list[list[int]] = []
    green = ADFPLogitsProcessor(key, lam=1.0)
    meters = []
    t0 = time.perf_counter()
    for b0 in range(0, len(prompts), cfg.batch_size):
        enc = encode_prompts(teacher, prompts[b0 : b0 + cfg.batch_size]).to(cfg.device)
        snap = _Snapshot()
        meter = _Meter(snap, green, t)
        meters.append(meter)
        torch.manual_seed(seed * 1_000_003 + b0)
        with torch.inference_mode():
            out = teacher.model.generate(**enc, do_sample=True, temperature=t, top_k=0, top_p=1.0,
                                         max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens,
                                         pad_token_id=tok.pad_token_id,
                                         logits_processor=LogitsProcessorList([snap, *marks, meter]))
        out_ids += out[:, enc["input_ids"].shape[1] :].tolist()
    seconds = time.perf_counter() - t0
    cat = {k: float(np.mean(sum((getattr(m, k) for m in meters), []))) for k in ("kl", "teacher_gain", "proxy_gain")}
    return out_ids, {**cat, "seconds": seconds}


# -- quality: the existing paired-perplexity metric -----------------------------------------------------------
def reference_nll(ref: LoadedModel, prompt: str, answer: str, max_ctx: int = 128) -> tuple[float, int]:
    """Summed NLL of the answer under Gemma-3-270M given ``<bos> prompt \\n\\n`` (as watermark_quality.py)."""
    tok = ref.tokenizer
    ctx = tok(prompt.strip() + "\n\n", add_special_tokens=True)["input_ids"]
    if len(ctx) > max_ctx:
        ctx = ctx[:1] + ctx[-(max_ctx - 1) :]
    ans = tok(answer, add_special_tokens=False)["input_ids"]
    if not ans:
        return math.nan, 0
    ids = torch.tensor([ctx + ans], device=next(ref.model.parameters()).device)
    hidden = ref.model.get_decoder()(input_ids=ids).last_hidden_state[0, len(ctx) - 1 : -1]
    logits = ref.model.get_output_embeddings()(hidden).float()
    cap = getattr(ref.model.config, "final_logit_softcapping", None) or getattr(
        getattr(ref.model.config, "text_config", None), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    lp = logits.log_softmax(-1).gather(1, torch.tensor(ans, device=ids.device)[:, None])
    return float(-lp.double().sum()), len(ans)


def degenerate(ids: Sequence[int]) -> bool:
    """Repetition loop: fewer distinct (previous token, token) coins than half the scored positions."""
    pairs = set(zip(ids[:-1], ids[1:]))
    return len(pairs) < 0.5 * max(len(ids) - 1, 1)


def paired_ratio(ppl: np.ndarray, base: np.ndarray, n_boot: int = 2000) -> tuple[float, float, float]:
    """exp(mean log PPL ratio) with a 95% bootstrap CI over prompts."""
    d = np.log(ppl) - np.log(base)
    d = d[np.isfinite(d)]
    rng = np.random.default_rng(0)
    boots = [np.mean(rng.choice(d, len(d))) for _ in range(n_boot)] if len(d) > 1 else [d.mean()] * 2
    return float(np.exp(d.mean())), float(np.exp(np.percentile(boots, 2.5))), float(np.exp(np.percentile(boots, 97.5)))


# -- students ------------------------------------------------------------------------------------------------
def load_student(path: Path, device: str) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).to(device).eval()


def student_on(tok: Any, pairs: list[tuple[str, str]], out: Path, cfg: Config, desc: str) -> Any:
    seqs, starts = chat_examples(tok, pairs)
    train_text_student(out, tok, seqs, layers=cfg.student_layers, hidden=cfg.student_hidden,
                       epochs=cfg.student_epochs, seed=cfg.seed, desc=desc, answer_starts=starts)
    return load_student(out, cfg.device)


@torch.no_grad()
def read_student(model: Any, tok: Any, pairs: list[tuple[str, str]], key: WatermarkKey) -> dict[str, Any]:
    """Held-out NLL on the answers, and the student's green mass on those contexts (per text means)."""
    proc = ADFPLogitsProcessor(key, lam=1.0)
    V = key.require_spec().vocab_size
    seqs, starts = chat_examples(tok, pairs)
    nll, green = [], []
    dev = next(model.parameters()).device
    for seq, s in zip(seqs, starts):
        ids = torch.tensor([seq], device=dev)
        logits = model(ids).logits[0, s - 1 : -1, :V].float()
        lp = logits.log_softmax(-1)
        tgt = ids[0, s:]
        nll.append(float(-lp.gather(1, tgt[:, None]).mean()))
        ctx = ids[0, s - 1 : -1][:, None].cpu()  # h = 1: each position's previous token is its context
        mask = proc.green(ctx, len(tgt), torch.device("cpu")).to(dev)
        green.append(float((lp.exp() * mask).sum(-1).mean()))
    return {"nll": nll, "green": green}


def student_samples(model: Any, tok: Any, prompts: Sequence[str], cfg: Config) -> list[str]:
    texts = []
    for b0 in range(0, len(prompts), cfg.batch_size):
        enc = tok([encode_prompt_text(tok, p) for p in prompts[b0 : b0 + cfg.batch_size]], return_tensors="pt",
                  padding=True, add_special_tokens=False).to(cfg.device)
        torch.manual_seed(cfg.seed + b0)
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=cfg.new_tokens,
                                 min_new_tokens=cfg.new_tokens, pad_token_id=tok.pad_token_id)
        texts += tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


# -- per-step cost -----------------------------------------------------------------------------------------
def _time(fn, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e3)


def step_costs(key: WatermarkKey, proxy: LoadedModel, direction: dict[str, torch.Tensor], ads_lam: float,
               cfg: Config) -> list[dict[str, Any]]:
    V = key.require_spec().vocab_size
    rows = []
    gen = torch.Generator().manual_seed(0)
    for B in cfg.speed_batches:
        ids = torch.randint(3, V, (B, 32), generator=gen).to(cfg.device)
        z = torch.randn(B, V, generator=gen).to(cfg.device)
        kgw = WatermarkLogitsProcessor(key)
        adfp = ADFPLogitsProcessor(key, lam=64.0)
        adfp_p = ADFPLogitsProcessor(key, lam=64.0, proxy=proxy)
        ads = ADSLogitsProcessor(proxy, direction, ads_lam, cfg.ads_epsilon, spec=key.require_spec())
        state = {"ids": ids}

        def grow(proc, ids=ids, z=z, state=state):  # one new token per call: the KV caches advance one step
            def step():
                state["ids"] = torch.cat([state["ids"], state["ids"][:, -1:]], dim=1)
                if state["ids"].shape[1] > 32 + 2 * cfg.speed_reps + 4:
                    state["ids"] = ids
                    for r in (getattr(proc, "proxy", None), getattr(proc, "plus", None), getattr(proc, "minus", None)):
                        if isinstance(r, ProxyRunner):
                            r.reset()
                proc(state["ids"], z.clone())
            return step

        floor = _time(lambda z=z: z.clone().add_(1.0), cfg.speed_reps)
        row = {"B": B, "add floor (clone + add)": floor,
               "KGW": _time(lambda p=kgw, i=ids, z=z: p(i, z.clone()), cfg.speed_reps),
               "ADFP (teacher proxy)": _time(lambda p=adfp, i=ids, z=z: p(i, z.clone()), cfg.speed_reps),
               "ADFP (student-shaped proxy, KV step)": _time(grow(adfp_p), cfg.speed_reps),
               "ADS (2 proxy KV steps)": _time(grow(ads), cfg.speed_reps)}
        rows.append(row)
    return rows


# -- the run -------------------------------------------------------------------------------------------------
@dataclass
class Bench:
    """What every part of the benchmark shares: the cache folder, the teacher, the key and the prompt splits."""

    cfg: Config
    work: Path
    teacher: LoadedModel
    key: WatermarkKey
    splits: dict[str, list[str]]

    def answers(self, prompts: Sequence[str], marks: list[Any], t: float, k: WatermarkKey, seed: int,
                name: str) -> tuple[list[list[int]], dict[str, float]]:
        """The teacher's answers (ids) and their per-step measurements, cached as ``gen_<name>.json``."""
        path = self.work / f"gen_{name}.json"
        if path.exists():
            doc = json.loads(path.read_text())
            return doc["ids"], doc["stats"]
        ids, stats = generate(self.teacher, prompts, marks, self.cfg, t, k, seed)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"ids": ids, "stats": stats}))
        tmp.replace(path)  # atomic: a run stopped while writing leaves no half file to resume from
        return ids, stats

    def text(self, ids: list[list[int]]) -> list[str]:
        return [self.teacher.tokenizer.decode(x, skip_special_tokens=True) for x in ids]


def setup(cfg: Config, work: Path | None = None) -> Bench:
    """Load the teacher, make the public benchmark key and the prompt splits Q/D/P/H; ``work``: the cache folder
    (default ``$DISTILLGUARD_CACHE/bench/antidistillation_<preset>``)."""
    work = Path(work) if work is not None else cache_dir() / "bench" / f"antidistillation_{cfg.preset}"
    work.mkdir(parents=True, exist_ok=True)
    teacher = load_model(None, device=cfg.device)
    tok = teacher.tokenizer
    key = WatermarkKey(BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=GAMMA, delta=2.0,
                                                   tokenizer_id=tokenizer_id(tok)))
    n = [cfg.n_quality, cfg.n_direction, cfg.n_proxy, cfg.n_harvest]
    allp = sharegpt_prompts(sum(n), seed=27, min_chars=20, max_chars=300)
    return Bench(cfg, work, teacher, key, {s: allp[sum(n[:i]) : sum(n[: i + 1])] for i, s in enumerate("QDPH")})


@dataclass
class AdsProxy:
    """The student-shaped ADS proxy, its precomputed direction and the direction's scale on D's answers."""

    model: Any
    proxy: LoadedModel
    direction: dict[str, torch.Tensor]
    info: dict[str, Any]
    shift_sd: float


def ads_proxy(bench: Bench, p_pairs: list[tuple[str, str]], d_pairs: list[tuple[str, str]]) -> AdsProxy:
    """Train the student-shaped proxy on ``p_pairs``, compute (once, cached with its hash next to it) the ADS
    direction from its NLL on ``d_pairs``, and measure the sd of the ADS logit shift on the first 8 of them
    (the unit of every ADS lambda grid: lambda = scale / shift_sd)."""
    tok = bench.teacher.tokenizer
    model = student_on(tok, p_pairs, bench.work / "proxy", bench.cfg, "proxy")
    proxy = LoadedModel(model, tok, "student-shaped proxy (trained on P)", "proxy-P", bench.teacher.is_chat)
    g, info, sd = cached_direction(bench, proxy, d_pairs)
    return AdsProxy(model, proxy, g, info, sd)


def cached_direction(bench: Bench, proxy: LoadedModel, d_pairs: list[tuple[str, str]]
                     ) -> tuple[dict[str, torch.Tensor], dict[str, Any], float]:
    """The ADS direction of ``proxy`` from its NLL on ``d_pairs`` (computed once, saved in the bench's folder with
    its SHA-256 and read back hash-checked) and the sd of the ADS logit shift on the first 8 pairs:
    ``(direction, info, shift_sd)``.

    Example:
        >>> g, info, sd = cached_direction(bench, proxy, d_pairs)  # doctest: +SKIP
    """
    cfg, work = bench.cfg, bench.work
    dseqs, dstarts = chat_examples(proxy.tokenizer, d_pairs)
    dpath = work / "ads_direction.safetensors"
    if not dpath.exists():
        g, info = ads_direction(proxy.model, list(zip(dseqs, dstarts)))
        sha = save_direction(g, dpath, proxy_id=proxy.identity)
        (work / "ads_direction.json").write_text(json.dumps({**info, "sha256": sha}))
    info = json.loads((work / "ads_direction.json").read_text())
    g = load_direction(dpath, info["sha256"])
    probe = ADSLogitsProcessor(proxy, g, 1.0, cfg.ads_epsilon, spec=bench.key.spec)
    sds = []
    with torch.no_grad():
        for seq, s in list(zip(dseqs, dstarts))[:8]:
            x = torch.tensor([seq], device=cfg.device)
            diff = (probe.plus.model(x).logits[0, s:] - probe.minus.model(x).logits[0, s:]) / (2 * cfg.ads_epsilon)
            sds.append(float(diff[:, : bench.key.spec.vocab_size].std(-1).mean()))
    return g, info, float(np.mean(sds))


def matched_pair(grid: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The comparison rule of section 2, fixed before the first run: KGW delta = 2 (else the first KGW row) and
    the ADFP (teacher as proxy) grid row whose per-step KL is nearest it on a log scale."""
    kgw2 = next((r for r in grid if r["kind"] == "kgw" and r["value"] == 2.0), [r for r in grid if r["kind"] == "kgw"][0])
    adfp_m = min((r for r in grid if r["kind"] == "adfp"), key=lambda r: abs(math.log(max(r["kl"], 1e-9) / max(kgw2["kl"], 1e-9))))
    return kgw2, adfp_m


def null_keys(key: WatermarkKey, n: int) -> list[WatermarkKey]:
    """``n`` fixed unrelated keys of ``key``'s spec (public, derived from their index): a statistic's null.

    The same keys as ``benchmarks/antidistillation_dilution.py``'s.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> ks = null_keys(WatermarkKey(BENCH_SECRET, WatermarkSpec(vocab_size=100)), 3)
        >>> len({k.fingerprint for k in ks}), ks[0].spec.vocab_size
        (3, 100)
    """
    return [WatermarkKey(hashlib.sha256(b"distillguard/antidistillation/null/%d" % i).digest(), key.spec)
            for i in range(n)]
