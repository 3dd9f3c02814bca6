"""``distillguard detect`` (radioactivity test of a suspect) and ``distillguard simulate`` (distillation simulator).

Exit codes of ``detect``: 0 = not detected, 1 = detected (some key's Holm-adjusted p <= --alpha, default
1e-3; with ``--reading-variants``, the Bonferroni-corrected p over the variants run), 2 = bad input (one line on
stderr): unreachable endpoint, suspect that cannot be loaded, vocabulary mismatch in reading mode, empty
prompt/text file, key without spec, a malformed ``--reading-variants`` (refused before anything is loaded).

Reading mode's statistic is chosen up front: ``auto`` (the default) unless one other is asked for. Several are
run only through ``--reading-variants``, which corrects the verdict for having run them
(:func:`~distillguard.detect.radioactivity.reading_variants_test`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from distillguard.cli.common import (
    add_http_args,
    atomic_output,
    check_output,
    check_output_dir,
    fraction_list,
    http_kwargs,
    load_key,
    nonneg_float,
    nonneg_int,
    parse_accounts,
    positive_int,
    probability,
    read_lines,
)
from distillguard.errors import EXIT_DETECTED, EXIT_NOT_DETECTED, DistillguardError, refuse_overwrite

__all__ = ["register"]

_EXIT = ("exit codes: 0 = not detected; 1 = detected at --alpha (after Holm; with --reading-variants, after "
         "Bonferroni over the variants as well); 2 = bad input or failure")


def _head_size(text: str) -> int:
    """``--reading-top K``: an integer >= 1."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"the head must hold at least 1 entry (an integer >= 1), got {text!r}") from None


def _variants(text: str) -> list[Any]:
    """``--reading-variants``: parsed (and every combination checked) when the command line is read, before
    any file or model is loaded."""
    from distillguard.detect.radioactivity.variants import parse_reading_variants

    try:
        return parse_reading_variants(text)
    except DistillguardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_variant_flags(args: argparse.Namespace) -> None:
    """With ``--reading-variants``: refuse the single-statistic flags, and source flags no variant uses (or a
    variant whose source is missing) -- before anything is loaded."""
    variants = args.reading_variants
    if args.mode == "generation":
        raise DistillguardError("--reading-variants applies to reading mode only, and --mode generation was asked for")
    single = [flag for flag, on in (("--reading-statistic", args.reading_statistic != "auto"),
                                    ("--reading-untrained-last", args.reading_untrained_last),
                                    ("--reading-top", args.reading_top is not None)) if on]
    if single:
        raise DistillguardError(f"--reading-variants names each variant's statistic: drop {' / '.join(single)} and "
                                "write it as a variant (top1, rank, untrained-last, top=K)")
    for flag, given, term in (("--reading-reference", args.reading_reference, "reference"),
                              ("--reading-vocabulary", args.reading_vocabulary, "vocabulary"),
                              ("--reading-unigram", args.reading_unigram, "unigram")):
        used = [v.name for v in variants if getattr(v, term)]
        if given and not used:
            raise DistillguardError(f"{flag} is given but no variant of --reading-variants uses it: add "
                                    f"'{term}' to a variant, or drop {flag}")
        if used and not given and term != "unigram":
            raise DistillguardError(f"reading variant {used[0]!r} needs {flag}")


def _detect(args: argparse.Namespace) -> int:
    from distillguard.detect.radioactivity import account_keys, can_read, generation_test, reading_test

    src = args.suspect
    is_url = src.startswith(("http://", "https://"))
    suspect_input = src if not is_url and Path(src).expanduser().exists() else None
    inputs = {"the suspect": suspect_input, "the key file": args.key, "the text file": args.texts,
              "the prompt file": args.prompts, "the reference": args.reading_reference,
              "the vocabulary file": args.reading_vocabulary, "the unigram file": args.reading_unigram,
              "the accounts file": args.accounts}
    if args.reading_variants is not None:
        _check_variant_flags(args)
    check_output("--report", args.report, inputs, force=args.force, own="json", create_parent=True)
    check_output("--html", args.html, inputs, force=args.force, own="html", create_parent=True)
    refuse_overwrite({"--report": args.report, "--html": args.html}, {})
    key = load_key(args)
    spec = key.require_spec()
    for v in args.reading_variants or []:
        v.check_spec(spec)  # e.g. a rank-only variant with an h >= 1 key: refused before the suspect loads
    keys = account_keys(key, parse_accounts(args.accounts))
    texts = read_lines(args.texts, "text") if args.texts else None
    prompts = read_lines(args.prompts, "prompt") if args.prompts else None
    from distillguard.suspects import LocalSuspect, open_suspect

    if not is_url and not Path(src).expanduser().exists() and src not in ("smollm2-135m-instruct", "gemma3-270m"):
        raise DistillguardError(f"suspect {src}: no such file, directory or URL")
    suspect = open_suspect(src, **http_kwargs(args, src))
    mode = args.mode
    if mode == "auto":
        mode = "reading" if can_read(suspect, spec) else "generation"
    if mode != "reading" and (args.reading_reference or args.reading_vocabulary or args.reading_untrained_last
                              or args.reading_unigram or args.reading_top is not None
                              or args.reading_statistic != "auto" or args.reading_variants is not None):
        raise DistillguardError("--reading-statistic / --reading-variants / --reading-reference / --reading-unigram "
                                "/ --reading-vocabulary / --reading-untrained-last / --reading-top apply to reading "
                                "mode only, and "
                                "this suspect is tested in generation mode")
    if args.reading_reference and args.reading_unigram and args.reading_variants is None:
        raise DistillguardError("--reading-reference and --reading-unigram are two references: choose one")
    if mode == "reading" and args.reading_variants is not None:
        return _detect_variants(args, suspect, keys, texts, key.master_fingerprint)
    if mode == "reading":
        vocab = read_lines(args.reading_vocabulary, "vocabulary text") if args.reading_vocabulary else None
        unigram = None
        if args.reading_unigram == "sharegpt":
            from distillguard.data import public_texts

            unigram = public_texts()
        elif args.reading_unigram:
            unigram = read_lines(args.reading_unigram, "unigram text")
        report = reading_test(suspect, keys, texts, n_texts=args.n_texts, alpha=args.alpha,
                              allow_keyed_text=args.allow_keyed_text, statistic=args.reading_statistic,
                              reference=LocalSuspect.load(args.reading_reference) if args.reading_reference else None,
                              vocabulary_texts=vocab, untrained_last=args.reading_untrained_last,
                              unigram_texts=unigram, top=args.reading_top)
    else:
        from distillguard.models import load_tokenizer

        teacher_tok = load_tokenizer(args.teacher)
        report = generation_test(suspect, keys, teacher_tok, prompts, n_prompts=args.n_prompts,
                                 max_new_tokens=args.max_new_tokens, alpha=args.alpha)
    report.command = _command()
    doc = report.to_dict()
    _write(args, doc, doc)
    if not args.json:
        b = report.best
        who = f" -> learned from account(s): {', '.join(report.attributed)}" if report.attributed and any(
            r.account for r in report.results) else ""
        print(f"{'RADIOACTIVE' if report.detected else 'not detected'} ({mode} mode): {b.describe()}, "
              f"log10 p = {b.log10_p:.2f}, "
              f"Holm log10 p = {b.log10_p_holm:.2f} over {len(report.results)} key(s); threshold p <= "
              f"{args.alpha:g}; key {key.master_fingerprint}{who}")
    return EXIT_DETECTED if report.detected else EXIT_NOT_DETECTED


def _command() -> str:
    return " ".join(shlex.quote(a) for a in ["distillguard", *sys.argv[1:]])


def _write(args: argparse.Namespace, doc: dict[str, Any], html_doc: dict[str, Any]) -> None:
    """``--report`` (JSON), ``--html`` and ``--json`` (stdout) of a verdict."""
    if args.report:
        with atomic_output(args.report) as tmp:
            tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    if args.html:
        from distillguard.report.radioactivity import write_radioactivity_html

        with atomic_output(args.html) as tmp:
            write_radioactivity_html(html_doc, tmp)
    if args.json:
        print(json.dumps(doc, indent=2, default=str))


def _detect_variants(args: argparse.Namespace, suspect: Any, keys: list[Any], texts: list[str] | None,
                     master_fingerprint: str) -> int:
    """``--reading-variants``: every variant on one reading, the verdict on the Bonferroni-corrected p."""
    from distillguard.detect.radioactivity import ReadingOptions, reading_variants_test
    from distillguard.suspects import LocalSuspect

    variants = args.reading_variants
    sources: dict[str, Any] = {}
    if any(v.reference for v in variants):
        sources["reference"] = LocalSuspect.load(args.reading_reference)
    if any(v.vocabulary for v in variants):
        sources["vocabulary_texts"] = read_lines(args.reading_vocabulary, "vocabulary text")
    if any(v.unigram for v in variants):
        if args.reading_unigram in (None, "sharegpt"):
            from distillguard.data import public_texts

            sources["unigram_texts"] = public_texts()
        else:
            sources["unigram_texts"] = read_lines(args.reading_unigram, "unigram text")
    base = ReadingOptions(n_texts=args.n_texts, alpha=args.alpha, allow_keyed_text=args.allow_keyed_text)
    result = reading_variants_test(suspect, keys, variants, texts, options=base, **sources)
    result.command = _command()
    _write(args, result.to_dict(), result.html_doc())
    if not args.json:
        for name, rep in result.reports.items():
            b = rep.best
            print(f"  variant {name}: {b.describe()}, log10 p = {b.log10_p:.2f}, Holm log10 p = "
                  f"{b.log10_p_holm:.2f} over {len(rep.results)} key(s)")
        who = f" -> learned from account(s): {', '.join(result.attributed)}" if result.attributed and any(
            r.account for r in next(iter(result.reports.values())).results) else ""
        print(f"{result.describe()}; key {master_fingerprint}{who}")
    return EXIT_DETECTED if result.detected else EXIT_NOT_DETECTED


def _simulate(args: argparse.Namespace) -> int:
    from distillguard.distill.simulate import run_simulation

    check_output_dir("--out", args.out, {"the key file": args.key})
    summary = run_simulation(out_dir=args.out, fractions=list(args.fractions),
                             n_train=args.n_train, n_read=args.n_read, epochs=args.epochs, quick=args.quick,
                             delta=args.delta, context_width=args.context_width, key_path=args.key)
    print(json.dumps(summary, indent=2, default=str))
    return EXIT_NOT_DETECTED


def _shadow(args: argparse.Namespace) -> int:
    from distillguard.distill.shadow import train_shadow
    from distillguard.models import load_model

    check_output_dir("--out", args.out, {"the suspect": args.like, "the teacher": args.teacher})
    if not (Path(args.like) / "config.json").is_file():
        raise DistillguardError(f"--like {args.like}: no config.json there (give the suspect's Hugging Face directory)")
    teacher = load_model(args.teacher) if args.teacher else None
    info = train_shadow(args.like, args.out, teacher=teacher, n_texts=args.n_texts, skip=args.skip,
                        epochs=args.epochs, seed=args.seed)
    print(f"shadow student in {args.out}: {info['positions']} positions of {info['texts']} texts, "
          f"{info['epochs']} epoch(s), final loss {info['final_loss']:.3f}; use it with "
          f"distillguard detect --reading-reference {args.out}")
    return EXIT_NOT_DETECTED


def register(subparsers: Any) -> None:
    """Add the ``detect`` and ``simulate`` subcommands to the ``distillguard`` parser.

    Example:
        >>> import argparse
        >>> from distillguard.cli.detect import register
        >>> sub = argparse.ArgumentParser().add_subparsers()
        >>> register(sub)
    """
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "detect", formatter_class=fmt,
        help="radioactivity: was a suspect model trained on our watermarked outputs (and whose)?",
        description="Test a suspect model for our watermark. reading mode (local weights, teacher tokenizer): "
        "the suspect reads held-out clean text; its averaged next-token distribution ranks the vocabulary and the "
        "green tokens' mean rank is tested (rank statistic; default for h = 0 keys), or its top-1 predictions are "
        "scored as green coins (default for h >= 1). generation mode (any model, HTTP too): score its answers to real prompts "
        "(exact binomial test on distinct green coins). Holm over accounts.\n\n"
        "The reading statistic is chosen up front: the default (--reading-statistic auto, no other reading "
        "option) is the one to use unless you decided on another before looking at any result. If you try "
        "several, run them in one call with --reading-variants, so the p-value is corrected for the number "
        "tried (Bonferroni); running variants one by one and keeping the smallest p is not a valid test.",
        epilog="examples:\n  distillguard detect --key teacher.key --suspect runs/student --mode reading\n"
        "  distillguard detect --key teacher.key --suspect http://127.0.0.1:8000/v1 --mode generation\n"
        "  distillguard detect --key teacher.key --suspect runs/student --accounts acct-1,acct-2 --report r.json\n"
        "  distillguard detect --key teacher.key --suspect runs/student "
        "--reading-variants default,unigram+untrained-last,top=64\n"
        + _EXIT)
    p.add_argument("--key", metavar="FILE", help="key file (default: the DISTILLGUARD_KEY environment variable)")
    p.add_argument("--suspect", required=True, metavar="PATH_OR_URL", help="HF dir / .gguf / model name, or URL")
    p.add_argument("--mode", choices=["auto", "reading", "generation"], default="auto",
                   help="auto = reading when the suspect has local weights and the teacher's tokenizer")
    p.add_argument("--accounts", metavar="IDS_OR_FILE", help="comma-separated account ids or a file of them")
    p.add_argument("--texts", metavar="FILE", help="reading mode: clean text to read (default: ShareGPT answers)")
    p.add_argument("--prompts", metavar="FILE", help="generation mode: prompts (default: ShareGPT prompts)")
    p.add_argument("--n-texts", type=positive_int, default=200, help="reading mode: default texts to read (200)")
    p.add_argument("--n-prompts", type=positive_int, default=200, help="generation mode: default prompts (200)")
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--teacher", default=None, help="teacher tokenizer for generation mode (default SmolLM2)")
    p.add_argument("--suspect-model", default=None, help="model name sent to an HTTP suspect")
    add_http_args(p)
    p.add_argument("--alpha", type=probability, default=1e-3, help="threshold on Holm-adjusted p-values (1e-3)")
    p.add_argument("--reading-statistic", choices=["auto", "rank", "top1", "mass"], default="auto",
                   help="reading mode: rank (the whole averaged distribution; for h >= 1 keys per frequent "
                   "context window, one per keyed order), top1 (green coins of top-1 predictions), mass (h >= 1 "
                   "keys: probability on the green lists of those windows; with --reading-reference TEACHER for "
                   "a fine-tuned copy of the teacher); auto = rank for h = 0 keys or with --reading-reference, "
                   "top1 otherwise. auto is THE DEFAULT, chosen up front: choose the statistic "
                   "before looking; if you try several, use --reading-variants so the p-value is corrected")
    p.add_argument("--reading-variants", type=_variants, metavar="V1,V2,...", default=None,
                   help="reading mode: run several statistics on one reading and correct for it (Bonferroni). "
                   "Comma-separated variants, each 'default' (the statistic chosen up front) or terms joined by "
                   "'+': rank, top1, reference (needs --reading-reference), vocabulary (needs "
                   "--reading-vocabulary), unigram (--reading-unigram, default sharegpt), untrained-last, top=K; "
                   "e.g. default,unigram+untrained-last,top=64. Every variant's p-value is reported; the verdict "
                   "and exit code rest on min(1, k x the smallest Holm-adjusted p) <= --alpha over the k variants, "
                   "and accounts are named at --alpha / k. Replaces --reading-statistic, --reading-untrained-last "
                   "and --reading-top; checked before anything is loaded")
    p.add_argument("--reading-reference", metavar="PATH_OR_NAME",
                   help="rank statistic: rank by log-probability relative to this local model, which must be "
                   "independent of the key -- the untouched teacher (smollm2-135m-instruct) for a suspect that "
                   "may be a fine-tuned copy of it, or a shadow student (distillguard shadow --like SUSPECT) for a "
                   "student trained from scratch")
    p.add_argument("--reading-unigram", metavar="FILE|sharegpt",
                   help="rank statistic (h = 0 keys): rank by log-probability relative to each token's "
                   "log-frequency in public text (text lines or JSONL with a 'text'/'response' field; 'sharegpt' = "
                   "20,000 built-in ShareGPT exchanges). For a student trained from scratch on a mixture: it removes "
                   "what public data taught it. The text must not carry a tested watermark. Best with "
                   "--reading-untrained-last")
    p.add_argument("--reading-vocabulary", metavar="FILE",
                   help="rank statistic (h = 0 keys): answers the teacher wrote WITHOUT watermark (text lines, or "
                   "JSONL with a 'response'/'text' field, e.g. a clean `distillguard generate` run); only the tokens "
                   "they contain are ranked -- a student cannot have learned the mark on tokens the teacher never "
                   "writes, and their ranks only add noise. Never pass watermarked answers: the support must not "
                   "depend on the key")
    p.add_argument("--reading-untrained-last", action="store_true",
                   help="rank statistic (h = 0 keys): vocabulary entries the suspect scores identically (a block of "
                   ">= 1%% of them: output rows it never trained) rank below all others, instead of tying the "
                   "shorter side of the ranking into them. For students trained from scratch whose untrained rows "
                   "stay at logit 0 (above the rarely seen entries); no effect on a suspect without such a block")
    p.add_argument("--reading-top", type=_head_size, metavar="K", default=None,
                   help="rank statistic (h = 0 keys): count the key's green entries among the K entries ranked "
                   "highest (exact hypergeometric test) instead of the mean rank of all of them. Stronger when "
                   "the mark has moved a few hundred entries to the very top, weaker when it moves many entries "
                   "a little (on the benchmark's 5%% student no K beat the mean rank: docs/radioactivity.md). "
                   "Usually with --reading-unigram and --reading-untrained-last. Fix K before looking at a result")
    p.add_argument("--allow-keyed-text", action="store_true",
                   help="read text that itself carries a tested watermark (biased: experiments only)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--report", metavar="OUT.json", help="write the JSON report here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --report / --html file")
    p.add_argument("--html", metavar="OUT.html",
                   help="write an HTML report with plots: each account's statistic vs its null band, -log10 p per "
                   "account (attribution), the best key's evidence as more text is read")
    p.set_defaults(func=_detect)

    s = subparsers.add_parser(
        "simulate", formatter_class=fmt,
        help="distillation simulator: harvest, watermark, mix, train students, test them",
        description="Teacher-forced top-k harvest of the SmolLM2 teacher on real text (resumable, cached), "
        "watermark applied with a key, mixed with clean top-k at given fractions, small students trained by "
        "logit distillation, each tested in reading mode against the key, another key and controls.",
        epilog="example:\n  distillguard simulate --out runs/sim --fractions 1,0.25,0.05 --n-train 600\n"
               "exit codes: 0 = ran (the summary holds each student's verdict); 2 = bad input or failure\n")
    s.add_argument("--out", default="runs/simulate", help="work directory (harvest cache, students, summary)")
    s.add_argument("--key", metavar="FILE", help="key file (default: a fresh key saved in --out)")
    s.add_argument("--fractions", type=fraction_list, default="1,0.25,0.05", help="watermarked fractions of the harvest")
    s.add_argument("--n-train", type=positive_int, default=600, help="real texts harvested for training")
    s.add_argument("--n-read", type=positive_int, default=400, help="held-out texts read by the detector")
    s.add_argument("--epochs", type=positive_int, default=2)
    s.add_argument("--delta", type=nonneg_float, default=3.0, help="delta of a new key")
    s.add_argument("--context-width", type=nonneg_int, default=None,
                   help="h of a new key (default 1; 0 = one green list per account, scored by the rank statistic)")
    s.add_argument("--quick", action="store_true", help="tiny configuration for CI smoke runs")
    s.set_defaults(func=_simulate)

    sh = subparsers.add_parser(
        "shadow", formatter_class=fmt,
        help="distil a clean shadow student shaped like a suspect: a reference for reading mode's rank statistic",
        description="Build a model with the suspect's configuration (config.json only: its weights are not "
        "loaded, its directory is not written), initialise it at random and distil the clean, unwatermarked "
        "teacher into it (top-20 log-probs on real ShareGPT answers). It shares what any student of that shape "
        "learns from the teacher and none of the watermark, so ranking the suspect relative to it "
        "(detect --reading-reference) leaves the watermark standing out; it never sees the key, so the test "
        "stays exact. h = 0 keys.",
        epilog="example:\n  distillguard shadow --like runs/suspect --out runs/shadow --n-texts 1000\n"
        "  distillguard detect --key teacher.key --suspect runs/suspect --reading-reference runs/shadow\n"
        "exit codes: 0 = shadow written; 2 = bad input or failure\n")
    sh.add_argument("--like", required=True, metavar="SUSPECT_DIR", help="the suspect's Hugging Face directory")
    sh.add_argument("--out", required=True, help="where the shadow (and its harvest cache) goes")
    sh.add_argument("--teacher", default=None, help="teacher model (default: the SmolLM2 teacher)")
    sh.add_argument("--n-texts", type=positive_int, default=1000, help="ShareGPT answers to distil on (1000)")
    sh.add_argument("--skip", type=nonneg_int, default=0, help="leave out the first SKIP answers of the train split")
    sh.add_argument("--epochs", type=positive_int, default=2,
                    help="passes over the texts (2); match the suspect's training length if you know it")
    sh.add_argument("--seed", type=nonneg_int, default=1,
                    help="initialisation and batch order (1); any seed works, the shadow never sees the key")
    sh.set_defaults(func=_shadow)
