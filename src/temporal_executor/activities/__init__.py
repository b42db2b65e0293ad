"""Temporal activities: everything the workflow does that touches the outside world.

`invoke_llm` (`llm.py`), `compact_context` (`compaction.py`), `execute_tool` and
`expand_tools` (`tools.py`) and `call_agent` (`agents.py`: a round of a call of another agent)
are regular activities (LLM and tool calls under shared limits: `capacity.py`), and so is
`session_turn` (`turns.py`: may a queued task start); `record`
(`records.py`) is the local activity that writes a step's events, state and transcript. Each
takes one model and returns one. `legacy.py` has the local activities of release
0.1.0+254ae33, for the tasks it started.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Config
from ..llm.prices import Prices
from ..llm.registry import ProviderRegistry
from ..store import Store
from ..tools import ToolRegistry
from .agents import AgentActivities, AgentCallInput, AgentCallResult
from .capacity import Capacity, CapacityWait
from .compaction import CompactInput, CompactionActivities, CompactResult
from .legacy import LegacyActivities, OpenSessionInput, PublishEventInput, SaveStateInput
from .llm import LLMActivities, LLMCallInput, LLMCallResult
from .records import EventRecord, RecordActivities, RecordInput
from .schedules import Admit, OpenRunInput, OpenRunResult, ScheduleActivities
from .tools import ExpandToolsInput, ToolActivities, ToolCallInput, ToolResult
from .turns import Turn, TurnActivities, TurnInput

__all__ = [
    "Admit",
    "AgentActivities",
    "AgentCallInput",
    "AgentCallResult",
    "Capacity",
    "CapacityWait",
    "CompactInput",
    "CompactResult",
    "CompactionActivities",
    "EventRecord",
    "ExpandToolsInput",
    "LLMActivities",
    "LLMCallInput",
    "LLMCallResult",
    "LegacyActivities",
    "OpenRunInput",
    "OpenRunResult",
    "OpenSessionInput",
    "PublishEventInput",
    "RecordActivities",
    "RecordInput",
    "SaveStateInput",
    "ScheduleActivities",
    "ToolActivities",
    "ToolCallInput",
    "ToolResult",
    "Turn",
    "TurnActivities",
    "TurnInput",
    "build_activities",
]


def build_activities(
    config: Config,
    providers: ProviderRegistry,
    tools: ToolRegistry,
    store: Store,
    admit: Admit,
) -> list[Callable[..., Any]]:
    """The activity functions a worker registers, bound to their dependencies (the limits
    of `config`, on the store's limiter; `admit`: `TaskService.admit`)."""
    capacity = Capacity(config, store.limiter)
    prices = Prices(config.llm.prices)
    llm = LLMActivities(providers, store, capacity, prices)
    tool_activities = ToolActivities(tools, store.blobs, store.events, capacity)
    agents = AgentActivities(tools, tool_activities, store.blobs, store.events)
    records = RecordActivities(store)
    legacy = LegacyActivities(records)
    return [
        llm.invoke_llm,
        CompactionActivities(llm, store).compact_context,
        tool_activities.expand_tools,
        tool_activities.execute_tool,
        agents.call_agent,
        records.record,
        legacy.publish_event,
        legacy.open_session,
        legacy.save_state,
        ScheduleActivities(store.tasks, admit).open_scheduled_run,
        TurnActivities(store).session_turn,
    ]
