"""Secret watermark keys, account sub-keys and the watermark spec they carry.

A :class:`WatermarkKey` holds a random master secret (256 bits by default, at least 128) and the
:class:`WatermarkSpec` that the processor and the detector both read (contract 1 of DESIGN.md). Account
sub-keys are derived with HMAC-SHA256(master, account_id), so a leak found in a suspect model can be traced
to the API account that harvested it. Secrets are never shown by ``repr``/``str``; reports name a key by its
public :attr:`WatermarkKey.fingerprint`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import secrets
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.errors import DistillguardError

__all__ = ["WatermarkSpec", "WatermarkKey", "ENV_VAR", "MARK_SCHEMES", "tokenizer_id", "check_tokenizer"]

#: Environment variable read by :meth:`WatermarkKey.from_env` (key-file JSON, or a hex secret).
ENV_VAR = "DISTILLGUARD_KEY"
_MIN_SECRET_BYTES = 16  # 128 bits
_SEEDINGS = ("left", "min")
_FORMAT = "distillguard-key"
#: How generation may use the green lists (:attr:`WatermarkSpec.mark_scheme`).
MARK_SCHEMES = ("kgw", "adfp", "ads", "kgw+ads", "adfp+ads")
_MARK_DEFAULTS = {"mark_scheme": "kgw", "adfp_lambda": None, "ads_lambda": None, "ads_epsilon": None,
                  "ads_direction_sha256": None, "proxy_id": None}


@dataclass(frozen=True)
class WatermarkSpec:
    """Everything that must agree between generation and detection.

    Attributes:
        vocab_size: number of token ids the watermark covers (the tokenizer's vocabulary).
        gamma: requested green-list fraction; the exact value used is :attr:`green_size` / ``vocab_size``.
        delta: logit bias added to green tokens at generation.
        context_width: h, the number of previous tokens that seed the green list (0 = one fixed list).
        seeding: ``"left"`` (keyed hash of the previous h tokens) or ``"min"`` (KGW's self-hash: the
            seed comes from the token with the smallest keyed rank among the previous h tokens and the
            candidate itself, which makes the mark survive insertions and reordering better).
        tokenizer_id: public fingerprint of the tokenizer (see :func:`tokenizer_id`); ``None`` = unchecked.
        num_permutations: how many keyed vocabulary orders green lists are drawn from (a power of two).
        scheme: version of the keyed PRF that makes green lists (``dg-arc-v1``).
        mark_scheme: how generation used the green lists (see :data:`MARK_SCHEMES`): ``"kgw"`` (+delta on
            green tokens; every key file written before the field existed reads as this), ``"adfp"``
            (antidistillation fingerprinting: the green lists pushed by ``adfp_lambda`` times the proxy's
            gradient-aligned shift, no delta), ``"ads"`` (antidistillation sampling only: no mark),
            ``"kgw+ads"`` or ``"adfp+ads"`` (both). The green lists are the same in every scheme.
        adfp_lambda: ADFP strength lambda (finite, > 0), set exactly when the scheme has ``adfp``.
        ads_lambda: ADS strength lambda (finite, >= 0), set exactly when the scheme has ``ads``.
        ads_epsilon: ADS finite-difference step epsilon along the unit direction (finite, > 0), with ``ads``.
        ads_direction_sha256: SHA-256 (hex) of the ADS direction artefact (safetensors), with ``ads``.
        proxy_id: public identity of the proxy model (``"teacher"`` when the teacher is its own proxy);
            only with ``adfp`` or ``ads``, optional.

    Example:
        >>> from distillguard.keys import WatermarkSpec
        >>> spec = WatermarkSpec(vocab_size=49152, gamma=0.25)
        >>> spec.green_size, round(spec.effective_gamma, 4)
        (12288, 0.25)
    """

    vocab_size: int
    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1
    seeding: str = "left"
    tokenizer_id: str | None = None
    num_permutations: int = 16
    scheme: str = "dg-arc-v1"
    mark_scheme: str = "kgw"
    adfp_lambda: float | None = None
    ads_lambda: float | None = None
    ads_epsilon: float | None = None
    ads_direction_sha256: str | None = None
    proxy_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 2:
            raise DistillguardError(f"vocab_size must be an integer >= 2, got {self.vocab_size!r}")
        if self.vocab_size >= 2**31:
            raise DistillguardError(f"vocab_size {self.vocab_size} is too large (limit 2**31)")
        for name in ("gamma", "delta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise DistillguardError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 < float(self.gamma) < 1.0:
            raise DistillguardError(f"gamma must be in (0, 1), got {self.gamma!r}")
        if not 1 <= self.green_size < self.vocab_size:
            raise DistillguardError(f"gamma={self.gamma} gives an empty or full green list")
        if float(self.delta) < 0:
            raise DistillguardError(f"delta must be >= 0, got {self.delta!r}")
        if self.tokenizer_id is not None and not isinstance(self.tokenizer_id, str):
            raise DistillguardError(f"tokenizer_id must be a string or null, got {self.tokenizer_id!r}")
        if isinstance(self.context_width, bool) or not isinstance(self.context_width, int) \
                or not 0 <= self.context_width <= 16:
            raise DistillguardError(f"context_width must be an integer in [0, 16], got {self.context_width!r}")
        if self.seeding not in _SEEDINGS:
            raise DistillguardError(f"unknown seeding {self.seeding!r}: choose one of {', '.join(_SEEDINGS)}")
        if self.seeding == "min" and self.context_width < 1:
            raise DistillguardError("seeding 'min' needs context_width >= 1")
        p = self.num_permutations
        if isinstance(p, bool) or not isinstance(p, int) or p < 1 or p > 256 or p & (p - 1):
            raise DistillguardError(f"num_permutations must be a power of two in [1, 256], got {p!r}")
        if self.scheme != "dg-arc-v1":
            raise DistillguardError(f"unknown watermark scheme {self.scheme!r} (this version reads dg-arc-v1)")
        self._check_mark_scheme()

    def _check_mark_scheme(self) -> None:
        """Validate ``mark_scheme`` and the ADFP / ADS fields (each set exactly when its scheme uses it)."""
        if self.mark_scheme not in MARK_SCHEMES:
            raise DistillguardError(f"unknown mark scheme {self.mark_scheme!r}: choose one of {', '.join(MARK_SCHEMES)}")
        parts = set(self.mark_scheme.split("+"))
        for name, part, low, strict in (("adfp_lambda", "adfp", 0.0, True), ("ads_lambda", "ads", 0.0, False),
                                        ("ads_epsilon", "ads", 0.0, True)):
            value = getattr(self, name)
            if part not in parts:
                if value is not None:
                    raise DistillguardError(f"{name} is set but mark scheme {self.mark_scheme!r} does not use it")
                continue
            if value is None or isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or (value <= low if strict else value < low):
                raise DistillguardError(
                    f"{name} must be a finite number {'>' if strict else '>='} {low:g} with mark scheme "
                    f"{self.mark_scheme!r}, got {value!r}")
        sha = self.ads_direction_sha256
        if "ads" in parts:
            if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise DistillguardError(f"ads_direction_sha256 must be 64 lowercase hex digits, got {sha!r}")
        elif sha is not None:
            raise DistillguardError(f"ads_direction_sha256 is set but mark scheme {self.mark_scheme!r} does not use it")
        if self.proxy_id is not None and (not isinstance(self.proxy_id, str) or not self.proxy_id
                                          or parts == {"kgw"}):
            raise DistillguardError(f"proxy_id must be a non-empty string, and only with adfp or ads, got "
                                    f"{self.proxy_id!r}")

    @property
    def green_size(self) -> int:
        """Number of green tokens per context: ``round(gamma * vocab_size)``."""
        return int(round(float(self.gamma) * self.vocab_size))

    @property
    def effective_gamma(self) -> float:
        """The exact null green probability used by every test: ``green_size / vocab_size``."""
        return self.green_size / self.vocab_size

    def replace(self, **changes: Any) -> WatermarkSpec:
        """Return a copy with some fields changed (validated again).

        Example:
            >>> from distillguard.keys import WatermarkSpec
            >>> WatermarkSpec(vocab_size=100).replace(delta=3.0).delta
            3.0
        """
        return dataclasses.replace(self, **changes)

    @property
    def is_marked(self) -> bool:
        """Whether generation under this spec biases the green lists (every scheme but ``"ads"`` alone)."""
        return self.mark_scheme != "ads"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the spec.

        The mark-scheme fields are left out while they hold their defaults, so a ``"kgw"`` spec serialises
        exactly as it did before they existed (old key files and generate manifests compare equal).

        Example:
            >>> from distillguard.keys import WatermarkSpec
            >>> "mark_scheme" in WatermarkSpec(vocab_size=100).to_dict()
            False
            >>> WatermarkSpec(vocab_size=100, mark_scheme="adfp", adfp_lambda=8.0).to_dict()["adfp_lambda"]
            8.0
        """
        out = dataclasses.asdict(self)
        for name, default in _MARK_DEFAULTS.items():
            if out[name] == default:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatermarkSpec:
        """Build a spec from :meth:`to_dict` output, with a clear error on unknown or missing fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise DistillguardError(f"watermark spec has unknown fields: {', '.join(sorted(unknown))}")
        if "vocab_size" not in data:
            raise DistillguardError("watermark spec is missing 'vocab_size'")
        try:
            return cls(**data)
        except TypeError as exc:
            raise DistillguardError(f"invalid watermark spec: {exc}") from None


def tokenizer_id(tokenizer: Any) -> str:
    """Public fingerprint of a tokenizer's vocabulary, used to refuse detection with the wrong tokenizer.

    Example:
        >>> from distillguard.keys import tokenizer_id
        >>> class Tok:
        ...     def get_vocab(self): return {"a": 0, "b": 1}
        >>> tokenizer_id(Tok())
        'vocab-2-4b4543fe55612726'
    """
    vocab = tokenizer.get_vocab()
    items = sorted(vocab.items(), key=lambda kv: (kv[1], kv[0]))
    digest = hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
    return f"vocab-{len(vocab)}-{digest}"


class WatermarkKey:
    """A secret watermark key (master or account sub-key) plus the spec it is used with.

    Generate one with :meth:`generate`, store it with :meth:`save` (file mode 0600) and read it back with
    :meth:`load` or :meth:`from_env`. :meth:`for_account` derives the sub-key that marks one API account's
    traffic. The secret never appears in ``repr``/``str``, logs or reports: use :attr:`fingerprint`.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> key = WatermarkKey.generate(WatermarkSpec(vocab_size=1000))
        >>> sub = key.for_account("acct-42")
        >>> sub.account, sub.fingerprint != key.fingerprint, "secret" in repr(key)
        ('acct-42', True, False)
    """

    __slots__ = ("_master", "_account", "_spec")

    def __init__(self, master_secret: bytes, spec: WatermarkSpec | None = None, account: str | None = None):
        if not isinstance(master_secret, bytes | bytearray) or len(master_secret) < _MIN_SECRET_BYTES:
            raise DistillguardError(f"a watermark key needs at least {_MIN_SECRET_BYTES * 8} secret bits")
        if account is not None and (not isinstance(account, str) or not account):
            raise DistillguardError("account id must be a non-empty string")
        self._master = bytes(master_secret)
        self._account = account
        self._spec = spec

    # -- construction -----------------------------------------------------------------------------------
    @classmethod
    def generate(cls, spec: WatermarkSpec | None = None, *, nbytes: int = 32) -> WatermarkKey:
        """Draw a new master key from the OS CSPRNG (``nbytes`` random bytes, default 256 bits).

        Example:
            >>> from distillguard.keys import WatermarkKey
            >>> WatermarkKey.generate().account is None
            True
        """
        if nbytes < _MIN_SECRET_BYTES:
            raise DistillguardError(f"nbytes must be >= {_MIN_SECRET_BYTES}")
        return cls(secrets.token_bytes(nbytes), spec)

    def for_account(self, account_id: str) -> WatermarkKey:
        """Derive the sub-key of one API account: HMAC-SHA256(master, account_id).

        Example:
            >>> from distillguard.keys import WatermarkKey
            >>> k = WatermarkKey(b"\\x01" * 32)
            >>> k.for_account("a").fingerprint == k.for_account("a").fingerprint
            True
        """
        if self._account is not None:
            raise DistillguardError("account sub-keys are derived from the master key, not from another sub-key")
        return WatermarkKey(self._master, self._spec, account=str(account_id))

    def with_spec(self, spec: WatermarkSpec) -> WatermarkKey:
        """The same secret used with another spec.

        Example:
            >>> from distillguard.keys import WatermarkKey, WatermarkSpec
            >>> WatermarkKey(b"\\x01" * 32).with_spec(WatermarkSpec(vocab_size=10)).spec.vocab_size
            10
        """
        return WatermarkKey(self._master, spec, account=self._account)

    def master(self) -> WatermarkKey:
        """The master key this key belongs to (itself for a master key)."""
        return WatermarkKey(self._master, self._spec)

    # -- public properties --------------------------------------------------------------------------------
    @property
    def account(self) -> str | None:
        """Account id of a sub-key, ``None`` for the master key."""
        return self._account

    @property
    def spec(self) -> WatermarkSpec | None:
        """The watermark spec stored with the key (``None`` if not set yet)."""
        return self._spec

    def require_spec(self) -> WatermarkSpec:
        """Return the spec or raise a clear error when the key has none."""
        if self._spec is None:
            raise DistillguardError("this key has no watermark spec (vocab size, gamma, ...): make it with keygen")
        return self._spec

    @property
    def master_fingerprint(self) -> str:
        """Public short id of the master secret (a hash; reveals nothing about the key)."""
        return "dg-" + hashlib.sha256(b"distillguard/fingerprint/v1\x00" + self._master).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """Public short id of this key: the master fingerprint, plus ``/account`` for a sub-key."""
        fp = self.master_fingerprint
        return fp if self._account is None else f"{fp}/{self._account}"

    # -- secret material (internal: used by distillguard.watermark.prf only) -------------------------------
    def _context_secret(self) -> bytes:
        """Secret that seeds the per-context PRF: the master secret, or the account's HMAC sub-key."""
        if self._account is None:
            return hashlib.sha256(b"distillguard/master-context/v1\x00" + self._master).digest()
        msg = b"distillguard/account/v1\x00" + self._account.encode("utf-8")
        return hmac.new(self._master, msg, hashlib.sha256).digest()

    def _vocabulary_secret(self) -> bytes:
        """Secret of the keyed vocabulary orders, shared by the master key and all its account sub-keys."""
        return hmac.new(self._master, b"distillguard/vocabulary/v1", hashlib.sha256).digest()

    def _cache_token(self) -> bytes:
        """Process-local cache key (a hash; never written anywhere)."""
        return hashlib.sha256(self._master + b"\x00" + (self._account or "").encode()).digest()

    # -- persistence ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        """Serialise the key (secret included!) to the key-file JSON format."""
        doc = {
            "format": _FORMAT,
            "version": 1,
            "secret_hex": self._master.hex(),
            "account": self._account,
            "spec": None if self._spec is None else self._spec.to_dict(),
            "fingerprint": self.fingerprint,
        }
        return json.dumps(doc, indent=2) + "\n"

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the key file with mode 0600 (created that way: the secret is never world-readable).

        Example:
            >>> import tempfile, os
            >>> from distillguard.keys import WatermarkKey
            >>> path = os.path.join(tempfile.mkdtemp(), "key.json")
            >>> _ = WatermarkKey.generate().save(path)
            >>> oct(os.stat(path).st_mode & 0o777)
            '0o600'
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise DistillguardError(f"{path} already exists: refusing to overwrite a key (pass overwrite)")
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.to_json())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def from_json(cls, text: str, *, source: str = "key") -> WatermarkKey:
        """Parse key-file JSON (see :meth:`to_json`)."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise DistillguardError(f"{source}: not a distillguard key file (invalid JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise DistillguardError(f"{source}: not a distillguard key file (missing format marker)")
        try:
            secret = bytes.fromhex(doc["secret_hex"])
        except (KeyError, TypeError, ValueError):
            raise DistillguardError(f"{source}: corrupt key file (secret_hex missing or not hex)") from None
        spec = doc.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise DistillguardError(f"{source}: corrupt key file (spec is not an object)")
        account = doc.get("account")
        if account is not None and (not isinstance(account, str) or not account):
            raise DistillguardError(f"{source}: corrupt key file (account is not a non-empty string)")
        try:
            parsed = None if spec is None else WatermarkSpec.from_dict(spec)
        except DistillguardError as exc:
            raise DistillguardError(f"{source}: {exc}") from None
        return cls(secret, parsed, account=account)

    @classmethod
    def load(cls, path: str | os.PathLike) -> WatermarkKey:
        """Read a key file; warns when the file is readable by group or others.

        Example:
            >>> import tempfile, os
            >>> from distillguard.keys import WatermarkKey
            >>> key = WatermarkKey.generate()
            >>> path = key.save(os.path.join(tempfile.mkdtemp(), "k.json"))
            >>> WatermarkKey.load(path).fingerprint == key.fingerprint
            True
        """
        path = Path(path)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DistillguardError(f"key file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DistillguardError(f"key file {path} cannot be read: {exc.__class__.__name__}") from None
        key = cls.from_json(text, source=f"key file {path}")  # a file that is no key is refused, not warned about
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(
                f"key file {path} is accessible by other users (mode {oct(mode & 0o777)}); run: chmod 600 {path}",
                UserWarning,
                stacklevel=2,
            )
        return key

    @classmethod
    def from_env(cls, var: str = ENV_VAR, spec: WatermarkSpec | None = None) -> WatermarkKey:
        """Read a key from an environment variable holding key-file JSON or a hex secret (>= 32 hex digits).

        Example:
            >>> import os
            >>> from distillguard.keys import WatermarkKey
            >>> os.environ["MY_KEY"] = "ab" * 16
            >>> WatermarkKey.from_env("MY_KEY").account is None
            True
        """
        value = os.environ.get(var)
        if not value:
            raise DistillguardError(f"no key given and environment variable {var} is not set")
        value = value.strip()
        if value.startswith("{"):
            key = cls.from_json(value, source=f"environment variable {var}")
            return key if spec is None else key.with_spec(spec)
        try:
            secret = bytes.fromhex(value)
        except ValueError:
            raise DistillguardError(f"environment variable {var} is neither key JSON nor a hex secret") from None
        return cls(secret, spec)

    # -- safety -------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"WatermarkKey(fingerprint={self.fingerprint!r}, spec={self._spec!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WatermarkKey):
            return NotImplemented
        return hmac.compare_digest(self._cache_token(), other._cache_token()) and self._spec == other._spec

    def __hash__(self) -> int:
        return hash((self.fingerprint, self._spec))

    def __reduce__(self):  # refuse to be pickled by accident (e.g. into a multiprocessing log)
        raise TypeError("WatermarkKey is not picklable: save it with key.save(path)")


def check_tokenizer(tokenizer: Any, spec: WatermarkSpec) -> None:
    """Raise a clear error when ``tokenizer`` is not the one the watermark spec was made for.

    Example:
        >>> from distillguard.keys import WatermarkSpec, check_tokenizer
        >>> class Tok:
        ...     def get_vocab(self): return {str(i): i for i in range(12)}
        >>> check_tokenizer(Tok(), WatermarkSpec(vocab_size=8))
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: vocab mismatch: tokenizer has 12 tokens, the watermark spec covers 8
    """
    if spec.tokenizer_id is not None:
        tid = tokenizer_id(tokenizer)
        if tid != spec.tokenizer_id:
            raise DistillguardError(
                f"wrong tokenizer: the key's spec was made for {spec.tokenizer_id}, this tokenizer is {tid}"
            )
    n = len(tokenizer.get_vocab())
    if n > spec.vocab_size:
        raise DistillguardError(f"vocab mismatch: tokenizer has {n} tokens, the watermark spec covers {spec.vocab_size}")
    if spec.tokenizer_id is None:
        warnings.warn("the key records no tokenizer id (made with --vocab-size): cannot check that this is the "
                      "tokenizer the watermark was made with", UserWarning, stacklevel=2)
