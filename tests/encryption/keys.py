"""Test keys: fixed, so that a failing test shows the same ciphertext prefix every run."""

from __future__ import annotations

import base64

from temporal_executor.encryption import Keyring

__all__ = ["KEYS", "entry", "ring"]

KEYS = {name: bytes([n]) * 32 for n, name in enumerate(("k1", "k2", "k3"), start=1)}


def entry(*ids: str) -> str:
    """The keys as the environment variable holds them, newest first."""
    return ",".join(f"{i}:{base64.b64encode(KEYS[i]).decode()}" for i in ids)


def ring(*ids: str, sealing: bool = True, compress: bool = False) -> Keyring:
    return Keyring({i: KEYS[i] for i in ids}, sealing=sealing, compress=compress)
