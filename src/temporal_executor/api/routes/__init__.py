"""The REST routes of DESIGN.md, one `APIRouter` a resource; `app.py` includes them.

- `tasks.py`: submit (`POST /api/v1/execute`), list, read, follow (SSE) and cancel tasks;
- `files.py`: download a task's artifacts and its user message's files;
- `travel.py`: a task's steps, forking it from one, re-running it;
- `approvals.py`: the approvals inbox, deciding tool calls, answering questions;
- `sessions.py`: a session's turns and transcript, deleting a session;
- `schedules.py`: schedules (tasks on a timetable): make, list, read, pause, resume,
  backfill, delete;
- `triggers.py`: webhook triggers: the webhook, and making, listing, deleting them;
- `a2a_message.py`: the seed's simplified A2A body (`POST /a2a/message`);
- `probes.py`: liveness, readiness and metrics.

Each route is thin: parse, call `TaskService`, render. What a route needs comes from `deps.py`
(`Api`, set on the app by `create_app`).
"""
