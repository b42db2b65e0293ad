"""The inputs of `AgentExecutionWorkflow`, in a module of their own so that the workflow
sandbox imports them once (as it does every module the workflow imports), rather than
building these models again for every workflow it runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config.sections import ApprovalRule, ExecutorConfig, RetryConfig, Timeouts
from ..llm.messages import Message
from ..policies import ActivityOptions, activity_options
from ..spec import ModelSettings, ToolSpec
from ..tasks import TaskState

__all__ = ["AgentCarry", "AgentInput", "TaskPolicies", "workflow_id"]


def workflow_id(task_id: str) -> str:
    return f"agent-execution-{task_id}"


class TaskPolicies(BaseModel):
    """Timeouts, retries and sizes from `executor`, fixed at submission so replays see the
    same (no defaults here, they are config's, except for fields added later)."""

    timeouts: Timeouts
    retry: RetryConfig
    history_limit: int
    inline_bytes: int
    max_content_bytes: int
    local_activities: bool
    # Added after workflows were already running: defaults that keep the old behaviour (no
    # rules; no approval timeout is set on such a task either), so that a task started by an
    # earlier version still decodes its input (`tests/replay/` replays one of each).
    approval_policy: list[ApprovalRule] = Field(default_factory=list)
    approval_timeout_action: Literal["reject", "approve", "fail"] = "reject"

    @classmethod
    def of(cls, executor: ExecutorConfig) -> TaskPolicies:
        return cls.model_validate(executor.model_dump(include=set(cls.model_fields)))

    def llm(self) -> ActivityOptions:
        """Timeouts and retries of an LLM call."""
        return activity_options(self.timeouts.llm, self.timeouts.heartbeat, self.retry.llm)

    def tool(self) -> ActivityOptions:
        """Timeouts and retries of a tool call (and of listing an MCP server's tools)."""
        return activity_options(self.timeouts.tool, self.timeouts.heartbeat, self.retry.tool)


class AgentCarry(BaseModel):
    """What a run hands to the next when it continues as new: the loop's whole state."""

    state: TaskState
    seq: int
    stored_messages: int
    unsaved: list[Message]
    tools: list[ToolSpec]
    started: float


class AgentInput(BaseModel):
    """Input of `AgentExecutionWorkflow`: the request with every default resolved.
    `expand_tools` is set when a spec stands for several tools (a whole MCP server)."""

    model_config = ConfigDict(protected_namespaces=())

    task_id: str
    session_id: str
    user_message: str
    user_message_id: str | None = None
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
    # Seconds a tool call waits for a decision before `approval_timeout_action` (None: until
    # the task's timeout).
    approval_timeout: float | None = None
    policies: TaskPolicies
    carry: AgentCarry | None = None

    @property
    def time_limit(self) -> float:
        """The task's wall-clock limit in seconds."""
        return self.timeout or self.policies.timeouts.task
