"""``distillguard demo``: the main job, a whole investigation on the embedded default.

Example:
    >>> import argparse
    >>> from distillguard.cli.demo import register
    >>> register(argparse.ArgumentParser().add_subparsers())
"""

from __future__ import annotations

import argparse
from typing import Any

from distillguard.cli.common import check_device, check_output_dir, fmt, nonneg_int, print_json

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``demo`` to the ``distillguard`` parser."""
    _add_demo(sub)


# -- demo ---------------------------------------------------------------------------------------------------
def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: a whole investigation on the embedded default (SmolLM2 teacher, Gemma control)",
        epilog="examples:\n  distillguard demo                      # quick profile, ~14 min on 2 CPU cores\n"
        "  distillguard demo --profile full --out runs/demo-full\n"
        "  distillguard demo --profile smoke --teacher tiny/ --reference tiny2/   # seconds, tiny models\n\n"
        "Steps are cached in --out: rerunning after an interruption resumes.\n"
        "exit codes: 0 = every verdict matches the simulated ground truth; 1 = some verdict is wrong (listed); "
        "2 = bad input or failure",
        **fmt("Simulates API traffic in which one hidden account harvests the watermarked SmolLM2 teacher, "
               "trains a student on that account's answers, then investigates: finds the harvesting accounts "
               "in the logs, tests the student and Gemma-3-270M (the clean control) for radioactivity (with "
               "attribution to the account) and for the teacher's fingerprint, and writes one HTML report "
               "(report.html + report.json) and a summary table."),
    )
    p.add_argument("--out", default="runs/demo", help="work and report directory (default runs/demo)")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "full"],
                   help="quick (default, ~14 min on 2 cores), full (larger), smoke (tiny; for tests)")
    p.add_argument("--teacher", default=None, help="teacher model (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--reference", default="gemma3-270m", help="independent model tested as the clean control "
                   "(default gemma3-270m); the fingerprint's references are ChatGPT's recorded ShareGPT answers")
    p.add_argument("--context-width", type=nonneg_int, default=0, metavar="H",
                   help="context width of the demo key: 0 (default; one green list per account, learned by small "
                   "students) or 1+ (context-seeded; needs far more harvested data to carry into a student)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the report JSON")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from distillguard.demo import run_demo

    check_device(args.device)
    check_output_dir("--out", args.out, {"the teacher": args.teacher, "the reference": args.reference})

    doc = run_demo(out_dir=args.out, profile=args.profile, teacher=args.teacher, reference=args.reference,
                   context_width=args.context_width, device=args.device)
    if args.json:
        print_json({k: v for k, v in doc.items() if not k.startswith("_")})
    # the demo knows the truth: its exit code says whether every verdict was right, not whether one fired
    return 0 if doc.get("checks") and all(doc["checks"].values()) else 1
