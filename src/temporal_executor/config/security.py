"""Data protection (`security`): encryption at rest of what tasks carry — prompts, answers,
tool arguments and results — in Temporal's history and in the event store
(`temporal_executor.encryption`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .section import Section

__all__ = ["EncryptionConfig", "SecurityConfig"]

DEFAULT_KEYS_ENV = "TEMPORAL_EXECUTOR_ENCRYPTION_KEYS"


class EncryptionConfig(Section):
    """AES-256-GCM encryption of workflow payloads and the store's content columns.

    `enabled`: new writes are encrypted with the newest key (off by default). Keys come from
    the variable `keys_env` names, or from the file `keys_file` (a mounted secret; it wins
    when both are set): comma- or newline-separated `id:base64key` entries (32-byte keys),
    newest first. Keys are read even while `enabled` is false, so data written while it was
    on stays readable after it is turned off. `compress`: zlib before encrypting (smaller
    histories; the ciphertext's length then says something about how compressible the
    content is)."""

    enabled: bool = False
    keys_env: str = Field(default=DEFAULT_KEYS_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    keys_file: Path | None = None
    compress: bool = False


class SecurityConfig(Section):
    encryption: EncryptionConfig = Field(default_factory=EncryptionConfig)
