"""Temporal workflows: deterministic orchestration only."""

from __future__ import annotations

from .agent_execution import AgentExecutionWorkflow, workflow_id

__all__ = ["AgentExecutionWorkflow", "workflow_id"]
