"""kagent's agent definition laid over our config (`load_config`), without a service: what
each key becomes, what is listed as not honoured, and what stops the start-up.

`compiled/` holds, byte for byte, what kagent's compilers write (from kagent's sources:
`go/core/internal/controller/translator/agent` for a SandboxAgent, `go/core/v2/translator`
for an API-v2 Harness): `*.config.json` is `KAGENT_CONFIG_JSON`, `*.card.json`
`KAGENT_AGENT_CARD_JSON`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from temporal_executor.config import Config, load_config
from temporal_executor.errors import ConfigError
from temporal_executor.tools import ToolRegistry

COMPILED = Path(__file__).with_name("compiled")
CREDENTIAL = "KAGENT_CREDENTIAL_E9221D870F548E96"


def compiled(name: str) -> str:
    return (COMPILED / name).read_text(encoding="utf-8")


def kagent_env(config: dict[str, Any] | str, **more: str) -> dict[str, str]:
    text = config if isinstance(config, str) else json.dumps(config)
    return {"KAGENT_CONFIG_JSON": text, **more}


def sandbox_config(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(compiled("sandbox-agent.config.json"))
    data.update(changes)
    return data


def load(env: dict[str, str], **sections: Any) -> Config:
    """The config of a YAML file with `sections` (none: the built-in defaults) under `env`,
    with kagent's files looked for nowhere unless a section says so."""
    data = {"kagent": {"config_path": None, "card_path": None}, **sections}
    return _load(data, env)


def _load(data: dict[str, Any], env: dict[str, str]) -> Config:
    import tempfile

    import yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as file:
        yaml.safe_dump(data, file)
    try:
        return load_config(file.name, env=env)
    finally:
        Path(file.name).unlink()


def test_the_sandbox_agent_compilers_config_is_the_agent() -> None:
    env = kagent_env(
        compiled("sandbox-agent.config.json"),
        KAGENT_AGENT_CARD_JSON=compiled("sandbox-agent.card.json"),
    )
    ours = {"name": "openai", "api_key_env": "MY_KEY", "config": {"base_url": "http://x/v1"}}
    config = load(
        env,
        llm={"providers": [ours, {"name": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"}]},
        a2a={"name": "mine", "default_agent": {"system_message": "Ours.", "tools": []}},
    )
    # The provider kagent names replaces ours of that name; the others stay.
    assert [p.name for p in config.llm.providers] == ["anthropic", "openai"]
    openai = config.provider("openai")
    assert openai is not None and openai.api_key_env == "OPENAI_API_KEY"
    assert openai.config == {"base_url": "http://llm-proxy.kagent.svc:4000/v1"}

    agent = config.a2a.default_agent
    assert agent.system_message == (
        "You are the docs assistant. Search the docs before answering; delete a page only "
        "when the user asks for it."
    )
    assert agent.model is not None
    assert (agent.model.provider, agent.model.model) == ("openai", "gpt-4o-mini")
    assert (agent.model.temperature, agent.model.stream) == (0.2, True)
    assert [t.model_dump(include={"name", "type", "config"}) for t in agent.tools] == [
        {
            "name": "kagent_http_0",
            "type": "mcp",
            "config": {
                "server": "kagent_http_0",
                "bare_names": True,
                "tool_filter": ["search_docs", "delete_page"],
            },
        },
        {
            "name": "kagent__NS__k8s_helper",
            "type": "agent",
            "config": {
                "url": "http://kagent-controller.kagent:8083/api/a2a-sandboxes/kagent/k8s-helper",
                "headers": {},
                "isolate_sessions": True,
            },
        },
        {"name": "ask_user", "type": "builtin", "config": {}},
    ]
    assert agent.tools[1].description == "Inspects Kubernetes resources and reports what it finds."
    assert agent.require_approval == ["delete_page"]
    assert config.tools.mcp_servers == {
        "kagent_http_0": {
            "transport": "streamable_http",
            "url": "http://docs-mcp.kagent.svc:8080/mcp",
            "headers": {"X-Team": "docs"},
            "startup_timeout": 30.0,
            "call_timeout": 30.0,
        }
    }
    assert config.tools.allow_private_hosts == ["docs-mcp.kagent.svc", "kagent-controller.kagent"]
    ToolRegistry(config.tools).validate(agent.tools)  # what a request with them checks

    # The card's identity is ours to show; how to reach the agent stays ours.
    assert (config.a2a.name, config.a2a.version) == ("docs_assistant", None)
    assert config.a2a.description == "Answers questions about the docs and removes stale pages."
    assert config.notes == [
        (
            logging.INFO,
            "kagent agent config (KAGENT_CONFIG_JSON): the agent is kagent's: model "
            "openai/gpt-4o-mini, tools kagent_http_0, kagent__NS__k8s_helper, ask_user, "
            "approval for delete_page",
        ),
        (
            logging.WARNING,
            "kagent agent config (KAGENT_CONFIG_JSON): not honoured: session_db_url, "
            "context_config.compaction.event_retention_size",
        ),
    ]


def test_context_compaction_is_ours_with_kagents_summarizer_semantics() -> None:
    config = load(kagent_env(compiled("sandbox-agent.config.json")))
    compaction = config.executor.compaction
    assert compaction is not None and compaction.model is not None
    assert (compaction.token_threshold, compaction.interval, compaction.overlap) == (8000, 5, 2)
    assert (compaction.model.provider, compaction.model.model) == ("openai", "gpt-4o-mini")
    assert (compaction.model.temperature, compaction.model.stream) == (0.2, False)

    # No summarizer: kagent summarizes with the agent's own model (it never drops turns).
    data = sandbox_config()
    del data["context_config"]["compaction"]["summarizer_model"]
    data["context_config"]["compaction"]["prompt_template"] = "Sum up: {conversation_history}"
    compaction = load(kagent_env(data)).executor.compaction
    assert compaction is not None and compaction.model is not None
    assert (compaction.model.provider, compaction.model.model) == ("openai", "gpt-4o-mini")
    assert compaction.prompt_template == "Sum up: {conversation_history}"

    # A summarizer behind another endpoint of the same type gets a provider of its own.
    data = sandbox_config()
    summarizer = data["context_config"]["compaction"]["summarizer_model"]
    summarizer.update({"model": "small-1", "base_url": "http://small.kagent.svc/v1"})
    config = load(kagent_env(data))
    assert [p.name for p in config.llm.providers] == ["openai", "openai-summarizer"]
    summarizing = config.provider("openai-summarizer")
    assert summarizing is not None
    assert summarizing.config == {"base_url": "http://small.kagent.svc/v1"}
    compaction = config.executor.compaction
    assert compaction is not None and compaction.model is not None
    assert (compaction.model.provider, compaction.model.model) == ("openai-summarizer", "small-1")

    data = sandbox_config()
    data["context_config"]["compaction"]["overlap_size"] = -1
    with pytest.raises(ConfigError, match=r"context_config\.compaction\.overlap_size"):
        load(kagent_env(data))


def test_the_harness_compilers_config_with_a_credential_placeholder() -> None:
    env = kagent_env(
        compiled("harness.config.json"),
        KAGENT_AGENT_CARD_JSON=compiled("harness.card.json"),
        **{CREDENTIAL: "Bearer s3cret"},
    )
    config = load(env, tools={"allow_private_hosts": True})
    server = config.tools.mcp_servers["kagent_http_0"]
    assert server["headers"] == {"Authorization": "Bearer s3cret", "X-Team": "docs"}
    assert config.tools.allow_private_hosts is True
    assert config.a2a.default_agent.require_approval is False
    assert (config.a2a.name, config.a2a.version) == ("docs_assistant", "v1")
    assert config.notes[1][1].endswith("not honoured: session_db_url")

    # Only a whole string is a placeholder; a variable that is not set stops the start-up.
    del env[CREDENTIAL]
    with pytest.raises(ConfigError) as missing:
        load(env)
    assert missing.value.message == (
        "kagent agent config (KAGENT_CONFIG_JSON): http_tools[0].params.headers.Authorization: "
        f"required environment variable {CREDENTIAL} is not set"
    )
    data = sandbox_config()
    data["http_tools"][0]["params"]["headers"] = {
        "Authorization": f"Bearer __KAGENT_ENV[{CREDENTIAL}]__",
        "X-Empty": f"__KAGENT_ENV[{CREDENTIAL}]__",
    }
    config = load(kagent_env(data, **{CREDENTIAL: ""}))
    assert config.tools.mcp_servers["kagent_http_0"]["headers"] == {
        "Authorization": f"Bearer __KAGENT_ENV[{CREDENTIAL}]__",
        "X-Empty": "",
    }


def test_keys_we_do_not_honour_are_listed_once() -> None:
    data = sandbox_config(memory={"ttl_days": 3}, share_tools=False, kagent_2_feature={"x": 1})
    del data["context_config"], data["remote_agents"], data["session_db_url"]
    data["model"].update({"headers": {"X-Org": "a"}, "frequency_penalty": 0.5})
    data["http_tools"][0]["allowed_headers"] = ["x-user-id"]
    data["http_tools"][0]["params"]["terminate_on_close"] = False
    card = json.loads(compiled("sandbox-agent.card.json"))
    card["provider"] = {"organization": "ACME", "url": "https://acme.example"}
    env = kagent_env(data, KAGENT_AGENT_CARD_JSON=json.dumps(card))
    config = load(env)
    warnings = [note for level, note in config.notes if level == logging.WARNING]
    assert warnings == [
        "kagent agent config (KAGENT_CONFIG_JSON): not honoured: memory, kagent_2_feature, "
        "model.headers, model.frequency_penalty, "
        "http_tools[0].allowed_headers, http_tools[0].params.terminate_on_close, "
        "KAGENT_AGENT_CARD_JSON: provider"
    ]


@pytest.mark.parametrize(
    ("model", "env", "provider", "settings"),
    [
        (
            {"type": "openai", "model": "gpt-4.1", "base_url": "", "max_completion_tokens": 900,
             "top_p": 0.9, "timeout": 45},
            {"OPENAI_ORGANIZATION": "org-1"},
            {"name": "openai", "api_key_env": "OPENAI_API_KEY",
             "config": {"timeout": 45.0, "organization": "org-1"}},
            {"max_tokens": 900, "top_p": 0.9},
        ),
        (
            {"type": "openai", "model": "o4-mini", "api_format": "responses",
             "reasoning_effort": "high"},
            {},
            {"name": "openai", "api_key_env": "OPENAI_API_KEY", "config": {"api": "responses"}},
            {"reasoning": {"effort": "high", "summary": False}},
        ),
        (
            {"type": "azure_openai", "model": "gpt4o", "deployment": "gpt4o-prod",
             "api_version": "2024-10-21", "max_tokens": 100},
            {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_AD_TOKEN": "t"},
            {"name": "azure-openai",
             "config": {"endpoint": "https://r.openai.azure.com", "api_version": "2024-10-21",
                        "deployments": {"gpt4o": "gpt4o-prod"},
                        "azure_ad_token_env": "AZURE_AD_TOKEN"}},
            {"max_tokens": 100},
        ),
        (
            {"type": "anthropic", "model": "claude-sonnet-4-5", "base_url": "http://proxy/",
             "max_tokens": 2048, "temperature": 1},
            {},
            {"name": "anthropic", "api_key_env": "ANTHROPIC_API_KEY",
             "config": {"base_url": "http://proxy/"}},
            {"max_tokens": 2048, "temperature": 1.0},
        ),
        (
            {"type": "gemini", "model": "gemini-2.5-flash", "max_output_tokens": 512},
            {},
            {"name": "gemini", "api_key_env": "GOOGLE_API_KEY", "config": {}},
            {"max_tokens": 512},
        ),
        (
            {"type": "gemini_anthropic", "model": "claude-sonnet-4-5"},
            {"GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_CLOUD_LOCATION": "us-east5"},
            {"name": "vertexai", "config": {"project_id": "p", "location": "us-east5"}},
            {},
        ),
        (
            {"type": "ollama", "model": "llama3.2",
             "options": {"temperature": "0.1", "num_predict": "64", "num_ctx": "8192"}},
            {"OLLAMA_API_BASE": "ollama.ai.svc:11434"},
            {"name": "ollama", "config": {"base_url": "http://ollama.ai.svc:11434/v1"}},
            {"temperature": 0.1, "max_tokens": 64},
        ),
    ],
    ids=["openai", "openai_reasoning", "azure_openai", "anthropic", "gemini", "gemini_anthropic",
         "ollama"],
)  # fmt: skip
def test_each_model_type_maps_onto_one_of_our_providers(
    model: dict[str, Any], env: dict[str, str], provider: dict[str, Any], settings: dict[str, Any]
) -> None:
    config = load(kagent_env(sandbox_config(model=model, stream=False), **env))
    (entry,) = [p for p in config.llm.providers if p.name == provider["name"]]
    assert entry.model_dump(by_alias=True, exclude_none=True, exclude={"default_model"}) == {
        "config": {},
        **provider,
    }
    chosen = config.a2a.default_agent.model
    assert chosen is not None and chosen.stream is False
    assert chosen.model_dump(exclude_none=True, exclude={"fallbacks"}) == {
        "provider": provider["name"],
        "model": model["model"],
        "stream": False,
        **settings,
    }
    unread = " ".join(note for _, note in config.notes)
    assert ("model.options.num_ctx" in unread) == (model["type"] == "ollama")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"type": "bedrock", "model": "anthropic.claude"}},
         "model.type: 'bedrock' has no provider in temporal-executor (supported: anthropic, "),
        ({"model": {"type": "openai"}}, "model.model: is required"),
        ({"model": {"type": "openai", "model": "m", "temperature": 5}},
         "model.temperature: Input should be less than or equal to 2"),
        ({"model": {"type": "openai", "model": "m", "temperature": "hot"}},
         "model.temperature: must be a number (got 'hot')"),
        ({"model": {"type": "azure_openai", "model": "m", "api_version": "v"}},
         "model.endpoint: is required (or the variable AZURE_OPENAI_ENDPOINT)"),
        ({"model": {"type": "gemini_vertex_ai", "model": "gemini-2.5-pro"}},
         "model.type: Vertex AI needs the environment variable GOOGLE_CLOUD_PROJECT"),
        ({"http_tools": [{"params": {"url": "ftp://docs/mcp"}}]},
         "http_tools[0]: config: tools.mcp_servers.kagent_http_0.url: "),
        ({"http_tools": [{"params": {"headers": {}}}]}, "http_tools[0].params.url: is required"),
        ({"sse_tools": [{"params": {"url": "http://x/sse"}, "tools": ["a", 3]}]},
         "sse_tools[0].tools[1]: must be a non-empty string"),
        ({"stdio_tools": [{"command": "npx", "dir": "relative"}]},
         "stdio_tools[0]: config: tools.mcp_servers.kagent_stdio_0.cwd: must be an absolute"),
    ],
)  # fmt: skip
def test_a_definition_that_cannot_run_stops_the_start_up(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(kagent_env(sandbox_config(**change)))
    assert refused.value.message.startswith(f"kagent agent config (KAGENT_CONFIG_JSON): {message}")

    with pytest.raises(ConfigError, match=r"KAGENT_CONFIG_JSON\): not valid JSON"):
        load(kagent_env("{not json"))


def test_kagents_files_a_byo_agent_and_turning_it_off(tmp_path: Path) -> None:
    """The files kagent mounts are read when the environment holds nothing (the variable
    wins); a config without a model (a BYO agent's) leaves our agent as it is."""
    config_file, card_file = tmp_path / "config.json", tmp_path / "agent-card.json"
    config_file.write_text(compiled("sandbox-agent.config.json"))
    card_file.write_text(compiled("sandbox-agent.card.json"))
    paths = {"config_path": str(config_file), "card_path": str(card_file)}
    config = _load({"kagent": paths}, {})
    assert config.a2a.default_agent.require_approval == ["delete_page"]
    assert config.a2a.name == "docs_assistant"
    assert str(config_file) in config.notes[0][1]

    byo = {"model": None, "description": "BYO", "instruction": "", "session_db_url": "x"}
    config = _load({"kagent": paths}, kagent_env(byo))
    assert config.a2a.default_agent.system_message is None  # the built-in default
    assert config.a2a.name == "temporal-executor" and config.tools.mcp_servers == {}
    assert config.notes == [
        (
            logging.INFO,
            "kagent agent config (KAGENT_CONFIG_JSON) has no model (a BYO agent's): the agent "
            "is the one of this service's config",
        )
    ]

    off = _load({"kagent": {**paths, "enabled": False}}, {})
    assert off.a2a.default_agent.require_approval is None and off.notes == []


def test_the_service_does_not_start_on_a_definition_that_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dev` (as `serve` and `worker`) stops before it starts anything: exit status 2, and
    the error names kagent's key."""
    from temporal_executor.cli import main

    bedrock = {"type": "bedrock", "model": "anthropic.claude-3", "region": "us-east-1"}
    monkeypatch.setenv("KAGENT_CONFIG_JSON", json.dumps(sandbox_config(model=bedrock)))
    config = tmp_path / "config.yaml"
    config.write_text("kagent: {config_path: null, card_path: null}\n")
    assert main(["--config", str(config), "--state-dir", str(tmp_path), "dev"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        "error: kagent agent config (KAGENT_CONFIG_JSON): model.type: 'bedrock' has no "
        "provider in temporal-executor"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no state written


def test_a_remote_agent_is_an_agent_tool() -> None:
    data = sandbox_config()
    (agent,) = data["remote_agents"]
    agent.update(timeout=45, headers={"x-kagent-host": "k8s-helper.kagent"})
    del agent["description"]
    config = load(kagent_env(data))
    spec = next(t for t in config.a2a.default_agent.tools if t.type == "agent")
    assert spec.description == ""  # the agent card's, when the task lists its tools
    assert spec.config["timeout"] == 45.0
    assert spec.config["headers"] == {"x-kagent-host": "k8s-helper.kagent"}

    agent["name"] = "kagent/k8s-helper"
    with pytest.raises(ConfigError) as refused:
        load(kagent_env(data))
    assert refused.value.message.startswith(
        "kagent agent config (KAGENT_CONFIG_JSON): remote_agents[0]: name: "
    )
    agent["name"], agent["url"] = "helper", "ftp://k8s-helper"
    with pytest.raises(ConfigError) as refused:
        load(kagent_env(data))
    assert "remote_agents[0]: url" in refused.value.message
