"""The inputs of `AgentExecutionWorkflow` and of `ScheduledRunWorkflow`, in a module of
their own so that the workflow sandbox imports them once (as it does every module the
workflow imports), rather than building these models again for every workflow it runs.

They are the workflow's own (`versioned.py` says why and how they change): nothing here is a
config section or a request body. `api/submission.py` maps those onto these, once, when a task
is submitted; a config key renamed later changes nothing a running task decodes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field
from temporalio.common import Priority, WorkflowIDReusePolicy

from ..llm.messages import Message, Part, ToolCall
from ..policies import ActivityOptions, RetrySettings, activity_options
from ..spec import Compaction, ModelSettings, ToolSpec
from ..tasks import SESSION_MEMO, WORKFLOW_ID_PREFIX, TaskState, workflow_id
from ..versioned import Payload, Versioned

__all__ = [
    "LEGACY_LOOP",
    "WORKFLOW_ID_PREFIX",
    "AgentCarry",
    "AgentInput",
    "ApprovalRule",
    "Dispatch",
    "ForkStart",
    "RetryPolicies",
    "ScheduledRunInput",
    "ScheduledRunResult",
    "TaskPolicies",
    "Timeouts",
    "workflow_id",
]


class Timeouts(Payload):
    """Seconds: one LLM call, one tool call, the whole task, between heartbeats."""

    llm: float
    tool: float
    task: float
    heartbeat: float


class RetryPolicies(Payload):
    llm: RetrySettings
    tool: RetrySettings


class ApprovalRule(Payload):
    """One rule of `executor.approval_policy` (what `tool`, a shell-style pattern, does)."""

    tool: str
    action: Literal["allow", "ask", "deny"]
    reason: str | None = None


class TaskPolicies(Payload):
    """Timeouts, retries and sizes from `executor`, fixed at submission so replays see the
    same (no defaults here, they are config's, except for fields added later)."""

    timeouts: Timeouts
    retry: RetryPolicies
    history_limit: int
    inline_bytes: int
    max_content_bytes: int
    local_activities: bool
    # Added in 0.1.0 after tasks were already running (v3 of `AgentInput`): defaults that keep
    # the old behaviour (no rules; no approval timeout is set on such a task either).
    approval_policy: list[ApprovalRule] = Field(default_factory=list)
    approval_timeout_action: Literal["reject", "approve", "fail"] = "reject"

    def llm(self) -> ActivityOptions:
        """Timeouts and retries of an LLM call."""
        return activity_options(self.timeouts.llm, self.timeouts.heartbeat, self.retry.llm)

    def tool(self) -> ActivityOptions:
        """Timeouts and retries of a tool call (and of listing an MCP server's tools)."""
        return activity_options(self.timeouts.tool, self.timeouts.heartbeat, self.retry.tool)


class Dispatch(Payload):
    """How Temporal hands out the task's work: its workflow tasks, and the activities that
    inherit this (a local activity runs inside the workflow task that starts it). `priority`
    is ours, 1 (least urgent) to 5 (most urgent): Temporal's priority key is the reverse (1
    most urgent), `temporal()` maps it. `fairness_key`: whose backlog the task counts
    against (None: nobody's), `fairness_weight` that key's share (None: 1)."""

    priority: int = 3
    fairness_key: str | None = None
    fairness_weight: float | None = None

    def temporal(self) -> Priority:
        """As Temporal takes it when the workflow starts (a continued run keeps it)."""
        return Priority(
            priority_key=6 - self.priority,
            fairness_key=self.fairness_key,
            fairness_weight=self.fairness_weight,
        )


class AgentCarry(Payload):
    """What a run hands to the next when it continues as new: the loop's whole state."""

    state: TaskState
    seq: int
    stored_messages: int
    unsaved: list[Message]
    tools: list[ToolSpec]
    started: float
    followers: list[str] = Field(default_factory=list)  # tasks queued behind (0.2.0)


class ForkStart(Payload):
    """Where a fork starts (`forks.py`): its parent's steps 1 … `at_step` - 1, as recorded.

    The transcript up to there is the seed, kept in the store's blobs under `seed_ref` (a
    JSON list of `seed_messages` messages: it may be long, history only names it); the first
    run writes it into the fork's session before its first step. `iterations` is how many LLM
    calls those steps hold (the fork's go on from there). A fork at a tool step first runs
    `tool_calls` (that step's call and the same LLM turn's later ones); `user_turn` adds the
    input's `user_message` as a user turn before the next LLM call. `forced_call` is the LLM
    call (counted as `iterations` counts) a forcing tool_choice holds for: the fork's first
    own call when the fork gave the model, else the task's first, as for its parent."""

    parent_task_id: str
    at_step: int
    seed_ref: str
    seed_messages: int
    iterations: int = 0
    tool_calls: list[ToolCall] = Field(default_factory=list)
    user_turn: bool = True
    forced_call: int = 1


# The loop of release 0.1.0+254ae33 (`legacy.py`), for the tasks that release started.
LEGACY_LOOP = "0.1.0+254ae33"


def _from_254ae33(data: dict[str, Any]) -> dict[str, Any]:
    """v1 → v2: 254ae33's flat policies nested as 0.1.0 has them (LLM and tool calls were
    regular activities then), and the task marked for 254ae33's loop."""
    flat = data.get("policies") or {}
    policies = {
        "timeouts": {
            "llm": flat["llm_timeout"],
            "tool": flat["tool_timeout"],
            "task": flat["task_timeout"],
            "heartbeat": flat["heartbeat_timeout"],
        },
        "retry": {"llm": flat["llm_retry"], "tool": flat["tool_retry"]},
        "history_limit": flat["history_limit"],
        "inline_bytes": flat["inline_bytes"],
        "max_content_bytes": flat["max_content_bytes"],
        "local_activities": False,
    }
    return {**data, "policies": policies, "loop": LEGACY_LOOP}


class AgentInput(Versioned):
    """Input of `AgentExecutionWorkflow`: the request with every default resolved.
    `expand_tools` is set when a spec stands for several tools (a whole MCP server).

    Versions: 1, release 0.1.0+254ae33 (flat policies: `llm_timeout`, `llm_retry`, …);
    2, release 0.1.0 before its task time limit; 3, since then (0.1.0+0f4e4ab)."""

    VERSION = 3

    task_id: str
    session_id: str
    user_message: str
    user_message_id: str | None = None
    # The user message's images and files (their contents are the task's blobs).
    user_parts: list[Part] = Field(default_factory=list)
    system_message: str | None = None
    model: ModelSettings
    tools: list[ToolSpec] = Field(default_factory=list)
    max_iterations: int
    require_approval: bool | list[str] = False
    # Tools a person approved for the session in its earlier turns.
    approved_tools: list[str] = Field(default_factory=list)
    expand_tools: bool = False
    # Budgets: wall-clock seconds for the whole task, parked time included (None: the
    # server's `executor.timeouts.task`), and tokens in + out over all its LLM calls.
    timeout: float | None = None
    max_total_tokens: int | None = None
    # US dollars over all its LLM calls, and how its session's conversation is compacted
    # (both added in 0.2.0: none before).
    max_cost: float | None = None
    compaction: Compaction | None = None
    # Whether the loop runs under a timer for that time limit: not a task of v1 or v2, which
    # started without one (its history has no such timer to replay).
    time_limit_timer: bool = True
    # Seconds a tool call waits for a decision before `approval_timeout_action` (None: until
    # the task's timeout).
    approval_timeout: float | None = None
    policies: TaskPolicies
    carry: AgentCarry | None = None
    # Who asked, as the A2A request said (`x-user-id`), and the conversation at the top of a
    # chain of agents calling agents (`x-kagent-root-context-id`): passed on to the agents
    # this task calls as tools (None: not given).
    user_id: str | None = None
    root_context_id: str | None = None
    # Which loop runs this run: this release's, or (a task of v1, until it continues as new)
    # the steps release 0.1.0+254ae33 took, which its history holds (`legacy.py`).
    loop: Literal["current", "0.1.0+254ae33"] = "current"
    # A fork's start (added in 0.2.0; None: the task starts from its user message). Only
    # its first run reads it: a run it continues as new carries the loop's state instead.
    fork: ForkStart | None = None
    # Added in 0.2.0, with defaults that keep the old behaviour: Temporal's default priority
    # and no fairness key; no task ahead of this one in its session (one that is: the task
    # waits until that one has ended, `executor.concurrent_messages: enqueue`).
    dispatch: Dispatch = Field(default_factory=Dispatch)
    queued_behind: str | None = None

    MIGRATIONS = {
        1: _from_254ae33,
        2: lambda data: {**data, "time_limit_timer": False},
    }

    @classmethod
    def legacy_version(cls, data: dict[str, Any]) -> int:
        # Release 0.1.0 wrote no `v`: its policies tell. 254ae33's are flat (`llm_timeout`);
        # those from before the time limit lack the policy fields that came with it.
        policies = data.get("policies")
        if not isinstance(policies, dict) or "approval_timeout_action" in policies:
            return 3
        return 1 if "llm_timeout" in policies else 2

    @property
    def time_limit(self) -> float:
        """The task's wall-clock limit in seconds."""
        return self.timeout or self.policies.timeouts.task

    def start_options(self) -> dict[str, Any]:
        """How the task's workflow starts, whoever starts it (`TaskService.submit`, or a
        schedule's run, as its child): its id, used once; its time limit, with a margin for
        its last steps; its session in the memo; a summary for the Temporal UI; its priority
        and fairness key (`dispatch`)."""
        return {
            "id": workflow_id(self.task_id),
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
            "execution_timeout": timedelta(seconds=self.time_limit * 1.1 + 60),
            "memo": {SESSION_MEMO: self.session_id},
            "static_summary": f"{self.model.provider}/{self.model.model}: {self.user_message[:80]}",
            "priority": self.dispatch.temporal(),
        }


class ScheduledRunInput(Versioned):
    """Input of `ScheduledRunWorkflow`, fixed when its schedule is made: the task each run
    starts (`agent`: the schedule's template with every default resolved, as a submission
    resolves it; its `task_id` and `session_id` are set per run), and the session the runs
    take turns in (None: each run starts a session of its own)."""

    VERSION = 1

    schedule_id: str
    agent: AgentInput
    session_id: str | None = None


class ScheduledRunResult(Versioned):
    """What a run did: started task `task_id` (it ended as its record says), or started
    nothing (`started` False: that time's task exists, from an earlier run of it)."""

    VERSION = 1

    task_id: str
    started: bool
