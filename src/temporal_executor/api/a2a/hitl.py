"""Human approval over A2A: kagent's HITL extension, and plain answers for other clients.

A task that waits for approval is `input-required`; its status message (`pause.py`) names the
pending tool calls. The client answers with a message on the same task, in one of three ways:

- kagent's extension `https://kagent.dev/extensions/hitl/v1` (the client declares the URI in
  `message.extensions` and sends `metadata[URI] = {"type": "tool_approval_response",
  "approvals": [{"id", "approved", "rejection_reason"?, "args"?}]}` with exactly one entry per
  pending call; `args` other than the call's are the arguments to run it with); a client
  that asks for the extension (`A2A-Extensions` header) gets the request the same way:
  `metadata[URI] = {"type": "tool_approval_request", "hint", "tools": [{"id", "call_id",
  "name", "args"}]}`. The opaque `id` is our tool call id.
- a DataPart `{"approved": true|false, "reason"?: str, "arguments"?: {…}}` (or per call:
  `{"toolCalls": {"<id>": {"approved": …, "reason"?: …, "arguments"?: …}}}`; `tool_calls` and
  `remember` as in our REST approve call work too), or kagent 0.10's `{"decision_type":
  "approve" | "reject" | "batch", "decisions"?, "rejection_reasons"?}` (the answer to its
  `adk_request_confirmation` DataParts);
- the text `approve` / `reject` (`yes` / `no`; `reject: <reason>` gives a reason).

Any other text answers too: it rejects the pending calls, and the model reads the text as the
user's next turn (after the refused calls' results), so it can answer it: ask again, explain,
change course. Approval is never inferred: only an explicit one counts.

A task whose model asks the user (`ask_user`) is `input-required` too; its status message's
text is the questions joined by "; " (as kagent writes it), and with the extension
`metadata[URI] = {"type": "ask_user_request", "id", "questions": [{"question", "choices",
"multiple"}]}`. The answer: an `ask_user_response` (`{"id", "answers": [{"answer": [...]}]}`,
one entry per question, `id` the request's: answers to other questions are refused), a
DataPart `{"answers": [[...], ...]}` (or kagent 0.10's `{"ask_user_answers": [{"answer":
[...]}]}`), or text: the answer to a single question, or one line per question.
"""

from __future__ import annotations

import re
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.types import Message
from a2a.utils.errors import InvalidParamsError
from google.protobuf.json_format import MessageToDict
from pydantic import ValidationError

from ...errors import describe_validation
from ...kagent.hitl import (
    ASK_USER_REQUEST,
    ASK_USER_RESPONSE,
    HITL_EXTENSION_URI,
    TOOL_APPROVAL_REQUEST,
    TOOL_APPROVAL_RESPONSE,
)
from ...llm.messages import ToolCall
from ...tasks import PendingInput
from ...workflows import AnswerInput, ApprovalDecision, ToolDecision

__all__ = [
    "ASK_USER_REQUEST",
    "HITL_EXTENSION_URI",
    "HOW_TO_APPROVE",
    "TOOL_APPROVAL_REQUEST",
    "answer_from",
    "decision_from",
    "hitl_requested",
]

_YES = r"approve|approved|yes|y|ok"
_NO = r"reject|rejected|deny|denied|no|n"
# Approval is the whole answer ("approve", "Yes."): "ok, but what does it delete?" is not.
_APPROVE = re.compile(rf"^\s*(?:{_YES})\s*[.!]?\s*$", re.IGNORECASE)
# A rejection may say why: "reject: too expensive", "no, not now".
_REJECT = re.compile(rf"^\s*(?:{_NO})\b[\s:,.;!-]*(.*)$", re.IGNORECASE | re.DOTALL)
HOW_TO_APPROVE = (
    'answer "approve" or "reject" (or "reject: <reason>"), a DataPart {"approved": true|false}, '
    f"or a {TOOL_APPROVAL_RESPONSE} of the {HITL_EXTENSION_URI} extension"
)


def hitl_requested(context: ServerCallContext) -> bool:
    """Whether the client asked for kagent's extension (`A2A-Extensions` header)."""
    return HITL_EXTENSION_URI in context.requested_extensions


def answer_from(message: Message, pending: PendingInput) -> AnswerInput:
    """The answers a client's message gives to `pending`; `InvalidParamsError` when it gives
    none, answers other questions, or does not answer each question."""
    metadata = _metadata(message)
    if HITL_EXTENSION_URI in metadata:
        answers = _extension_answers(metadata[HITL_EXTENSION_URI], message, pending)
    else:
        answers = _data_answers(message) or _text_answers(message, pending)
    answer = AnswerInput(answers=answers, id=pending.id)
    if problem := answer.problem(pending):
        raise InvalidParamsError(problem)
    return answer


def _metadata(message: Message) -> dict[str, Any]:
    return MessageToDict(message.metadata) if message.HasField("metadata") else {}


def _extension_answers(payload: Any, message: Message, pending: PendingInput) -> list[list[str]]:
    if HITL_EXTENSION_URI not in message.extensions:
        raise InvalidParamsError(
            f"the message carries {HITL_EXTENSION_URI} metadata but does not declare the "
            "extension in message.extensions"
        )
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind != ASK_USER_RESPONSE:
        raise InvalidParamsError(
            f"the task asks the user: expected an {ASK_USER_RESPONSE}, got {kind!r}"
        )
    if payload.get("id") != pending.id:
        raise InvalidParamsError(
            f"{ASK_USER_RESPONSE} id {payload.get('id')!r} does not match the pending "
            f"questions ({pending.id!r}): stale or misdirected"
        )
    return _listed_answers(payload.get("answers"), ASK_USER_RESPONSE)


def _listed_answers(entries: Any, where: str) -> list[list[str]]:
    """kagent's `[{"answer": ["…"]}, …]` as lists of answers."""
    if not isinstance(entries, list) or not entries:
        raise InvalidParamsError(f"{where}.answers must be a non-empty list")
    answers = []
    for entry in entries:
        answer = entry.get("answer") if isinstance(entry, dict) else None
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise InvalidParamsError(f'each of {where}.answers must be {{"answer": [strings]}}')
        answers.append(answer)
    return answers


def _data_answers(message: Message) -> list[list[str]] | None:
    for part in message.parts:
        if not part.HasField("data"):
            continue
        data = MessageToDict(part.data)
        if isinstance(data, dict) and "ask_user_answers" in data:
            return _listed_answers(data["ask_user_answers"], "ask_user_answers")
        if isinstance(data, dict) and "answers" in data:
            answers = data["answers"]
            if not isinstance(answers, list) or not all(
                isinstance(a, list) and all(isinstance(t, str) for t in a) for a in answers
            ):
                raise InvalidParamsError("answers must be a list of lists of strings")
            return answers
    return None


def _text_answers(message: Message, pending: PendingInput) -> list[list[str]]:
    text = " ".join(part.text for part in message.parts if part.HasField("text")).strip()
    count = len(pending.questions)
    if not text:
        raise InvalidParamsError(f"the task asks {count} question(s): answer them")
    if count == 1:
        return [[text]]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != count:
        raise InvalidParamsError(
            f"the task asks {count} questions: answer each on its own line, or send an "
            f"{ASK_USER_RESPONSE} of the {HITL_EXTENSION_URI} extension"
        )
    return [[line] for line in lines]


def decision_from(message: Message, pending: list[ToolCall]) -> tuple[ApprovalDecision, str | None]:
    """The decision a client's message carries on `pending`, and the user's own words when
    the message was not a decision (they reject the calls and become the next turn);
    `InvalidParamsError` when the message does not settle every pending call."""
    metadata = _metadata(message)
    said = None
    decision: ApprovalDecision | None
    if HITL_EXTENSION_URI in metadata:
        if HITL_EXTENSION_URI not in message.extensions:
            raise InvalidParamsError(
                f"the message carries {HITL_EXTENSION_URI} metadata but does not declare the "
                "extension in message.extensions"
            )
        decision = _extension_decision(metadata[HITL_EXTENSION_URI], pending)
    else:
        decision = _data_decision(message)
        if decision is None:
            decision, said = _text_decision(message)
    if decision is None:
        names = ", ".join(c.name for c in pending)
        raise InvalidParamsError(f"the task is waiting for approval of {names}: {HOW_TO_APPROVE}")
    if problem := decision.problem(pending):
        raise InvalidParamsError(problem)
    return decision, said


def _extension_decision(payload: Any, pending: list[ToolCall]) -> ApprovalDecision:
    if not isinstance(payload, dict) or payload.get("type") != TOOL_APPROVAL_RESPONSE:
        kind = payload.get("type") if isinstance(payload, dict) else None
        raise InvalidParamsError(
            f"expected a {TOOL_APPROVAL_RESPONSE} for the pending tool calls, got {kind!r}"
        )
    approvals = payload.get("approvals")
    if not isinstance(approvals, list) or not approvals:
        raise InvalidParamsError(f"{TOOL_APPROVAL_RESPONSE}.approvals must be a non-empty list")
    decided: dict[str, ToolDecision] = {}
    for approval in approvals:
        if not isinstance(approval, dict) or not isinstance(approval.get("id"), str):
            raise InvalidParamsError("each approval needs a string id")
        if not isinstance(approval.get("approved"), bool):
            raise InvalidParamsError(f"approval {approval['id']!r} needs a boolean 'approved'")
        if approval["id"] in decided:
            raise InvalidParamsError(f"approval {approval['id']!r} is given twice")
        reason = approval.get("rejection_reason")
        args = approval.get("args")
        if args is not None and not isinstance(args, dict):
            raise InvalidParamsError(f"approval {approval['id']!r}: 'args' must be an object")
        original = next((c.arguments for c in pending if c.id == approval["id"]), None)
        edited = approval["approved"] and args is not None and args != original
        decided[approval["id"]] = ToolDecision(
            approved=approval["approved"],
            reason=reason if isinstance(reason, str) else None,
            arguments=args if edited else None,
        )
    missing = sorted({c.id for c in pending} - set(decided))
    if missing:
        # Omission must never mean approval: every pending call needs its own answer.
        raise InvalidParamsError(f"no approval for pending tool call {', '.join(missing)}")
    return ApprovalDecision(tool_calls=decided)


def _data_decision(message: Message) -> ApprovalDecision | None:
    for part in message.parts:
        if not part.HasField("data"):
            continue
        data = MessageToDict(part.data)
        if isinstance(data, dict) and "decision_type" in data:
            return _kagent_decision(data)
        if isinstance(data, dict) and "toolCalls" in data:
            data["tool_calls"] = data.pop("toolCalls")
        if not isinstance(data, dict) or not ({"approved", "tool_calls"} & data.keys()):
            continue
        known = {k: v for k, v in data.items() if k in ApprovalDecision.model_fields}
        try:
            return ApprovalDecision.model_validate(known)
        except ValidationError as exc:
            summary, _ = describe_validation(exc)
            raise InvalidParamsError(f"approval data {summary}") from None
    return None


def _kagent_decision(data: dict[str, Any]) -> ApprovalDecision:
    """kagent 0.10's answer to its `adk_request_confirmation` pause: `{"decision_type":
    "approve" | "reject"}`, or `"batch"` with `decisions: {call id: "approve" | "reject"}`;
    `rejection_reasons` by call id, `"*"` for all. Unlike kagent 0.10, a call the batch leaves
    out is not approved: the answer is refused (`ApprovalDecision.problem`)."""
    kind = data["decision_type"]
    reasons = data.get("rejection_reasons") or {}
    if not isinstance(reasons, dict):
        raise InvalidParamsError("rejection_reasons must map tool call ids to reasons")
    if kind in ("approve", "reject"):
        # A uniform rejection's reason is `rejection_reason` (kagent's UI), or under "*".
        reason = _text_or_none(data.get("rejection_reason")) or _text_or_none(reasons.get("*"))
        return ApprovalDecision(approved=kind == "approve", reason=reason)
    if kind != "batch":
        raise InvalidParamsError(f"decision_type must be approve, reject or batch, got {kind!r}")
    decisions = data.get("decisions")
    if not isinstance(decisions, dict) or not decisions:
        raise InvalidParamsError("a batch decision needs decisions: {tool call id: approve|reject}")
    decided: dict[str, ToolDecision] = {}
    for call_id, verdict in decisions.items():
        if verdict not in ("approve", "reject"):
            raise InvalidParamsError(f"decision for {call_id!r} must be approve or reject")
        reason = _text_or_none(reasons.get(call_id, reasons.get("*")))
        decided[call_id] = ToolDecision(approved=verdict == "approve", reason=reason)
    return ApprovalDecision(tool_calls=decided)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text_decision(message: Message) -> tuple[ApprovalDecision | None, str | None]:
    text = " ".join(part.text for part in message.parts if part.HasField("text"))
    if not text.strip():
        return None, None
    if _APPROVE.match(text):
        return ApprovalDecision(approved=True), None
    if rejected := _REJECT.match(text):
        return ApprovalDecision(approved=False, reason=rejected.group(1).strip() or None), None
    reason = "the user answered with a message instead"
    return ApprovalDecision(approved=False, reason=reason), text.strip()
