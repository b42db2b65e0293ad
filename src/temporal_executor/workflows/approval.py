"""The approval contract of `AgentExecutionWorkflow`: what a caller decides on pending tool
calls (`ApprovalDecision`, also the body of `POST /api/v1/approve/...`), and what the
workflow's `approve` update and `decide` signal take (`ApproveInput`: that decision with what
the user said alongside it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..llm.messages import ToolCall

__all__ = ["ApprovalDecision", "ApproveInput", "ToolDecision", "needs_approval"]


class ToolDecision(BaseModel):
    """The decision on one pending tool call."""

    model_config = ConfigDict(extra="forbid")

    approved: bool
    reason: str | None = Field(default=None, max_length=8192)


class ApprovalDecision(BaseModel):
    """`approved` decides every pending call; `tool_calls` (by call id) decides calls one by
    one and overrides `approved` for them."""

    model_config = ConfigDict(extra="forbid")

    approved: bool | None = None
    reason: str | None = Field(default=None, max_length=8192)
    tool_calls: dict[str, ToolDecision] = Field(default_factory=dict, max_length=128)

    @model_validator(mode="after")
    def _something_decided(self) -> ApprovalDecision:
        if self.approved is None and not self.tool_calls:
            raise ValueError('give "approved", or a decision per call in "tool_calls"')
        return self

    def problem(self, pending: list[ToolCall]) -> str | None:
        """Why this decision cannot settle `pending`, or None when it can."""
        ids = {call.id for call in pending}
        unknown = sorted(set(self.tool_calls) - ids)
        if unknown:
            return f"no pending tool call with id {', '.join(unknown)}"
        if self.approved is None and ids - set(self.tool_calls):
            missing = ", ".join(sorted(ids - set(self.tool_calls)))
            return f"no decision for pending tool call {missing}"
        return None

    def for_call(self, call_id: str) -> ToolDecision:
        decided = self.tool_calls.get(call_id)
        if decided is not None:
            return decided
        return ToolDecision(approved=bool(self.approved), reason=self.reason)


class ApproveInput(BaseModel):
    """Argument of the `approve` update and the `decide` signal. `message` is what the user
    said instead of (or with) deciding: the model reads it as a user turn after the tool
    results; `message_id` is the client's id of that message."""

    decision: ApprovalDecision
    message: str | None = None
    message_id: str | None = None

    def event(self) -> dict[str, Any]:
        """The data of the `approval.decided` event."""
        return {
            **self.decision.model_dump(),
            "message": self.message,
            "message_id": self.message_id,
        }


def needs_approval(policy: bool | list[str], tool: str) -> bool:
    """Whether a call of `tool` waits for a decision under `require_approval`."""
    return policy if isinstance(policy, bool) else tool in policy
