"""The REST routes' path, query and header parameters, each with its bounds.

Every parameter is bounded where it is declared, so an out-of-range or malformed value is a
422 naming it (and the bound shows in `/openapi.json`) before it reaches the store: SQLite
takes integers up to 2**63 - 1 only, and an id longer than any we hand out names no task.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from ..tasks import WORKFLOW_ID_PREFIX, TaskStatus
from .bodies import ID_PATTERN

__all__ = [
    "MAX_OFFSET",
    "MAX_SEQ",
    "After",
    "LastEventId",
    "Limit",
    "Offset",
    "SessionFilter",
    "SessionIdPath",
    "StatusFilter",
    "TaskIdPath",
    "WorkflowIdPath",
]

MAX_OFFSET = 2**31 - 1  # far beyond any page a client walks to
MAX_SEQ = 10**18 - 1  # an event seq: 18 digits, well inside a 64-bit integer
_ID = "letters, digits and . _ : @ -, starting with a letter or digit; at most 128"
# The workflow id prefix and a task id (at most 128 characters).
_WORKFLOW_ID_MAX = len(WORKFLOW_ID_PREFIX) + 128
WORKFLOW_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{_WORKFLOW_ID_MAX - 1}}}$"

TaskIdPath = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=128, description=f"the task's id ({_ID})")
]
SessionIdPath = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=128, description=f"the session's id ({_ID})")
]
WorkflowIdPath = Annotated[
    str,
    Path(
        pattern=WORKFLOW_ID_PATTERN,
        max_length=_WORKFLOW_ID_MAX,
        description=f"`{WORKFLOW_ID_PREFIX}{{task_id}}`; any other id names no task (404)",
    ),
]
SessionFilter = Annotated[
    str | None,
    Query(pattern=ID_PATTERN, max_length=128, description="only the tasks of this session"),
]
StatusFilter = Annotated[TaskStatus | None, Query(description="only the tasks in this status")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="tasks to skip (a page's `next_offset`)")
]
After = Annotated[
    int | None,
    Query(ge=0, le=MAX_SEQ, description="resume after this seq (wins over Last-Event-ID)"),
]
LastEventId = Annotated[
    str | None,
    Header(
        pattern=r"^[0-9]{1,18}$",
        description="the last event id (seq) the client saw: resume after it",
    ),
]
