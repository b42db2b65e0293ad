"""The codec server: Temporal's protocol (`POST /codec/decode`, `POST /codec/encode`; the body
the proto3 JSON of `temporal.api.common.v1.Payloads`), for the Temporal UI and `temporal
workflow show --codec-endpoint …/codec --codec-auth "Bearer <key>"`, mounted while
`security.encryption` has keys.

Who may decrypt what: the server is given payloads only, never the workflow they are of, so
ownership travels in the payload: the codec stamps each task's payloads with its tenant,
bound to the ciphertext (`encryption/codec.py`). A key with `read` decrypts its tenant's
payloads; an `admin` key (or anyone, with auth off) every payload; whatever the caller may
not read comes back as it was sent: the UI shows it as ciphertext. Payloads of no task (none
of ours are) are for admins only. `encode` needs `write` and stamps the caller's tenant.

Auth is the API's bearer key, or — because the Temporal UI sends a bearer token only from
an https page with its own OIDC sign-in, never from `dev`'s embedded UI — a session cookie
(`POST /codec/session` with the key sets it; the console does on sign-in). The UI sends the
cookie when its Codec Server settings have "Include cross-origin credentials" on, and CORS
(`middleware.CodecCors`) lets only the Temporal UI's origin (`temporal.ui_url`) read the
answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from ...config import Scope
from ...encryption import EncryptionCodec
from ...errors import RequestError
from ..auth import SESSION_COOKIE, Authenticator, Caller, CallerDep
from ..middleware import CODEC_PREFIX
from ..openapi import errors

__all__ = ["SESSION_LIFETIME", "codec_router"]

SESSION_LIFETIME = 12 * 3600  # seconds
_BYTES = {"type": "string", "format": "byte"}
_PAYLOADS = {
    "description": "`temporal.api.common.v1.Payloads` as proto3 JSON (bytes in base64)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "payloads": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "metadata": {"type": "object", "additionalProperties": _BYTES},
                                "data": _BYTES,
                            },
                        },
                    }
                },
            }
        }
    },
}
_TAKES_PAYLOADS = {"requestBody": {"required": True, **_PAYLOADS}}


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError as exc:
        raise RequestError(f"the body is not Temporal's Payloads JSON: {exc}") from None


def _answer(payloads: list[Payload]) -> Response:
    body = json_format.MessageToJson(Payloads(payloads=payloads))
    return Response(body, media_type="application/json")


def _tenant(caller: Caller | None, scope: Scope) -> str | None:
    """The tenant whose payloads `caller` acts on (None: every tenant's), once it is checked
    to have `scope`."""
    if caller is None:
        return None  # auth is off
    caller.require(scope)
    return None if caller.admin else caller.tenant


def codec_router(codec: EncryptionCodec, authenticator: Authenticator) -> APIRouter:
    """The codec server's routes, for `codec` (with no tenant: it opens every payload)."""
    router = APIRouter(prefix=CODEC_PREFIX.rstrip("/"), tags=["codec"])

    @router.post(
        "/decode",
        responses={200: _PAYLOADS, **errors(400, 401, 403, 413)},
        openapi_extra=_TAKES_PAYLOADS,
    )
    async def decode(request: Request, caller: CallerDep) -> Response:
        """The payloads decrypted, those the caller may read (the others as sent)."""
        tenant = _tenant(caller, Scope.READ)
        return _answer(codec.open_owned((await _payloads(request)).payloads, tenant))

    @router.post(
        "/encode",
        responses={200: _PAYLOADS, **errors(400, 401, 403, 413)},
        openapi_extra=_TAKES_PAYLOADS,
    )
    async def encode(request: Request, caller: CallerDep) -> Response:
        """The payloads encrypted (as the caller's tenant's, for a key of one tenant)."""
        sealer = EncryptionCodec(codec.keyring, _tenant(caller, Scope.WRITE))
        return _answer(await sealer.encode((await _payloads(request)).payloads))

    @router.post("/session", status_code=204, responses=errors(401, 403))
    async def start_session(request: Request, caller: CallerDep) -> Response:
        """Set the codec session cookie for the caller's key (sent with a bearer token)."""
        response = Response(status_code=204)
        if caller is None:
            return response  # auth is off: the codec server needs no session
        caller.require(Scope.READ)
        response.set_cookie(
            SESSION_COOKIE,
            authenticator.session(caller, SESSION_LIFETIME),
            max_age=SESSION_LIFETIME,
            path=CODEC_PREFIX.rstrip("/"),
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.delete("/session", status_code=204)
    async def end_session() -> Response:
        """Forget the codec session cookie (signing out of the console)."""
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path=CODEC_PREFIX.rstrip("/"), httponly=True)
        return response

    return router
