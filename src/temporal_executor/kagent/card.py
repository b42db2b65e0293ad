"""kagent's agent card (`KAGENT_AGENT_CARD_JSON`) → our `a2a` keys.

Who the agent is comes from kagent's card: `name`, `description`, `version`, `iconUrl`,
`documentationUrl`, `skills` (`id`, `name`, `description`, `tags`, `examples`). How to reach
it and what it speaks are ours, whatever the card says: `supportedInterfaces` (and the 0.3
`url`, `preferredTransport`, `additionalInterfaces`, `protocolVersion`), `capabilities` (ours
declare streaming, push notifications and the HITL extension, kagent's
`https://kagent.dev/extensions/hitl/v1`), the input and output modes and security. Other keys
are left unread, and so listed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import describe_validation
from .definition import Keys

__all__ = ["map_card"]

# Where and how the agent is reached: what our card says, from our config.
_OURS = (
    "supportedInterfaces",
    "capabilities",
    "defaultInputModes",
    "defaultOutputModes",
    "securitySchemes",
    "securityRequirements",
    "security",
    "url",
    "preferredTransport",
    "additionalInterfaces",
    "protocolVersion",
)


def map_card(card: Keys) -> dict[str, Any]:
    """The `a2a` keys kagent's card sets."""
    from ..config.a2a import A2ASkill  # the config package imports this one

    for key in _OURS:
        card.skip(key)
    a2a: dict[str, Any] = {}
    for ours, theirs in (
        ("name", "name"),
        ("description", "description"),
        ("version", "version"),
        ("icon_url", "iconUrl"),
        ("documentation_url", "documentationUrl"),
    ):
        if value := card.text(theirs):
            a2a[ours] = value
    skills = []
    for skill in card.children("skills"):
        data = {
            "id": skill.text("id"),
            "name": skill.text("name"),
            "description": skill.text("description") or "",
            "tags": skill.strings("tags"),
            "examples": skill.strings("examples"),
        }
        for key in ("inputModes", "outputModes"):
            skill.skip(key)  # ours, as the card's
        _check_skill(A2ASkill, data, skill)
        skills.append(data)
    if skills:
        a2a["skills"] = skills
    return a2a


def _check_skill(model: type[BaseModel], data: dict[str, Any], skill: Keys) -> None:
    """A skill as our config takes it, or a `ConfigError` naming the card's key."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        summary, _ = describe_validation(exc, field=lambda loc: skill.path(str(loc[0])))
        raise skill.source.error("", summary) from None
