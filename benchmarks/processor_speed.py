"""How much does the watermark cost? Processor time per decoding step, detection throughput, generation overhead.

Everything is measured side by side in one process, interleaved, and reported as ratios against the
baseline of the same run (absolute times on shared machines are noisy):

* per-step processor cost at B in {1, 16, 64}, V = 49,152: the floor (an in-place ``[B, V]`` add),
  distillguard (left h=1, left h=4, min/self-hash h=4, one account key per row), transformers'
  ``WatermarkLogitsProcessor`` (lefthash h=1, selfhash h=4) and ``SynthIDTextWatermarkLogitsProcessor``;
* detection throughput (tokens/s, one process) beside transformers' ``WatermarkDetector``;
* end-to-end generation overhead at B = 16 with the real SmolLM2 teacher (CPU) -- on CUDA, with a
  random-weight model of SmolLM2-135M's architecture, because the 98 MB GGUF cannot travel to the GPU machine;
* ``--schemes``: end-to-end generation time of the real teacher (CPU) under each marking / sampling scheme --
  none, KGW, ADFP with the teacher as its own proxy, ADS with a copy of the teacher as proxy, ADFP + ADS -- at
  B in {1, 16}, interleaved rounds, medians and ratios to the unmarked run of the same round. ADS is timed with
  a random unit direction: its cost (two proxy forwards per step) does not depend on the direction's values.

Usage::

    python benchmarks/processor_speed.py            # full CPU run, writes results/processor_speed.json/.md
    python benchmarks/processor_speed.py --quick    # CI smoke (small, writes to a temp dir unless --out)
    python benchmarks/processor_speed.py --device cuda --out benchmarks/results/processor_speed_gpu.json
    python benchmarks/processor_speed.py --schemes  # results/processor_speed_schemes.json/.md (~10 min)
"""

# ruff: noqa: B023  (the timed lambdas run inside the loop iteration that defines them)
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from distillguard.detect import score_batch
from distillguard.distill.bench import md_table, new_record, write_result
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark import ADFPLogitsProcessor, ADSLogitsProcessor, WatermarkLogitsProcessor

V = 49152
RESULTS = Path(__file__).parent / "results"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time_interleaved(fns: dict[str, Callable[[], object]], device: str, reps: int, rounds: int) -> dict[str, float]:
    """Median over ``rounds`` of the mean ms per call over ``reps`` calls; candidates interleaved per round."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():  # warm-up (table uploads, allocator)
        for _ in range(3):
            f()
    _sync(device)
    for _ in range(rounds):
        for name, f in fns.items():
            _sync(device)
            t = time.perf_counter()
            for _ in range(reps):
                f()
            _sync(device)
            samples[name].append((time.perf_counter() - t) / reps * 1e3)
    return {k: statistics.median(v) for k, v in samples.items()}


def processor_step_costs(device: str, batches: list[int], reps: int, rounds: int, with_slow: bool) -> list[dict]:
    from transformers import SynthIDTextWatermarkLogitsProcessor
    from transformers import WatermarkLogitsProcessor as HFWatermark

    key = WatermarkKey.generate(WatermarkSpec(vocab_size=V))
    rows = []
    for B in batches:
        g = torch.Generator().manual_seed(B)
        ids = torch.randint(0, V, (B, 64), generator=g).to(device)
        scores = torch.randn(B, V, device=device)
        bias = torch.randn(B, V, device=device)
        ours = {
            "distillguard left h=1": WatermarkLogitsProcessor(key),
            "distillguard left h=4": WatermarkLogitsProcessor(key, context_width=4),
            "distillguard min h=4": WatermarkLogitsProcessor(key, context_width=4, seeding="min"),
            "distillguard left h=1, key per row": WatermarkLogitsProcessor(
                [key.for_account(f"acct-{i}") for i in range(B)]
            ),
        }
        fns: dict[str, Callable[[], object]] = {"floor: in-place [B,V] add": lambda: scores.add_(bias)}
        for name, proc in ours.items():
            fns[name] = lambda proc=proc: proc(ids, scores)
        hf_left = HFWatermark(vocab_size=V, device=device, context_width=1, seeding_scheme="lefthash")
        fns["transformers lefthash h=1"] = lambda: hf_left(ids, scores.clone())
        timed = _time_interleaved(fns, device, reps, rounds)
        if with_slow:  # seconds per call at B=64: time them with fewer repetitions
            hf_self = HFWatermark(vocab_size=V, device=device, context_width=4, seeding_scheme="selfhash")
            synthid = SynthIDTextWatermarkLogitsProcessor(
                ngram_len=5, keys=list(range(654, 654 + 30)), sampling_table_size=2**16,
                sampling_table_seed=0, context_history_size=1024, device=torch.device(device),
            )
            timed.update(_time_interleaved(
                {"transformers selfhash h=4": lambda: hf_self(ids, scores.clone()),
                 "transformers SynthID": lambda: synthid(ids, scores.clone())},
                device, reps=1, rounds=3,
            ))
        floor = timed["floor: in-place [B,V] add"]
        for name, ms in timed.items():
            rows.append({"batch": B, "method": name, "ms_per_step": ms, "x_floor": ms / floor})
    return rows


def detection_throughput(n_tokens: int, hf_tokens: int, device: str) -> dict:
    from transformers import LlamaConfig, WatermarkDetector, WatermarkingConfig

    key = WatermarkKey.generate(WatermarkSpec(vocab_size=V))
    rng = np.random.default_rng(0)
    texts = [rng.integers(0, V, 500) for _ in range(n_tokens // 500)]
    score_batch(texts[:2], key)  # tables
    t = time.perf_counter()
    score_batch(texts, key)
    ours = sum(map(len, texts)) / (time.perf_counter() - t)
    cfg = LlamaConfig(vocab_size=V, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    det = WatermarkDetector(cfg, device="cpu", watermarking_config=WatermarkingConfig())
    batch = torch.from_numpy(np.stack(texts[: max(1, hf_tokens // 500)])).long()
    t = time.perf_counter()
    det(batch)
    hf = batch.numel() / (time.perf_counter() - t)
    return {"distillguard_tokens_per_s": ours, "distillguard_tokens": sum(map(len, texts)),
            "transformers_tokens_per_s": hf, "transformers_tokens": int(batch.numel()), "speedup": ours / hf}


def generation_overhead(device: str, batch: int, new_tokens: int, rounds: int) -> dict:
    if device == "cpu":
        from distillguard.models import load_model

        lm = load_model()
        model, tok, what = lm.model, lm.tokenizer, lm.identity
        enc = tok([f"Tell me about topic {i}." for i in range(batch)], return_tensors="pt", padding=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(vocab_size=V, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True,
                          max_position_embeddings=2048, pad_token_id=2, eos_token_id=2, bos_token_id=1)
        model = LlamaForCausalLM(cfg).to(device).eval()
        what = "SmolLM2-135M architecture, random weights (GGUF too large to carry to the GPU machine)"
        ids = torch.randint(3, V, (batch, 24), device=device)
        mask = torch.ones_like(ids)
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=V))
    proc = WatermarkLogitsProcessor(key)
    kw = dict(input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=new_tokens,
              min_new_tokens=new_tokens, do_sample=True, pad_token_id=2)

    def run(with_wm: bool) -> float:
        _sync(device)
        t = time.perf_counter()
        with torch.inference_mode():
            model.generate(**kw, logits_processor=[proc] if with_wm else None)
        _sync(device)
        return time.perf_counter() - t

    run(True), run(False)
    plain, marked = [], []
    for _ in range(rounds):
        plain.append(run(False))
        marked.append(run(True))
    p, m = statistics.median(plain), statistics.median(marked)
    return {"model": what, "batch": batch, "new_tokens": new_tokens, "rounds": rounds,
            "plain_s": p, "watermarked_s": m, "overhead_pct": 100 * (m - p) / p}


def scheme_processors(lm, key: WatermarkKey, temperature: float, seed: int = 0) -> dict[str, list]:
    """The logits processors of each scheme for ``lm`` (a LoadedModel), as ``distillguard generate`` stacks them.

    ADS gets a copy of ``lm`` as its proxy and a random unit direction (seeded): enough to time it.

    Example:
        >>> from distillguard.models import LoadedModel  # doctest: +SKIP
        >>> sorted(scheme_processors(lm, key, 0.7))  # doctest: +SKIP
        ['ADFP (teacher proxy) + ADS', 'ADFP λ=24 (teacher proxy)', 'ADS (teacher-copy proxy)', 'KGW δ=2', 'none']
    """
    from distillguard.models import LoadedModel

    gen = torch.Generator().manual_seed(seed)
    params = dict(lm.model.named_parameters())
    g = {n: torch.randn(p.shape, generator=gen) for n, p in params.items()}
    norm = float(sum((t.double() ** 2).sum() for t in g.values())) ** 0.5
    g = {n: t / norm for n, t in g.items()}
    proxy = LoadedModel(lm.model, lm.tokenizer, "teacher copy", "teacher-copy", lm.is_chat)

    def ads() -> ADSLogitsProcessor:
        return ADSLogitsProcessor(proxy, g, 1.0, 1e-2, temperature=temperature, spec=key.spec,
                                  pad_token_id=lm.tokenizer.pad_token_id)

    return {"none": [], "KGW δ=2": [WatermarkLogitsProcessor(key, delta=2.0)],
            "ADFP λ=24 (teacher proxy)": [ADFPLogitsProcessor(key, lam=24.0)],
            "ADS (teacher-copy proxy)": [ads()],
            "ADFP (teacher proxy) + ADS": [ADFPLogitsProcessor(key, lam=24.0), ads()]}


def scheme_overhead(lm, batches: list[int], new_tokens: int, rounds: int, temperature: float = 0.7) -> list[dict]:
    """Generation time of ``lm`` under each scheme, interleaved per round; ratios to the same round's unmarked run.

    Example:
        >>> rows = scheme_overhead(lm, [1], new_tokens=4, rounds=1)  # doctest: +SKIP
        >>> rows[0]["scheme"], rows[0]["x_none"]  # doctest: +SKIP
        ('none', 1.0)
    """
    from distillguard.keys import tokenizer_id
    from distillguard.watermark.generate import encode_prompts

    tok = lm.tokenizer
    key = WatermarkKey.generate(WatermarkSpec(vocab_size=len(tok), tokenizer_id=tokenizer_id(tok)))
    procs = scheme_processors(lm, key, temperature)
    out = []
    for b in batches:
        enc = encode_prompts(lm, [f"Tell me about topic {i}." for i in range(b)])
        kw = dict(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True,
                  temperature=temperature, top_k=0, top_p=1.0, pad_token_id=tok.pad_token_id)

        def run(name: str) -> float:  # a new batch resets the proxies' KV caches (they see no extension)
            t = time.perf_counter()
            with torch.inference_mode():
                lm.model.generate(**kw, logits_processor=procs[name])
            return time.perf_counter() - t

        for name in procs:  # warm-up
            run(name)
        times: dict[str, list[float]] = {n: [] for n in procs}
        for _ in range(rounds):
            for name in procs:
                times[name].append(run(name))
        base = statistics.median(times["none"])
        ratios = {n: statistics.median(t / z for t, z in zip(times[n], times["none"])) for n in procs}
        out += [{"batch": b, "new_tokens": new_tokens, "rounds": rounds, "scheme": n,
                 "median_s": statistics.median(times[n]), "ms_per_token_step": 1000 * statistics.median(times[n]) / new_tokens,
                 "x_none": ratios[n], "none_s": base} for n in procs]
    return out


def _schemes_markdown(res: dict) -> str:
    lines = [f"### End-to-end generation time by scheme ({res['device_name']}, model {res['model']})", "",
             "Median over interleaved rounds; `× none`: median of the per-round ratio to the unmarked run.", "",
             *md_table(["B", "scheme", "new tokens", "median s", "ms / step", "× none"],
                       [[r["batch"], r["scheme"], r["new_tokens"], f"{r['median_s']:.2f}",
                         f"{r['ms_per_token_step']:.1f}", f"{r['x_none']:.2f}"] for r in res["schemes"]],
                       align="llrrrr"),
             "", f"command: `{res['run']['command']}` — {res['run']['utc']}"]
    return "\n".join(lines) + "\n"


def _markdown(res: dict) -> str:
    lines = [f"### Processor cost per decoding step ({res['device_name']}, V = {V})", "",
             *md_table(["B", "method", "ms / step", "× floor"],
                       [[r["batch"], r["method"], f"{r['ms_per_step']:.3f}", f"{r['x_floor']:.1f}"]
                        for r in res["step_costs"]], align="llrr")]
    d = res.get("detection")
    if d:
        lines += ["", "### Detection throughput (one process)", "",
                  *md_table(["detector", "tokens / s"],
                            [["distillguard `score_batch`", f"{d['distillguard_tokens_per_s']:,.0f}"],
                             ["transformers `WatermarkDetector`", f"{d['transformers_tokens_per_s']:,.0f}"],
                             ["speed-up", f"{d['speedup']:,.0f}×"]], align="lr")]
    g = res.get("generation")
    if g:
        lines += ["", f"### End-to-end generation overhead (B = {g['batch']}, {g['new_tokens']} new tokens)", "",
                  f"model: {g['model']}", "",
                  *md_table(["unwatermarked s", "watermarked s", "overhead"],
                            [[f"{g['plain_s']:.2f}", f"{g['watermarked_s']:.2f}", f"{g['overhead_pct']:+.1f}%"]],
                            align="rrr")]
    lines += ["", f"command: `{res['run']['command']}` — {res['run']['utc']}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="small sizes for a CI smoke run")
    ap.add_argument("--out", help="JSON output path (default results/processor_speed[_gpu].json; quick: none)")
    ap.add_argument("--schemes", action="store_true",
                    help="only the end-to-end generation time per scheme (none, KGW, ADFP, ADS, ADFP + ADS) on the "
                         "real teacher (CPU)")
    args = ap.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    quick = args.quick
    if args.schemes:
        from distillguard.models import load_model

        lm = load_model()
        res = new_record("benchmarks/processor_speed.py", argv, question="end-to-end generation time per scheme",
                         device="cpu", model=lm.identity,
                         device_name=f"CPU, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
        res["schemes"] = scheme_overhead(lm, [1, 4] if quick else [1, 16], 8 if quick else 32, 1 if quick else 3)
        md = _schemes_markdown(res)
        print(md)
        out = args.out or (None if quick else str(RESULTS / "processor_speed_schemes.json"))
        if out:
            write_result(Path(out).stem, res, md, Path(out).parent)
        return 0
    res = new_record(
        "benchmarks/processor_speed.py", argv,
        question="processor cost per step, detection throughput and generation overhead",
        device=args.device,
        device_name=torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}",
    )
    batches = [1, 16] if quick else [1, 16, 64]
    res["step_costs"] = processor_step_costs(args.device, batches, reps=5 if quick else 50,
                                             rounds=3 if quick else 9, with_slow=not quick)
    if args.device == "cuda":
        key = WatermarkKey.generate(WatermarkSpec(vocab_size=V, context_width=3))
        proc = WatermarkLogitsProcessor(key)
        ids = torch.randint(0, V, (64, 8))
        res["cuda_equals_cpu"] = bool(torch.equal(
            proc(ids.cuda(), torch.zeros(64, V, device="cuda")).cpu(), proc(ids, torch.zeros(64, V))))
    res["detection"] = detection_throughput(20_000 if quick else 2_000_000, 1000 if quick else 4000, args.device)
    res["generation"] = generation_overhead(args.device, batch=16, new_tokens=8 if quick else 64,
                                            rounds=1 if quick else 5)
    md = _markdown(res)
    print(md)
    out = args.out or (None if quick else str(RESULTS / ("processor_speed_gpu.json" if args.device == "cuda"
                                                          else "processor_speed.json")))
    if out:
        write_result(Path(out).stem, res, md, Path(out).parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
