"""``distillguard fingerprint build``, ``calibrate`` and ``probe``.

Example:
    >>> import argparse
    >>> from distillguard.cli.fingerprint import register
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> register(sub)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from distillguard.cli.common import (
    add_http_args,
    atomic_output,
    check_output,
    http_kwargs,
    nonneg_int,
    positive_int,
    probability,
)
from distillguard.errors import EXIT_DETECTED, EXIT_NOT_DETECTED, DistillguardError

__all__ = ["register"]


def _build(args: argparse.Namespace) -> int:
    from distillguard.fingerprint.api import build_probes
    from distillguard.fingerprint.candidates import answered_candidates, candidate_pool
    from distillguard.suspects import open_suspect

    modes = _modes(args.modes)
    sources = {"the teacher": args.teacher, "the prompt file": args.prompts, "the cache": args.cache,
               **{f"reference {r}": r for r in args.reference}, **{f"calibration model {c}": c for c in args.calibrate},
               **{f"panel model {m}": m for m in args.panel if m != "gemma3-270m:assistant"}}
    check_output("--out", args.out, sources, force=args.force, own="probes", create_parent=True)
    cands = candidate_pool(args.real) if args.designed else []
    if args.answered:
        taken = {c["prompt"] for c in cands}
        cands += answered_candidates(args.answered, exclude=taken)
    if args.prompts:
        from distillguard.watermark.generate import read_prompts

        cands += [{"id": r["id"], "family": r.get("family", "custom"), "prompt": r["prompt"]}
                  for r in read_prompts(args.prompts)]
    if not cands:
        raise DistillguardError("no candidate prompts: use --real/--designed, --answered N or --prompts FILE")
    if not args.reference and any(not c.get("reference_answers") for c in cands):
        raise DistillguardError("give at least one --reference model (or use only --answered candidates with "
                                "--no-designed)")
    teacher = open_suspect(args.teacher, **http_kwargs(args, args.teacher))
    refs = [open_suspect(r, **http_kwargs(args, r)) for r in args.reference]
    calib = {c: open_suspect(c, **http_kwargs(args, c)) for c in args.calibrate}
    panel = [_panel_model(m, args) for m in args.panel]
    ps = build_probes(teacher, refs, cands, n_probes=args.n_probes, teacher_samples=args.teacher_samples,
                      max_new_tokens=args.max_new_tokens, cache_dir=args.cache, calibration=calib,
                      calibration_modes=modes, strategy=args.strategy, contrast=args.contrast, panel=panel,
                      progress=True)
    with atomic_output(args.out) as tmp:
        ps.save(tmp)
    print(f"wrote {len(ps.probes)} probes (from {len(cands)} candidates) to {args.out}; "
          f"calibration: {', '.join(f'{m}={len(v)}' for m, v in ps.calibration.items()) or 'none'}")
    return 0


def _panel_model(name: str, args: argparse.Namespace) -> Any:
    """A reference-panel model; ``gemma3-270m:assistant`` is the embedded Gemma base prompted as an assistant."""
    from distillguard.suspects import open_suspect

    if name == "gemma3-270m:assistant":
        from distillguard.distill.sources import gemma_assistant

        return gemma_assistant()
    return open_suspect(name, **http_kwargs(args, name))


def _calibrate(args: argparse.Namespace) -> int:
    from distillguard.fingerprint.api import calibrate
    from distillguard.fingerprint.probeset import ProbeSet
    from distillguard.fingerprint.score import MODES
    from distillguard.suspects import open_suspect

    check_output("--out", args.out, {"the input probe file (never overwritten)": args.probes,
                                     **{f"calibration model {c}": c for c in args.calibrate}}, force=args.force, own="probes", create_parent=True)
    requested = _modes(args.modes) if args.modes else None
    ps = ProbeSet.load(args.probes, teacher=args.teacher)
    modes = requested or (sorted(ps.calibration) or list(MODES))
    if args.replace:
        ps.calibration = {}
    models = {c: open_suspect(c, **http_kwargs(args, c)) for c in args.calibrate}  # every model loads before any scoring starts
    for mode in modes:  # refuse a null too small for the test before spending any query on it
        names = set(ps.calibration.get(mode, {})) | {c for c, m in models.items() if mode != "logprob" or m.can_score}
        if len(names) < 2:
            raise DistillguardError(f"{mode} scoring would have {len(names)} calibration model(s); the test needs "
                                    "at least 2 (give --calibrate MODEL more often)")
    for name, model in models.items():
        calibrate(ps, name, model, modes)
    with atomic_output(args.out) as tmp:
        ps.save(tmp)
    print(f"wrote {args.out}: {len(ps.probes)} probes; calibration: "
          + ", ".join(f"{m}={len(v)}" for m, v in sorted(ps.calibration.items())))
    return 0


def _probe(args: argparse.Namespace) -> int:
    from distillguard.fingerprint.api import probe_suspect
    from distillguard.fingerprint.probeset import ProbeSet
    from distillguard.report.fingerprint import verdict_word, write_report
    from distillguard.suspects import open_suspect

    check_output("--report", args.report,
                 {"the suspect": args.suspect if Path(args.suspect).expanduser().exists() else None,
                  "the probe file": args.probes}, force=args.force,
                 own="json" if str(args.report).lower().endswith(".json") else "html", create_parent=True)
    ps = ProbeSet.load(args.probes, teacher=args.teacher)
    suspect = open_suspect(args.suspect, **http_kwargs(args, args.suspect))
    res = probe_suspect(ps, suspect, mode=args.mode, budget=args.budget, alpha=args.alpha)
    doc = res.to_dict()
    if args.report:
        with atomic_output(args.report) as tmp:
            write_report(doc, tmp)
    if args.json:
        print(json.dumps({k: v for k, v in doc.items() if k != "probes"}, indent=2))
    else:
        part = f" (partial: {res.n_probes}/{res.probes_total} probes within budget)" if res.partial else ""
        print(f"{verdict_word(doc)}: T={res.statistic:.4f} exact rank p={res.p_rank:.3g} (>= "
              f"{res.min_p_rank:.3g} with {res.calibration_models} calibration models); Student-t "
              f"p={res.p_value:.3g} (log10 {res.log10_p:.2f}) mode={res.mode} probes={res.n_probes} "
              f"queries={res.queries_used}{part}")
        if res.indicative:
            print(f"INDICATIVE: only the Student-t p reaches alpha {res.alpha:g}; it rests on an assumption "
                  f"({res.assumption}). Exit 0: not a detection.")
    return EXIT_DETECTED if res.detected else EXIT_NOT_DETECTED


def _modes(text: str) -> list[str]:
    from distillguard.fingerprint.score import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if not modes or bad:
        raise DistillguardError(f"--modes {text!r}: unknown calibration mode(s) {', '.join(bad) or '(none given)'}; "
                                f"choose from {', '.join(MODES)} (comma-separated)")
    return modes


def register(subparsers: Any) -> None:
    """Add the ``fingerprint`` command with ``build``, ``calibrate`` and ``probe`` sub-commands."""
    fp = subparsers.add_parser("fingerprint", help="black-box probes: does a suspect answer like our teacher?")
    sub = fp.add_subparsers(dest="fingerprint_command", metavar="ACTION")
    sub.required = True
    b = sub.add_parser(
        "build", help="select distinctive probes and calibrate them on independent models",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  distillguard fingerprint build --calibrate runs/null-a --calibrate runs/null-b --out probes.json\n"
               "  distillguard fingerprint build --panel gemma3-270m:assistant --answered 64 --calibrate runs/null-a "
               "--calibrate runs/null-b --out probes.json --cache runs/fp-cache\n"
               "exit codes: 0 = written; 2 = bad input or failure (an existing --out needs --force)")
    b.add_argument("--teacher", default=None, help="teacher model (default: the embedded SmolLM2)")
    b.add_argument("--reference", action="append", default=[], help="reference model (repeatable)")
    b.add_argument("--calibrate", action="append", default=[], help="independent null model (repeatable, >= 2)")
    b.add_argument("--panel", action="append", default=[], metavar="MODEL",
                   help="reference-panel model that answers every probe, answered ones too (repeatable): other "
                        "small chat models, so that a student of *some* small model is not scored as ours; "
                        "gemma3-270m:assistant = the embedded Gemma prompted as an assistant")
    b.add_argument("--contrast", choices=["closest", "mean"], default="closest",
                   help="combine a probe's references: closest (default: the suspect must be nearer the teacher "
                        "than every reference) or mean")
    b.add_argument("--real", type=nonneg_int, default=32, help="real ShareGPT prompts added to the designed families "
                   "(answered by the --reference models)")
    b.add_argument("--no-designed", dest="designed", action="store_false",
                   help="leave out the designed families and the --real prompts")
    b.add_argument("--answered", type=nonneg_int, default=0,
                   help="real ShareGPT prompts whose recorded ChatGPT answer is their reference (no reference "
                        "model needed for them; the strongest log-prob probes, see the README)")
    b.add_argument("--strategy", default="distinctive", choices=["distinctive", "random-real"],
                   help="distinctive: the most distinctive self-consistent candidates; random-real: a random "
                        "sample of the real prompts (answered ones included)")
    b.add_argument("--prompts", default=None, help="extra candidate prompts (text or JSONL)")
    b.add_argument("--n-probes", type=positive_int, default=64)
    b.add_argument("--teacher-samples", type=positive_int, default=2)
    b.add_argument("--max-new-tokens", type=positive_int, default=40)
    b.add_argument("--modes", default="logprob,text", help="calibration modes, comma-separated")
    b.add_argument("--cache", default=None, help="directory caching sampled answers (resumable)")
    b.add_argument("--out", required=True)
    b.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    add_http_args(b)
    b.set_defaults(func=_build)
    c = sub.add_parser(
        "calibrate", help="re-calibrate a probe file on other independent models (e.g. a suspect's own family)",
        description="Score independent models on an existing probe file's probes and write a copy whose null "
                    "calibration includes them (or, with --replace, is only them). Use it when the suspect is built "
                    "on a known public base: calibrate on that base and on fine-tunes of it on sources that are "
                    "not your teacher (benchmarks/fingerprint_family.py), instead of on unrelated models. The "
                    "teacher's answers are reused; the input file is never modified.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n"
               "  distillguard fingerprint calibrate --probes probes.json --calibrate runs/gemma-ft-a "
               "--calibrate runs/gemma-ft-b --out probes_gemma.json\n"
               "exit codes: 0 = written; 2 = bad input or failure")
    c.add_argument("--probes", required=True, help="the probe file to start from (read only)")
    c.add_argument("--calibrate", action="append", required=True,
                   help="independent null model: local path/name (repeatable)")
    c.add_argument("--replace", action="store_true", help="drop the file's calibration models first")
    c.add_argument("--modes", default=None,
                   help="modes to score, comma-separated (default: those the file is calibrated for)")
    c.add_argument("--teacher", default=None, help="refuse a probe file built for another teacher identity")
    c.add_argument("--out", required=True, help="where the re-calibrated probe file goes (not --probes)")
    c.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    add_http_args(c)
    c.set_defaults(func=_calibrate)
    p = sub.add_parser(
        "probe", help="query a suspect with a probe set; exit 1 if detected (exact rank p <= alpha)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  distillguard fingerprint probe --probes probes.json --suspect runs/student --report fp.html\n"
               "verdict: DETECTED when the exact rank p among the R calibration models is <= --alpha (it can't go\n"
               "below 1/(R+1)); INDICATIVE when only the Student-t tail is (an assumption, exit 0).\n"
               "exit codes: 0 = not detected (INDICATIVE included); 1 = detected; 2 = bad input or failure")
    p.add_argument("--probes", required=True)
    p.add_argument("--suspect", required=True, help="local model path/name or http(s)://host/v1")
    p.add_argument("--suspect-model", default=None, help="model name sent to an HTTP suspect")
    p.add_argument("--teacher", default=None, help="refuse a probe file built for another teacher identity")
    p.add_argument("--mode", default="auto", choices=["auto", "logprob", "text"])
    p.add_argument("--budget", type=positive_int, default=None, help="maximum number of requests to the suspect")
    p.add_argument("--alpha", type=probability, default=0.01, help="threshold on the exact rank p-value (0.01)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--report", default=None, help="write out.json or out.html")
    p.add_argument("--force", action="store_true", help="overwrite an existing --report file")
    add_http_args(p)
    p.set_defaults(func=_probe)
