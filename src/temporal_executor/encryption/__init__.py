"""Encryption at rest (`security.encryption`): the key ring and its envelope (`keys.py`),
the Temporal payload codec every client and worker uses (`codec.py`), and the same envelope
for the store's content columns (`sealed.py`)."""

from __future__ import annotations

from .codec import ENCRYPTED, EncryptionCodec, data_converter, payload_tenant
from .keys import Keyring, Sealed, keyring_of, parse_keys
from .sealed import Sealer

__all__ = [
    "ENCRYPTED",
    "EncryptionCodec",
    "Keyring",
    "Sealed",
    "Sealer",
    "data_converter",
    "keyring_of",
    "parse_keys",
    "payload_tenant",
]
