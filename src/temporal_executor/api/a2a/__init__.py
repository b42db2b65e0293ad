"""The A2A server, built on the official `a2a-sdk`, mounted in our FastAPI app.

- `GET /.well-known/agent-card.json`: the agent card (`card.py`);
- `POST /a2a`: JSON-RPC with the 1.0 method names (`SendMessage`, `SendStreamingMessage`,
  `GetTask`, `ListTasks`, `CancelTask`, `SubscribeToTask`, push notification configs) and
  the 0.3 ones (`message/send`, `message/stream`, `tasks/get`, `tasks/resubscribe`, …);
- `/a2a/rest/…`: HTTP+JSON (`POST /message:send`, `GET /tasks/{id}`, …; 0.3 under `/v1`;
  1.0 also under `/a2a/rest/{tenant}/…`).

Modules: `server.py` (what the app mounts: routes, card, headers), `handler.py` (the
`RequestHandler`), `executor.py` (our `AgentExecutor`: start / resume the workflow, relay its
events), `task_store.py` (the `TaskStore` over `TenantTasks`), `tenancy.py` (the tenant a
call acts in, and its parts), `view.py` (our events as an A2A
task), `hitl.py` (approval over A2A), `push.py` (webhook delivery) and `push_configs.py`
(their configs), `card.py`, `errors.py` (our errors as A2A errors).

A request without an `A2A-Version` header that uses the 1.0 method names or paths is taken
as 1.0 (the header is for telling 0.3 and 1.0 apart, and the names already do).
"""

from __future__ import annotations

from .server import A2AServer

__all__ = ["A2AServer"]
