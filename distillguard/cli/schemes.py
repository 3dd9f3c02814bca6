"""The marking-scheme options shared by ``distillguard generate`` and ``distillguard serve``: ``--scheme``,
``--lam``, ``--ads-lam``, ``--ads-eps``, ``--proxy``, ``--ads-direction``, their refusals, and the ADFP/ADS
models they load.

Example:
    >>> import argparse
    >>> from distillguard.cli.schemes import add_scheme_args
    >>> p = argparse.ArgumentParser(); add_scheme_args(p)
    >>> p.parse_args(["--scheme", "kgw"]).scheme
    'kgw'
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from distillguard.cli.common import nonneg_float, positive_float
from distillguard.errors import DistillguardError

__all__ = ["add_scheme_args", "check_scheme_proxy", "scheme_key", "scheme_models"]

_SCHEMES = ("kgw", "adfp", "ads", "kgw+ads", "adfp+ads")


def add_scheme_args(p: argparse.ArgumentParser) -> None:
    """The marking scheme's options, shared by ``generate`` and ``serve`` (checked by :func:`scheme_key`)."""
    p.add_argument("--scheme", choices=list(_SCHEMES), default=None,
                   help="how answers are marked: kgw (+delta on green tokens), adfp (antidistillation "
                        "fingerprinting), ads (antidistillation sampling, no mark), kgw+ads, adfp+ads "
                        "(default: the key's, kgw for every key made before ADFP)")
    p.add_argument("--lam", type=nonneg_float, default=None,
                   help="lambda of the scheme's first part: ADFP strength (> 0, e.g. 64) or, for ads, ADS strength")
    p.add_argument("--ads-lam", type=nonneg_float, default=None, help="ADS lambda in kgw+ads / adfp+ads")
    p.add_argument("--ads-eps", type=positive_float, default=1e-2,
                   help="ADS finite-difference step along the unit direction (default 0.01)")
    p.add_argument("--proxy", default=None, metavar="MODEL",
                   help="ADFP/ADS proxy with the teacher's tokenizer (default: the teacher itself)")
    p.add_argument("--ads-direction", default=None, metavar="FILE",
                   help="ADS direction (safetensors, from distillguard ads-direction; default: KEY.ads.safetensors)")


def check_scheme_proxy(args: argparse.Namespace, key: Any) -> None:
    """Refuse a ``--proxy`` whose tokenizer differs from the teacher's, before any model loads."""
    if args.proxy and key is not None:
        from distillguard.models import load_tokenizer
        from distillguard.watermark.adfp import check_proxy_tokenizer

        spec = key.require_spec()
        check_proxy_tokenizer(load_tokenizer(args.proxy), spec,
                              None if spec.tokenizer_id else load_tokenizer(args.model))


def scheme_models(args: argparse.Namespace, key: Any, direction_file: str | None) -> dict[str, Any]:
    """``proxy`` / ``ads_direction`` keyword arguments for the key's ADFP/ADS scheme (empty for KGW)."""
    extra: dict[str, Any] = {}
    if key is None or key.require_spec().mark_scheme == "kgw":
        return extra
    if args.proxy:
        from distillguard.models import load_model

        extra["proxy"] = load_model(args.proxy, device=args.device)
    if direction_file is not None:
        from distillguard.watermark.ads import load_direction

        extra["ads_direction"] = load_direction(direction_file, key.require_spec().ads_direction_sha256)
    return extra




def scheme_key(args: argparse.Namespace, key: Any) -> tuple[Any, str | None]:
    """The key with the spec ``--scheme`` asks for (its lambdas, proxy and ADS direction hash recorded), and
    the ADS direction's path (``None`` without ADS). Refuses before any model is loaded.

    Example:
        >>> import argparse
        >>> from distillguard.cli.schemes import add_scheme_args, scheme_key
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> p = argparse.ArgumentParser(); add_scheme_args(p)
        >>> args = p.parse_args(["--scheme", "adfp", "--lam", "64"]); args.key = None
        >>> key, direction = scheme_key(args, WatermarkKey.generate(WatermarkSpec(vocab_size=100)))
        >>> key.spec.mark_scheme, key.spec.adfp_lambda, direction
        ('adfp', 64.0, None)
    """
    import hashlib

    spec = key.require_spec()
    scheme = args.scheme or spec.mark_scheme
    parts = scheme.split("+")
    changes: dict[str, Any] = {}
    if args.scheme is not None or args.lam is not None or args.ads_lam is not None:
        if scheme == "kgw" and (args.lam is not None or args.ads_lam is not None or args.proxy):
            raise DistillguardError("--lam, --ads-lam and --proxy are for --scheme adfp / ads; kgw uses the key's delta")
        adfp_lam = args.lam if "adfp" in parts else None
        ads_lam = (args.lam if scheme == "ads" else args.ads_lam) if "ads" in parts else None
        if "adfp" in parts and adfp_lam is None:
            raise DistillguardError(f"--scheme {scheme} needs --lam (the ADFP strength, > 0)")
        if "ads" in parts and ads_lam is None:
            flag = "--lam" if scheme == "ads" else "--ads-lam"
            raise DistillguardError(f"--scheme {scheme} needs {flag} (the ADS strength, >= 0)")
        changes = dict(mark_scheme=scheme, adfp_lambda=adfp_lam, ads_lambda=ads_lam,
                       ads_epsilon=args.ads_eps if "ads" in parts else None, ads_direction_sha256=None,
                       proxy_id=None if scheme == "kgw" else (args.proxy or "teacher"))
    if args.proxy and scheme == "kgw":
        raise DistillguardError("--proxy is for --scheme adfp / ads; kgw needs no proxy")
    if args.proxy and not changes:  # the key's own ADFP/ADS scheme, run with another proxy: record which
        changes = {"proxy_id": args.proxy}
    direction = None
    if "ads" in parts:
        from distillguard.watermark.ads import direction_path

        direction = args.ads_direction or (str(direction_path(args.key)) if args.key else None)
        if direction is None or not Path(direction).is_file():
            raise DistillguardError(f"--scheme {scheme} needs the ADS direction: {direction or '--ads-direction'} "
                                    "does not exist (make it with distillguard ads-direction)")
        if "mark_scheme" in changes:  # a scheme chosen now records the direction it runs with
            changes["ads_direction_sha256"] = hashlib.sha256(Path(direction).read_bytes()).hexdigest()
    return (key.with_spec(spec.replace(**changes)) if changes else key), direction
