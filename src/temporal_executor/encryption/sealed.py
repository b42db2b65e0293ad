"""The store's side of the envelope: a text column's value sealed (`keys.py`) as text,

    $te-enc:1:<key id>:<z when compressed, else ->:<base64 of nonce + ciphertext>

which fits every backend's column (SQLite and PostgreSQL TEXT, PostgreSQL's BYTEA blobs)
and never looks like what the store held before: JSON documents, and contents that would
have to match this whole pattern, key id and base64 included. A value without the prefix is
read as it is, so a store written before encryption was turned on stays readable, and
`temporal-executor rekey` seals it in place.
"""

from __future__ import annotations

import base64
import re

from ..errors import DecryptionError
from .keys import KEY_ID_PATTERN, Keyring, Sealed

__all__ = ["PREFIX", "Sealer"]

PREFIX = "$te-enc:1:"
_PURPOSE = b"store-value"
_KEY_ID = KEY_ID_PATTERN.removeprefix("^").removesuffix("$")
_SEALED = re.compile(rf"{re.escape(PREFIX)}({_KEY_ID}):([z-]):([A-Za-z0-9+/]*={{0,2}})")


class Sealer:
    """Seals the store's content columns with `keyring` (when it seals: else they are written
    as they are), and opens what any of its keys sealed."""

    def __init__(self, keyring: Keyring | None) -> None:
        self.keyring = keyring

    @property
    def sealing(self) -> bool:
        return self.keyring is not None and self.keyring.current is not None

    def seal(self, text: str) -> str:
        if self.keyring is None or self.keyring.current is None:
            return text
        sealed = self.keyring.seal(text.encode("utf-8", "surrogatepass"), _PURPOSE)
        flag = "z" if sealed.compressed else "-"
        encoded = base64.b64encode(sealed.data).decode()
        return f"{PREFIX}{sealed.key_id}:{flag}:{encoded}"

    def open(self, text: str) -> str:
        """`text` as it was before `seal`; as it is when it was not sealed."""
        found = self._sealed(text)
        if found is None:
            return text
        if self.keyring is None:
            raise DecryptionError(
                f"the store holds values encrypted with key {found.key_id!r}, and "
                "security.encryption has no keys"
            )
        return self.keyring.open(found, _PURPOSE).decode("utf-8", "surrogatepass")

    def is_current(self, text: str) -> bool:
        """Whether `text` is as this sealer writes now: sealed with the newest key (or, when
        it does not seal, not sealed). `rekey` rewrites the values that are not."""
        found = self._sealed(text)
        current = self.keyring.current if self.keyring is not None else None
        return (found.key_id if found else None) == current

    @staticmethod
    def _sealed(text: str) -> Sealed | None:
        if not text.startswith(PREFIX):
            return None
        match = _SEALED.fullmatch(text)
        if match is None:
            return None
        key_id, flag, encoded = match.groups()
        return Sealed(key_id, flag == "z", base64.b64decode(encoded))
