"""The deployment files stay in step with the config they carry (no Docker or cluster here:
they are validated, not run)."""

from __future__ import annotations

from pathlib import Path

import yaml

from temporal_executor.config import Config, load_config

DEPLOY = Path(__file__).parent.parent / "deploy"


def test_kubernetes_config_map_is_a_valid_config() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "temporal-executor.yaml").read_text()))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ConfigMap", "Deployment", "Service", "Deployment", "HorizontalPodAutoscaler"]
    config = Config.model_validate(yaml.safe_load(docs[0]["data"]["config.yaml"]))
    assert config.server.port == 8080
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][0] in ("serve", "worker")
        names = {e["name"] for e in container["env"]}
        assert {"TEMPORAL_EXECUTOR_CONFIG", "TEMPORAL_EXECUTOR__EVENTS__URL"} <= names
        secrets = {s["secretRef"]["name"] for s in container.get("envFrom", [])}
        # Provider keys reach the workers only.
        if container["args"][0] == "serve":
            assert not {n for n in names if n.endswith("_API_KEY")} and not secrets
        else:
            assert secrets == {"temporal-executor-provider-keys"}


def test_compose_environment_is_a_valid_override() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    api = compose["services"]["api"]
    assert api["command"] == ["serve"] and compose["services"]["worker"]["command"] == ["worker"]
    env = {k: "x" if v.startswith("${") else v for k, v in api["environment"].items()}
    config = load_config(
        Path(__file__).parent.parent / "config" / "temporal-executor.yaml", env=env
    )
    assert config.temporal.host_port == "temporal:7233"
    assert config.events.url and config.events.url.startswith("postgresql://")
    worker = compose["services"]["worker"]["environment"]
    assert not [k for k in api["environment"] if k.endswith("_API_KEY")]
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} <= set(worker)
