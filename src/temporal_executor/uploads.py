"""A user message's images and files, from the request to the store, before its task starts.

The workflow input carries each one as a `Part` whose content is a blob of the task
(`input_key(task, n)`): history never holds bytes, and a file given by URL is fetched once,
when the task is submitted, so that a URL that vanishes later cannot break a later turn.

`Submissions.prepare` checks what the request says (caps, media types, what the task's models
read) from config alone and leaves a `PendingParts`; `TaskService.submit` then has it `load()`
(fetching URLs through the address guard of HTTP tools, each within the size cap) and stores
the contents before it starts the workflow. Every problem is a `RequestError` naming the part
(`user_message.1.url`), `UnsupportedContentError` for a media type nobody here takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx

from .config import InputsConfig
from .errors import RequestError, ToolError, UnsupportedContentError
from .llm.media import file_name, is_text, kind_of
from .llm.messages import Part
from .payloads import input_key, put_bytes
from .store import Blobs
from .tools.fetch import GuardedClient, map_errors, without_secrets

__all__ = ["Media", "PendingParts"]

_FETCH_HEADERS = {"Accept": "*/*", "User-Agent": "temporal-executor"}
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Media:
    """One image or file of a request: its content inline (`data`) or at `url`; `field`
    is where the request gave it (for messages), `kind` is `image` or `file`."""

    field: str
    kind: str
    data: bytes | None = None
    url: str | None = None
    media_type: str | None = None
    name: str | None = None


@dataclass
class PendingParts:
    """A request's media, checked as far as config tells, until `load()` completes them."""

    media: list[Media]
    limits: InputsConfig
    accepted: Collection[str]  # the media types every model of the task reads
    client: GuardedClient
    loaded: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def check(
        cls,
        media: list[Media],
        limits: InputsConfig,
        accepted: Collection[str],
        client: GuardedClient,
    ) -> PendingParts:
        """The request's media, unless they are too many, too big or of a type refused."""
        if len(media) > limits.max_parts:
            raise RequestError(
                f"user_message: at most {limits.max_parts} images and files "
                f"(executor.inputs.max_parts), not {len(media)}"
            )
        pending = cls(media, limits, accepted, client)
        total = 0
        for item in media:
            if item.media_type is not None:
                pending._check_type(item, item.media_type)
            if item.data is not None:
                total += pending._check_size(item, len(item.data), total)
        return pending

    async def load(self, task_id: str) -> list[Part]:
        """Every part complete (a URL's content fetched), in order, as task `task_id`'s
        (the key it runs under); their contents are in `loaded`, by blob key."""
        parts: list[Part] = []
        total = 0
        for n, item in enumerate(self.media):
            content, media_type = item.data, item.media_type or ""
            if content is None:
                content, media_type = await self._fetch(item)
            total += self._check_size(item, len(content), total)
            key = input_key(task_id, n)
            self.loaded[key] = content
            parts.append(
                Part(
                    type=kind_of(media_type),
                    media_type=media_type,
                    name=item.name or file_name(item.url),
                    blob=key,
                    url=item.url,
                    size=len(content),
                )
            )
        return parts

    async def keep(self, blobs: Blobs) -> None:
        """Store the contents `load()` read (sealed when the store encrypts at rest)."""
        for key, content in self.loaded.items():
            await put_bytes(blobs, key, content)

    def _check_type(self, item: Media, media_type: str) -> None:
        if media_type not in self.limits.media_types:
            allowed = ", ".join(self.limits.media_types) or "none"
            raise UnsupportedContentError(
                f"{item.field}: media type {media_type} is not taken here "
                f"(executor.inputs.media_types: {allowed})"
            )
        if item.kind == "image" and not media_type.startswith("image/"):
            raise RequestError(
                f"{item.field}: an image's media type is image/..., not {media_type}"
            )
        if not is_text(media_type) and media_type not in self.accepted:
            raise UnsupportedContentError(
                f"{item.field}: the task's model does not read {media_type} "
                "(model_config: provider and model, and every fallback)"
            )

    def _check_size(self, item: Media, size: int, before: int) -> int:
        """`size`, unless it or the total with it is over the caps."""
        if size > self.limits.max_part_bytes:
            raise RequestError(
                f"{item.field}: {size} bytes, more than executor.inputs.max_part_bytes "
                f"({self.limits.max_part_bytes})"
            )
        if before + size > self.limits.max_total_bytes:
            raise RequestError(
                f"{item.field}: the images and files together are more than "
                f"executor.inputs.max_total_bytes ({self.limits.max_total_bytes})"
            )
        return size

    async def _fetch(self, item: Media) -> tuple[bytes, str]:
        """The content at the item's URL and its media type (the item's, else the answer's)."""
        url = httpx.URL(item.url or "")
        where = f"{item.field}.url"
        timeout = self.limits.fetch_timeout
        try:
            with map_errors(url.host, timeout):
                async with asyncio.timeout(timeout):
                    fetched = await self.client.request(
                        "GET",
                        url,
                        dict(_FETCH_HEADERS),
                        max_redirects=_MAX_REDIRECTS,
                        max_bytes=self.limits.max_part_bytes,
                    )
        except ToolError as exc:
            raise RequestError(
                f"{where}: cannot fetch {without_secrets(url)}: {exc.message}"
            ) from exc
        status = fetched.response.status_code
        if not 200 <= status < 300:
            raise RequestError(f"{where}: {without_secrets(url)} answered HTTP {status}")
        if not fetched.complete:
            raise RequestError(
                f"{where}: more than executor.inputs.max_part_bytes ({self.limits.max_part_bytes})"
            )
        answered = fetched.response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        media_type = item.media_type or answered or "application/octet-stream"
        self._check_type(item, media_type)
        return fetched.body, media_type
