"""`GET /api/v1/catalog`: what the server's config offers a new task, without its secrets."""

from __future__ import annotations

from temporal_executor.api.catalog import build_catalog
from temporal_executor.config import Config
from tests.conftest import Stack


def test_catalog_from_config() -> None:
    config = Config.model_validate(
        {
            "executor": {"require_approval": ["get_weather"], "max_iterations": 7},
            "llm": {
                "providers": [
                    {"name": "openai", "api_key_env": "SECRET_ENV_NAME"},
                    {"name": "anthropic", "default_model": "claude-sonnet-4-5"},
                    {"name": "ollama", "config": {"base_url": "http://127.0.0.1:11434/v1"}},
                ]
            },
            "tools": {
                "mcp_servers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}},
            },
            "a2a": {
                "default_agent": {
                    "model_config": {"provider": "openai", "model": "gpt-4o"},
                    "tools": [
                        {
                            "name": "lookup",
                            "description": "Look it up",
                            "config": {"endpoint": "https://tools.example.com/lookup"},
                        },
                        {
                            "name": "private",
                            "config": {
                                "endpoint": "https://tools.example.com/p",
                                "headers": {"Authorization": "Bearer hunter2"},
                            },
                        },
                    ],
                }
            },
        }
    )
    catalog = build_catalog(config)
    assert [(p.name, p.default_model) for p in catalog.providers] == [
        ("openai", "gpt-4o"),  # the default agent's model on that provider
        ("anthropic", "claude-sonnet-4-5"),  # llm.providers[].default_model
        ("ollama", None),
    ]
    tools = {(t.name, t.type, t.source) for t in catalog.tools}
    assert {("calculator", "builtin", "builtin"), ("ask_user", "builtin", "builtin")} <= tools
    assert ("time", "mcp", "mcp") in tools
    assert ("lookup", "http", "default_agent") in tools
    assert all(t.name != "private" for t in catalog.tools)  # its config carries headers
    time = next(t for t in catalog.tools if t.name == "time")
    assert time.spec.config == {"server": "time"}  # the server's command stays in config
    assert all(t.description for t in catalog.tools)
    assert catalog.default_agent is not None and catalog.default_agent.model == "gpt-4o"
    assert catalog.require_approval == ["get_weather"] and catalog.max_iterations == 7
    text = catalog.model_dump_json()
    for secret in ("SECRET_ENV_NAME", "hunter2", "mcp-server-time", "11434"):
        assert secret not in text


async def test_catalog_endpoint_and_its_specs_submit(stack: Stack) -> None:
    response = await stack.http.get("/api/v1/catalog")
    assert response.status_code == 200
    catalog = response.json()
    assert catalog["providers"] == [{"name": "openai", "default_model": "gpt-4o-mini"}]
    assert catalog["max_iterations"] == 5
    calculator = next(t for t in catalog["tools"] if t["name"] == "calculator")
    # A spec from the catalog is a valid tool of an execute request as it is.
    accepted = await stack.execute(
        user_message="2+2? [no tools]",
        model_config={"provider": "openai", "model": "gpt-4o-mini"},
        tools=[calculator["spec"]],
    )
    assert accepted["status"] == "running"
    openapi = (await stack.http.get("/openapi.json")).json()
    assert "/api/v1/catalog" in openapi["paths"]
    assert not any(path.startswith("/ui") for path in openapi["paths"])


async def test_console_pages_are_served(stack: Stack) -> None:
    root = await stack.http.get("/ui", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    for path, marker in (
        ("/ui/", "<h1>Tasks</h1>"),
        ("/ui/approvals", "<h1>Approvals</h1>"),
        ("/ui/new", "<h1>New task</h1>"),
        ("/ui/login", "<h1>Sign in</h1>"),
        ("/ui/tasks/t%3C1", "Task <code>t&lt;1</code>"),  # the id is escaped
    ):
        page = await stack.http.get(path)
        assert page.status_code == 200 and marker in page.text, path
    script = await stack.http.get("/ui/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert (await stack.http.get("/ui/static/nope.js")).status_code == 404
