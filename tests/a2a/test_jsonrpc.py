"""The JSON-RPC wire as curl sees it: error objects with A2A codes, the 0.3 method names
through the SDK's compatibility layer (raw and with the SDK's 0.3 client), and the seed's
simplified `/a2a/message`."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import GetTaskRequest, TaskState
from a2a.utils.constants import PROTOCOL_VERSION_0_3

from tests.a2a.conftest import (
    MODEL,
    answer_text,
    collect,
    jsonrpc,
    send,
    send_request,
    user_message,
)
from tests.conftest import Stack


def text_message(text: str, **ids: str) -> dict[str, Any]:
    return {"messageId": "m-" + text[:8], "role": "ROLE_USER", "parts": [{"text": text}], **ids}


def error_code(reply: dict[str, Any]) -> int:
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 7 and "result" not in reply, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    code: int = reply["error"]["code"]
    return code


async def test_send_and_get_over_raw_jsonrpc(a2a_stack: Stack) -> None:
    # No A2A-Version header: the 1.0 method names say which protocol this is.
    reply = await jsonrpc(
        a2a_stack, "SendMessage", {"message": text_message("curl me [no tools]")}, version=None
    )
    task = reply["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][0]["text"] == "Echo: curl me [no tools]"
    got = await jsonrpc(a2a_stack, "GetTask", {"id": task["id"], "historyLength": 1})
    assert got["result"]["id"] == task["id"] and len(got["result"]["history"]) == 1
    listed = await jsonrpc(a2a_stack, "ListTasks", {"contextId": task["contextId"]})
    assert [t["id"] for t in listed["result"]["tasks"]] == [task["id"]]
    assert listed["result"]["totalSize"] == 1 and listed["result"]["nextPageToken"] == ""


async def test_error_objects(a2a_stack: Stack) -> None:
    assert error_code(await jsonrpc(a2a_stack, "GetTask", {"id": "no-such-task"})) == -32001
    assert error_code(await jsonrpc(a2a_stack, "CancelTask", {"id": "no-such-task"})) == -32001
    invalid = await jsonrpc(a2a_stack, "SendMessage", {"message": {"kind": "message"}})
    assert error_code(invalid) == -32602
    assert error_code(await jsonrpc(a2a_stack, "tasks/frobnicate", {})) == -32601
    bad_state = await jsonrpc(a2a_stack, "ListTasks", {"status": "TASK_STATE_SLEEPING"})
    assert error_code(bad_state) == -32602
    negative = await jsonrpc(a2a_stack, "GetTask", {"id": "x", "historyLength": -1})
    assert error_code(negative) == -32602
    unknown = await jsonrpc(
        a2a_stack, "SendMessage", {"message": text_message("hi", taskId="no-such-task")}
    )
    assert error_code(unknown) == -32001
    old = await jsonrpc(a2a_stack, "GetTask", {"id": "x"}, version="0.5")
    assert error_code(old) == -32009
    card = await jsonrpc(a2a_stack, "GetExtendedAgentCard", {})
    assert error_code(card) == -32007
    raw = base64.b64encode(b"\x89PNG").decode()
    binary = {"messageId": "m-bin", "role": "ROLE_USER", "parts": [{"raw": raw}]}
    assert error_code(await jsonrpc(a2a_stack, "SendMessage", {"message": binary})) == -32005
    bad_model = {"message": text_message("hi"), "metadata": {"model_config": {"provider": "x"}}}
    bad = await jsonrpc(a2a_stack, "SendMessage", bad_model)
    assert error_code(bad) == -32602 and "model_config" in bad["error"]["message"]

    response = await a2a_stack.http.post("/a2a", content=b"{not json")
    assert response.status_code == 200 and response.json()["error"]["code"] == -32700
    plain = await a2a_stack.http.post(
        "/a2a", content=b"{'jsonrpc': '2.0'}", headers={"Content-Type": "text/plain"}
    )
    assert (
        plain.json()["error"]["code"] == -32005 and "text/plain" in plain.json()["error"]["message"]
    )

    done = await jsonrpc(a2a_stack, "SendMessage", {"message": text_message("end [no tools]")})
    task = done["result"]["task"]
    assert error_code(await jsonrpc(a2a_stack, "CancelTask", {"id": task["id"]})) == -32002
    after = await a2a_stack.http.post(
        "/a2a",
        json={"jsonrpc": "2.0", "id": 7, "method": "SubscribeToTask", "params": {"id": task["id"]}},
        headers={"A2A-Version": "1.0"},
    )
    assert error_code(after.json()) == -32004
    other = {"message": text_message("hi", taskId=task["id"], contextId="another-context")}
    assert error_code(await jsonrpc(a2a_stack, "SendMessage", other)) == -32602

    # the HTTP+JSON transport: an error status and body, never a 500
    rest = await a2a_stack.http.get("/a2a/rest/tasks/no-such-task", headers={"A2A-Version": "1.0"})
    assert rest.status_code == 404


async def test_wire_details(a2a_stack: Stack) -> None:
    """The JSON-RPC URL with a trailing slash (clients joining "/" to the card's URL post
    there), and HTTP+JSON answers labelled `application/json` (spec §11.1)."""
    body = {"jsonrpc": "2.0", "id": 7, "method": "GetTask", "params": {"id": "no-such-task"}}
    slash = await a2a_stack.http.post("/a2a/", json=body)
    assert slash.status_code == 200 and error_code(slash.json()) == -32001
    message = {"message": text_message("rest me [no tools]")}
    sent = await a2a_stack.http.post(
        "/a2a/rest/message:send", json=message, headers={"A2A-Version": "1.0"}
    )
    assert sent.status_code == 200 and sent.headers["content-type"] == "application/json"
    task = sent.json()["task"]
    # metadata in A2A's field style
    assert set(task["metadata"]) == {"workflowId", "usage", "iterations"}
    assert task["metadata"]["usage"]["totalTokens"] > 0
    # an unsupported media type is 415 (spec §5.4)
    raw = base64.b64encode(b"tck").decode()
    binary = {"messageId": "m-raw", "role": "ROLE_USER", "parts": [{"raw": raw}]}
    refused = await a2a_stack.http.post(
        "/a2a/rest/message:send", json={"message": binary}, headers={"A2A-Version": "1.0"}
    )
    assert refused.status_code == 415 and refused.json()["error"]["code"] == 415
    # and so is a body that is not JSON (the SDK would read it as JSON all the same)
    plain = await a2a_stack.http.post(
        "/a2a/rest/message:send",
        content=json.dumps(message).encode(),
        headers={"A2A-Version": "1.0", "Content-Type": "text/plain"},
    )
    assert plain.status_code == 415 and plain.json()["error"]["code"] == 415


async def test_v03_method_names(a2a_stack: Stack) -> None:
    message = {
        "kind": "message",
        "messageId": "m-03",
        "role": "user",
        "parts": [{"kind": "text", "text": "old client [no tools]"}],
    }
    reply = await jsonrpc(
        a2a_stack,
        "message/send",
        {"message": message, "configuration": {"blocking": True}},
        version=None,
    )
    task = reply["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "completed"
    assert task["artifacts"][0]["parts"][0] == {
        "kind": "text",
        "text": "Echo: old client [no tools]",
    }
    got = await jsonrpc(a2a_stack, "tasks/get", {"id": task["id"]}, version=None)
    assert got["result"]["id"] == task["id"] and got["result"]["contextId"] == task["contextId"]
    missing = await jsonrpc(a2a_stack, "tasks/get", {"id": "no-such-task"}, version=None)
    assert error_code(missing) == -32001
    cancel = await jsonrpc(a2a_stack, "tasks/cancel", {"id": task["id"]}, version=None)
    assert error_code(cancel) == -32002


async def test_sdk_client_on_protocol_03(a2a_stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        card = await A2ACardResolver(http, a2a_stack.url).get_agent_card()
        # The 0.3 interfaces are not in the card by default (a2a.advertise_v03): a client
        # told to speak 0.3 to the same URLs.
        for interface in card.supported_interfaces:
            interface.protocol_version = PROTOCOL_VERSION_0_3
        config = ClientConfig(streaming=False, httpx_client=http)
        client = ClientFactory(config).create(card)
        task = await send(client, user_message("via 0.3 [no tools]"))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(task) == "Echo: via 0.3 [no tools]"
        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.status.state == TaskState.TASK_STATE_COMPLETED
        streaming = ClientFactory(ClientConfig(httpx_client=http)).create(card)
        events = await collect(
            streaming.send_message(send_request(user_message("stream 0.3 [no tools]")))
        )
        assert events[-1].status.state == TaskState.TASK_STATE_COMPLETED


async def test_simplified_a2a_message_still_works(a2a_stack: Stack) -> None:
    response = await a2a_stack.http.post(
        "/a2a/message?wait=true",
        json={
            "session_id": "seed-a2a",
            "content": [{"type": "text", "text": "Hi from the seed [no tools]"}],
            "metadata": {"model_config": MODEL},
        },
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed"
    assert task["result"]["content"] == "Echo: Hi from the seed [no tools]"
    # and A2A sees the same task
    got = await jsonrpc(a2a_stack, "GetTask", {"id": task["task_id"]})
    assert got["result"]["contextId"] == "seed-a2a"
    assert got["result"]["status"]["state"] == "TASK_STATE_COMPLETED"
