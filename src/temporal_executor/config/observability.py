"""What the processes tell about themselves: log lines (`logging`), metrics and traces
(`observability`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .section import Section

__all__ = ["LogConfig", "ObservabilityConfig"]


class LogConfig(Section):
    """`format`: `text` (a line for people) or `json` (one object per line, with the task,
    workflow, session, activity and attempt of the record where known)."""

    format: Literal["text", "json"] = "text"


class ObservabilityConfig(Section):
    """Metrics and traces. `metrics_port`: where a `worker` serves `/metrics` (and
    `/healthz`); null for none (the API serves `/metrics` on its own port, and so does `dev`,
    for both). `capture_content`: put prompts, answers, tool arguments and results on trace
    spans (off: spans carry names, models, token counts and outcomes only). Tracing itself is
    configured by the standard `OTEL_*` variables."""

    metrics_port: int | None = Field(default=9464, ge=1, le=65535)
    capture_content: bool = False

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # As every section, except that `metrics_port: null` is kept: it means "none".
        if isinstance(data, dict):
            known = set(cls.model_fields) - {"metrics_port"}
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return {} if data is None else data
