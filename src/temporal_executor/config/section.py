"""What every section of the config file is: a model that refuses unknown keys and takes an
empty section (`section:` with only comments under it) for its defaults; and the checks of
what several sections hold: http(s) URLs, media types."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MEDIA_TYPE_PATTERN", "MediaType", "Section", "http_url"]

# `type/subtype`, lower case, no parameters: how config and content parts name media types.
MEDIA_TYPE_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$"
MediaType = Annotated[str, Field(pattern=MEDIA_TYPE_PATTERN)]


class Section(BaseModel):
    """A section of the config file (or a part of one)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `section:` with only comments under it is YAML null: treat it as "all defaults".
        # Only for our keys: an unknown one stays, to be refused, even when it is null.
        if isinstance(data, dict):
            known = cls.model_fields
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return {} if data is None else data


def http_url(value: str | None) -> str | None:
    """`value` as a base URL (no trailing slash); a ValueError unless it is an http(s) URL."""
    if value is None:
        return None
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        raise ValueError("must be an http(s) URL, e.g. https://agents.example.com")
    return value.rstrip("/")
