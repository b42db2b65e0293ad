"""temporal-executor: LLM agents as durable Temporal workflows, over REST and A2A."""

from __future__ import annotations

__version__ = "0.2.0"

__all__ = ["__version__"]
