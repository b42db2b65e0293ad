"""Every streaming call of every A2A transport that fails at once is an error response, not
a 200 event stream that then breaks off or carries the error as an event."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.a2a.conftest import jsonrpc
from tests.conftest import Stack

V10 = {"A2A-Version": "1.0"}
V03 = {"A2A-Version": "0.3"}


def message_10(task_id: str) -> dict[str, Any]:
    return {
        "message": {
            "messageId": uuid.uuid4().hex,
            "role": "ROLE_USER",
            "taskId": task_id,
            "parts": [{"text": "hi [no tools]"}],
        }
    }


def message_03_rest(task_id: str) -> dict[str, Any]:
    return {
        "message": {
            "messageId": uuid.uuid4().hex,
            "role": "ROLE_USER",
            "taskId": task_id,
            "content": [{"text": "hi [no tools]"}],
        }
    }


def message_03_jsonrpc(task_id: str) -> dict[str, Any]:
    return {
        "message": {
            "kind": "message",
            "messageId": uuid.uuid4().hex,
            "role": "user",
            "taskId": task_id,
            "parts": [{"kind": "text", "text": "hi [no tools]"}],
        }
    }


async def ended_task(stack: Stack) -> str:
    message = message_10("")["message"]
    del message["taskId"]
    reply = await jsonrpc(stack, "SendMessage", {"message": message})
    task_id: str = reply["result"]["task"]["id"]
    assert reply["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    return task_id


REST_STREAMS = [
    ("GET", "/a2a/rest/tasks/{id}:subscribe", V10, None),
    ("POST", "/a2a/rest/tasks/{id}:subscribe", V10, None),
    ("POST", "/a2a/rest/message:stream", V10, message_10),
    ("GET", "/a2a/rest/v1/tasks/{id}:subscribe", V03, None),
    ("POST", "/a2a/rest/v1/tasks/{id}:subscribe", V03, None),
    ("POST", "/a2a/rest/v1/message:stream", V03, message_03_rest),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), REST_STREAMS)
async def test_http_json_stream_of_an_unknown_task(
    a2a_stack: Stack, method: str, path: str, headers: dict[str, str], body: Any
) -> None:
    url = path.format(id="no-such-task")
    payload = body("no-such-task") if body else None
    async with a2a_stack.http.stream(method, url, headers=headers, json=payload) as response:
        text = (await response.aread()).decode()
    assert response.status_code == 404, text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert error["status"] == "NOT_FOUND" and "no-such-task" in error["message"], error


@pytest.mark.parametrize(
    "path", ["/a2a/rest/tasks/{id}:subscribe", "/a2a/rest/v1/tasks/{id}:subscribe"]
)
async def test_http_json_subscribe_to_an_ended_task(a2a_stack: Stack, path: str) -> None:
    task_id = await ended_task(a2a_stack)
    headers = V03 if "/v1/" in path else V10
    async with a2a_stack.http.stream("POST", path.format(id=task_id), headers=headers) as response:
        await response.aread()
    assert response.status_code == 400, response.text
    assert response.json()["error"]["status"] == "FAILED_PRECONDITION"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("SendStreamingMessage", message_10("no-such-task")),
        ("SubscribeToTask", {"id": "no-such-task"}),
        ("message/stream", message_03_jsonrpc("no-such-task")),
        ("tasks/resubscribe", {"id": "no-such-task"}),
    ],
)
async def test_jsonrpc_stream_of_an_unknown_task(
    a2a_stack: Stack, method: str, params: dict[str, Any]
) -> None:
    version = "0.3" if "/" in method else "1.0"
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    async with a2a_stack.http.stream(
        "POST", "/a2a", json=body, headers={"A2A-Version": version}
    ) as response:
        await response.aread()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json"), response.headers
    reply = response.json()
    assert reply["id"] == 7 and reply["error"]["code"] == -32001, reply


async def test_a_stream_that_starts_still_streams(a2a_stack: Stack) -> None:
    """The check reads the first event and hands it on: nothing is lost."""
    params = message_03_jsonrpc("")
    del params["message"]["taskId"]
    body = {"jsonrpc": "2.0", "id": 8, "method": "message/stream", "params": params}
    async with a2a_stack.http.stream("POST", "/a2a", json=body, headers=V03) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert '"kind":"task"' in lines[0].replace(" ", "") and '"final":true' in lines[-1].replace(
        " ", ""
    ), lines


async def test_ids_no_task_can_have(a2a_stack: Stack) -> None:
    """An id beyond the ids we hand out is invalid params, before Temporal or the store."""
    reply = await jsonrpc(a2a_stack, "GetTask", {"id": "x" * 5000})
    assert reply["error"]["code"] == -32602, reply
    response = await a2a_stack.http.get("/a2a/rest/tasks/%20bad", headers=V10)
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"
    token = "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"  # base64 of a number SQLite cannot hold
    reply = await jsonrpc(a2a_stack, "ListTasks", {"pageToken": token})
    assert reply["error"]["code"] == -32602, reply
