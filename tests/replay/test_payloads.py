"""Every payload in every recorded history decodes into this release's models.

A replay decodes the workflow's input, activity results and update arguments; it does not
decode what an *activity* reads (a call the previous release scheduled, run by this one after
an upgrade) or what a newer run of the task reads. So here every payload of every history in
`histories/` and `releases/*/` is decoded with the type this code gives its slot (found from
the workflow's and activities' signatures, not written down twice), and re-encoded the same.
Then the migrations of the versioned payloads, one by one.
"""

from __future__ import annotations

import base64
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload as TemporalPayload
from temporalio.contrib.pydantic import pydantic_data_converter

from temporal_executor.activities import (
    AgentActivities,
    CompactionActivities,
    LegacyActivities,
    LLMActivities,
    OpenRunInput,
    OpenRunResult,
    RecordActivities,
    ScheduleActivities,
    ToolActivities,
    TurnActivities,
)
from temporal_executor.activities.llm import LLMCallInput
from temporal_executor.llm.messages import LLMResponse, Message
from temporal_executor.versioned import Payload, Versioned
from temporal_executor.workflows import (
    WORKFLOWS,
    AgentExecutionWorkflow,
    AgentInput,
    ApprovalDecision,
    ApproveInput,
    ScheduledRunInput,
    ScheduledRunResult,
)
from tests.replay.test_replay import FILES, RELEASES, load

ACTIVITIES = {
    "invoke_llm": LLMActivities.invoke_llm,
    "compact_context": CompactionActivities.compact_context,
    "execute_tool": ToolActivities.execute_tool,
    "expand_tools": ToolActivities.expand_tools,
    "call_agent": AgentActivities.call_agent,
    "record": RecordActivities.record,
    "session_turn": TurnActivities.session_turn,
    # The local activities of 0.1.0+254ae33, for its tasks (workflows/legacy.py).
    "publish_event": LegacyActivities.publish_event,
    "open_session": LegacyActivities.open_session,
    "save_state": LegacyActivities.save_state,
    "open_scheduled_run": ScheduleActivities.open_scheduled_run,
}
# (The `turn` signal carries nothing.)
HANDLERS = {
    "approve": AgentExecutionWorkflow.approve,
    "decide": AgentExecutionWorkflow.decide,
    "answer": AgentExecutionWorkflow.answer,
    "follow": AgentExecutionWorkflow.follow,
    "stop": AgentExecutionWorkflow.stop,
}


def _argument(function: Any) -> Any:
    hints = typing.get_type_hints(function)
    return next(hint for name, hint in hints.items() if name != "return")


def _result(function: Any) -> Any:
    return typing.get_type_hints(function)["return"]


# By workflow type: the run method's argument and result.
RUNS = {workflow.__name__: workflow.run for workflow in WORKFLOWS}


def _payloads(block: dict[str, Any] | None) -> list[TemporalPayload]:
    if not block:
        return []
    return [
        TemporalPayload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
            data=base64.b64decode(p.get("data", "")),
        )
        for p in block.get("payloads", [])
    ]


def slots(events: list[dict[str, Any]]) -> Iterator[tuple[str, Any, TemporalPayload]]:
    """(where, the type this code decodes it as, the payload) for every payload."""
    scheduled: dict[str, str] = {}
    started = events[0]["workflowExecutionStartedEventAttributes"]
    run = RUNS[started["workflowType"]["name"]]
    for event in events:
        kind = event["eventType"].removeprefix("EVENT_TYPE_")
        at = f"event {event['eventId']} {kind}"
        if kind == "WORKFLOW_EXECUTION_STARTED":
            attributes = event["workflowExecutionStartedEventAttributes"]
            for p in _payloads(attributes.get("input")):
                yield at, _argument(run), p
        elif kind == "WORKFLOW_EXECUTION_CONTINUED_AS_NEW":
            attributes = event["workflowExecutionContinuedAsNewEventAttributes"]
            for p in _payloads(attributes.get("input")):
                yield at, _argument(run), p
        elif kind == "WORKFLOW_EXECUTION_COMPLETED":
            attributes = event["workflowExecutionCompletedEventAttributes"]
            for p in _payloads(attributes.get("result")):
                yield at, _result(run), p
        elif kind == "START_CHILD_WORKFLOW_EXECUTION_INITIATED":
            attributes = event["startChildWorkflowExecutionInitiatedEventAttributes"]
            child = RUNS[attributes["workflowType"]["name"]]
            for p in _payloads(attributes.get("input")):
                yield at, _argument(child), p
        elif kind == "CHILD_WORKFLOW_EXECUTION_COMPLETED":
            attributes = event["childWorkflowExecutionCompletedEventAttributes"]
            child = RUNS[attributes["workflowType"]["name"]]
            for p in _payloads(attributes.get("result")):
                yield at, _result(child), p
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            attributes = event["activityTaskScheduledEventAttributes"]
            name = attributes["activityType"]["name"]
            scheduled[event["eventId"]] = name
            for p in _payloads(attributes.get("input")):
                yield f"{at} ({name})", _argument(ACTIVITIES[name]), p
        elif kind == "ACTIVITY_TASK_COMPLETED":
            attributes = event["activityTaskCompletedEventAttributes"]
            name = scheduled[attributes["scheduledEventId"]]
            for p in _payloads(attributes.get("result")):
                yield f"{at} ({name})", _result(ACTIVITIES[name]), p
        elif kind == "MARKER_RECORDED":
            if event["markerRecordedEventAttributes"]["markerName"] == "core_patch":
                continue  # a `workflow.patched` marker: no payload of ours
            details = event["markerRecordedEventAttributes"]["details"]
            data = json.loads(_payloads(details["data"])[0].data)
            name = data["activity_type"]
            for p in _payloads(details.get("result")):
                yield f"{at} ({name})", _result(ACTIVITIES[name]), p
        elif kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            request = event["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]
            name = request["input"]["name"]
            for p in _payloads(request["input"].get("args")):
                yield f"{at} ({name})", _argument(HANDLERS[name]), p
        elif kind == "WORKFLOW_EXECUTION_SIGNALED":
            attributes = event["workflowExecutionSignaledEventAttributes"]
            name = attributes["signalName"]
            for p in _payloads(attributes.get("input")):
                yield f"{at} ({name})", _argument(HANDLERS[name]), p


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", FILES + RELEASES, ids=_id)
def test_every_payload_decodes(path: Path) -> None:
    converter = pydantic_data_converter.payload_converter
    decoded = 0
    for where, kind, payload in slots(load(path)["events"]):
        try:
            (value,) = converter.from_payloads([payload], [kind])
        except Exception as exc:  # the failure, with where it happened
            raise AssertionError(f"{path.name} {where}: {exc}") from exc
        # What this release writes of it decodes to the same.
        (again,) = converter.from_payloads(converter.to_payloads([value]), [kind])
        assert again == value, f"{path.name} {where}"
        decoded += 1
    assert decoded >= 2, path.name  # (the input and a first step, at least)


def _reachable(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _types(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _reachable(arg, seen)


def _types(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def test_every_model_in_a_payload_is_lenient() -> None:
    """No model a running task carries refuses unknown keys: a key a later release drops or
    an earlier one never wrote must not stop a task from decoding its history."""
    roots = []
    for function in [*RUNS.values(), *ACTIVITIES.values(), *HANDLERS.values()]:
        roots += [_argument(function), _result(function)]
    seen: set[type[BaseModel]] = set()
    for root in roots:
        for arg in _types(root):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _reachable(arg, seen)
    assert len(seen) >= 15, sorted(m.__name__ for m in seen)
    for model in seen:
        assert issubclass(model, Payload), f"{model.__name__} is not a versioned.Payload"
        assert model.model_config.get("extra") == "ignore", model.__name__


def _input(**policies: Any) -> dict[str, Any]:
    timeouts = {"llm": 20.0, "tool": 20.0, "task": 300.0, "heartbeat": 2.0}
    retry = {"max_attempts": 3, "maximum_interval": 30.0}
    return {
        "task_id": "t",
        "session_id": "s",
        "user_message": "hi",
        "model": {"provider": "openai", "model": "gpt-4o-mini"},
        "max_iterations": 5,
        "policies": {
            "timeouts": timeouts,
            "retry": {"llm": retry, "tool": retry},
            "history_limit": 100,
            "inline_bytes": 65536,
            "max_content_bytes": 1048576,
            "local_activities": True,
            **policies,
        },
    }


def test_a_release_0_1_0_input_from_before_the_time_limit_runs_without_its_timer() -> None:
    early = AgentInput.model_validate_json(json.dumps(_input()))
    assert (early.v, early.time_limit_timer) == (AgentInput.VERSION, False)
    late = AgentInput.model_validate_json(json.dumps(_input(approval_timeout_action="fail")))
    assert (late.v, late.time_limit_timer) == (AgentInput.VERSION, True)
    assert late.policies.approval_timeout_action == "fail"
    # Written again by this release, the migrated payload keeps what it decoded to.
    assert AgentInput.model_validate_json(early.model_dump_json()) == early


def test_the_versions_of_the_workflow_input() -> None:
    """v1: 0.1.0+254ae33 (flat policies; its own loop); v2: 0.1.0 before the time limit (no
    loop timer); v3: 0.1.0 since (0f4e4ab), this release's."""
    assert AgentInput.VERSION == 3
    retry = {"max_attempts": 3, "initial_interval": 0.1, "maximum_interval": 60.0}
    flat = {
        "llm_timeout": 20.0,
        "tool_timeout": 30.0,
        "heartbeat_timeout": 2.0,
        "task_timeout": 300.0,
        "history_limit": 100,
        "inline_bytes": 65536,
        "max_content_bytes": 1048576,
        "llm_retry": retry,
        "tool_retry": {**retry, "max_attempts": 2},
    }
    written = {
        1: {**_input(), "policies": flat},
        2: _input(),
        3: _input(approval_timeout_action="reject"),
    }
    decoded = {}
    for v, data in written.items():
        decoded[v] = AgentInput.model_validate_json(json.dumps(data))  # without `v`: by shape
        assert decoded[v].v == AgentInput.VERSION
        assert AgentInput.model_validate_json(json.dumps({**data, "v": v})) == decoded[v]
    old = decoded[1]
    assert (old.loop, old.time_limit_timer) == ("0.1.0+254ae33", False)
    assert old.policies.timeouts.model_dump() == {
        "llm": 20.0,
        "tool": 30.0,
        "task": 300.0,
        "heartbeat": 2.0,
    }
    assert (old.policies.retry.llm.initial_interval, old.policies.retry.tool.max_attempts) == (
        0.1,
        2,
    )
    assert not old.policies.local_activities and old.policies.approval_policy == []
    assert (decoded[2].loop, decoded[2].time_limit_timer) == ("current", False)
    assert (decoded[3].loop, decoded[3].time_limit_timer) == ("current", True)
    # Written again by this release (as a continue-as-new does), each keeps what it became.
    for value in decoded.values():
        assert AgentInput.model_validate_json(value.model_dump_json()) == value


def test_a_254ae33_decision_and_llm_call_decode() -> None:
    """0.1.0+254ae33 sent the decision at the top level (`ApproveInput` v1, nested now), and
    an LLM call without the task's state (the workflow recorded the answer itself)."""
    flat = {"approved": False, "reason": "no", "tool_calls": {}, "message": "hi", "message_id": "m"}
    decision = ApproveInput.model_validate_json(json.dumps(flat))
    assert (decision.v, decision.message, decision.message_id) == (2, "hi", "m")
    assert decision.decision == ApprovalDecision(approved=False, reason="no")
    nested = {"decision": {"tool_calls": {"c1": {"approved": True}}}, "by": "ops"}  # 0.1.0's
    assert ApproveInput.model_validate_json(json.dumps(nested)).decision.for_call("c1").approved
    call = {
        "task_id": "t",
        "conversation": "s",
        "call_key": "llm:1",
        "first_index": 0,
        "new_messages": [{"role": "user", "content": "hi"}],
        "inline_bytes": 65536,
        "max_content_bytes": 1048576,
        "model": {"provider": "openai", "model": "gpt-4o-mini", "temperature": None},
    }
    assert LLMCallInput.model_validate_json(json.dumps(call)).state is None


def test_built_by_code_a_payload_is_this_release_and_keys_it_does_not_know_are_ignored() -> None:
    built = AgentInput.model_validate(_input())  # Python data, not a decoded payload
    assert (built.v, built.time_limit_timer, built.loop) == (AgentInput.VERSION, True, "current")
    data = {**_input(), "v": AgentInput.VERSION, "a_key_of_a_later_release": {"x": 1}}
    data["model"]["another_later_key"] = True
    assert AgentInput.model_validate_json(json.dumps(data)).model == built.model


def test_a_payload_of_a_newer_release_is_refused_naming_the_versions() -> None:
    newer = {**_input(), "v": AgentInput.VERSION + 1}
    with pytest.raises(ValidationError, match=r"written by a newer release .*reads up to v"):
        AgentInput.model_validate_json(json.dumps(newer))


def test_versioned_payloads_are_written_with_their_version() -> None:
    schedules = (ScheduledRunInput, ScheduledRunResult, OpenRunInput, OpenRunResult)
    for model in (AgentInput, ApproveInput, LLMCallInput, LLMResponse, *schedules):
        assert issubclass(model, Versioned), model.__name__
        assert "v" in model.model_fields
    response = LLMResponse(message=Message(role="assistant", content="hi"))
    assert json.loads(response.model_dump_json())["v"] == LLMResponse.VERSION
