"""A task's files: its artifacts (`GET /api/v1/tasks/{id}/artifacts/{artifact_id}`) and the
images and files of the message that started it (`GET /api/v1/tasks/{id}/inputs/{n}`), with
the same auth as the task, in the caller's tenant.

What is served was made by tools and users, so it is served as a download that a browser
never runs: `Content-Disposition: attachment`, `nosniff`, and a sandboxing
`Content-Security-Policy` (the console shows images from the bytes, not from these URLs).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ...config import Scope
from ...llm.messages import Part
from ..auth import requires
from ..openapi import errors
from ..params import TaskIdPath
from .deps import TasksDep

__all__ = ["router"]

router = APIRouter(tags=["tasks"])

ArtifactIdPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="the artifact's `artifact_id`")
]
InputIndexPath = Annotated[
    int, Path(ge=0, le=63, description="the file's place among the message's files, from 0")
]
_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the content, as its media type",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **errors(404, 422, 503),
}


@router.get(
    "/api/v1/tasks/{task_id}/artifacts/{artifact_id}",
    dependencies=[requires(Scope.READ)],
    response_class=Response,
    responses=_FILE,
)
async def artifact(task_id: TaskIdPath, artifact_id: ArtifactIdPath, tasks: TasksDep) -> Response:
    """Download one of the task's artifacts (`artifacts` on the task lists them; a data
    artifact is its JSON). A link a tool gave has no content here: its `url` is where it is."""
    found, content = await tasks.artifact(task_id, artifact_id)
    return _download(found, content, found.artifact_id)


@router.get(
    "/api/v1/tasks/{task_id}/inputs/{index}",
    dependencies=[requires(Scope.READ)],
    response_class=Response,
    responses=_FILE,
)
async def user_file(task_id: TaskIdPath, index: InputIndexPath, tasks: TasksDep) -> Response:
    """Download an image or file of the message that started the task (the `parts` of its
    `task.started` event, in order)."""
    part, content = await tasks.user_file(task_id, index)
    return _download(part, content, f"input-{index}")


def _download(part: Part, content: bytes, fallback: str) -> Response:
    name = quote(part.name or fallback, safe="")
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    }
    return Response(content, media_type=part.media_type, headers=headers)
