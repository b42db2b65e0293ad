"""`temporal-executor rekey`: the store's encrypted contents brought to the newest key of
`security.encryption` (`store/rekey.py`), beside the running service."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..config import Config
from ..encryption import Sealer, keyring_of
from ..errors import ExecutorError
from ..store import open_store
from ..store.rekey import rekey as rekey_store

__all__ = ["add_command", "rekey"]


def rekey(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 once every value was read (and rewritten where it was not as it should be)."""
    keyring = keyring_of(config.security.encryption)
    if keyring is None:
        raise ExecutorError(
            "rekey: security.encryption has no keys (enable it and give the keys, newest first)"
        )
    sealer = Sealer(keyring)

    async def main() -> list[str]:
        store = await open_store(config.events_url(), sealer=sealer)
        try:
            if store.sealed is None:
                raise ExecutorError(f"rekey: the {store.kind} store keeps nothing at rest")
            report = await rekey_store(store.sealed, sealer, batch=max(args.batch, 1))
        finally:
            await store.close()
        return report.lines()

    for line in asyncio.run(main()):
        print(line)
    goal = f"encrypted with key {keyring.current!r}" if keyring.current else "in clear text"
    print(f"done: the store's contents are {goal}")
    return 0


def add_command(commands: Any) -> None:
    command = commands.add_parser(
        "rekey",
        help="re-encrypt the event store with the newest key (online, resumable)",
        description="Re-encrypt the event store's contents with the newest key of "
        "security.encryption (or seal what was written before encryption was on; or, with "
        "encryption off and the keys given, decrypt it). Runs beside the service; run it "
        "again to resume or after a concurrent write.",
    )
    command.add_argument("config_path", nargs="?", metavar="CONFIG", help="config file")
    command.add_argument(
        "--batch", type=int, default=500, help="rows per transaction (default 500)"
    )
    command.set_defaults(handler=rekey)
