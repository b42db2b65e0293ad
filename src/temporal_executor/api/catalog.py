"""`GET /api/v1/catalog`: what this server's config offers a new task — providers and their
default models, ready-made tool specs, the default agent and the executor's defaults — so a
client (the web console's New task page) can build an execute request without knowing the
config file. Secrets never appear: keys stay in the environment, MCP servers are named (their
commands, URLs, headers and environments stay in config), and a default-agent tool whose
`config` carries `headers` is left out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from ..config import Config, Scope
from ..spec import ToolSpec
from ..tools.builtin import BUILTINS, Builtin
from .auth import requires
from .openapi import errors

__all__ = ["Catalog", "CatalogProvider", "CatalogTool", "build_catalog", "router"]

router = APIRouter()


class CatalogProvider(BaseModel):
    """A configured provider; `default_model` from `llm.providers[].default_model`, else the
    default agent's model when it runs on this provider, else null."""

    name: str
    default_model: str | None = None


class CatalogTool(BaseModel):
    """A tool a task may use: `spec` is what to put into the execute body's `tools`."""

    name: str
    type: str
    description: str
    source: Literal["builtin", "mcp", "default_agent"]
    spec: ToolSpec


class DefaultModel(BaseModel):
    provider: str
    model: str


class Catalog(BaseModel):
    """What a new task can be made of on this server."""

    providers: list[CatalogProvider]
    tools: list[CatalogTool]
    default_agent: DefaultModel | None
    require_approval: bool | list[str]
    max_iterations: int


def build_catalog(config: Config) -> Catalog:
    """The catalog of `config` (built once, when the app is created)."""
    agent = config.a2a.default_agent
    agent_model = None
    if agent.model is not None:
        agent_model = DefaultModel(provider=agent.model.provider, model=agent.model.model)
    providers = [
        CatalogProvider(
            name=entry.name,
            default_model=entry.default_model
            or (agent_model.model if agent_model and agent_model.provider == entry.name else None),
        )
        for entry in config.llm.providers
    ]
    tools = [*_builtin_tools(), *_mcp_tools(config)]
    tools += [
        CatalogTool(
            name=spec.name,
            type=spec.type,
            description=spec.description,
            source="default_agent",
            spec=spec,
        )
        for spec in agent.tools
        if "headers" not in spec.config
    ]
    return Catalog(
        providers=providers,
        tools=tools,
        default_agent=agent_model,
        require_approval=config.executor.require_approval,
        max_iterations=config.executor.max_iterations,
    )


def _builtin_tools() -> list[CatalogTool]:
    found = []
    for name in BUILTINS.names():
        cls = BUILTINS.load(name)
        if not (isinstance(cls, type) and issubclass(cls, Builtin)):
            continue  # a broken plugin: submission reports it when someone uses it
        description = cls.description.strip()
        spec = ToolSpec(name=name, type="builtin")  # the built-in's schema is filled in later
        found.append(
            CatalogTool(
                name=name, type="builtin", description=description, source="builtin", spec=spec
            )
        )
    return found


def _mcp_tools(config: Config) -> list[CatalogTool]:
    return [
        CatalogTool(
            name=server,
            type="mcp",
            description=f"every tool of the MCP server {server!r}",
            source="mcp",
            spec=ToolSpec(name=server, type="mcp", config={"server": server}),
        )
        for server in sorted(config.tools.mcp_servers)
    ]


async def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


@router.get(
    "/api/v1/catalog",
    response_model=Catalog,
    tags=["catalog"],
    dependencies=[requires(Scope.READ)],
    responses=errors(),
)
async def get_catalog(catalog: Annotated[Catalog, Depends(_catalog)]) -> Catalog:
    """Providers (with default models), tool specs, the default agent and the executor's
    defaults this server offers a new task; no secret is ever part of it."""
    return catalog
