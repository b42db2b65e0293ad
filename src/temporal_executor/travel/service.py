"""Steps, forks and re-runs of tasks, on top of `TaskService` and the store.

What the store keeps for them, under the task's own keys (so deleting its session deletes
them): `{task}/input`, the workflow input it was started with (a task from before it was
kept: its workflow's input, while Temporal still has its history); `{task}/fork`, a fork's
`ForkRecord`; `{task}/fork/seed`, a fork's seed (its workflow input only names it);
`{task}/forks/<n>`, the ids of the task's forks, n = 0, 1, … (each added where the first
free slot is: two forks made at once take two slots).

Blobs a fork's messages name (a reasoning model's turns, the images and files of the user's
message and of tool results) are copied under the fork's keys, not shared with its parent:
a blob is deleted with its task's session, so a fork sharing its parent's would lose them when
the parent's session goes (and keys are a tenant's, so a copy stays in the fork's tenant).
The user's files of a fork that gives its turn's user message again (a re-run, a fork at
step 1) are the fork's own `user_parts`, under its input keys (`…/inputs/{n}` serves them);
a fork at a later step has them in its seed, as the parent's transcript does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio.service import RPCError, RPCStatusCode

from ..errors import ConflictError, TaskNotFoundError
from ..llm.messages import Message
from ..payloads import input_key, resolve_messages
from ..spec import ToolSpec
from ..tasks import TaskState, workflow_id
from ..tenants import name
from ..workflows import AgentInput
from ..workflows.inputs import ForkStart
from .forks import ForkEdits, ForkOrigin, ForkRecord, plan_fork
from .steps import Step, own_steps, reused_steps, side_effects_of

if TYPE_CHECKING:
    from ..service import TaskService

__all__ = ["TimeTravel"]


class TimeTravel:
    """The steps of `service`'s tasks, and new tasks from them; `side_effects` says whether
    a tool spec's calls may change something outside (the tool registry's word)."""

    def __init__(self, service: TaskService, side_effects: Callable[[ToolSpec], bool]) -> None:
        self.service = service
        self.store = service.store
        self.side_effects = side_effects

    # --- what the store keeps ------------------------------------------------------------

    async def keep_input(self, input: AgentInput) -> None:
        """Keep the workflow input a task is started with (the first one kept stays)."""
        await self.store.blobs.put_new(f"{input.task_id}/input", input.model_dump_json())

    async def task_input(self, task_id: str) -> AgentInput | None:
        """The workflow input the task was started with; None when nobody has it any more."""
        kept = await self.store.blobs.get(f"{task_id}/input")
        if kept is not None:
            return AgentInput.model_validate_json(kept)
        client = self.service.client
        try:
            async for event in client.get_workflow_handle(
                workflow_id(task_id)
            ).fetch_history_events():
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                (found,) = await client.data_converter.decode(payloads, [AgentInput])
                return found if isinstance(found, AgentInput) else None
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return None

    async def record(self, task_id: str) -> ForkRecord | None:
        """The task's `ForkRecord`, when it is a fork."""
        kept = await self.store.blobs.get(f"{task_id}/fork")
        return None if kept is None else ForkRecord.model_validate_json(kept)

    async def links(self, task_id: str) -> tuple[ForkOrigin | None, list[str]]:
        """Where the task was forked from (None: it was not), and its forks, oldest first."""
        record = await self.record(task_id)
        forks: list[str] = []
        while (fork := await self.store.blobs.get(f"{task_id}/forks/{len(forks)}")) is not None:
            forks.append(fork)
        return (None if record is None else record.origin), forks

    async def _add_link(self, parent_id: str, fork_id: str) -> None:
        slot = 0
        while (await self.store.blobs.put_new(f"{parent_id}/forks/{slot}", fork_id)) != fork_id:
            slot += 1

    async def _turn_start(self, task_id: str, record: ForkRecord | None) -> int | None:
        """Where the task's turn starts in its session's transcript (a fork's: where its
        parent's turn starts in the fork's seed); None for a task that never recorded it."""
        kept = await self.store.blobs.get(f"{task_id}/turn-start")
        if kept is None:
            return None
        return int(kept) + (record.turn_offset if record is not None else 0)

    # --- steps ---------------------------------------------------------------------------

    async def steps(self, task_id: str) -> list[Step]:
        """The task's steps (`steps.py`); `TaskNotFoundError` when there is no such task."""
        state = await self.service.get(task_id)
        record = await self.record(task_id)
        prefix: list[Step] = []
        if record is not None:
            try:
                parent = await self.steps(record.parent_task_id)
            except TaskNotFoundError:  # its session was deleted: its steps with it
                parent = []
            prefix = reused_steps(parent, record.at_step, record.overrides)
        input = await self.task_input(task_id)
        specs = input.tools if input is not None else []
        turn_start = await self._turn_start(task_id, record)
        turn = []
        if turn_start is not None:
            stored = await self.store.transcripts.get(state.session_id)
            turn = await resolve_messages(self.store.blobs, stored[turn_start:])
        return prefix + own_steps(
            task_id,
            await self.service.log(task_id),
            turn,
            first=record.at_step if record is not None else 1,
            calls_first=record.tool_calls if record is not None else None,
            calls_iteration=record.calls_iteration if record is not None else 0,
            side_effects=side_effects_of(specs, self.side_effects),
        )

    # --- forks ---------------------------------------------------------------------------

    async def fork(
        self,
        parent_id: str,
        edits: ForkEdits,
        task_id: str,
        session_id: str | None = None,
        *,
        named: bool = False,
    ) -> tuple[TaskState, ForkRecord]:
        """Start task `task_id`, a fork of `parent_id` with `edits` (`forks.py`), in session
        `session_id` (default: a new one, named as the task); a task id the caller `named`
        that exists already is that fork, when it was made by the same request."""
        parent = await self.service.get(parent_id)
        input = await self.task_input(parent_id)
        record = await self.record(parent_id)
        turn_start = await self._turn_start(parent_id, record)
        if input is None or turn_start is None:
            raise ConflictError(
                f"task {name(parent_id)!r} cannot be forked: what it was started with is no "
                "longer known (its workflow history is gone, or it is from an older release)"
            )
        session = session_id or task_id
        stored = await self.store.transcripts.get(parent.session_id)
        plan = plan_fork(
            parent_id,
            task_id,
            await self.steps(parent_id),
            await resolve_messages(self.store.blobs, stored),
            turn_start,
            edits,
            same_session=session == parent.session_id,
            system_message=input.system_message,
        )
        if named and (existing := await self._existing(task_id)) is not None:
            kept = await self.record(task_id)
            if kept is None or kept.fingerprint != plan.record.fingerprint:
                raise ConflictError(
                    f"task id {name(task_id)!r} is taken by another task",
                    details={"task_id": name(task_id)},
                )
            return existing, kept
        seed_ref = f"{task_id}/fork/seed"
        messages = [await self._own_blobs(task_id, m) for m in plan.seed]
        seed = json.dumps([m.model_dump(mode="json") for m in messages])
        await self.store.blobs.put(seed_ref, seed)
        await self.store.blobs.put(f"{task_id}/fork", plan.record.model_dump_json())
        start = ForkStart(
            parent_task_id=parent_id,
            at_step=edits.at_step,
            seed_ref=seed_ref,
            seed_messages=len(plan.seed),
            iterations=plan.iterations,
            tool_calls=plan.record.tool_calls,
            user_turn=plan.user_turn,
            # A model the fork gives applies from its own first call on, forcing included.
            forced_call=plan.iterations + 1 if edits.model is not None else 1,
        )
        # The user's files go with the message when the fork gives it again (edited or not);
        # after step 1 they are in the seed (iterations 0: the fork starts at its first call).
        regives = plan.user_turn and plan.iterations == 0
        parts = [
            part.model_copy(update={"blob": await self._copy(part.blob, input_key(task_id, n))})
            for n, part in enumerate(input.user_parts if regives else [])
        ]
        fork = input.model_copy(
            update={
                "task_id": task_id,
                "session_id": session,
                "user_message": edits.user_message or input.user_message,
                "user_parts": parts,
                "user_message_id": None,
                "model": edits.model or input.model,
                "approved_tools": [],
                "carry": None,
                "loop": "current",
                "time_limit_timer": True,
                "fork": start,
                "queued_behind": None,  # the parent's place in its queue is not the fork's
            }
        )
        state = await self.service.submit(fork, named=named)
        await self._add_link(parent_id, task_id)
        return state, plan.record

    async def rerun(
        self, task_id: str, new_id: str, session_id: str | None = None, *, named: bool = False
    ) -> tuple[TaskState, ForkRecord]:
        """The same request as a new task, for one that has ended (`ConflictError` for one
        that has not: it is still at work): a fork at step 1 without edits."""
        state = await self.service.get(task_id)
        if not state.status.terminal:
            raise ConflictError(
                f"task {name(task_id)!r} has not ended ({state.status.value}): cancel it "
                "first, or fork it at a finished step",
                details={"task_id": name(task_id)},
            )
        return await self.fork(task_id, ForkEdits(at_step=1), new_id, session_id, named=named)

    async def _own_blobs(self, fork_id: str, message: Message) -> Message:
        """`message` naming copies of the blobs it names (a reasoning model's turn, its parts'
        bytes) under the fork's own keys: they go with the fork's session, and stay when its
        parent's goes. A blob already gone stays named (its reasoning is then not sent back;
        as for the parent)."""

        async def own(blob: str | None) -> str | None:
            if blob is None or blob.startswith(f"{fork_id}/"):
                return blob
            return await self._copy(blob, f"{fork_id}/fork/{blob}")

        update: dict[str, object] = {}
        if message.reasoning is not None:
            blob = await own(message.reasoning.blob)
            update["reasoning"] = message.reasoning.model_copy(update={"blob": blob})
        if message.parts:
            update["parts"] = [
                part.model_copy(update={"blob": await own(part.blob)}) for part in message.parts
            ]
        return message.model_copy(update=update) if update else message

    async def _copy(self, blob: str | None, to: str) -> str | None:
        """The key of a copy of `blob` under `to`; `blob` itself when it is gone."""
        data = None if blob is None else await self.store.blobs.get(blob)
        if data is None:
            return blob
        await self.store.blobs.put(to, data)
        return to

    async def _existing(self, task_id: str) -> TaskState | None:
        try:
            return await self.service.get(task_id)
        except TaskNotFoundError:
            return None
