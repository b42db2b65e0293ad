"""Tool results as text for the LLM: compact JSON, and a size cap.

Results travel through workflow history and into every later LLM call, so they are capped:
`builtin` and `mcp` results use `tools.http.max_response_bytes` (1 MiB by default), the same
limit the `http` tool applies, so one setting bounds what any tool returns. A longer result is
cut at a character boundary and ends with a note saying how much was left out.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["cap_output", "compact_json", "maybe_compact_json"]


def compact_json(value: Any) -> str:
    """JSON without insignificant whitespace, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def maybe_compact_json(text: str) -> str:
    """`text` compacted when it is a JSON object or array, else unchanged."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return text
    try:
        return compact_json(json.loads(stripped))
    except ValueError:
        return text


def cap_output(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` UTF-8 bytes (plus a note) when longer."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    left_out = len(data) - len(kept.encode("utf-8"))
    return f"{kept}\n[output truncated: {left_out} more bytes]"
