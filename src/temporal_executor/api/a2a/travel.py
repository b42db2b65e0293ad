"""Forks and re-runs over A2A: a new message (no `taskId`) whose `referenceTaskIds` name a
task, with our metadata: `metadata.fork` (the REST fork body's fields: `at_step`,
`user_message`, `model_config`, `tool_result_overrides`) or `metadata.rerun: true`.

The message's text is the fork's `user_message` unless `metadata.fork` says one (`null`: no
edit); a re-run sends the task's own message again, whatever the text. The new task's id
and session are A2A's `taskId` and `contextId` (a new context: a new session; the task's
own: that session goes on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from a2a.types import Message
from a2a.utils.errors import InvalidParamsError
from pydantic import ValidationError

from ...errors import describe_validation
from ..bodies import ForkRequest

__all__ = ["TravelRequest", "travel_request"]


@dataclass(frozen=True)
class TravelRequest:
    """A fork of task `parent` as `fork` asks (its ids unset), or (`fork` None) a re-run."""

    parent: str
    fork: ForkRequest | None


def travel_request(
    message: Message, metadata: dict[str, Any], text: Callable[[], str]
) -> TravelRequest | None:
    """What the message asks for, when it asks to fork or re-run a task (None: it does not);
    `InvalidParamsError` naming the field for a request that cannot be run. `text`: the
    message's text, read for a fork only."""
    fork, rerun = metadata.get("fork"), metadata.get("rerun")
    if fork is None and not rerun:
        return None
    if len(message.reference_task_ids) != 1:
        raise InvalidParamsError(
            "referenceTaskIds: name the one task to fork or re-run (metadata.fork / metadata.rerun)"
        )
    parent = message.reference_task_ids[0]
    if fork is None:
        return TravelRequest(parent, None)
    if rerun or not isinstance(fork, dict):
        raise InvalidParamsError(
            "metadata.fork: an object with at_step (and no metadata.rerun beside it)"
        )
    try:
        body = ForkRequest.model_validate({"user_message": text(), **fork})
    except ValidationError as exc:
        summary, _ = describe_validation(
            exc, field=lambda loc: "metadata.fork." + ".".join(map(str, loc))
        )
        raise InvalidParamsError(summary) from None
    if body.task_id is not None or body.session_id is not None:
        raise InvalidParamsError("metadata.fork: the new task's ids are taskId and contextId")
    return TravelRequest(parent, body)
