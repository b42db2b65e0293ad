"""kagent's `model` → one of our providers (`llm.providers` entry) and the agent's
`model_config`.

- `openai` → `openai`: key `OPENAI_API_KEY`; `base_url`, `timeout`; organization from
  `OPENAI_ORGANIZATION`;
- `azure_openai` → `azure-openai`: key `AZURE_OPENAI_API_KEY`, else the token
  `AZURE_AD_TOKEN`; `endpoint` (or `AZURE_OPENAI_ENDPOINT`), `api_version` (or
  `OPENAI_API_VERSION`), `deployment` (default: the model's name);
- `anthropic` → `anthropic`: key `ANTHROPIC_API_KEY`; `base_url`, `timeout`;
- `gemini` → `gemini`: key `GOOGLE_API_KEY`;
- `gemini_vertex_ai`, `gemini_anthropic` (Claude on Vertex) → `vertexai`: project and
  location from `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION`, Google
  application-default credentials;
- `ollama` → `ollama`: `$OLLAMA_API_BASE/v1` (default `http://localhost:11434`), no key.
The keys come from the environment, where kagent's controller puts them.

Sampling: `temperature`, `top_p`, `max_tokens` (`max_completion_tokens`, Gemini's
`max_output_tokens`, Ollama's `options.num_predict`). The provider entry replaces one of our
config's of the same name. A type with no provider here (`bedrock`, `sap_ai_core`, `foundry`,
…) stops the start-up: that agent cannot run. Keys left unread (`headers`, `tls_*`,
`api_key_passthrough`, `frequency_penalty`, `top_k`, other Ollama options, …) are listed by the
caller. OpenAI's `reasoning_effort` is `model_config.reasoning.effort`, its `api_format:
responses` the provider's `api: responses`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import describe_validation
from ..spec import StrictModelSettings
from .definition import Keys

__all__ = ["MappedModel", "map_model"]

DEFAULT_OLLAMA = "http://localhost:11434"


@dataclass
class MappedModel:
    """Our provider entry and model settings for kagent's model; `origins` names, for each
    model setting, the kagent key it came from (for error messages)."""

    provider: dict[str, Any]
    settings: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)


def map_model(model: Keys, env: Mapping[str, str], stream: bool) -> MappedModel:
    """kagent's `model` object as ours; `ConfigError` naming the key when it cannot run."""
    kind = model.text("type", required=True)
    name = model.text("model", required=True)
    mapper = _MAPPERS.get(kind or "")
    if mapper is None:
        known = ", ".join(sorted(_MAPPERS))
        raise model.error(
            "type", f"{kind!r} has no provider in temporal-executor (supported: {known})"
        )
    mapped = mapper(model, env)
    mapped.settings = {"model": name, "stream": stream, **mapped.settings}
    mapped.origins.setdefault("model", model.path("model"))
    _check(mapped, model)
    return mapped


def _openai(model: Keys, env: Mapping[str, str]) -> MappedModel:
    config = _endpoint(model)
    if organization := env.get("OPENAI_ORGANIZATION"):
        config["organization"] = organization
    api_format = model.data.get("api_format")
    if api_format in (None, "", "chatCompletions"):
        model.skip("api_format")  # what our OpenAI provider speaks by default
    elif api_format == "responses":
        model.skip("api_format")
        config["api"] = "responses"
    provider = {"name": "openai", "api_key_env": "OPENAI_API_KEY", "config": config}
    mapped = _sampled(model, provider, ("max_tokens", "max_completion_tokens"))
    if effort := model.text("reasoning_effort"):
        mapped.settings["reasoning"] = {"effort": effort}
        mapped.origins["reasoning"] = model.path("reasoning_effort")
    return mapped


def _azure(model: Keys, env: Mapping[str, str]) -> MappedModel:
    endpoint = model.text("endpoint") or env.get("AZURE_OPENAI_ENDPOINT")
    version = model.text("api_version") or env.get("OPENAI_API_VERSION")
    if not endpoint:
        raise model.error("endpoint", "is required (or the variable AZURE_OPENAI_ENDPOINT)")
    if not version:
        raise model.error("api_version", "is required (or the variable OPENAI_API_VERSION)")
    config: dict[str, Any] = {"endpoint": endpoint, "api_version": version}
    deployment, name = model.text("deployment"), model.data.get("model")
    if deployment and deployment != name:
        config["deployments"] = {name: deployment}
    provider: dict[str, Any] = {"name": "azure-openai", "config": config}
    if env.get("AZURE_OPENAI_API_KEY") or not env.get("AZURE_AD_TOKEN"):
        provider["api_key_env"] = "AZURE_OPENAI_API_KEY"
    else:
        config["azure_ad_token_env"] = "AZURE_AD_TOKEN"
    return _sampled(model, provider, ("max_tokens",))


def _anthropic(model: Keys, env: Mapping[str, str]) -> MappedModel:
    config = _endpoint(model)
    provider = {"name": "anthropic", "api_key_env": "ANTHROPIC_API_KEY", "config": config}
    return _sampled(model, provider, ("max_tokens",))


def _gemini(model: Keys, env: Mapping[str, str]) -> MappedModel:
    provider = {"name": "gemini", "api_key_env": "GOOGLE_API_KEY", "config": {}}
    return _sampled(model, provider, ("max_output_tokens",), sampling=False)


def _vertex(model: Keys, env: Mapping[str, str]) -> MappedModel:
    config = {}
    for key, variable in (
        ("project_id", "GOOGLE_CLOUD_PROJECT"),
        ("location", "GOOGLE_CLOUD_LOCATION"),
    ):
        if not env.get(variable):
            raise model.error("type", f"Vertex AI needs the environment variable {variable}")
        config[key] = env[variable]
    return _sampled(
        model, {"name": "vertexai", "config": config}, ("max_output_tokens",), sampling=False
    )


def _ollama(model: Keys, env: Mapping[str, str]) -> MappedModel:
    host = (env.get("OLLAMA_API_BASE") or DEFAULT_OLLAMA).rstrip("/")
    if "://" not in host:
        host = f"http://{host}"
    provider = {"name": "ollama", "config": {"base_url": f"{host}/v1"}}
    mapped = MappedModel(provider, {})
    options = model.child("options")
    if options is not None:
        # Ollama's options are strings in kagent's config (map[string]string).
        for ours, theirs, kind in (
            ("temperature", "temperature", float),
            ("top_p", "top_p", float),
            ("max_tokens", "num_predict", int),
        ):
            text = options.text(theirs)
            if text is None:
                continue
            try:
                mapped.settings[ours] = kind(text)
            except ValueError:
                raise options.error(theirs, f"must be a number (got {text!r})") from None
            mapped.origins[ours] = options.path(theirs)
    return mapped


def _endpoint(model: Keys) -> dict[str, Any]:
    """The provider config for where and how long to call: `base_url` (`""` is unset: Go
    writes it so) and `timeout` (seconds)."""
    config: dict[str, Any] = {}
    if base_url := model.text("base_url"):
        config["base_url"] = base_url
    if (timeout := model.number("timeout")) is not None:
        config["timeout"] = timeout
    return config


def _sampled(
    model: Keys, provider: dict[str, Any], max_keys: tuple[str, ...], *, sampling: bool = True
) -> MappedModel:
    """`provider` with the sampling kagent's `model` sets: `temperature` and `top_p` (when
    `sampling`), and the first of `max_keys` given as `max_tokens`."""
    mapped = MappedModel(provider, {})
    if sampling:
        for key in ("temperature", "top_p"):
            if (value := model.number(key)) is not None:
                mapped.settings[key] = value
                mapped.origins[key] = model.path(key)
    for key in max_keys:
        value = model.integer(key)
        if value is not None and "max_tokens" not in mapped.settings:
            mapped.settings["max_tokens"] = value
            mapped.origins["max_tokens"] = model.path(key)
    return mapped


def _check(mapped: MappedModel, model: Keys) -> None:
    """The settings as a config gives them (bounds checked), naming kagent's key."""
    try:
        StrictModelSettings.model_validate({"provider": mapped.provider["name"], **mapped.settings})
    except ValidationError as exc:
        origins = mapped.origins

        def key(loc: tuple[int | str, ...]) -> str:
            return origins.get(str(loc[0]), model.path(str(loc[0]))) if loc else model.where

        summary, _ = describe_validation(exc, field=key)
        raise model.source.error("", summary) from None


_MAPPERS: dict[str, Callable[[Keys, Mapping[str, str]], MappedModel]] = {
    "openai": _openai,
    "azure_openai": _azure,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "gemini_vertex_ai": _vertex,
    "gemini_anthropic": _vertex,
    "ollama": _ollama,
}
