"""A2A over gRPC: the SDK's servicers over our one `TemporalRequestHandler`, on a `grpc.aio`
server that starts and stops with the app (see `A2AServer`).

- `lf.a2a.v1.A2AService` (A2A 1.0, the SDK's `GrpcHandler`) and `a2a.v1.A2AService` (0.3,
  its `CompatGrpcHandler`) on one port, so every call behaves as over JSON-RPC: the same
  durable tasks, streams, resubscription and push configs;
- `grpc.health.v1.Health`: SERVING for the server and both A2A services (kagent's runtimes
  are probed this way), NOT_SERVING once the server stops;
- the `a2a-version` metadata is checked (absent means 1.0, as on our 1.0 HTTP routes: the
  service name already says 1.0); the SDK's handler does not check it;
- errors carry `google.rpc.ErrorInfo{reason, domain: "a2a-protocol.org"}` with the status
  codes of the spec's error table (§5.4, v1.0.0: UNIMPLEMENTED for push not supported,
  unsupported operation and version not supported; the SDK follows the later v1.0.1 and says
  FAILED_PRECONDITION — its client maps errors by reason, so it reads either); an
  unexpected exception is INTERNAL, never a stack trace;
- with API keys configured, every call needs `authorization: Bearer <key>` metadata
  (else UNAUTHENTICATED), as `BearerAuth` does for HTTP;
- requests are capped at `server.max_body_bytes`, as HTTP bodies are (else
  RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
import grpc.aio
from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc
from a2a.compat.v0_3.grpc_handler import CompatGrpcHandler
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import (
    DefaultGrpcServerCallContextBuilder,
    GrpcHandler,
    RequestHandler,
)
from a2a.types import a2a_pb2, a2a_pb2_grpc
from a2a.utils.constants import PROTOCOL_VERSION_1_0, VERSION_HEADER
from a2a.utils.errors import (
    A2A_ERROR_MAPPING,
    A2AError,
    InternalError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    UnsupportedOperationError,
    VersionNotSupportedError,
)
from a2a.utils.grpc_status import status_to_grpc
from a2a.utils.proto_utils import validation_errors_to_bad_request
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from ...config import Config
from ...errors import ExecutorError, ForbiddenError, UnauthorizedError
from ..auth import CALLER_STATE, Authenticator, Caller
from .access import method_scope

__all__ = ["A2A_SERVICE", "GrpcServer"]

logger = logging.getLogger(__name__)

A2A_SERVICE = a2a_pb2.DESCRIPTOR.services_by_name["A2AService"].full_name  # lf.a2a.v1.…
A2A_SERVICE_V03 = "a2a.v1.A2AService"
# The caller `_Guard` found, for `_CallContextBuilder` (same task: the call's behaviour).
_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("grpc_caller", default=None)
GRACE = 5.0  # seconds running calls get to finish at shutdown, as uvicorn gives HTTP ones

# Spec v1.0.0 §5.4; the other errors have the code the SDK's table gives.
_UNIMPLEMENTED: tuple[type[A2AError], ...] = (
    PushNotificationNotSupportedError,
    UnsupportedOperationError,
    VersionNotSupportedError,
)
_VERSION_1_0 = re.compile(r"^1\.0(\.\d+)?$")


class GrpcServer:
    """The gRPC listener of `handler` at `a2a.grpc.host` (else `server.host`) and
    `a2a.grpc.port`; `start()` and `stop()` run inside the event loop that serves it."""

    def __init__(self, config: Config, handler: RequestHandler) -> None:
        self.config = config
        self.handler = handler
        self.port: int | None = None  # the bound port, once started
        self._server: grpc.aio.Server | None = None
        self._health = health_aio.HealthServicer()

    async def start(self) -> None:
        settings, limit = self.config.a2a.grpc, self.config.server.max_body_bytes
        server = grpc.aio.server(
            interceptors=[_Guard(Authenticator(self.config.server.api_keys()))],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a shared port
            ],
        )
        # The generated registration functions are untyped.
        a2a_pb2_grpc.add_A2AServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(self.handler, context_builder=_CallContextBuilder()), server
        )
        a2a_v0_3_pb2_grpc.add_A2AServiceServicer_to_server(  # type: ignore[no-untyped-call]
            CompatGrpcHandler(self.handler), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        host = settings.host or self.config.server.host
        address = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise ExecutorError(f"a2a.grpc: cannot listen on {address}: {exc}") from None
        await server.start()
        for service in ("", A2A_SERVICE, A2A_SERVICE_V03):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        logger.info("A2A gRPC listening on %s", address)

    async def stop(self) -> None:
        """Refuse new calls, give running ones `GRACE` seconds, then cancel them (a
        client's stream then ends UNAVAILABLE; its task runs on, durable)."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        await self._server.stop(GRACE)
        self._server = None


class _CallContextBuilder(DefaultGrpcServerCallContextBuilder):
    """The SDK's context (user, `a2a-extensions`) plus the metadata as `state["headers"]`,
    as the HTTP routes give it, and the `a2a-version` check."""

    def build(self, context: grpc.aio.ServicerContext[Any, Any]) -> ServerCallContext:
        call = super().build(context)
        headers: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if key.endswith("-bin"):
                continue
            key, text = key.lower(), value if isinstance(value, str) else value.decode()
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        call.state["headers"] = headers
        call.state[CALLER_STATE] = _CALLER.get()  # as BearerAuth stores it for HTTP
        version = headers.get(VERSION_HEADER.lower(), "").strip() or PROTOCOL_VERSION_1_0
        if not _VERSION_1_0.match(version):
            # Inside the handler's error handling (it builds the context in its `try`).
            raise VersionNotSupportedError(
                f"A2A version {version!r} is not supported on {A2A_SERVICE}: send "
                f"a2a-version: {PROTOCOL_VERSION_1_0} (0.3 clients: {A2A_SERVICE_V03})"
            )
        return call


class _Servicer(GrpcHandler):
    """The SDK's servicer, answering errors through `abort_with`."""

    async def abort_context(
        self, error: A2AError, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        await abort_with(error, context)


async def abort_with(error: A2AError, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    """End the call with `error`'s status code and its ErrorInfo (spec §10.6), plus the
    field violations of an invalid-params error."""
    kind = next((c for c in type(error).__mro__ if c in A2A_ERROR_MAPPING), None)
    if kind is None:
        kind, error = InternalError, InternalError()
    mapping = A2A_ERROR_MAPPING[kind]
    code = (
        grpc.StatusCode.UNIMPLEMENTED
        if issubclass(kind, _UNIMPLEMENTED)
        else grpc.StatusCode[mapping.grpc_status]
    )
    status = status_pb2.Status(code=code.value[0], message=error.message)
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=mapping.reason, domain="a2a-protocol.org"))
    status.details.append(info)
    if isinstance(error, InvalidParamsError) and error.data and error.data.get("errors"):
        violations = any_pb2.Any()
        violations.Pack(validation_errors_to_bad_request(error.data["errors"]))
        status.details.append(violations)
    rich = status_to_grpc(status)
    context.set_trailing_metadata(tuple(rich.trailing_metadata))
    await context.abort(rich.code, rich.details)


_Unary = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
_Stream = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]


class _Guard(grpc.aio.ServerInterceptor):
    """Around every call: the bearer key and its scope (`access.method_scope`, as over
    JSON-RPC) when auth is on, and an unexpected exception answered as INTERNAL (logged here,
    its text not sent)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # an unknown method: gRPC answers UNIMPLEMENTED
        metadata = handler_call_details.invocation_metadata or ()
        header = next((str(v) for k, v in metadata if k.lower() == "authorization"), None)
        refusal: tuple[grpc.StatusCode, str] | None = None
        caller = None
        try:
            caller = self.authenticator.authenticate(header)
        except UnauthorizedError as exc:
            refusal = (grpc.StatusCode.UNAUTHENTICATED, exc.message)
        method = handler_call_details.method
        check = _Check(caller, refusal, method.rsplit("/", 1)[-1])
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(cast(_Unary, handler.unary_unary), check, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(cast(_Stream, handler.unary_stream), check, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no client-streaming calls in these services

    @staticmethod
    def _unary(behaviour: _Unary, check: _Check, method: str) -> _Unary:
        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await check.admit(request, context)
            try:
                return await behaviour(request, context)
            except Exception as exc:
                await _internal(exc, context, method)

        return guarded

    @staticmethod
    def _stream(behaviour: _Stream, check: _Check, method: str) -> _Stream:
        async def guarded(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            await check.admit(request, context)
            try:
                async for response in behaviour(request, context):
                    yield response
            except Exception as exc:
                await _internal(exc, context, method)

        return guarded


class _Check:
    """One call's admission: refused (UNAUTHENTICATED), or its caller lacks the method's
    scope (PERMISSION_DENIED), or admitted with the caller set for the call context."""

    def __init__(
        self, caller: Caller | None, refusal: tuple[grpc.StatusCode, str] | None, name: str
    ) -> None:
        self.caller, self.refusal, self.name = caller, refusal, name

    async def admit(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if self.refusal is not None:
            await context.abort(*self.refusal)
        if self.caller is not None:
            message = getattr(request, "message", None)
            task_id = getattr(message, "task_id", "") if message is not None else ""
            params = {"message": {"taskId": task_id}} if message is not None else None
            try:
                self.caller.require(method_scope(self.name, params))
            except ForbiddenError as exc:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, exc.message)
        _CALLER.set(self.caller)


async def _internal(
    exc: Exception, context: grpc.aio.ServicerContext[Any, Any], method: str
) -> None:
    if isinstance(exc, grpc.aio.AbortError):
        raise exc  # the call's own answer, already given
    logger.exception("A2A gRPC call %s failed", method)
    await abort_with(InternalError("internal error"), context)
