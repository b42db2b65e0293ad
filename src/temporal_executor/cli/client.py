"""The client commands, over the service's REST API: `run` (submit a task and print its
events live, asking for approvals and answers on a terminal), `approvals` (the inbox of
pending tool calls), `approve` (with edited arguments: `--arguments`, `--edit`), `answer`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from ..config import Config
from ..errors import ExecutorError
from ..tasks import workflow_id

__all__ = [
    "TOKEN_ENV",
    "URL_ENV",
    "answer",
    "api_client",
    "api_url",
    "approvals",
    "approve",
    "call",
    "clip",
    "describe_usage",
    "execute_body",
    "first_line",
    "follow",
    "print_table",
    "reachable",
    "run",
]

URL_ENV = "TEMPORAL_EXECUTOR_URL"
TOKEN_ENV = "TEMPORAL_EXECUTOR_TOKEN"


def api_url(config: Config) -> str:
    return f"http://{reachable(config.server.host)}:{config.server.port}"


def reachable(host: str) -> str:
    """A bind address as a client on this machine dials it."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def api_client(config: Config, args: argparse.Namespace) -> httpx.Client:
    """The API at `--url` (else `$TEMPORAL_EXECUTOR_URL`, else config's), with a bearer key."""
    url = args.url or os.environ.get(URL_ENV) or api_url(config)
    keys = config.server.api_keys()
    token = os.environ.get(TOKEN_ENV) or (keys[0].secret if keys else None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0, read=None))


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One API call's JSON answer; an `ExecutorError` with the API's message for an error."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise ExecutorError(
            f"cannot reach the API at {client.base_url} ({exc}); "
            "is `temporal-executor dev` running?"
        ) from None
    body: dict[str, Any] = response.json() if response.content else {}
    if response.is_error:
        error = body.get("error", {})
        raise ExecutorError(f"{response.status_code}: {error.get('message', response.text)}")
    return body


def run(config: Config, args: argparse.Namespace) -> int:
    body = execute_body(config, args)
    options = ["task_id", "session_id", "max_iterations", "require_approval", "priority"]
    for key in [*options, "concurrent_messages"]:
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    with api_client(config, args) as client:
        accepted = call(client, "POST", "/api/v1/execute", json=body)
        task_id = accepted["task_id"]
        print(f"task {task_id} (workflow {accepted['workflow_id']})", file=sys.stderr)
        return follow(client, task_id)


def execute_body(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    """An execute body from `args.prompt` and the options `run` and `schedule create` share
    (`--provider`, `--model`, `--system`, `--tools`, `--no-stream`), over the defaults of
    `a2a.default_agent`."""
    default = config.a2a.default_agent
    model: dict[str, Any] = default.model.model_dump(exclude_none=True) if default.model else {}
    if args.provider:
        model["provider"] = args.provider
    if args.model:
        model["model"] = args.model
    if not model.get("provider") and config.llm.providers:
        model["provider"] = config.llm.providers[0].name
    if not model.get("model"):
        raise ExecutorError("no model: pass --model (or set a2a.default_agent.model_config)")
    if args.no_stream:
        model["stream"] = False
    body: dict[str, Any] = {
        "user_message": args.prompt,
        "system_message": args.system or default.system_message,
        "model_config": model,
        "tools": [t.model_dump() for t in default.tools],
    }
    if args.tools:
        body["tools"] = json.loads(Path(args.tools).read_text(encoding="utf-8"))
    return body


def follow(client: httpx.Client, task_id: str) -> int:
    """Print the task's events until it ends; reconnect with Last-Event-ID if cut off."""
    printer = _Printer(client, task_id)
    last_id = 0
    for _attempt in range(20):
        try:
            for seq, type, data in _sse(client, task_id, last_id):
                last_id = seq
                code = printer.show(type, data)
                if code is not None:
                    return code
        except httpx.TransportError:
            pass  # the connection dropped: resume after the last event seen
    raise ExecutorError(f"lost the event stream of task {task_id}")


def _sse(client: httpx.Client, task_id: str, after: int) -> Iterator[tuple[int, str, Any]]:
    headers = {"Last-Event-ID": str(after)} if after else {}
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", headers=headers) as response:
        if response.is_error:
            response.read()
            raise ExecutorError(f"{response.status_code}: {response.text}")
        seq, type, data = 0, "message", ""
        for line in response.iter_lines():
            if line.startswith("id:"):
                seq = int(line[3:].strip())
            elif line.startswith("event:"):
                type = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                yield seq, type, json.loads(data)
                type, data = "message", ""


def _interactive(hint: str) -> bool:
    """Whether a person at this terminal answers; when not, `hint` says how to from elsewhere."""
    if sys.stdin.isatty():
        return True
    print(f"  {hint}", file=sys.stderr)
    return False


def describe_usage(usage: dict[str, Any]) -> str:
    """A task's usage (`Usage.report`) in words: its tokens, or "tokens unknown" when a call
    did not report them; its cost when it is known."""
    tokens = usage.get("total_tokens")
    if tokens is None and usage.get("unreported"):
        calls = usage["unreported"]
        text = f"tokens unknown ({calls} LLM call{'s' if calls != 1 else ''} reported no usage)"
    else:
        text = f"{tokens or 0} tokens"
    cost = usage.get("cost")
    return text if cost is None else f"{text}, ${cost:.6f}"


class _Printer:
    def __init__(self, client: httpx.Client, task_id: str) -> None:
        self.client, self.task_id = client, task_id
        self.streamed = False

    def show(self, type: str, data: dict[str, Any]) -> int | None:
        out = sys.stdout
        if type == "llm.delta":
            out.write(data["text"])
            self.streamed = True
        elif type == "llm.restart":
            out.write("\n[the LLM call is being retried; its answer restarts]\n")
        elif type == "llm.message":
            if self.streamed:
                out.write("\n")
            elif data.get("content") and not data.get("tool_calls"):
                out.write(data["content"] + "\n")
            self.streamed = False
        elif type == "tool.call":
            out.write(f"-> {data['name']}({json.dumps(data['arguments'])})\n")
        elif type == "tool.result":
            flag = " [error]" if data.get("is_error") else ""
            out.write(f"<- {data['name']}{flag}: {clip(data['content'])}\n")
        elif type == "approval.required":
            self._ask(data["tool_calls"])
        elif type == "approval.decided":
            out.write(f"[{'approved' if data['approved'] else 'rejected'}]\n")
        elif type == "input.required":
            self._questions(data["questions"])
        elif type == "input.answered":
            out.write("[answered]\n")
        elif type == "task.waiting_for_capacity":
            print(f"[waiting for capacity ({data['limit']}): {data['reason']}]", file=sys.stderr)
        elif type == "task.completed":
            print(f"[completed: {describe_usage(data.get('usage') or {})}]", file=sys.stderr)
            return 0
        elif type == "task.failed":
            print(f"[failed: {data.get('error', {}).get('message')}]", file=sys.stderr)
            return 1
        elif type == "task.cancelled":
            print("[cancelled]", file=sys.stderr)
            return 1
        out.flush()
        return None

    def _ask(self, calls: list[dict[str, Any]]) -> None:
        names = ", ".join(f"{c['name']}({json.dumps(c['arguments'])})" for c in calls)
        print(f"approval required for: {names}", file=sys.stderr)
        if not _interactive(f"decide with: temporal-executor approve {self.task_id} [--reject]"):
            return
        answer = input("approve? [y/N] ").strip().lower()
        body = {"approved": answer in ("y", "yes")}
        call(self.client, "POST", f"/api/v1/approve/{workflow_id(self.task_id)}", json=body)

    def _questions(self, questions: list[dict[str, Any]]) -> None:
        for question in questions:
            choices = f" [{' / '.join(question['choices'])}]" if question.get("choices") else ""
            print(f"question: {question['question']}{choices}", file=sys.stderr)
        hint = f"answer with: temporal-executor answer {self.task_id} ANSWER… (one a question)"
        if not _interactive(hint):
            return
        answers = []
        for question in questions:
            said = input(f"{question['question']} ").strip()
            several = question.get("multiple")
            answers.append([a.strip() for a in said.split(",")] if several else [said])
        call(self.client, "POST", f"/api/v1/tasks/{self.task_id}/answer", json={"answers": answers})


def first_line(error: BaseException) -> str:
    text = str(error)
    message = text.split("message: ", 1)[-1] if "message: " in text else text
    return clip(message.split("\\n")[0].strip('"'), 200)


def clip(text: str, limit: int = 300) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def approvals(config: Config, args: argparse.Namespace) -> int:
    """Print the tool calls waiting for a decision, newest first."""
    params = {"limit": args.limit, "session_id": args.session, "tool": args.tool}
    with api_client(config, args) as client:
        page = call(
            client, "GET", "/api/v1/approvals", params={k: v for k, v in params.items() if v}
        )
    calls = page["approvals"]
    if args.json:
        print(json.dumps(calls, indent=2))
        return 0
    if not calls:
        print("no tool call is waiting for a decision")
        return 0
    now = time.time()
    rows = [("TASK", "SESSION", "TOOL", "CALL", "WAITING", "ARGUMENTS")]
    rows += [
        (
            c["task_id"],
            c["session_id"],
            c["tool_name"],
            c["tool_call_id"],
            _age(now - c["requested_at"]) if c.get("requested_at") else "?",
            clip(json.dumps(c["arguments"]), 60),
        )
        for c in calls
    ]
    print_table(rows)
    if page.get("next_offset") is not None:
        print(f"… more: --limit {args.limit + 50}")
    return 0


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows (a header first) in aligned columns; the last column as it is (it may be long)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1])


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def approve(config: Config, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"approved": not args.reject, "reason": args.reason}
    if args.remember:
        body["remember"] = "session"
    with api_client(config, args) as client:
        if args.arguments is not None or args.edit:
            if args.reject:
                raise ExecutorError("--arguments / --edit go with an approval, not --reject")
            pending = _pending_call(client, args.task_id, args.call)
            edited = (
                _parse_arguments(args.arguments, "--arguments")
                if args.arguments is not None
                else _edit(pending["arguments"])
            )
            edit = {"approved": True, "reason": args.reason, "arguments": edited}
            body["tool_calls"] = {pending["id"]: edit}
        call(client, "POST", f"/api/v1/approve/{workflow_id(args.task_id)}", json=body)
    print(f"{'rejected' if args.reject else 'approved'}: task {args.task_id}")
    return 0


def _pending_call(client: httpx.Client, task_id: str, call_id: str | None) -> dict[str, Any]:
    """The pending call to edit: `call_id`, or the only one."""
    state = call(client, "GET", f"/api/v1/tasks/{task_id}")
    calls = (state.get("pending_approval") or {}).get("tool_calls") or []
    if call_id is not None:
        calls = [c for c in calls if c["id"] == call_id]
    if not calls:
        raise ExecutorError(f"task {task_id} has no pending tool call {call_id or ''}".strip())
    if len(calls) > 1:
        ids = ", ".join(c["id"] for c in calls)
        raise ExecutorError(f"{len(calls)} calls are pending ({ids}): pick one with --call")
    found: dict[str, Any] = calls[0]
    return found


def _edit(arguments: dict[str, Any]) -> Any:
    """The arguments after a person edited them in `$EDITOR`."""
    with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as file:
        json.dump(arguments, file, indent=2)
        path = Path(file.name)
    try:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        if subprocess.call([*shlex.split(editor), str(path)]) != 0:
            raise ExecutorError(f"{editor} exited with an error: nothing was sent")
        return _parse_arguments(path.read_text(), "the edited arguments")
    finally:
        path.unlink(missing_ok=True)


def _parse_arguments(text: str, what: str) -> Any:
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExecutorError(f"{what} are not JSON ({exc}): nothing was sent") from None
    if not isinstance(arguments, dict):
        raise ExecutorError(f"{what} must be a JSON object: nothing was sent")
    return arguments


def answer(config: Config, args: argparse.Namespace) -> int:
    answers = json.loads(args.json) if args.json else [[answer] for answer in args.answers]
    if not answers:
        raise ExecutorError("give an ANSWER per question, or --json")
    with api_client(config, args) as client:
        call(client, "POST", f"/api/v1/tasks/{args.task_id}/answer", json={"answers": answers})
    print(f"answered: task {args.task_id}")
    return 0
