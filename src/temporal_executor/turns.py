"""Turns in a session: what a task's workflow, the API and the `session_turn` activity say to
each other when a message comes while the session's task has not ended
(`executor.concurrent_messages`).

One task runs at a time in a session. A message that does not wait (`reject`) is refused.
Otherwise its task is queued behind the session's last one (`AgentInput.queued_behind`) and
waits, durably, until that one has ended; a task that ended without having run passes its
place on (the task behind it waits for the one it waited for). `interrupt` and `rollback`
also stop the tasks ahead: each gets the `stop` signal (and, for `rollback`, a cancellation)
from the API.

How a queued task learns its turn: its `session_turn` activity asks the task ahead to
`follow` it (an update, refused once that task has ended: the queued one then goes), and the
task ahead signals `turn` to its followers when it ends. The activity is asked again now and
then while the task waits (a follow lost to a race or an older worker is found that way)."""

from __future__ import annotations

from typing import Literal

from .versioned import Versioned

__all__ = ["ENDED", "FOLLOW", "STOP", "TURN", "FollowInput", "StopInput", "StopMode"]

FOLLOW = "follow"  # update: "signal me when you end"
TURN = "turn"  # signal: "the task you waited for has ended"
STOP = "stop"  # signal: "a new message stops you"
ENDED = "task_ended"  # the failure type of a `follow` refused by a task that has ended

StopMode = Literal["interrupt", "rollback"]


class FollowInput(Versioned):
    """The `follow` update: task `task_id` waits for this one to end."""

    task_id: str


class StopInput(Versioned):
    """The `stop` signal: `interrupt` (stop at the next step, keeping what was done) or
    `rollback` (undo the task's turn); `by` is the task of the new message."""

    mode: StopMode
    by: str
