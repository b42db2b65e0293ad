"""The deployment files stay in step with the config they carry and validate against their
schemas (no Docker daemon or cluster here: they are rendered and validated, not run)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from temporal_executor.cli import _parser
from temporal_executor.config import Config, load_config
from temporal_executor.runtime import API_GRACE, WORKER_MARGIN

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
K8S_VERSION = "1.33.0"
KUSTOMIZATIONS = [KUBERNETES, *sorted((KUBERNETES / "overlays").iterdir())]


def base_documents() -> list[dict[str, Any]]:
    """The base's resources, in the order its kustomization lists them (no kubectl needed)."""
    base = KUBERNETES / "base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs.extend(yaml.safe_load_all((base / resource).read_text()))
    return docs


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize directory`: what `kubectl apply -k` would send."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_kubernetes_config_map_is_a_valid_config() -> None:
    docs = base_documents()
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "ConfigMap",
        "Secret",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]
    config = Config.model_validate(yaml.safe_load(docs[0]["data"]["config.yaml"]))
    assert config.server.port == 8080
    assert config.logging.format == "json"
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
    provider_keys = next(d for d in docs if d["metadata"]["name"].endswith("provider-keys"))
    assert set(provider_keys["stringData"]) == {"OPENAI_API_KEY"}


def _deployment(docs: list[dict[str, Any]], command: str) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            if doc["spec"]["template"]["spec"]["containers"][0]["args"][0] == command:
                return doc
    raise AssertionError(f"no {command} Deployment")


def test_pods_get_the_time_graceful_shutdown_takes() -> None:
    docs = base_documents()
    config = Config.model_validate(yaml.safe_load(docs[0]["data"]["config.yaml"]))
    worker = _deployment(docs, "worker")["spec"]["template"]["spec"]
    most = config.executor.graceful_shutdown_timeout + WORKER_MARGIN
    # The kubelet must not kill a worker before it has given up on its calls by itself.
    assert most < worker["terminationGracePeriodSeconds"] <= most + 15
    api = _deployment(docs, "serve")["spec"]["template"]["spec"]
    assert API_GRACE < api["terminationGracePeriodSeconds"] <= API_GRACE + 15
    # Each worker's metrics port is the one it serves, scraped through its own Service.
    port = worker["containers"][0]["ports"][0]
    assert port == {"name": "metrics", "containerPort": config.observability.metrics_port}
    assert worker["containers"][0]["livenessProbe"]["httpGet"]["port"] == "metrics"


def test_pods_run_restricted() -> None:
    """The Pod Security Standards' `restricted` profile, which every container meets."""
    for deployment in (d for d in base_documents() if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True
            assert "limits" in container["resources"] and "requests" in container["resources"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda d: d.name)
def test_kustomize_output_validates_against_the_kubernetes_schemas(directory: Path) -> None:
    docs = render(directory)
    assert len(docs) >= 10
    checked = 0
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            checked += 1
        except kubernetes_validate.SchemaNotFoundError:
            # A CRD (the Prometheus Operator's ServiceMonitor): no schema to check it with.
            assert doc["apiVersion"] == "monitoring.coreos.com/v1", doc["kind"]
    assert checked >= 10
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "temporal-executor"


def test_the_validator_catches_a_wrong_manifest() -> None:
    """What CI relies on: a misspelt field or a wrong type is an error, not a warning."""
    deployment = _deployment(base_documents(), "worker")
    typo = yaml.safe_load(yaml.safe_dump(deployment))
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    wrong_type = yaml.safe_load(yaml.safe_dump(deployment))
    wrong_type["spec"]["replicas"] = "3"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)


def test_the_otel_overlay_points_both_deployments_at_a_collector() -> None:
    docs = render(KUBERNETES / "overlays" / "otel-collector")
    for command in ("serve", "worker"):
        env = _deployment(docs, command)["spec"]["template"]["spec"]["containers"][0]["env"]
        names = {e["name"]: e.get("value") for e in env}
        assert names["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")
        assert names["OTEL_SERVICE_NAME"] == "temporal-executor"


@pytest.mark.parametrize("name", ["docker-compose.yaml", "docker-compose.versioning.yaml"])
def test_compose_file_validates_against_the_compose_spec(name: str) -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(DEPLOY / name)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_environment_is_a_valid_override() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    api = compose["services"]["api"]
    assert api["command"] == ["serve"] and compose["services"]["worker"]["command"] == ["worker"]
    env = {k: "x" if v.startswith("${") else v for k, v in api["environment"].items()}
    config = load_config(ROOT / "config" / "temporal-executor.yaml", env=env)
    assert config.temporal.host_port == "temporal:7233"
    assert config.temporal.ui_url == "http://localhost:8233"
    assert config.events.url and config.events.url.startswith("postgresql://")
    worker = compose["services"]["worker"]["environment"]
    assert not [k for k in api["environment"] if k.endswith("_API_KEY")]
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} <= set(worker)


def _promotes(args: list[str]) -> argparse.Namespace:
    """`args` are a valid `temporal-executor` command line that promotes this image's
    version (no --build-id: the build id the image computes, the same as its workers')."""
    parsed = _parser().parse_args(args)
    assert (parsed.command, parsed.action, parsed.build_id) == ("deployment", "set-current", None)
    assert parsed.wait >= 300  # time for a rollout's workers to start and poll
    return parsed


def test_kubernetes_worker_versioning_overlay_promotes_what_the_workers_run(
    tmp_path: Path,
) -> None:
    docs = render(KUBERNETES / "overlays" / "worker-versioning")
    (settings,) = [d for d in docs if d["metadata"]["name"].startswith("temporal-executor-deploy")]
    env = settings["data"]
    assert env == {"TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__NAME": "temporal-executor"}
    config_map = next(d for d in docs if d["metadata"]["name"] == "temporal-executor-config")
    config_file = config_map["data"]["config.yaml"]
    worker = _deployment(docs, "worker")["spec"]["template"]["spec"]["containers"][0]
    (job,) = [d for d in docs if d["kind"] == "Job"]
    promote = job["spec"]["template"]["spec"]["containers"][0]
    for container in (worker, promote):
        sources = [s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s]
        assert sources == [settings["metadata"]["name"]]
        assert container["image"] == worker["image"]
    _promotes(promote["args"])
    path = tmp_path / "config.yaml"
    path.write_text(config_file)
    config = load_config(path, env=env)
    assert config.temporal.deployment.name == "temporal-executor"
    assert config.temporal.deployment.versioning_behavior == "auto_upgrade"


def test_compose_worker_versioning_override_promotes_what_the_workers_run() -> None:
    base = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())["services"]
    override = yaml.safe_load((DEPLOY / "docker-compose.versioning.yaml").read_text())["services"]
    worker_env = {**base["worker"]["environment"], **override["worker"]["environment"]}
    promote = override["promote"]
    assert (
        promote["image"] == base["worker"]["image"] and promote["build"] == base["worker"]["build"]
    )
    _promotes(promote["command"])
    for env in (worker_env, promote["environment"]):
        values = {k: "x" if str(v).startswith("${") else v for k, v in env.items()}
        config = load_config(ROOT / "config" / "temporal-executor.yaml", env=values)
        assert config.temporal.deployment.name == "temporal-executor"
        assert config.temporal.host_port == "temporal:7233"


# The fields kagent's CRDs define (kagent v0.10 `ByoDeploymentSpec` with its inlined
# `SharedDeploymentSpec`; kagent main's v1alpha3 `HarnessSpec`): a typo would be dropped by
# the API server, or refused, without a word from us.
BYO_DEPLOYMENT_FIELDS = {
    "image", "cmd", "args", "workingDir", "replicas", "imagePullSecrets", "volumes",
    "volumeMounts", "labels", "annotations", "deploymentAnnotations", "env", "envFrom",
    "imagePullPolicy", "resources", "tolerations", "affinity", "nodeSelector",
    "securityContext", "podSecurityContext", "serviceAccountName", "serviceAccountConfig",
    "extraContainers",
}  # fmt: skip
HARNESS_FIELDS = {
    "kagent",
    "codex",
    "claude",
    "workload",
    "env",
    "substrate",
    "allowedAgentTemplates",
}
KAGENT = DEPLOY / "kagent"


def test_kagent_byo_agent_fits_v0_10(tmp_path: Path) -> None:
    (agent,) = yaml.safe_load_all((KAGENT / "byo-agent-v0.10.yaml").read_text())
    assert (agent["apiVersion"], agent["kind"]) == ("kagent.dev/v1alpha2", "Agent")
    assert agent["spec"]["type"] == "BYO"
    deployment = agent["spec"]["byo"]["deployment"]
    assert set(deployment) <= BYO_DEPLOYMENT_FIELDS
    assert deployment["args"] == ["serve"]
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    assert "/config" not in mounts.values()  # kagent's own Secret is mounted there
    volumes = {v["name"] for v in deployment["volumes"]}
    assert set(mounts) <= volumes
    # The Deployment kagent's controller makes of it (`manifest_builder.go`: container
    # `kagent`, port `http` 8080) is valid Kubernetes.
    pod = {
        "securityContext": deployment["podSecurityContext"],
        "volumes": deployment["volumes"],
        "containers": [
            {
                "name": "kagent",
                "image": deployment["image"],
                "args": deployment["args"],
                "env": deployment["env"],
                "ports": [{"name": "http", "containerPort": 8080}],
                "volumeMounts": deployment["volumeMounts"],
                "securityContext": deployment["securityContext"],
                "resources": deployment["resources"],
            }
        ],
    }
    made = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": agent["metadata"]["name"]},
        "spec": {
            "selector": {"matchLabels": {"app": "kagent"}},
            "template": {"metadata": {"labels": {"app": "kagent"}}, "spec": pod},
        },
    }
    kubernetes_validate.validate(made, K8S_VERSION, strict=True)
    # Over the ConfigMap of deploy/kubernetes/base, with the Agent's env on top.
    config_map = yaml.safe_load((DEPLOY / "kubernetes" / "base" / "configmap.yaml").read_text())
    assert deployment["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]
    env = {e["name"]: e.get("value", "x") for e in deployment["env"]}
    assert "TEMPORAL_EXECUTOR_API_KEYS" not in env  # kagent's controller sends no key
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    config = load_config(path, env=env)
    assert config.server.port == 8080 and config.a2a.jsonrpc_at_root
    # kagent's /config/config.json for a BYO agent (`compiler.go`): no model, so our agent.
    byo = {"model": None, "description": agent["spec"]["description"], "instruction": ""}
    byo_config = load_config(path, env={**env, "KAGENT_CONFIG_JSON": json.dumps(byo)})
    assert byo_config.a2a.default_agent == config.a2a.default_agent
    assert env["TEMPORAL_EXECUTOR_CONFIG"] == f"{mounts['temporal-executor-config']}/config.yaml"


def test_kagent_harness_fits_the_api_v2_runtime_contract() -> None:
    harness, template = yaml.safe_load_all((KAGENT / "api-v2" / "harness.yaml").read_text())
    assert (harness["apiVersion"], harness["kind"]) == ("kagent.dev/v1alpha3", "Harness")
    assert (template["apiVersion"], template["kind"]) == ("kagent.dev/v1alpha3", "AgentTemplate")
    assert set(harness["spec"]) <= HARNESS_FIELDS and harness["spec"]["workload"]["image"]
    selector = harness["spec"]["allowedAgentTemplates"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    variables = harness["spec"]["env"]
    assert len(variables) <= 32  # kagent's limit
    assert all(("value" in v) != ("credentialRef" in v) for v in variables)
    env = {v["name"]: v.get("value", "x") for v in variables}
    config = load_config(KAGENT / "api-v2" / "runtime.yaml", env=env)
    assert config.a2a.grpc.enabled and config.a2a.grpc.port == 80
    assert config.server.readiness_port == 8081
    assert str(config.resolved_state_dir()) == "/data"
    assert config.a2a.accept_task_ids
    assert config.a2a.subscribe_ended_task == "task_not_found"
    assert not config.server.api_keys()
    # What kagent's API-v2 compiler gives the actor (`go/core/v2/translator/compiler.go`):
    # the AgentTemplate's agent, which is then the one that answers.
    compiled = ROOT / "tests" / "kagent" / "compiled"
    kagent = {
        "KAGENT_CONFIG_JSON": (compiled / "harness.config.json").read_text(),
        "KAGENT_AGENT_CARD_JSON": (compiled / "harness.card.json").read_text(),
        "KAGENT_CREDENTIAL_E9221D870F548E96": "Bearer x",
        "OPENAI_API_KEY": "x",
    }
    config = load_config(KAGENT / "api-v2" / "runtime.yaml", env={**env, **kagent})
    assert config.a2a.default_agent.system_message.startswith("You are the docs assistant.")
    assert config.a2a.name == "docs_assistant" and "kagent_http_0" in config.tools.mcp_servers
    assert config.a2a.grpc.port == 80 and str(config.resolved_state_dir()) == "/data"
    dockerfile = (KAGENT / "api-v2" / "Dockerfile").read_text()
    assert "COPY runtime.yaml /etc/temporal-executor/config.yaml" in dockerfile
    assert 'CMD ["dev"]' in dockerfile
