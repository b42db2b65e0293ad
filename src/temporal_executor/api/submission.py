"""From a request to a workflow input, on the API, from config alone.

The request is checked against what this server is configured with (a provider configured
under that name, tool specs that their tool types accept, bounds) and every default is
resolved, so a bad request is a 400 before any workflow starts. No provider is built and no
key is read here: the API process holds no provider secret. Whether a worker has the key is
the worker's to find out (the task then fails with `provider_not_configured`).
"""

from __future__ import annotations

import uuid

from ..config import Config
from ..errors import RequestError
from ..llm.catalog import ProviderCatalog
from ..tools import ToolRegistry
from ..workflows import AgentInput, TaskPolicies
from .bodies import ExecuteRequest

__all__ = ["Submissions"]


class Submissions:
    """Checks requests and resolves their defaults (`prepare`)."""

    def __init__(self, config: Config, providers: ProviderCatalog, tools: ToolRegistry) -> None:
        self.executor = config.executor
        self.providers = providers
        self.tools = tools

    def prepare(self, request: ExecuteRequest) -> AgentInput:
        """Raise a `RequestError` (400) unless this server can run `request`; else the
        workflow input with every default resolved."""
        self.providers.get(request.model.provider)
        self.tools.validate(request.tools)
        executor = self.executor
        max_iterations = request.max_iterations or executor.max_iterations
        if max_iterations > executor.max_iterations:
            raise RequestError(
                f"max_iterations may be at most {executor.max_iterations} on this server",
                details={"max_iterations": max_iterations},
            )
        require_approval = request.require_approval
        if require_approval is None:
            require_approval = executor.require_approval
        task_id = request.task_id or uuid.uuid4().hex
        return AgentInput(
            task_id=task_id,
            session_id=request.session_id or task_id,
            user_message=request.user_message,
            user_message_id=request.message_id,
            system_message=request.system_message,
            model=request.model,
            tools=request.tools,
            max_iterations=max_iterations,
            require_approval=require_approval,
            expand_tools=self.tools.expands(request.tools),
            policies=TaskPolicies.of(executor),
        )
