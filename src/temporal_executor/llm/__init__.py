"""LLM providers: the neutral message format (`messages.py`), the `Provider` protocol
(`base.py`) and its adapters, the configured providers (`catalog.py`, for the API and worker)
and the worker's provider instances (`registry.py`)."""

from __future__ import annotations

from ..spec import ModelSettings, Sampling
from .base import Provider
from .messages import (
    Artifact,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    StreamChunk,
    ToolCall,
    ToolDefinition,
    Usage,
)

__all__ = [
    "Artifact",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "ModelSettings",
    "Part",
    "Provider",
    "Sampling",
    "StreamChunk",
    "ToolCall",
    "ToolDefinition",
    "Usage",
]
