"""Schedules: make one (`POST /api/v1/schedules`), list, read, pause, resume, backfill and
delete them. Each run is a task like any other (`schedules.py`, `workflows/scheduled_run.py`).

A schedule is the caller's tenant's, as its runs' tasks are: the routes name it by its key in
that tenant (`TasksDep.key`), so another tenant's schedule is a 404 like another's task.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from ...config import Scope
from ...config.triggers import NAME_PATTERN
from ...errors import RequestError
from ...schedules import ScheduleDefinition, ScheduleView
from ..auth import CallerDep, requires
from ..automation import BackfillAccepted, BackfillRequest, ScheduleList, ScheduleRequest
from ..openapi import BODY, errors
from .deps import Deps, TasksDep, audit

__all__ = ["router"]

router = APIRouter(tags=["schedules"])

ScheduleIdPath = Annotated[
    str,
    Path(pattern=NAME_PATTERN, max_length=64, description="the schedule's id"),
]


@router.post(
    "/api/v1/schedules",
    status_code=201,
    response_model=ScheduleView,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(400, 404, 409, *BODY, 503),
)
async def create_schedule(
    body: ScheduleRequest, api: Deps, tasks: TasksDep, caller: CallerDep
) -> ScheduleView:
    """Make a schedule: its template (an execute body) runs as a new task at every tick of
    `cron` or `interval`."""
    if (body.cron is None) == (body.interval is None):
        both = body.cron is not None
        raise RequestError(
            f"cron or interval: a schedule has {'one of them, not both' if both else 'one'}",
            details={"cron": body.cron, "interval": body.interval},
        )
    caller_name = caller.name if caller else None
    agent = api.submissions.prepare_template(body.template, tenant=tasks.tenant, caller=caller_name)
    definition = ScheduleDefinition(
        schedule_id=tasks.key(body.schedule_id or f"sch-{uuid.uuid4().hex[:12]}"),
        template=body.template.model_dump(by_alias=True, exclude_unset=True),
        cron=body.cron,
        interval=body.interval,
        time_zone=body.time_zone,
        overlap=body.overlap,
        session_id=None if body.session_id is None else tasks.key(body.session_id),
    )
    view = await api.schedules.create(definition, agent, paused=body.paused)
    audit(caller, "schedule created:", definition.schedule_id)
    return view


@router.get(
    "/api/v1/schedules",
    response_model=ScheduleList,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def list_schedules(api: Deps, tasks: TasksDep) -> ScheduleList:
    """Every schedule of the caller's tenant (an `admin` key naming none: of every tenant),
    oldest first, with its latest and next runs."""
    return ScheduleList(schedules=await api.schedules.every(tasks.tenancy.listed))


@router.get(
    "/api/v1/schedules/{schedule_id}",
    response_model=ScheduleView,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def get_schedule(schedule_id: ScheduleIdPath, api: Deps, tasks: TasksDep) -> ScheduleView:
    """The schedule as made (a cron expression as written), whether it is paused, its latest
    runs (each with its task) and its next times."""
    return await api.schedules.get(tasks.key(schedule_id))


@router.delete(
    "/api/v1/schedules/{schedule_id}",
    status_code=204,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 422, 503),
)
async def delete_schedule(
    schedule_id: ScheduleIdPath, api: Deps, tasks: TasksDep, caller: CallerDep
) -> Response:
    """Delete the schedule: no run starts any more; runs that have not ended go on."""
    await api.schedules.delete(tasks.key(schedule_id))
    audit(caller, "schedule deleted:", tasks.key(schedule_id))
    return Response(status_code=204)


@router.post(
    "/api/v1/schedules/{schedule_id}/pause",
    response_model=ScheduleView,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 409, 422, 503),
)
async def pause_schedule(
    schedule_id: ScheduleIdPath, api: Deps, tasks: TasksDep, caller: CallerDep
) -> ScheduleView:
    """Pause the schedule: no tick starts a run until it is resumed."""
    view = await api.schedules.pause(tasks.key(schedule_id), True)
    audit(caller, "schedule paused:", tasks.key(schedule_id))
    return view


@router.post(
    "/api/v1/schedules/{schedule_id}/resume",
    response_model=ScheduleView,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 409, 422, 503),
)
async def resume_schedule(
    schedule_id: ScheduleIdPath, api: Deps, tasks: TasksDep, caller: CallerDep
) -> ScheduleView:
    """Resume a paused schedule (the ticks it missed while paused do not run)."""
    view = await api.schedules.pause(tasks.key(schedule_id), False)
    audit(caller, "schedule resumed:", tasks.key(schedule_id))
    return view


@router.post(
    "/api/v1/schedules/{schedule_id}/backfill",
    status_code=202,
    response_model=BackfillAccepted,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(400, 404, 409, *BODY, 503),
)
async def backfill_schedule(
    schedule_id: ScheduleIdPath,
    body: BackfillRequest,
    api: Deps,
    tasks: TasksDep,
    caller: CallerDep,
) -> BackfillAccepted:
    """Run the schedule's times after `start` up to `end` now, as they would have run then
    (even while paused); a time that ran already starts no second task."""
    key = tasks.key(schedule_id)
    times = await api.schedules.backfill(key, body.start, body.end, body.overlap)
    audit(caller, "schedule backfilled:", key)
    return BackfillAccepted(schedule_id=schedule_id, times=times)
