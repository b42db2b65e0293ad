"""Temporal workflows: deterministic orchestration only. `AgentExecutionWorkflow` is the
agent loop (`agent_execution.py`, its steps in `llm_step.py`, `tool_step.py`, `human.py`;
the loop of release 0.1.0+254ae33, for the tasks it started, in `legacy.py`), its inputs are
in `inputs.py`, its approval contract in `approval.py`, its `ask_user` contract in
`questions.py`. `ScheduledRunWorkflow` (`scheduled_run.py`) is one run of a schedule: it
starts the run's task. `WORKFLOWS` is what a worker (and a replayer) registers.

The workflow sandbox (the replayer's, or `executor.workflow_sandbox`) imports this package
with the workflow: the workflow and its steps are imported into it; the contract modules it
re-exports pass through, as the steps' own imports of them do."""

from __future__ import annotations

from temporalio import workflow

from .agent_execution import AgentExecutionWorkflow
from .scheduled_run import ScheduledRunWorkflow

with workflow.unsafe.imports_passed_through():
    from .approval import ApprovalDecision, ApproveInput, ToolDecision
    from .inputs import (
        AgentCarry,
        AgentInput,
        Dispatch,
        ScheduledRunInput,
        ScheduledRunResult,
        TaskPolicies,
        workflow_id,
    )
    from .questions import AnswerInput

__all__ = [
    "WORKFLOWS",
    "AgentCarry",
    "AgentExecutionWorkflow",
    "AgentInput",
    "AnswerInput",
    "ApprovalDecision",
    "ApproveInput",
    "Dispatch",
    "ScheduledRunInput",
    "ScheduledRunResult",
    "ScheduledRunWorkflow",
    "TaskPolicies",
    "ToolDecision",
    "workflow_id",
]

WORKFLOWS = [AgentExecutionWorkflow, ScheduledRunWorkflow]
