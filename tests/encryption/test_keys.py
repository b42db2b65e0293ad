"""The key ring, its envelope for Temporal payloads (the codec) and for the store's columns:
what is sealed opens with the key that sealed it and with no other, rotation keeps old values
readable, what was never sealed passes through, and a malformed key refuses start-up naming
where it came from, never the key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from temporal_executor.config import EncryptionConfig
from temporal_executor.encryption import (
    ENCRYPTED,
    EncryptionCodec,
    Sealer,
    data_converter,
    keyring_of,
    payload_tenant,
)
from temporal_executor.errors import ConfigError, DecryptionError
from tests.encryption.keys import KEYS, entry, ring

VAR = "TE_TEST_KEYS"
SECRET = "MARKER-secret-prompt " * 8


def settings(**values: object) -> EncryptionConfig:
    return EncryptionConfig.model_validate({"keys_env": VAR, **values})


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("k1", "entry 1 must be `id:base64key`"),
        ("k1:" + base64.b64encode(b"short").decode(), "entry 1 ('k1') must hold a base64"),
        (f"{entry('k1')},k2:not base64!", "entry 2 ('k2') must hold a base64"),
        (f"{entry('k1')},{entry('k1')}", "key id 'k1' is used twice"),
        ("bad id:" + base64.b64encode(KEYS["k1"]).decode(), "entry 1 must be"),
    ],
)
def test_a_malformed_key_is_refused_naming_the_variable_not_the_key(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        keyring_of(settings(enabled=True), {VAR: raw})
    message = caught.value.message
    assert message.startswith(f"environment variable {VAR}: ")
    assert problem in message
    assert base64.b64encode(KEYS["k1"]).decode() not in message


def test_keys_come_from_the_variable_or_a_file_and_enabled_needs_one(tmp_path: Path) -> None:
    assert keyring_of(settings(), {}) is None  # off, no keys: nothing to do
    with pytest.raises(ConfigError, match=f"enabled: no keys in environment variable {VAR}"):
        keyring_of(settings(enabled=True), {})
    decrypt_only = keyring_of(settings(), {VAR: entry("k1")})
    assert decrypt_only is not None and decrypt_only.current is None
    path = tmp_path / "keys"
    path.write_text(entry("k2", "k1").replace(",", "\n") + "\n")
    from_file = keyring_of(settings(enabled=True, keys_file=str(path)), {VAR: entry("k3")})
    assert from_file is not None and list(from_file.keys) == ["k2", "k1"]
    assert from_file.current == "k2"
    with pytest.raises(ConfigError, match="keys_file"):
        keyring_of(settings(enabled=True, keys_file=str(tmp_path / "missing")), {})


@pytest.mark.parametrize("compress", [False, True])
def test_the_store_envelope_rotates_and_passes_clear_text_through(compress: bool) -> None:
    old, new = Sealer(ring("k1", compress=compress)), Sealer(ring("k2", "k1", compress=compress))
    sealed = old.seal(SECRET)
    assert sealed.startswith(f"$te-enc:1:k1:{'z' if compress else '-'}:")
    assert "MARKER" not in sealed
    assert new.open(sealed) == SECRET  # rotation: the old key still opens it
    assert new.seal(SECRET).startswith("$te-enc:1:k2:")
    assert not new.is_current(sealed) and new.is_current(new.seal(SECRET))
    assert new.open('{"written": "before encryption"}') == '{"written": "before encryption"}'
    with pytest.raises(DecryptionError, match="key 'k2', which is not in"):
        old.open(new.seal(SECRET))
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(DecryptionError, match="does not decrypt"):
        old.open(altered)
    with pytest.raises(DecryptionError, match=r"security\.encryption has no keys"):
        Sealer(None).open(sealed)
    off = Sealer(ring("k1", sealing=False))
    assert off.seal(SECRET) == SECRET and off.open(sealed) == SECRET
    assert not off.is_current(sealed) and off.is_current(SECRET)


async def test_the_codec_seals_whole_payloads_with_the_tenant_bound_to_them() -> None:
    converter = data_converter(ring("k1", compress=True))
    codec = converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    task = codec.with_context(WorkflowSerializationContext("default", "agent-execution-a~t1"))
    (payload,) = converter.payload_converter.to_payloads([SECRET])
    (sealed,) = await task.encode([payload])
    assert sealed.metadata["encoding"] == ENCRYPTED
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert sealed.metadata["compression"] == b"zlib"
    assert payload_tenant(sealed) == "a"
    assert b"MARKER" not in sealed.SerializeToString()
    assert await task.encode([sealed]) == [sealed]  # sealed once only
    assert await codec.decode([sealed]) == [payload]
    # The codec server's view: only the owning tenant's payloads open.
    assert codec.open_owned([sealed], "a") == [payload]
    assert codec.open_owned([sealed], "b") == [sealed]
    forged = Payload()
    forged.CopyFrom(sealed)
    forged.metadata["encryption-tenant"] = b"b"
    with pytest.raises(DecryptionError):
        await codec.decode([forged])
    # A default-tenant task's payloads name `default`; what no task owns names none.
    default = codec.with_context(WorkflowSerializationContext("default", "agent-execution-t1"))
    assert payload_tenant((await default.encode([payload]))[0]) == "default"
    assert payload_tenant((await codec.encode([payload]))[0]) is None
    # A schedule's action and its runs (and their activities) are its tenant's.
    for workflow in ("agent-schedule-a~daily", "agent-schedule-a~daily-2026-12-07T15:56:15Z"):
        context = ActivitySerializationContext(
            namespace="default",
            activity_id="1",
            activity_type="open_scheduled_run",
            activity_task_queue="q",
            workflow_id=workflow,
            workflow_type="ScheduledRunWorkflow",
            is_local=False,
        )
        ran = codec.with_context(context)
        assert payload_tenant((await ran.encode([payload]))[0]) == "a"
    of_default = codec.with_context(WorkflowSerializationContext("default", "agent-schedule-d"))
    assert payload_tenant((await of_default.encode([payload]))[0]) == "default"
    # Written before encryption was on: passes through.
    assert await codec.decode([payload]) == [payload]
    # The converter of a task's context carries its tenant, one converter per tenant.
    of_task = converter.with_context(
        WorkflowSerializationContext("default", "agent-execution-a~t2")
    )
    assert (
        isinstance(of_task.payload_codec, EncryptionCodec) and of_task.payload_codec.tenant == "a"
    )
    again = converter.with_context(WorkflowSerializationContext("default", "agent-execution-a~t3"))
    assert again is of_task


async def test_failures_are_sealed_too_while_sealing() -> None:
    from temporalio.api.failure.v1 import Failure
    from temporalio.exceptions import ApplicationError

    converter = data_converter(ring("k1"))
    failure = Failure()
    await converter.encode_failure(ApplicationError(SECRET, type="tool_error"), failure)
    assert "MARKER" not in str(failure)
    assert failure.message == "Encoded failure"
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and error.message == SECRET
    # Off with keys given: nothing new is sealed, old payloads still open.
    reading = data_converter(ring("k1", sealing=False))
    (plain,) = await reading.encode([SECRET])
    assert plain.metadata["encoding"] != ENCRYPTED
    (sealed,) = await converter.encode([SECRET])
    assert await reading.decode([sealed], [str]) == [SECRET]


@pytest.mark.parametrize("command", ["serve", "worker", "rekey"])
def test_a_malformed_key_stops_the_service_before_it_starts(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from temporal_executor.cli import main
    from tests.conftest import free_port, write_config

    data = {
        "temporal": {"host_port": f"127.0.0.1:{free_port()}"},
        "server": {"host": "127.0.0.1", "port": free_port(), "api_keys_env": None},
        "security": {"encryption": {"enabled": True, "keys_env": VAR}},
        "observability": {"metrics_port": None},
        "state_dir": str(tmp_path),
    }
    monkeypatch.setenv(VAR, "k1:c2hvcnQ=")
    assert main(["--config", str(write_config(data, tmp_path / "c.yaml")), command]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: environment variable {VAR}: entry 1 ('k1') must hold")
