"""`ScheduledRunWorkflow`: one run of a schedule, the workflow a Temporal Schedule starts.

A schedule's input is fixed when it is made, but every run is a task of its own. So the
schedule starts this small workflow, which takes its task id from its own workflow id
(`{schedule_id}-{scheduled time}`, see `tasks.scheduled_task_id`) and starts the task's
`AgentExecutionWorkflow` as its child, then waits for it: the schedule's overlap policy then
applies to the task, not just to its start. The child is abandoned, not ended, should this
workflow close first (a person terminated it): the task is a task like any other.

Once per tick, whatever the workers: Temporal starts each run once, and a tick that is run
again (a backfill over it) names a task that exists, so that run starts nothing — the
activity checks first, and the child's id, used once, would refuse it anyway.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from ..activities import OpenRunInput, ScheduleActivities
    from ..errors import from_failure
    from ..policies import RECORD_RETRY, RECORD_TIMEOUT
    from ..tasks import scheduled_task_id
    from .failures import cause, underlying
    from .inputs import ScheduledRunInput, ScheduledRunResult

from .agent_execution import AgentExecutionWorkflow

__all__ = ["ScheduledRunWorkflow"]


@workflow.defn(name="ScheduledRunWorkflow")
class ScheduledRunWorkflow:
    """Starts the run's task, from the schedule's template, and waits until it ends."""

    @workflow.run
    async def run(self, input: ScheduledRunInput) -> ScheduledRunResult:
        task_id = scheduled_task_id(workflow.info().workflow_id)
        session_id = input.session_id or task_id
        try:
            opened = await workflow.execute_activity_method(
                ScheduleActivities.open_scheduled_run,
                OpenRunInput(task_id=task_id, session_id=session_id),
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary=f"open task {task_id}",
            )
        except ActivityError as exc:
            # Only what is not retried ends it (a busy session): the run fails, saying why;
            # a later run may find the session free.
            ours = from_failure(underlying(exc))
            code = ours.code if ours else "schedule_run_failed"
            raise ApplicationError(cause(exc), type=code, non_retryable=True) from None
        if not opened.start:
            return ScheduledRunResult(task_id=task_id, started=False)
        agent = input.agent.model_copy(
            update={
                "task_id": task_id,
                "session_id": session_id,
                "approved_tools": opened.approved_tools,
            }
        )
        try:
            await workflow.execute_child_workflow(
                AgentExecutionWorkflow.run,
                agent,
                parent_close_policy=ParentClosePolicy.ABANDON,
                **agent.start_options(),
            )
        except WorkflowAlreadyStartedError:
            return ScheduledRunResult(task_id=task_id, started=False)
        except ChildWorkflowError:
            pass  # the task failed or was cancelled: its record says how
        return ScheduledRunResult(task_id=task_id, started=True)
