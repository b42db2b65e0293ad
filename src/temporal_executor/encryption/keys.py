"""The keys, and the one envelope everything at rest is sealed in.

A key ring holds named AES-256 keys, newest first; the newest seals what is written from now
on, every key opens what it sealed (rotation without downtime: add a key in front, restart,
then `temporal-executor rekey`; drop an old key only once nothing sealed with it is left —
Temporal histories keep theirs until their retention ends).

A sealed value is `nonce (12 bytes) + AES-GCM(plaintext)`, with the key's id beside it and,
when asked for, the plaintext zlib-compressed first. The associated data names what the
value is (`purpose`: a Temporal payload or a store value) and the facts written beside it
(key id, compression, a payload's tenant), so none of them can be changed unnoticed.
`codec.py` wraps this for Temporal payloads, `sealed.py` for the store's text columns.

Keys come from `security.encryption.keys_env` or `keys_file`: `id:base64key` entries,
separated by commas or newlines. A malformed entry refuses start-up with a message naming
the variable (or file) and the entry's position, never the key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import EncryptionConfig
from ..errors import ConfigError, DecryptionError

__all__ = ["KEY_ID_PATTERN", "Keyring", "Sealed", "keyring_of", "parse_keys"]

KEY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    """A value sealed by one key: its id, whether the plaintext was compressed, and
    `nonce + ciphertext`."""

    key_id: str
    compressed: bool
    data: bytes


@dataclass(frozen=True)
class Keyring:
    """Keys by id, newest first (`source` names where they came from, for messages).
    `sealing`: whether new writes are sealed (`security.encryption.enabled`); a ring that
    does not seal still opens what its keys sealed."""

    keys: dict[str, bytes] = field(repr=False)
    sealing: bool = True
    compress: bool = False
    source: str = "the key ring"
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sealing and not self.keys:
            raise ConfigError(f"security.encryption.enabled: no keys in {self.source}")
        ciphers = {key_id: AESGCM(key) for key_id, key in self.keys.items()}
        object.__setattr__(self, "_ciphers", ciphers)

    @property
    def current(self) -> str | None:
        """The id of the key new writes are sealed with; None when they are not sealed."""
        return next(iter(self.keys)) if self.sealing and self.keys else None

    def seal(self, plaintext: bytes, purpose: bytes, facts: bytes = b"") -> Sealed:
        """`plaintext` sealed with the newest key (`purpose` and `facts` bound to it)."""
        key_id = self.current
        if key_id is None:
            raise RuntimeError("this key ring does not seal (security.encryption is off)")
        compressed = False
        if self.compress:
            packed = zlib.compress(plaintext)
            if len(packed) < len(plaintext):
                plaintext, compressed = packed, True
        nonce = os.urandom(NONCE_BYTES)
        associated = _associated(purpose, key_id, compressed, facts)
        return Sealed(
            key_id, compressed, nonce + self._ciphers[key_id].encrypt(nonce, plaintext, associated)
        )

    def open(self, sealed: Sealed, purpose: bytes, facts: bytes = b"") -> bytes:
        """The plaintext of `sealed`; `DecryptionError` when its key is not here, or the value
        (or a fact beside it) was altered."""
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise DecryptionError(
                f"a value was encrypted with key {sealed.key_id!r}, which is not in "
                f"{self.source} (its keys: {', '.join(self.keys) or 'none'})"
            )
        nonce, ciphertext = sealed.data[:NONCE_BYTES], sealed.data[NONCE_BYTES:]
        associated = _associated(purpose, sealed.key_id, sealed.compressed, facts)
        try:
            plaintext = cipher.decrypt(nonce, ciphertext, associated)
        except InvalidTag:
            raise DecryptionError(
                f"a value encrypted with key {sealed.key_id!r} does not decrypt: the key in "
                f"{self.source} is not the one it was encrypted with, or the value was altered"
            ) from None
        return zlib.decompress(plaintext) if sealed.compressed else plaintext


def _associated(purpose: bytes, key_id: str, compressed: bool, facts: bytes) -> bytes:
    compression = b"zlib" if compressed else b"-"
    return b"\x00".join((b"temporal-executor", purpose, key_id.encode(), compression, facts))


def parse_keys(raw: str, source: str) -> dict[str, bytes]:
    """The keys of `raw` (`id:base64key` entries, comma- or newline-separated, newest
    first); a `ConfigError` naming `source` and the entry's position for a bad one."""
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in re.split(r"[,\n]", raw)]
    for position, entry in enumerate((e for e in entries if e), start=1):
        key_id, colon, encoded = entry.partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not colon or not re.fullmatch(KEY_ID_PATTERN, key_id):
            raise ConfigError(
                f"{source}: entry {position} must be `id:base64key` (id: letters, digits, "
                ". _ -; at most 64)"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"{source}: entry {position} ({key_id!r}) must hold a base64-encoded "
                f"{KEY_BYTES}-byte key (e.g. `openssl rand -base64 32`)"
            )
        if key_id in keys:
            raise ConfigError(f"{source}: key id {key_id!r} is used twice")
        keys[key_id] = key
    return keys


def keyring_of(settings: EncryptionConfig, env: dict[str, str] | None = None) -> Keyring | None:
    """The key ring `security.encryption` describes; None when it is off and no key is
    given (nothing is sealed, nothing needs opening)."""
    env = dict(os.environ if env is None else env)
    if settings.keys_file is not None:
        source = f"security.encryption.keys_file ({settings.keys_file})"
        try:
            raw = Path(settings.keys_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: {exc.strerror or exc}") from None
    else:
        source = f"environment variable {settings.keys_env}"
        raw = env.get(settings.keys_env, "")
    keys = parse_keys(raw, source)
    if not keys and not settings.enabled:
        return None
    if not keys:
        raise ConfigError(
            f"security.encryption.enabled: no keys in {source}: give `id:base64key` entries, "
            "newest first (e.g. k1:$(openssl rand -base64 32))"
        )
    return Keyring(keys, sealing=settings.enabled, compress=settings.compress, source=source)
