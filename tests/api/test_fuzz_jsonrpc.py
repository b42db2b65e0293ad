"""A2A JSON-RPC under garbage, against the real service (`service_url`): malformed
envelopes, wrong types, huge ids, unknown methods (1.0 and 0.3 names), batches, bodies that
are not JSON or not UTF-8, wrong content types. Every answer is a JSON-RPC response (an
error, mostly), never a 5xx and never a broken body; fixed seed, bounded count."""

from __future__ import annotations

import json
import os
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("TE_FUZZ_EXAMPLES", "12")) * 12
METHODS = [
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "ListTasks",
    "CancelTask",
    "SubscribeToTask",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
    "GetExtendedAgentCard",
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list",
    "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/a2a+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    scalars,
    st.integers(min_value=2**63, max_value=2**200),  # huge
    st.text(min_size=500, max_size=2000),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
message = st.fixed_dictionaries(
    {
        "messageId": st.one_of(st.text(max_size=20), scalars),
        "role": st.sampled_from(["ROLE_USER", "ROLE_AGENT", "user", "x", 3]),
        "parts": st.one_of(
            st.lists(st.fixed_dictionaries({"text": st.text(max_size=30)}), max_size=3),
            json_values,
        ),
    },
    optional={"taskId": st.one_of(st.text(max_size=150), scalars), "metadata": json_values},
)
params = st.one_of(
    json_values,
    st.fixed_dictionaries({"message": message}),
    st.fixed_dictionaries({"id": ids}, optional={"historyLength": scalars}),
    st.fixed_dictionaries(
        {}, optional={"pageSize": scalars, "pageToken": scalars, "status": scalars}
    ),
)
envelope = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.one_of(st.just("2.0"), scalars),
        "id": ids,
        "method": st.one_of(st.sampled_from(METHODS), st.text(max_size=40), scalars),
        "params": params,
    },
)
documents = st.one_of(envelope, st.lists(envelope, max_size=4), json_values)
raw_bodies = st.one_of(
    documents.map(lambda d: json.dumps(d).encode()),
    documents.map(lambda d: json.dumps(d).encode()[:-1]),  # truncated
    st.binary(max_size=200),  # not JSON, often not UTF-8
    st.integers(min_value=60, max_value=200).map(lambda n: b"[" * n + b"]" * n),
    st.just(b""),
)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
@given(
    body=raw_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    path=st.sampled_from(["/a2a", "/a2a/"]),
)
def test_jsonrpc_fuzz(
    service_url: str, session: requests.Session, body: bytes, content_type: str | None, path: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = session.post(service_url + path, data=body, headers=headers, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    media = response.headers["content-type"].split(";")[0]
    if media == "text/event-stream":  # a stream: every event a JSON-RPC response
        for line in response.text.splitlines():
            if line.startswith("data:"):
                assert_response(json.loads(line[5:]), None)
        return
    assert media == "application/json", response.headers
    answer = response.json()
    try:
        sent = json.loads(body)
    except ValueError:
        sent = None
    for one in answer if isinstance(answer, list) else [answer]:
        assert_response(one, sent)


def assert_response(answer: Any, sent: Any) -> None:
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
        assert error["code"] != -32603, answer  # internal error: a bug of ours or the SDK's
    if isinstance(sent, dict) and answer.get("id") is not None:
        assert answer["id"] == sent.get("id"), (answer, sent)
