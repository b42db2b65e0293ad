"""Config: the seed's YAML shape, env overrides, and one clear line for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from temporal_executor.cli import dev_defaults
from temporal_executor.config import load_config, parse_duration
from temporal_executor.errors import ConfigError

SHIPPED = Path(__file__).parent.parent / "config" / "temporal-executor.yaml"


def test_shipped_config_loads() -> None:
    config = load_config(SHIPPED, env={})
    assert config.temporal.task_queue == "agent-execution-queue"
    assert config.executor.max_iterations == 10
    assert config.executor.timeouts.llm == 120.0
    assert config.executor.retry.llm.maximum_interval == 60.0
    assert [p.name for p in config.llm.providers] == ["openai"]
    assert config.llm.providers[0].config == {}
    model = config.a2a.default_agent.model
    assert model is not None
    assert model.model_dump(exclude_defaults=True) == {"provider": "openai", "model": "gpt-4o-mini"}


def test_dev_allows_webhooks_on_this_machine_only_by_default(tmp_path: Path) -> None:
    config = load_config(env={})
    assert config.a2a.push_notifications.allow_private_hosts is None  # serve: refused
    dev_defaults(config)
    assert config.a2a.push_notifications.allow_private_hosts == ["127.0.0.0/8", "::1", "localhost"]
    path = tmp_path / "c.yaml"
    path.write_text("a2a:\n  push_notifications:\n    allow_private_hosts: false\n")
    chosen = load_config(path, env={})
    dev_defaults(chosen)
    assert chosen.a2a.push_notifications.allow_private_hosts is False


def test_dev_runs_unversioned() -> None:
    """One process, one worker: a deployment name would leave it waiting for a promotion."""
    config = load_config(env={"TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__NAME": "fleet"})
    dev_defaults(config)
    assert config.temporal.deployment.name is None


def test_seed_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        """
temporal: {host_port: "localhost:7233", namespace: "default", task_queue: "agent-execution-queue"}
executor: {max_concurrent_workflows: 100, max_iterations: 10, require_approval: false}
llm:
  providers:
    - {name: anthropic, api_key_env: "ANTHROPIC_API_KEY"}
    - name: azure-openai
      api_key_env: "AZURE_OPENAI_API_KEY"
      config: {endpoint: "https://my-resource.openai.azure.com/", api_version: "2024-02-15-preview"}
server: {host: "0.0.0.0", port: 8080}
a2a: {enabled: true}
"""
    )
    config = load_config(path, env={})
    assert [p.name for p in config.llm.providers] == ["anthropic", "azure-openai"]
    assert config.server.port == 8080


def test_env_overrides() -> None:
    env = {
        "TEMPORAL_EXECUTOR__SERVER__PORT": "9090",
        "TEMPORAL_EXECUTOR__EXECUTOR__REQUIRE_APPROVAL": "true",
        "TEMPORAL_EXECUTOR__EXECUTOR__TIMEOUTS__TOOL": "2m",
        "TEMPORAL_EXECUTOR__LLM__PROVIDERS__0__CONFIG__BASE_URL": "http://127.0.0.1:1/v1",
        "TEMPORAL_EXECUTOR__TOOLS__ALLOW_PRIVATE_HOSTS": "[127.0.0.0/8]",
    }
    config = load_config(SHIPPED, env=env)
    assert config.server.port == 9090
    assert config.executor.require_approval is True
    assert config.executor.timeouts.tool == 120.0
    assert config.llm.providers[0].config["base_url"] == "http://127.0.0.1:1/v1"
    assert config.tools.allow_private_hosts == ["127.0.0.0/8"]
    # Without a file, an override by index applies to the built-in provider.
    bare = load_config(
        None, env={"TEMPORAL_EXECUTOR__LLM__PROVIDERS__0__CONFIG__BASE_URL": "http://x/v1"}
    )
    assert bare.llm.providers[0].name == "openai"
    assert load_config(None, env={}).llm.providers[0].config == {}


def test_worker_versioning_is_off_unless_a_deployment_is_named() -> None:
    assert load_config(SHIPPED, env={}).temporal.deployment.name is None
    env = {
        "TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__NAME": "agents-prod",
        "TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__VERSIONING_BEHAVIOR": "pinned",
    }
    deployment = load_config(SHIPPED, env=env).temporal.deployment
    assert (deployment.name, deployment.build_id) == ("agents-prod", None)
    assert deployment.versioning_behavior == "pinned"


def test_grpc_is_off_unless_asked_for() -> None:
    assert load_config(None, env={}).a2a.grpc.enabled is False
    env = {
        "TEMPORAL_EXECUTOR__A2A__GRPC__ENABLED": "true",
        "TEMPORAL_EXECUTOR__A2A__GRPC__PORT": "80",
        "TEMPORAL_EXECUTOR__A2A__GRPC__URL": "[fd00::1]:80",
    }
    grpc = load_config(SHIPPED, env=env).a2a.grpc
    assert (grpc.enabled, grpc.port, grpc.url) == (True, 80, "[fd00::1]:80")


@pytest.mark.parametrize(
    ("yaml_text", "env", "message"),
    [
        ("executor: {max_iterations: lots}", {}, "executor.max_iterations"),
        ("executor: {timeouts: {llm: soon}}", {}, "executor.timeouts.llm: not a duration"),
        ("server: {prot: 1}", {}, "server.prot: unknown key"),
        ("llm: {providers: [{api_key_env: X}]}", {}, "llm.providers.0.name"),
        ("llm: {providers: [{name: a}, {name: a}]}", {}, "listed twice"),
        ("- just a list", {}, "top level must be a mapping"),
        ("server: {port: [", {}, "line"),
        ("", {"TEMPORAL_EXECUTOR__SERVER__PORT": "http"}, "server.port"),
        ("a2a: {grpc: {url: 'grpc://agents.example.com:443'}}", {}, "a2a.grpc.url: must be"),
        ("a2a: {grpc: {port: 0}}", {}, "a2a.grpc.port"),
        ("temporal: {deployment: {name: team.a}}", {}, "temporal.deployment.name"),
        ("temporal: {deployment: {name: 'a:b'}}", {}, "temporal.deployment.name"),
        ("temporal: {deployment: {name: __a}}", {}, "must not start with __"),
        ("temporal: {deployment: {build_id: 'a b'}}", {}, "temporal.deployment.build_id"),
        ("temporal: {deployment: {versioning_behavior: sticky}}", {}, "versioning_behavior"),
        (
            "llm: {providers: [{name: openai, limits: {concurrency: 0}}]}",
            {},
            "llm.providers.0.limits.concurrency",
        ),
        (
            "llm: {providers: [{name: openai, limits: {models: {gpt-4o: {rpm: 3}}}}]}",
            {},
            "llm.providers.0.limits.models.gpt-4o.rpm: unknown key",
        ),
        ("tools: {limits: {tools: {x: {tokens_per_minute: 9}}}}", {}, "tokens_per_minute: unknown"),
        (
            "tools: {limits: {mcp_servers: {github: {}}}}",
            {},
            "'github' is not in tools.mcp_servers",
        ),
        ("triggers: {'a/b': {template: {}, secret_env: S}}", {}, "'a/b' is not a trigger name"),
        ("triggers: {hook: {template: {}, secret_env: 'A B'}}", {}, "triggers.hook.secret_env"),
        ("triggers: {hook: {template: {}}}", {}, "triggers.hook.secret_env: Field required"),
        ("triggers: {hook: {template: {}, secret_env: S, secret: x}}", {}, "unknown key"),
        ("executor: {priority: 6}", {}, "executor.priority"),
        ("executor: {fairness_key: team}", {}, "executor.fairness_key"),
        ("executor: {fairness_weights: {ci: 0}}", {}, "'ci': a weight is from 0.001 to 1000"),
        (f"executor: {{fairness_weights: {{{'k' * 65}: 2}}}}", {}, "at most 64 bytes"),
        ("executor: {concurrent_messages: queue}", {}, "executor.concurrent_messages"),
    ],
)
def test_invalid_config_is_one_clear_error(
    tmp_path: Path, yaml_text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"no-such\.yaml"):
        load_config("/no/such/dir/no-such.yaml", env={})


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("2m", 120), ("1h", 3600), (5, 5)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_cli_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("executor: {max_iterations: -3}\n")
    result = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "serve", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "executor.max_iterations" in lines[0]


def test_cli_reports_unknown_provider(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("llm: {providers: [{name: skynet}]}\n")
    result = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "--config", str(path), "worker"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "error: config: llm.providers.0.name: unknown provider 'skynet' (known: anthropic, "
    )


def test_metrics_port_null_means_no_listener(tmp_path: Path) -> None:
    """`observability.metrics_port: null` turns the worker's metrics listener off (every other
    null in a section means "the default"): workers started together must not all bind 9464."""
    path = tmp_path / "config.yaml"
    path.write_text("observability:\n  metrics_port: null\n", encoding="utf-8")
    assert load_config(path, env={}).observability.metrics_port is None
    assert load_config(None, env={}).observability.metrics_port == 9464
