"""``distillguard investigate``: every line of evidence on the user's own key, suspects, logs and probes.

Exit codes: 0 = nothing detected; 1 = a suspect is called distilled (or, with logs only, accounts were
flagged); 2 = bad input or failure (one line on stderr, and no report is written).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from distillguard.cli.common import (
    add_http_args,
    check_device,
    check_output_dir,
    load_key,
    parse_accounts,
    positive_int,
    probability,
    read_lines,
)
from distillguard.errors import EXIT_DETECTED, EXIT_NOT_DETECTED, DistillguardError

__all__ = ["register"]

_EPILOG = """examples:
  # everything: logs, radioactivity with attribution over the log's accounts, fingerprint
  distillguard investigate --key teacher.key --suspect runs/student --logs api_logs.csv \\
      --probes probes.json --out runs/inv
  # a black-box suspect behind an OpenAI-compatible API, radioactivity only
  distillguard investigate --key teacher.key --suspect http://127.0.0.1:8000/v1 --out runs/inv
  # logs only
  distillguard investigate --logs api_logs.parquet --out runs/inv

verdict: a suspect is DISTILLED when min(1, m x smallest exact line p) <= --alpha (Bonferroni over the m
lines that ran; radioactivity's binomial p and the fingerprint's rank p are exact). When only a p-value that
rests on an assumption (the fingerprint's Student-t tail) reaches --alpha, the verdict is INDICATIVE, with the
assumption named: it is reported, never acted on (exit 0).
exit codes: 0 = nothing detected (INDICATIVE included); 1 = a DISTILLED suspect (or flagged accounts with
logs only); 2 = bad input or failure (one line on stderr, no report written)."""


def _open(src: str, args: argparse.Namespace) -> Any:
    from distillguard.models import REFERENCE, TEACHER
    from distillguard.suspects import open_suspect

    if src.startswith(("http://", "https://")):
        return open_suspect(src, model=args.suspect_model, timeout=args.timeout, retries=args.retries)
    if not Path(src).expanduser().exists() and src not in (TEACHER, REFERENCE):
        raise DistillguardError(f"suspect {src}: no such file, directory or URL")
    return open_suspect(src, device=args.device)


def _run(args: argparse.Namespace) -> int:
    from distillguard.investigation import investigate, summary_table
    from distillguard.report import write_report

    key_given = bool(args.key) or bool(os.environ.get("DISTILLGUARD_KEY"))
    if not args.suspect and not args.logs:
        raise DistillguardError("nothing to investigate: give --logs and/or --suspect (with --key and/or --probes)")
    if args.suspect and not key_given and not args.probes:
        raise DistillguardError("a suspect needs --key (or DISTILLGUARD_KEY) for radioactivity and/or --probes "
                                "for the fingerprint")
    check_device(args.device)
    check_output_dir("--out", args.out, {"the key file": args.key, "the logs": args.logs,
                                         "the reference logs": args.logs_reference, "the probe file": args.probes,
                                         "the prompt file": args.prompts, "the accounts file": args.accounts})
    out = Path(args.out)
    for src in args.suspect or []:  # never write into a suspect's directory: the model stays untouched
        sp = Path(src).expanduser()
        if not src.startswith(("http://", "https://")) and sp.exists():
            sp = sp.resolve() if sp.is_dir() else sp.resolve().parent
            if out.resolve() == sp or sp in out.resolve().parents:
                raise DistillguardError(f"--out {out} is inside the suspect {src}; choose another report directory")
    for p in (args.logs, args.logs_reference):
        if p and out.resolve() == Path(p).resolve().parent and Path(p).name in ("report.json", "report.html"):
            raise DistillguardError(f"{p}: refusing to overwrite an input file")
    key = teacher_tok = None
    if key_given and (args.suspect or args.accounts):
        from distillguard.models import load_tokenizer

        key = load_key(args)
        key.require_spec()
        teacher_tok = load_tokenizer(args.teacher)
    probes = None
    if args.probes:
        from distillguard.fingerprint.probeset import ProbeSet

        probes = ProbeSet.load(args.probes)
    logs = ref = None
    if args.logs:
        from distillguard.detect.api_logs import load_logs

        logs = load_logs(args.logs)
        ref = load_logs(args.logs_reference) if args.logs_reference else None
    prompts = None
    if args.prompts:
        prompts = read_lines(args.prompts, "prompt")
    suspects = {}
    for src in args.suspect or []:
        name = Path(src).name if not src.startswith("http") else src
        suspects[name if name not in suspects else src] = _open(src, args)
    res = investigate(suspects, key=key, teacher_tokenizer=teacher_tok, logs=logs, logs_reference=ref, probes=probes,
                      accounts=parse_accounts(args.accounts), prompts=prompts, n_prompts=args.n_prompts,
                      n_texts=args.n_texts, max_new_tokens=args.max_new_tokens,
                      fingerprint_budget=args.fingerprint_budget, alpha=args.alpha, target_fpr=args.target_fpr,
                      inputs={"logs": args.logs, "reference logs": args.logs_reference, "probe file": args.probes,
                              "prompt file": args.prompts, **{f"suspect {n}": src for n, src in
                                                             zip(suspects, args.suspect or [])}})
    doc = res.to_dict(include_private=True)  # the report's plots use the per-account scores
    js, html = write_report(doc, out)
    for name, entry in res.suspects.items():
        for note in entry["lines"].get("radioactivity", {}).get("notes", []):
            if note.startswith("WARNING"):
                print(f"distillguard: warning: {name}: {note[len('WARNING: '):]}", file=sys.stderr)
    print(summary_table(doc))
    print(f"report: {html} (data: {js})")
    if suspects:
        return EXIT_DETECTED if res.distilled else EXIT_NOT_DETECTED
    return EXIT_DETECTED if res.logs["flagged"] else EXIT_NOT_DETECTED


def register(subparsers: Any) -> None:
    """Add the ``investigate`` subcommand to the ``distillguard`` parser.

    Example:
        >>> import argparse
        >>> from distillguard.cli.investigate import register
        >>> register(argparse.ArgumentParser().add_subparsers())
    """
    p = subparsers.add_parser(
        "investigate", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        help="run every line of evidence (logs, radioactivity, fingerprint) on your inputs: one report",
        description="One investigation on your own inputs. Each line of evidence runs when its inputs are "
        "given: API logs (--logs) -> flagged accounts; radioactivity (--key + --suspect) -> was the suspect "
        "trained on our watermarked answers, and from which account's (attribution over --accounts, default "
        "every account in --logs); fingerprint (--probes + --suspect) -> does it answer like our teacher. "
        "Writes OUT/report.html and OUT/report.json.")
    p.add_argument("--key", metavar="FILE", help="key file (default: the DISTILLGUARD_KEY environment variable)")
    p.add_argument("--suspect", action="append", metavar="PATH_OR_URL",
                   help="suspect model: HF dir / .gguf / model name, or an OpenAI-compatible URL (repeatable)")
    p.add_argument("--logs", metavar="FILE", help="API request log (CSV, Parquet or JSONL; canonical columns)")
    p.add_argument("--logs-reference", metavar="FILE",
                   help="traffic assumed benign to fit the log detector on (default: the logs themselves)")
    p.add_argument("--probes", metavar="FILE", help="fingerprint probe file (`distillguard fingerprint build`)")
    p.add_argument("--accounts", metavar="IDS_OR_FILE",
                   help="account ids to attribute (comma-separated or a file; default: every account in --logs)")
    p.add_argument("--prompts", metavar="FILE",
                   help="generation-mode prompts (default: the flagged accounts' prompts, else ShareGPT prompts)")
    p.add_argument("--n-prompts", type=positive_int, default=200, help="generation-mode prompts per suspect (200)")
    p.add_argument("--n-texts", type=positive_int, default=200, help="reading-mode texts per suspect (200)")
    p.add_argument("--max-new-tokens", type=positive_int, default=128, help="answer length in generation mode (128)")
    p.add_argument("--fingerprint-budget", type=positive_int, default=None, metavar="N", help="max fingerprint queries")
    p.add_argument("--alpha", type=probability, default=1e-3, help="verdict threshold on the combined exact p-value (1e-3)")
    p.add_argument("--target-fpr", type=probability, default=1e-3, help="account-level FPR of the log detector (1e-3)")
    p.add_argument("--teacher", default=None, help="teacher tokenizer (default: the SmolLM2 teacher)")
    p.add_argument("--suspect-model", default=None, help="model name sent to an HTTP suspect")
    add_http_args(p)
    p.add_argument("--device", default="cpu", help="device for local suspects (cpu, cuda)")
    p.add_argument("--out", default="runs/investigation", help="report directory (default runs/investigation)")
    p.set_defaults(func=_run)
