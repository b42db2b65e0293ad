"""Temporal workflows: deterministic orchestration only. `AgentExecutionWorkflow` is the
agent loop (`agent_execution.py`), its inputs are in `inputs.py`, its approval contract in
`approval.py`, its `ask_user` contract in `questions.py`."""

from __future__ import annotations

from .agent_execution import AgentExecutionWorkflow
from .approval import ApprovalDecision, ApproveInput, ToolDecision
from .inputs import AgentCarry, AgentInput, TaskPolicies, workflow_id
from .questions import AnswerInput

__all__ = [
    "AgentCarry",
    "AgentExecutionWorkflow",
    "AgentInput",
    "AnswerInput",
    "ApprovalDecision",
    "ApproveInput",
    "TaskPolicies",
    "ToolDecision",
    "workflow_id",
]
