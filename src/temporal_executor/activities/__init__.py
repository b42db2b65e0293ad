"""Temporal activities: everything the workflow does that touches the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..events import EventStore
from ..llm import ProviderRegistry
from ..tools import ToolRegistry
from .events import EventActivities
from .llm import LLMActivities
from .state import StateActivities
from .tools import ToolActivities

__all__ = [
    "EventActivities",
    "LLMActivities",
    "StateActivities",
    "ToolActivities",
    "build_activities",
]


def build_activities(
    providers: ProviderRegistry, tools: ToolRegistry, store: EventStore
) -> list[Callable[..., Any]]:
    """The activity functions a worker registers, bound to their dependencies."""
    tool_activities = ToolActivities(tools, store)
    state_activities = StateActivities(store)
    return [
        LLMActivities(providers, store).invoke_llm,
        tool_activities.expand_tools,
        tool_activities.execute_tool,
        EventActivities(store).publish_event,
        state_activities.open_session,
        state_activities.save_state,
    ]
