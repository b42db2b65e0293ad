"""The `ask_user` contract of `AgentExecutionWorkflow`: the model asks a person questions, the
task parks until they are answered, and the answers go back to the model as the call's result.

`ask_user` is a built-in tool (`{"name": "ask_user", "type": "builtin"}`) with kagent-adk's
arguments, `{"questions": [{"question", "choices"?, "multiple"?}]}`; the workflow answers its
calls itself, from the `answer` update (`AnswerInput`: one list of answers per question,
positional), and the result the model reads is kagent-adk's too:
`[{"question": …, "answer": [...]}, …]` as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import describe_validation
from ..llm.messages import ToolCall
from ..spec import ToolSpec
from ..tasks import PendingInput, Question
from ..versioned import Versioned

__all__ = ["ASK_USER", "AnswerInput", "answer_result", "is_ask_user", "questions_of"]

ASK_USER = "ask_user"


def is_ask_user(spec: ToolSpec) -> bool:
    """Whether calls of `spec` are questions for a person (the `ask_user` built-in)."""
    return spec.type == "builtin" and (spec.config.get("tool") or spec.name) == ASK_USER


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question] = Field(min_length=1, max_length=32)


def questions_of(call: ToolCall) -> list[Question]:
    """The questions an `ask_user` call asks; `ValueError` saying what is wrong with them."""
    if call.arguments_error:
        raise ValueError(f"the arguments are not valid JSON: {call.arguments_error}")
    try:
        return _Arguments.model_validate(call.arguments, extra="forbid").questions
    except ValidationError as exc:
        summary, _ = describe_validation(exc)
        raise ValueError(f"invalid arguments: {summary}") from None


class AnswerInput(Versioned):
    """Argument of the `answer` update (and the body of `POST /api/v1/tasks/{id}/answer`):
    one list of answers per pending question, in order. `id` names the questions answered
    (the `ask_user` call's id, as `pending_input.id` shows it): an answer to questions that
    are no longer pending is refused. `by` is who answered (set by the API)."""

    answers: list[list[str]] = Field(max_length=32)
    id: str | None = Field(default=None, max_length=256)
    by: str | None = Field(default=None, max_length=256)

    def problem(self, pending: PendingInput) -> str | None:
        """Why these answers cannot settle `pending`, or None when they can."""
        if self.id is not None and self.id != pending.id:
            return (
                f"these answers are for {self.id!r}, but the pending questions are {pending.id!r}"
            )
        if len(self.answers) != len(pending.questions):
            return (
                f"expected {len(pending.questions)} answer list(s), one per question, "
                f"got {len(self.answers)}"
            )
        for number, (answer, question) in enumerate(
            zip(self.answers, pending.questions, strict=True), 1
        ):
            if not answer or not all(text.strip() for text in answer):
                return f"question {number} ({question.question!r}) has no answer"
            if len(answer) > 1 and not question.multiple:
                return f"question {number} ({question.question!r}) takes one answer"
            if any(len(text) > 8192 for text in answer):
                return f"an answer to question {number} is longer than 8192 characters"
        return None

    def event(self, pending: PendingInput) -> dict[str, Any]:
        """The data of the `input.answered` event."""
        return {"id": pending.id, "answers": self.answers, "by": self.by}


def answer_result(pending: PendingInput, answers: list[list[str]]) -> str:
    """What the model reads as the `ask_user` call's result."""
    pairs = zip(pending.questions, answers, strict=True)
    return json.dumps([{"question": q.question, "answer": a} for q, a in pairs])
