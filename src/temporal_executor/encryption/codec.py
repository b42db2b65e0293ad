"""The Temporal payload codec: every payload a client or worker sends to Temporal (workflow
and activity inputs and results, signals, updates, queries, memos, summaries, failure
messages) is sealed whole (`keys.py`) before it leaves the process, so histories hold
ciphertext only.

The metadata follows Temporal's samples (`encryption/codec.py`): `encoding:
binary/encrypted`, `encryption-key-id`, and ours, `compression: zlib` when compressed and
`encryption-tenant` when the payload belongs to a task or a schedule (`tenants.py`: the
tenant its workflow id names, from the SDK's serialization context). Decoding passes through what is
not `binary/encrypted`, so histories written before encryption was turned on (and by 0.1.0)
stay readable, and a payload sealed already is not sealed again.

The tenant lets the codec server (`api/routes/codec.py`) decrypt a payload for the tenant
that owns it, and for no other: the server is given payloads only, never whose they are.
It is bound to the ciphertext, so changing it in the metadata breaks decryption.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Self

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from ..tasks import SCHEDULE_PREFIX, scheduled_task_id, task_id_of
from ..tenants import split
from .keys import Keyring, Sealed

__all__ = ["ENCRYPTED", "EncryptionCodec", "data_converter", "payload_tenant"]

ENCRYPTED = b"binary/encrypted"
_PURPOSE = b"temporal-payload"
_KEY_ID = "encryption-key-id"
_TENANT = "encryption-tenant"
_COMPRESSION = "compression"


def payload_tenant(payload: Payload) -> str | None:
    """The tenant a sealed payload belongs to (None: no task's, or not sealed)."""
    value = payload.metadata.get(_TENANT)
    return value.decode() if value else None


def _encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCRYPTED


def _tenant_of(context: SerializationContext) -> str | None:
    """The tenant of the task whose workflow (or activity) a context names, or of the
    schedule whose action or run it names (its key names its tenant as a task's does:
    `tasks.scheduled_task_id`); None for none."""
    workflow: str | None = getattr(context, "workflow_id", None)
    if not workflow:
        return None
    if workflow.startswith(SCHEDULE_PREFIX):
        return split(scheduled_task_id(workflow))[0]
    task = task_id_of(workflow)
    return split(task)[0] if task else None


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """Seals payloads with the key ring's newest key (when it seals), opens any its keys
    sealed; `tenant`: the tenant of the task whose payloads these are."""

    def __init__(self, keyring: Keyring, tenant: str | None = None) -> None:
        self.keyring = keyring
        self.tenant = tenant

    def with_context(self, context: SerializationContext) -> Self:
        tenant = _tenant_of(context)
        return self if tenant == self.tenant else type(self)(self.keyring, tenant)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self.keyring.current is None:
            return list(payloads)
        return [p if _encrypted(p) else self._seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.open_owned(payloads)

    def open_owned(self, payloads: Sequence[Payload], tenant: str | None = None) -> list[Payload]:
        """The payloads opened — with `tenant`, only those of that tenant (the others stay
        sealed)."""
        opened = []
        for payload in payloads:
            if _encrypted(payload) and (tenant is None or payload_tenant(payload) == tenant):
                payload = self._open(payload)
            opened.append(payload)
        return opened

    def _seal(self, payload: Payload) -> Payload:
        tenant = (self.tenant or "").encode()
        sealed = self.keyring.seal(payload.SerializeToString(), _PURPOSE, tenant)
        metadata = {"encoding": ENCRYPTED, _KEY_ID: sealed.key_id.encode()}
        if sealed.compressed:
            metadata[_COMPRESSION] = b"zlib"
        if tenant:
            metadata[_TENANT] = tenant
        return Payload(metadata=metadata, data=sealed.data)

    def _open(self, payload: Payload) -> Payload:
        meta = payload.metadata
        sealed = Sealed(
            meta.get(_KEY_ID, b"").decode(), meta.get(_COMPRESSION) == b"zlib", payload.data
        )
        plaintext = self.keyring.open(sealed, _PURPOSE, meta.get(_TENANT, b""))
        return Payload.FromString(plaintext)


@dataclasses.dataclass(frozen=True)
class _EncryptingConverter(DataConverter):
    """A data converter with the codec, that keeps what it is for each tenant: the SDK asks
    for the converter of a context at every command and activity, and a new one (a clone
    that builds its payload converter again) costs ~40 µs, about what encrypting costs."""

    _by_tenant: dict[str | None, DataConverter] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def with_context(self, context: SerializationContext) -> Self:
        tenant = _tenant_of(context)
        if (kept := self._by_tenant.get(tenant)) is not None:
            return kept  # type: ignore[return-value]
        converter = super().with_context(context)
        # Kept only while nothing but the codec depends on the context.
        if (converter.payload_converter, converter.failure_converter) == (
            self.payload_converter,
            self.failure_converter,
        ):
            self._by_tenant[tenant] = converter
        return converter


def data_converter(keyring: Keyring | None) -> DataConverter:
    """The data converter of every client and worker: pydantic's, with the codec when there
    is a key ring, and failure messages and stack traces moved into the (sealed) encoded
    attributes while it seals."""
    if keyring is None:
        return pydantic_data_converter
    failures = pydantic_data_converter.failure_converter_class
    if keyring.current is not None:
        failures = DefaultFailureConverterWithEncodedAttributes
    return _EncryptingConverter(
        payload_converter_class=pydantic_data_converter.payload_converter_class,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=failures,
    )
