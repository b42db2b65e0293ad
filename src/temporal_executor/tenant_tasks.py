"""Tasks as one caller sees them: `TaskService` through the caller's `Tenancy`.

Everything the REST routes and the A2A server do to tasks goes through here. Ids in are the
caller's (`t1`), turned into keys (`team-a~t1`, `tenants.py`) before the service sees them;
ids out — a state's task and session, an event's task and `task.started`'s session, a pending
call's — are turned back. A task of another tenant is then simply not there: its key is not
the one asked for, so every read, stream, decision and cancel of it is a 404, and a listing
shows only the caller's tenant (every tenant's, each labelled, for `Tenancy.everyone`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

from . import task_files
from .config import ConcurrentMessages
from .llm.messages import Artifact, Message, Part, Usage
from .service import TaskService
from .spec import ToolSpec
from .store import TaskFilter
from .tasks import Event, PendingCall, TaskState, TaskStatus
from .tenants import Tenancy, name, scoped, split
from .travel import ForkEdits, ForkOrigin, ForkRecord, Step
from .uploads import PendingParts
from .workflows import AgentInput, AnswerInput, ApproveInput

__all__ = ["OwnedTask", "TenantTasks"]


@dataclass(frozen=True)
class OwnedTask:
    """A listed task, with the tenant it belongs to (its ids are that tenant's)."""

    tenant: str
    state: TaskState


class TenantTasks:
    """`service`'s tasks, as a caller with `tenancy` sees them."""

    def __init__(self, service: TaskService, tenancy: Tenancy) -> None:
        self.service = service
        self.tenancy = tenancy

    @property
    def tenant(self) -> str:
        """The tenant this caller acts in."""
        return self.tenancy.tenant

    def key(self, name: str) -> str:
        """The key of this tenant's task or session `name`."""
        return scoped(self.tenant, name)

    # --- start and read ------------------------------------------------------------------

    async def submit(
        self,
        input: AgentInput,
        *,
        named: bool,
        concurrent: ConcurrentMessages = "reject",
        parts: PendingParts | None = None,
    ) -> TaskState:
        keyed = {"task_id": self.key(input.task_id), "session_id": self.key(input.session_id)}
        keyed_input = input.model_copy(update=keyed)
        submitted = self.service.submit(
            keyed_input, named=named, concurrent=concurrent, parts=parts
        )
        return _local(await submitted)

    async def first_task_of(
        self, session_id: str, message_id: str, task_id: str, fingerprint: str
    ) -> str:
        """`TaskService.first_task_of`, in this tenant's sessions."""
        key = await self.service.first_task_of(
            self.key(session_id), message_id, self.key(task_id), fingerprint
        )
        return name(key)

    async def get(self, task_id: str) -> TaskState:
        return _local(await self.service.get(self.key(task_id)))

    async def read(self, task_id: str) -> tuple[TaskState, bool]:
        state, stale = await self.service.read(self.key(task_id))
        return _local(state), stale

    async def list_tasks(
        self,
        session_id: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        updated_after: float | None = None,
        recent_first: bool = False,
    ) -> list[OwnedTask]:
        """A page of the tasks this caller may list, of one session and in one of
        `statuses` (None: any), changed after `updated_after`: oldest first, or the last
        updated first."""
        where = self._filter(session_id, statuses, updated_after)
        states = await self.service.list_tasks(where, limit, offset, recent_first=recent_first)
        return [OwnedTask(split(state.task_id)[0], _local(state)) for state in states]

    async def count_tasks(
        self,
        session_id: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
        *,
        updated_after: float | None = None,
    ) -> int:
        return await self.service.count_tasks(self._filter(session_id, statuses, updated_after))

    async def pending_calls(
        self,
        session_id: str | None = None,
        tool: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PendingCall]:
        """A page of the tool calls waiting for a decision (`TaskService.pending_calls`),
        each with its tenant."""
        where = self._filter(session_id, None, None)
        calls = await self.service.pending_calls(where, tool, limit, offset)
        return [
            call.model_copy(
                update={
                    "tenant": split(call.task_id)[0],
                    "task_id": name(call.task_id),
                    "session_id": name(call.session_id),
                }
            )
            for call in calls
        ]

    async def session(self, session_id: str) -> tuple[list[TaskState], list[Message], Usage]:
        tasks, messages, usage = await self.service.session(self.key(session_id))
        return [_local(task) for task in tasks], messages, usage

    async def events(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """`TaskService.events`: live, up to the terminal event."""
        async for event in self.service.events(self.key(task_id), after):
            yield _local_event(event)

    async def written(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """`TaskService.written`: as the store has them, without following."""
        async for event in self.service.written(self.key(task_id), after):
            yield _local_event(event)

    async def log(self, task_id: str) -> list[Event]:
        return [_local_event(event) for event in await self.service.log(self.key(task_id))]

    async def artifact(self, task_id: str, artifact_id: str) -> tuple[Artifact, bytes]:
        return await task_files.artifact(self.service, self.key(task_id), artifact_id)

    async def user_file(self, task_id: str, index: int) -> tuple[Part, bytes]:
        return await task_files.user_file(self.service, self.key(task_id), index)

    async def wait(self, task_id: str, state: TaskState | None = None) -> TaskState:
        """`TaskService.wait` (`state`: the task as this caller saw it just now)."""
        keyed = None if state is None else _keyed(state, self.tenant)
        return _local(await self.service.wait(self.key(task_id), keyed))

    # --- time travel (`travel/`) ---------------------------------------------------------

    async def steps(self, task_id: str) -> list[Step]:
        steps = await self.service.travel.steps(self.key(task_id))
        return [step.model_copy(update={"task_id": name(step.task_id)}) for step in steps]

    async def links(self, task_id: str) -> tuple[ForkOrigin | None, list[str]]:
        """Where the task was forked from (None: it was not), and its forks."""
        origin, forks = await self.service.travel.links(self.key(task_id))
        if origin is not None:
            origin = origin.model_copy(update={"task_id": name(origin.task_id)})
        return origin, [name(fork) for fork in forks]

    async def tools(self, task_id: str) -> tuple[list[ToolSpec], bool] | None:
        """The task's tool specs, and whether they expand (what a model for its fork is
        checked against); None when what it was started with is no longer known."""
        input = await self.service.travel.task_input(self.key(task_id))
        return None if input is None else (input.tools, input.expand_tools)

    async def fork(
        self,
        parent_id: str,
        edits: ForkEdits,
        task_id: str,
        session_id: str | None = None,
        *,
        named: bool = False,
    ) -> tuple[TaskState, ForkRecord]:
        session = None if session_id is None else self.key(session_id)
        travel = self.service.travel
        state, record = await travel.fork(
            self.key(parent_id), edits, self.key(task_id), session, named=named
        )
        return _local(state), _local_record(record)

    async def rerun(
        self, task_id: str, new_id: str, session_id: str | None = None, *, named: bool = False
    ) -> tuple[TaskState, ForkRecord]:
        session = None if session_id is None else self.key(session_id)
        travel = self.service.travel
        state, record = await travel.rerun(
            self.key(task_id), self.key(new_id), session, named=named
        )
        return _local(state), _local_record(record)

    # --- act -----------------------------------------------------------------------------

    async def approve(self, task_id: str, decision: ApproveInput) -> TaskState:
        return _local(await self.service.approve(self.key(task_id), decision))

    async def answer(self, task_id: str, answer: AnswerInput) -> TaskState:
        return _local(await self.service.answer(self.key(task_id), answer))

    async def cancel(self, task_id: str) -> TaskState:
        return _local(await self.service.cancel(self.key(task_id)))

    async def delete_session(self, session_id: str) -> None:
        await self.service.delete_session(self.key(session_id))

    # --- ids -----------------------------------------------------------------------------

    def _filter(
        self,
        session_id: str | None,
        statuses: Collection[TaskStatus] | None,
        updated_after: float | None,
    ) -> TaskFilter:
        """The store's filter for this caller's listing: its tenant's tasks (every tenant's,
        for `Tenancy.everyone`; a session is one tenant's, so naming one lists that
        tenant's)."""
        session = None if session_id is None else self.key(session_id)
        tenant = self.tenant if session_id is not None else self.tenancy.listed
        values = None if statuses is None else [status.value for status in statuses]
        return TaskFilter(session, values, updated_after, tenant)


def _local(state: TaskState) -> TaskState:
    """`state` with its ids as its tenant knows them (the task it is queued behind too)."""
    task_id, session_id = name(state.task_id), name(state.session_id)
    if (task_id, session_id) == (state.task_id, state.session_id):
        return state  # a default-tenant task: nothing to change
    update = {"task_id": task_id, "session_id": session_id}
    if state.queued_behind is not None:
        update["queued_behind"] = name(state.queued_behind)
    return state.model_copy(update=update)


def _keyed(state: TaskState, tenant: str) -> TaskState:
    task_id, session_id = scoped(tenant, state.task_id), scoped(tenant, state.session_id)
    return state.model_copy(update={"task_id": task_id, "session_id": session_id})


def _local_record(record: ForkRecord) -> ForkRecord:
    """A fork's record with the ids of its tasks as their tenant knows them."""
    reused = [call.model_copy(update={"task_id": name(call.task_id)}) for call in record.reused]
    update = {"parent_task_id": name(record.parent_task_id), "reused": reused}
    return record.model_copy(update=update)


def _local_event(event: Event) -> Event:
    """`event` with its ids as its tenant knows them (`task.started` names the session,
    `task.queued` the task ahead, and a fork's its parent)."""
    updates: dict[str, object] = {}
    if (task_id := name(event.task_id)) != event.task_id:
        updates["task_id"] = task_id
    data = dict(event.data)
    for field in ("session_id", "behind"):
        value = data.get(field)
        if isinstance(value, str) and (local := name(value)) != value:
            data[field] = local
    origin = data.get("forked_from")
    if isinstance(origin, dict) and isinstance(parent := origin.get("task_id"), str):
        data["forked_from"] = {**origin, "task_id": name(parent)}
    if data != event.data:
        updates["data"] = data
    return event.model_copy(update=updates) if updates else event
