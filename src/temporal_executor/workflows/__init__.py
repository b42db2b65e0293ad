"""Temporal workflows: deterministic orchestration only. `AgentExecutionWorkflow` is the
agent loop (`agent_execution.py`); its approval contract is in `approval.py`."""

from __future__ import annotations

from .agent_execution import (
    AgentCarry,
    AgentExecutionWorkflow,
    AgentInput,
    TaskPolicies,
    workflow_id,
)
from .approval import ApprovalDecision, ApproveInput, ToolDecision

__all__ = [
    "AgentCarry",
    "AgentExecutionWorkflow",
    "AgentInput",
    "ApprovalDecision",
    "ApproveInput",
    "TaskPolicies",
    "ToolDecision",
    "workflow_id",
]
