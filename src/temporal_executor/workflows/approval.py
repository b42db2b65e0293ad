"""The approval contract of `AgentExecutionWorkflow`: what a caller decides on pending tool
calls (`ApprovalDecision`, also the body of `POST /api/v1/approve/...`), what the workflow's
`approve` update and `decide` signal take (`ApproveInput`: that decision with what the user
said alongside it and who decided), and which calls wait for a person at all (`gate`).

A decision may edit a call's arguments (`arguments`, checked against the tool's parameter
schema: the tool runs with them, and the LLM is told) and may approve a tool for the rest of
the session (`remember: "session"`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal, NamedTuple

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from ..llm.messages import ToolCall
from ..tools.schema import argument_errors
from ..versioned import Payload, Versioned
from .inputs import ApprovalRule

__all__ = [
    "ApprovalDecision",
    "ApproveInput",
    "Gate",
    "Gated",
    "ToolDecision",
    "gate",
]

Remember = Literal["session"]


class _Decided(Payload):
    """What a decision on one call and on all of them share."""

    reason: str | None = Field(default=None, max_length=8192)
    # The arguments to run the call with instead of the LLM's (an approval only).
    arguments: dict[str, Any] | None = None
    # Approve this tool for the rest of the session: later calls run without asking.
    remember: Remember | None = None

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only what was decided: a plain approval reads as it always did.
        data: dict[str, Any] = handler(self)
        for key in ("arguments", "remember"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    def _check_approval_only(self, approved: bool | None) -> None:
        if approved is False and (self.arguments is not None or self.remember is not None):
            raise ValueError('"arguments" and "remember" go with an approval, not a rejection')


class ToolDecision(_Decided):
    """The decision on one pending tool call."""

    approved: bool

    @model_validator(mode="after")
    def _consistent(self) -> ToolDecision:
        self._check_approval_only(self.approved)
        return self

    def refusal(self) -> str:
        """The result of the call when it was rejected, for the LLM."""
        reason = f": {self.reason}" if self.reason else ""
        return f"The user rejected this tool call{reason}"


class ApprovalDecision(_Decided):
    """`approved` decides every pending call; `tool_calls` (by call id) decides calls one by
    one and overrides `approved` for them. Top-level `arguments` edit the one pending call."""

    approved: bool | None = None
    tool_calls: dict[str, ToolDecision] = Field(default_factory=dict, max_length=128)

    @model_validator(mode="after")
    def _something_decided(self) -> ApprovalDecision:
        if self.approved is None and not self.tool_calls:
            raise ValueError('give "approved", or a decision per call in "tool_calls"')
        self._check_approval_only(self.approved)
        return self

    def problem(self, pending: list[ToolCall], *, nested: bool = False) -> str | None:
        """Why this decision cannot settle `pending` (`nested`: another agent's calls), or
        None when it can (edited arguments are checked by `argument_problem`)."""
        if nested and (problem := self._nested_problem()):
            return problem
        ids = {call.id for call in pending}
        unknown = sorted(set(self.tool_calls) - ids)
        if unknown:
            return f"no pending tool call with id {', '.join(unknown)}"
        if self.approved is None and ids - set(self.tool_calls):
            missing = ", ".join(sorted(ids - set(self.tool_calls)))
            return f"no decision for pending tool call {missing}"
        if self.arguments is not None and len(pending) != 1:
            return (
                f'"arguments" edits the one pending call, but {len(pending)} are pending: '
                'give them per call in "tool_calls"'
            )
        return None

    def _nested_problem(self) -> str | None:
        """What a decision on another agent's calls cannot do: that agent runs them, with
        its own arguments, and remembers nothing for our session."""
        decided = [self, *self.tool_calls.values()]
        if any(d.arguments is not None for d in decided):
            return "arguments: these calls are another agent's, which runs them as it asked"
        if any(d.remember is not None for d in decided):
            return 'remember: these calls are another agent\'s; approve without "remember"'
        return None

    def argument_problem(
        self, pending: list[ToolCall], parameters: dict[str, dict[str, Any]]
    ) -> str | None:
        """Why edited arguments do not fit their tool's parameter schema, naming the field."""
        for call in pending:
            decided = self.for_call(call.id)
            if decided.approved and decided.arguments is not None:
                schema = parameters.get(call.name, {"type": "object"})
                if problem := argument_errors(schema, decided.arguments):
                    where = "arguments" if call.id not in self.tool_calls else call.id
                    return f"tool call {call.id} ({call.name}): {problem} ({where})"
        return None

    def for_call(self, call_id: str) -> ToolDecision:
        decided = self.tool_calls.get(call_id)
        if decided is not None:
            return decided
        approved = bool(self.approved)
        return ToolDecision(
            approved=approved,
            reason=self.reason,
            arguments=self.arguments if approved else None,
            remember=self.remember if approved else None,
        )


def _decision_nested(data: dict[str, Any]) -> dict[str, Any]:
    """v1 → v2: what was said with the decision stays beside it, the rest is the decision."""
    if "decision" in data:  # written nested with v1 by builds before this one's v2
        return data
    said: dict[str, Any] = {k: data[k] for k in ("message", "message_id", "by") if k in data}
    decision = {key: value for key, value in data.items() if key not in said and key != "v"}
    return {**said, "decision": decision}


class ApproveInput(Versioned):
    """Argument of the `approve` update and the `decide` signal. `message` is what the user
    said instead of (or with) deciding: the model reads it as a user turn after the tool
    results; `message_id` is the client's id of that message; `by` who decided (the API
    key's name, the A2A caller; `timeout`, `policy` and `session` for decisions the task
    made itself). The Temporal UI shows all of it on the update.

    Versions: 1, release 0.1.0+254ae33 (the decision at the top level, beside `message`);
    2, since 0.1.0 (the decision in `decision`)."""

    VERSION = 2

    decision: ApprovalDecision
    message: str | None = None
    message_id: str | None = None
    by: str | None = None

    MIGRATIONS = {1: _decision_nested}

    @classmethod
    def legacy_version(cls, data: dict[str, Any]) -> int:
        return 2 if "decision" in data else 1

    def event(self, pending: list[ToolCall], at: float) -> dict[str, Any]:
        """The data of the `approval.decided` event: the decision, who took it and when,
        and per call what the LLM asked for and what was run."""
        calls = []
        for call in pending:
            decided = self.decision.for_call(call.id)
            entry: dict[str, Any] = {
                "id": call.id,
                "name": call.name,
                "approved": decided.approved,
                "reason": decided.reason,
                "arguments": call.arguments,
            }
            if decided.arguments is not None:
                entry["edited_arguments"] = decided.arguments
            if decided.remember is not None:
                entry["remember"] = decided.remember
            calls.append(entry)
        return {
            **self.decision.model_dump(),
            "message": self.message,
            "message_id": self.message_id,
            "by": self.by,
            "at": at,
            "calls": calls,
        }


Gate = Literal["run", "ask", "deny"]


class Gated(NamedTuple):
    """What `gate` found for a call: what happens, who decided in a person's stead
    (`policy`, `session`: recorded as an `approval.decided` of its own) or None, and the
    config rule that matched."""

    action: Gate
    by: str | None
    rule: ApprovalRule | None


def gate(
    tool: str,
    require_approval: bool | list[str],
    policy: list[ApprovalRule],
    approved_tools: list[str],
) -> Gated:
    """Whether a call of `tool` runs, waits for a person or is refused, and why.

    The first matching rule of `executor.approval_policy` decides, above the request: `deny`
    refuses, `ask` always asks (even for a tool approved for the session), `allow` runs. No
    rule: the request's `require_approval`, unless a person approved the tool for the
    session."""
    asked = require_approval if isinstance(require_approval, bool) else tool in require_approval
    for rule in policy:
        if fnmatchcase(tool, rule.tool):
            if rule.action == "deny":
                return Gated("deny", "policy", rule)
            if rule.action == "ask":
                return Gated("ask", None, rule)
            return Gated("run", "policy" if asked else None, rule)
    if asked and tool in approved_tools:
        return Gated("run", "session", None)
    return Gated("ask" if asked else "run", None, None)
