"""Where and how tasks run: the Temporal cluster (`temporal`, with Worker Versioning), the
agent loop's bounds, policies, timeouts and retries (`executor`), and the event store
(`events`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..spec import StrictCompaction
from .duration import Duration
from .section import MediaType, Section, http_url

__all__ = [
    "MAX_FAIRNESS_KEY_BYTES",
    "ApprovalRule",
    "ConcurrentMessages",
    "DeploymentConfig",
    "EventsConfig",
    "ExecutorConfig",
    "InputsConfig",
    "RetryConfig",
    "RetrySettings",
    "TemporalConfig",
    "Timeouts",
]


class DeploymentConfig(Section):
    """Temporal Worker Versioning, for fleets (README, "Upgrading"). With a `name`, a worker
    polls as version `build_id` of that Worker Deployment and gets tasks once the version is
    made current (`temporal-executor deployment set-current`); without one (default), off.
    `build_id` defaults to the package version and a digest of the workflow code
    (`build.py`). `versioning_behavior`: `auto_upgrade` (default; a running task moves to the
    current version at its next step: every release replays earlier histories, so parked
    tasks go on on new workers and old workers drain at once) or `pinned` (a task ends on
    the version it started on, whose workers must outlive it)."""

    # Temporal's rules: no `.` or `:` in a name (they delimit versions), no leading `__`.
    name: str | None = Field(default=None, max_length=255, pattern=r"^[^.:\s]+$")
    build_id: str | None = Field(default=None, max_length=255, pattern=r"^\S+$")
    versioning_behavior: Literal["auto_upgrade", "pinned"] = "auto_upgrade"

    @field_validator("name", "build_id")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("__"):
            raise ValueError("must not start with __ (Temporal reserves those)")
        return value


class TemporalConfig(Section):
    """The Temporal cluster. `ui_url`: where its web UI is (e.g. `https://temporal.example.com`);
    when set (`dev` sets it), a task's REST body links to its workflow there. `deployment`:
    Worker Versioning (off by default)."""

    host_port: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "agent-execution-queue"
    ui_port: int | None = Field(default=None, ge=1, le=65535)
    ui_url: str | None = None
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)

    @field_validator("ui_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)


class RetrySettings(Section):
    """One activity's retry policy: attempts, and the backoff between them (seconds)."""

    max_attempts: int = Field(ge=1)
    initial_interval: Duration = 1.0
    backoff_coefficient: float = Field(default=2.0, ge=1)
    maximum_interval: Duration


class Timeouts(Section):
    llm: Duration = 120.0
    tool: Duration = 60.0
    task: Duration = 3600.0
    heartbeat: Duration = 30.0


_LLM_RETRY = {"max_attempts": 5, "maximum_interval": 60.0}
_TOOL_RETRY = {"max_attempts": 3, "maximum_interval": 30.0}


class RetryConfig(Section):
    llm: RetrySettings = Field(default_factory=lambda: RetrySettings(**_LLM_RETRY))
    tool: RetrySettings = Field(default_factory=lambda: RetrySettings(**_TOOL_RETRY))

    @field_validator("llm", "tool", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        # A section that sets some keys keeps the defaults of the others.
        defaults = _LLM_RETRY if info.field_name == "llm" else _TOOL_RETRY
        return {**defaults, **value} if isinstance(value, dict) else value


class ApprovalRule(Section):
    """One rule of `executor.approval_policy`: tools whose name matches `tool` (a shell-style
    pattern: `kubectl_*`) run without asking (`allow`), always wait for a person (`ask`), or
    are refused (`deny`). The first rule that matches decides, above the request's
    `require_approval`; a call no rule matches follows the request."""

    tool: str = Field(min_length=1, max_length=128)
    action: Literal["allow", "ask", "deny"]
    reason: str | None = Field(default=None, max_length=1024)


class InputsConfig(Section):
    """Images and files in a user message (a REST `user_message` of parts, A2A FileParts):
    at most `max_parts` of them, each at most `max_part_bytes` and together at most
    `max_total_bytes` (decoded), each of one of `media_types` (what the task's model reads
    is checked too). A part given by URL is fetched once, when the task is submitted,
    within `fetch_timeout`, through the address guard of HTTP tools
    (`tools.allow_private_hosts`). Inline parts travel in the request body, which
    `server.max_body_bytes` caps as well."""

    max_parts: int = Field(default=10, ge=0, le=64)
    max_part_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_total_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    media_types: list[MediaType] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "text/markdown",
            "text/csv",
        ]
    )
    fetch_timeout: Duration = 30.0


# Temporal's bounds: a fairness key of at most 64 bytes, a weight in [0.001, 1000].
MAX_FAIRNESS_KEY_BYTES = 64
FairnessKey = Annotated[str, Field(min_length=1)]
ConcurrentMessages = Literal["reject", "enqueue", "interrupt", "rollback"]


class ExecutorConfig(Section):
    """The agent loop's bounds and policies. `local_activities`: LLM and tool calls run as
    local activities in the worker that runs the task (no round trips through Temporal; a
    worker that dies is replaced after the workflow task timeout, and a call that had finished
    is not made again: its result is kept in the store), falling back to a regular activity
    (any worker, heartbeats, `retry`) when that attempt fails in a way worth retrying. `false`:
    regular activities only.

    `workflow_sandbox`: run the workflow in Temporal's sandbox, which re-imports its module for
    every workflow and wraps every activation (about a quarter of a worker's CPU, measured).
    Off by default: the workflow is our code, not the user's; the test suite runs it inside the
    sandbox and replays recorded histories, which is where a non-deterministic change is
    caught.

    `graceful_shutdown_timeout`: on SIGTERM a worker stops polling and gives the calls it runs
    this long to finish (regular activities are cancelled then, and retried elsewhere); it
    exits at the latest a few seconds later."""

    max_concurrent_workflows: int = Field(default=100, ge=1)
    max_concurrent_activities: int = Field(default=200, ge=1)
    max_iterations: int = Field(default=10, ge=1, le=10_000)
    history_limit: int = Field(default=10_000, ge=100, le=50_000)
    inline_bytes: int = Field(default=65_536, ge=1024, le=1_048_576)
    max_content_bytes: int = Field(default=1_048_576, ge=1024)
    require_approval: bool | list[str] = False
    approval_policy: list[ApprovalRule] = Field(default_factory=list, max_length=256)
    # How long a tool call waits for a decision (a request's `approval_timeout` overrides;
    # unset: until the task's own timeout), and what happens then.
    approval_timeout: Duration | None = Field(default=None, gt=0)
    approval_timeout_action: Literal["reject", "approve", "fail"] = "reject"
    # Tokens (in + out, all LLM calls) one task may use; a request's `max_total_tokens` may
    # only lower it.
    max_total_tokens: int | None = Field(default=None, ge=1)
    # US dollars (by `llm.prices`) one task's LLM calls may cost; a request's `max_cost` may
    # only lower it. A task whose models have no price is refused while a budget applies.
    max_cost: float | None = Field(default=None, gt=0)
    # Context compaction of every session's conversation (a request's `compaction` replaces
    # it, `false` turns it off); unset: none (README "Context compaction").
    compaction: StrictCompaction | None = None
    local_activities: bool = True
    workflow_sandbox: bool = False
    # Flow control (README, "Priority and fairness", "A second message while a task runs"):
    # a task's priority, 1 (least urgent) to 5 (most urgent), when its request says none;
    # whose backlog a task counts against when Temporal shares the workers out fairly (its
    # tenant, the submitting key's name, its session, or nobody), with a weight per key
    # (default 1: a key of weight 2 gets twice the dispatches of one of weight 1 while both
    # wait); what a message to a session whose task has not ended does (a request's
    # `concurrent_messages` overrides).
    priority: int = Field(default=3, ge=1, le=5)
    fairness_key: Literal["tenant", "api_key", "session", "none"] = "tenant"
    fairness_weights: dict[FairnessKey, float] = Field(default_factory=dict, max_length=1000)
    concurrent_messages: ConcurrentMessages = "reject"
    graceful_shutdown_timeout: Duration = 30.0
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    inputs: InputsConfig = Field(default_factory=InputsConfig)

    @field_validator("fairness_weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        for key, weight in weights.items():
            if len(key.encode()) > MAX_FAIRNESS_KEY_BYTES:
                raise ValueError(
                    f"{key[:16]!r}…: a fairness key has at most {MAX_FAIRNESS_KEY_BYTES} bytes"
                )
            if not 0.001 <= weight <= 1000:
                raise ValueError(f"{key!r}: a weight is from 0.001 to 1000 (got {weight:g})")
        return weights


class EventsConfig(Section):
    url: str | None = None
    # Another process's appends are seen within this (one indexed query per follower).
    poll_interval: Duration = 0.1
