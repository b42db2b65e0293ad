"""From a request to a workflow input, on the API, from config alone.

The request is checked against what this server is configured with (a provider configured
under that name, whose model can honour the request's knobs — reasoning, tool_choice,
parallel_tool_calls —, tool specs that their tool types accept, bounds) and every default is
resolved, so a bad request is a 400 before any workflow starts. No provider is built and no
key is read here: the API process holds no provider secret. Whether a worker has the key is
the worker's to find out (the task then fails with `provider_not_configured`).

A message's images and files are checked here as far as config tells (how many, how big,
which media types, what the task's models read); their contents are stored when the task
is submitted (`uploads.py`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from ..config import (
    MAX_FAIRNESS_KEY_BYTES,
    ConcurrentMessages,
    Config,
    DefaultAgent,
    ExecutorConfig,
)
from ..errors import ConfigError, RequestError
from ..llm.catalog import ProviderCatalog
from ..llm.prices import Prices
from ..spec import (
    Compaction,
    ModelChoice,
    ModelSettings,
    StrictModelSettings,
    ToolChoiceName,
    ToolSpec,
)
from ..tenants import DEFAULT_TENANT, scoped
from ..tools import ToolRegistry
from ..tools.fetch import GuardedClient
from ..tools.guard import AddressGuard
from ..travel import ForkEdits
from ..uploads import Media, PendingParts
from ..workflows import AgentInput, Dispatch, TaskPolicies
from .bodies import ExecuteRequest, ForkRequest

if TYPE_CHECKING:
    from ..tenant_tasks import TenantTasks

__all__ = ["Submission", "Submissions", "dispatch"]


@dataclass(frozen=True)
class Submission:
    """A checked request: the workflow input, and the message's images and files to store
    before it starts (None: it has none)."""

    input: AgentInput
    parts: PendingParts | None = None

    def updated(self, **fields: Any) -> Submission:
        """The same request with these input fields (the task id of the task a client's id
        is already taken by, what A2A's headers say of its caller)."""
        return Submission(self.input.model_copy(update=fields), self.parts)


# The task and session ids of a template as resolved: each run replaces them with its own.
TEMPLATE_ID = "template"


class Submissions:
    """Checks requests and resolves their defaults (`prepare`), and the templates of
    schedules and webhook triggers (`prepare_template`)."""

    def __init__(self, config: Config, providers: ProviderCatalog, tools: ToolRegistry) -> None:
        self.executor = config.executor
        self.providers = providers
        self.tools = tools
        self.prices = Prices(config.llm.prices)
        guard = AddressGuard(config.tools.allow_private_hosts)
        self.fetcher = GuardedClient(guard, config.executor.inputs.fetch_timeout)

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    def prepare(
        self,
        request: ExecuteRequest,
        caller: str | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        template: bool = False,
        field: str = "user_message",
    ) -> Submission:
        """Raise a `RequestError` (400) unless this server can run `request`; else the
        workflow input with every default resolved. Its fairness key comes from `tenant`
        (the tenant it is started in), `caller` (the name of the API key that sends it;
        None: auth is off, or no key sends it) or its session (not a `template`'s: each run
        has its own), by `executor.fairness_key`. `field`: what the caller calls the
        message's parts, for errors (A2A: `message.parts`)."""
        compaction = self._compaction(request)
        choices = list(request.model.choices())
        models = list(choices)
        if compaction is not None and compaction.model is not None:
            models.append(compaction.model)
        for choice in models:
            self.providers.get(choice.provider)
        self.tools.validate(request.tools)
        expands = self.tools.expands(request.tools)
        model = self.model(request.model, request.tools, expands)
        executor = self.executor
        max_iterations = _at_most("max_iterations", request.max_iterations, executor.max_iterations)
        timeout = _at_most("timeout", request.timeout, executor.timeouts.task)
        tokens = _at_most("max_total_tokens", request.max_total_tokens, executor.max_total_tokens)
        max_cost = _at_most("max_cost", request.max_cost, executor.max_cost)
        if max_cost is not None:
            self._priced(models, "max_cost" if request.max_cost else "executor.max_cost")
        require_approval = request.require_approval
        if require_approval is None:
            require_approval = executor.require_approval
        task_id = request.task_id or uuid.uuid4().hex
        media = [
            Media(f"{field}.{n}", p.type, p.content(), p.url, p.media_type, p.name)
            for n, p in request.media()
        ]
        parts = None
        if media:
            accepted = frozenset.intersection(
                *(self.providers.get(m.provider).accepted_media(m.model) for m in choices)
            )
            inputs = executor.inputs
            parts = PendingParts.check(media, inputs, accepted, self.fetcher)
        session_id = request.session_id or task_id
        input = AgentInput(
            task_id=task_id,
            session_id=session_id,
            user_message=request.text(),
            user_message_id=request.message_id,
            system_message=request.system_message,
            model=model,
            tools=[ToolSpec.model_validate(tool.model_dump()) for tool in request.tools],
            max_iterations=max_iterations,
            require_approval=require_approval,
            approval_timeout=request.approval_timeout or executor.approval_timeout,
            timeout=timeout,
            max_total_tokens=tokens,
            max_cost=max_cost,
            compaction=compaction,
            expand_tools=expands,
            policies=task_policies(executor),
            dispatch=dispatch(
                executor,
                request.priority,
                tenant=tenant,
                caller=caller,
                session=None if template else scoped(tenant, session_id),
            ),
        )
        return Submission(input, parts)

    def _compaction(self, request: ExecuteRequest) -> Compaction | None:
        """The request's compaction (`false`: none), else the server's."""
        chosen = self.executor.compaction if request.compaction is None else request.compaction
        if not chosen:
            return None
        return Compaction.model_validate(chosen.model_dump())

    def _priced(self, models: list[ModelChoice], budget: str) -> None:
        """A cost budget needs every model the task may call to have a price."""
        unpriced = sorted({m.key for m in models if self.prices.of(m.key) is None})
        if unpriced:
            raise RequestError(
                f"{budget}: no price for {', '.join(unpriced)} in llm.prices, so the cost "
                "of this task could not be counted",
                details={"models": unpriced},
            )

    def prepare_template(
        self,
        template: ExecuteRequest,
        field: str = "template",
        *,
        tenant: str = DEFAULT_TENANT,
        caller: str | None = None,
    ) -> AgentInput:
        """A template (a schedule's, a webhook trigger's) checked as a request is, resolved
        as one (for `tenant`, by `caller`); a problem names its field under `field`. Each
        run is a task of its own, so a template names no task or session (the session runs
        share is given beside it)."""
        for name, what in (("task_id", "task"), ("session_id", "session")):
            if getattr(template, name) is not None:
                raise RequestError(
                    f"{field}.{name}: a template names no {what}: each run is a task of its "
                    "own (a session the runs share is `session_id`, beside the template)"
                )
        if template.media():
            # A run's task starts from a workflow, where no API stores a message's files.
            _refuse(f"{field}.user_message", "a template's message is text (no images or files)")
        try:
            request = template.model_copy(update={"task_id": TEMPLATE_ID})
            return self.prepare(request, caller, tenant=tenant, template=True).input
        except RequestError as exc:
            raise type(exc)(f"{field}: {exc.message}", details=exc.details) from None

    def concurrent_messages(self, request: ExecuteRequest) -> ConcurrentMessages:
        """What the request does when its session's task has not ended."""
        return request.concurrent_messages or self.executor.concurrent_messages

    def check_default_agent(self, agent: DefaultAgent) -> None:
        """Refuse to start (`ConfigError` naming the key) when a model of `a2a.default_agent`
        (kagent's definition sets it) has a knob its configured provider cannot honour, or a
        tool_choice that fits no tool of it: every message would be refused. A provider not
        configured is left to each request, as before (the default names openai)."""
        if agent.model is None:
            return
        expands = self.tools.expands(agent.tools)
        for n, model in enumerate(agent.model.choices()):
            if model.provider not in self.providers.entries:
                continue
            where = "model_config." + (f"fallbacks.{n - 1}." if n else "")
            try:
                self._check_knobs(model, where, agent.tools, expands)
            except RequestError as exc:
                raise ConfigError(f"config: a2a.default_agent.{exc.message}") from None

    def model(
        self, model: StrictModelSettings, tools: Sequence[ToolSpec], expands: bool
    ) -> ModelSettings:
        """`model` (for a task with `tools`) as a task carries it; `RequestError` naming the
        field for a provider not configured or a knob it cannot honour."""
        for n, choice in enumerate(model.choices()):
            where = f"model_config.fallbacks.{n - 1}." if n else "model_config."
            self._check_knobs(choice, where, tools, expands)
        return ModelSettings.model_validate(model.model_dump())

    async def fork_edits(self, body: ForkRequest, parent: str, tasks: TenantTasks) -> ForkEdits:
        """`body`'s edits for a fork of task `parent`: its `model_config` checked as a
        request's, against the tools the fork has (the parent's). When those are no longer
        known (no such task, or one from before inputs were kept), the fork is refused
        anyway: the model goes unchecked, so that refusal is the answer."""
        model = None
        if body.model is not None:
            known = await tasks.tools(parent)
            if known is None:
                model = ModelSettings.model_validate(body.model.model_dump())
            else:
                model = self.model(body.model, *known)
        return ForkEdits(
            at_step=body.at_step,
            user_message=body.user_message,
            model=model,
            tool_result_overrides=body.tool_result_overrides,
        )

    def _check_knobs(
        self, model: ModelChoice, where: str, tools: Sequence[ToolSpec], expands: bool
    ) -> None:
        """`RequestError` naming the field (`where` + its name) when `model`'s provider
        cannot honour one of its knobs, or its tool_choice names no tool of the request."""
        entry = self.providers.get(model.provider)
        choice = model.tool_choice
        if model.forces_tool and not tools:
            _refuse(where + "tool_choice", "forces a tool call, but the task has no tools")
        names = {tool.name for tool in tools}
        if isinstance(choice, ToolChoiceName) and not expands and choice.name not in names:
            known = ", ".join(sorted(names))
            _refuse(where + "tool_choice.name", f"no tool {choice.name!r} (tools: {known})")
        problem = entry.knob_problem(model.model, model)
        if problem is not None:
            _refuse(where + problem.field, f"{model.key}: {problem.message}")


def _refuse(field: str, message: str) -> NoReturn:
    raise RequestError(f"{field}: {message}", details={"field": field})


def task_policies(executor: ExecutorConfig) -> TaskPolicies:
    """`executor`'s timeouts, retries and sizes as a task carries them: config's values in
    the workflow's own models, which the config's schema can change without touching."""
    return TaskPolicies.model_validate(executor.model_dump(include=set(TaskPolicies.model_fields)))


def dispatch(
    executor: ExecutorConfig,
    priority: int | None,
    *,
    tenant: str = DEFAULT_TENANT,
    caller: str | None = None,
    session: str | None = None,
) -> Dispatch:
    """The task's priority (the request's, else `executor.priority`) and its fairness key
    by `executor.fairness_key` (a session's key: its tenant's, without a session), with that
    key's weight."""
    keys = {"tenant": tenant, "api_key": caller, "session": session or tenant, "none": None}
    key = keys[executor.fairness_key]
    if key is not None and len(key.encode()) > MAX_FAIRNESS_KEY_BYTES:
        key = hashlib.sha256(key.encode()).hexdigest()  # Temporal's limit; one key a session
    return Dispatch(
        priority=priority or executor.priority,
        fairness_key=key,
        fairness_weight=executor.fairness_weights.get(key) if key is not None else None,
    )


def _at_most(field: str, asked: float | None, limit: float | None) -> Any:
    """A request's bound, within the server's (`limit`, also the default; None: unbounded)."""
    if asked is None:
        return limit
    if limit is not None and asked > limit:
        raise RequestError(
            f"{field} may be at most {limit:g} on this server", details={field: asked}
        )
    return asked
