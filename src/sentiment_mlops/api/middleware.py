"""ASGI middleware: every request is authenticated, bounded and checked before FastAPI parses
it, every failure is an answer in the error shape, and every request is measured.

Written as plain ASGI (not ``BaseHTTPMiddleware``) because it sits on every request and must
act before the body is read: a request without a valid key gets 401 before a byte of its body
is read, a body that is too large, too slow, not JSON or not UTF-8 gets a clear 4xx, and an
unexpected error gets a JSON 500 on a connection that stays usable (Starlette's last-resort
handler answers too, but then re-raises, and uvicorn closes the connection).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match

from sentiment_mlops.api.dependencies import key_error, route_key_policy
from sentiment_mlops.api.errors import APIError, error_body
from sentiment_mlops.api.metrics import ServiceMetrics
from sentiment_mlops.api.settings import Settings

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_UNMATCHED = "unmatched"
# Probes answer however busy the service is: a load balancer must not take a busy instance
# for a dead one.
_PROBES = {"/health", "/ready"}


@dataclass(frozen=True)
class _Route:
    label: str  # the path template, the metrics label
    key_policy: Callable | None  # require_api_key / require_admin_key, or None


_NO_ROUTE = _Route(_UNMATCHED, None)


class GuardAndMeasure:
    """Authenticates, bounds and checks requests early; records every request's metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, settings: Settings):
        self.app, self.metrics, self.settings = app, metrics, settings
        self._routes: list[tuple[RouteContext, _Route]] | None = None
        self._in_flight = 0

    def _route(self, scope: Scope) -> _Route:
        """The route the request is for, found the way the router finds it, before anything
        runs: its path template (``/predict``; ``unmatched`` for no route, never the raw URL,
        so metrics labels stay bounded) and the key check its dependencies declare.

        Since FastAPI 0.137 an included router is one ``app.routes`` entry without a
        ``path``; ``iter_route_contexts`` expands it into routes with their full paths.
        """
        if self._routes is None:  # the app's routes are final once it serves requests
            self._routes = [
                (context, _Route(context.path_format or _UNMATCHED, _key_policy(context)))
                for context in iter_route_contexts(scope["app"].routes)
            ]
        # Only what matching reads: routing later rewrites the scope (a Mount's root_path).
        request = {key: scope.get(key, "") for key in ("type", "method", "path", "root_path")}
        partial = None
        for context, route in self._routes:
            match, _ = context.matches(request)
            if match is Match.FULL:
                return route
            if match is Match.PARTIAL and partial is None:  # the path, another method: 405
                partial = route
        return partial or _NO_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = self._route(scope)
        status = {"code": 500, "started": False}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
            await send(message)

        counted = route.label not in _PROBES
        try:
            if counted and self._in_flight >= self.settings.max_in_flight:
                await _send_error(send_and_record, self._too_busy())
                return
            self._in_flight += counted
            try:
                rejection, receive = await self._check(scope, receive, route)
                if rejection:
                    await _send_error(send_and_record, rejection)
                    return
                await self.app(scope, receive, send_and_record)
            except Exception:
                if status["started"]:
                    raise  # half an answer is out: only closing the connection is left
                logger.exception("Unexpected error on %s %s", scope["method"], scope["path"])
                await _send_error(
                    send_and_record,
                    APIError(
                        500,
                        "internal_error",
                        "The service failed on this request; it has been logged.",
                    ),
                )
            finally:
                self._in_flight -= counted
        finally:
            self.metrics.requests.labels(route.label, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(route.label).observe(time.perf_counter() - started)

    def _too_busy(self) -> APIError:
        return APIError(
            503,
            "too_many_requests",
            f"The service is handling {self.settings.max_in_flight} requests, its limit; "
            f"retry in {self.settings.retry_after_s} s.",
            headers={"Retry-After": str(self.settings.retry_after_s)},
        )

    async def _check(
        self, scope: Scope, receive: Receive, route: _Route
    ) -> tuple[APIError | None, Receive]:
        """The key first (nothing of the body is read without it), then the body."""
        headers: dict[str, list[str]] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1"), []).append(value.decode("latin-1"))
        if route.key_policy is not None:
            error = key_error(route.key_policy, headers.get("x-api-key", []), self.settings)
            if error:
                return (_closing(error) if scope["method"] in _BODY_METHODS else error), receive
        if scope["method"] in _BODY_METHODS:
            return await self._check_body(headers, receive)
        return None, receive

    async def _check_body(
        self, headers: dict[str, list[str]], receive: Receive
    ) -> tuple[APIError | None, Receive]:
        declared = headers.get("content-length", [""])[0]
        if declared == "0" or not (declared or "transfer-encoding" in headers):
            return None, receive  # no body to check (`POST /admin/reload`)
        content_types = headers.get("content-type", [])
        if [value.split(";")[0].strip().lower() for value in content_types] != ["application/json"]:
            given = ", ".join(repr(value) for value in content_types) or repr("none")
            return _closing(
                APIError(
                    415,
                    "unsupported_media_type",
                    f"Content-Type must be application/json, in one header; got {given}.",
                )
            ), receive
        limit = self.settings.max_body_bytes
        too_large = _closing(
            APIError(
                413,
                "body_too_large",
                f"The request body is over the {limit}-byte limit; send fewer or shorter texts.",
            )
        )
        if declared.isdigit() and int(declared) > limit:
            return too_large, receive
        body, error = await self._read_body(receive)
        if error or body is None:
            return error or too_large, receive
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return None, replay

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, APIError | None]:
        """The whole body; ``None`` when it is over the limit; an error when it is too slow or
        not UTF-8."""
        body = bytearray()
        try:
            async with asyncio.timeout(self.settings.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                    body += message.get("body", b"")
                    if len(body) > self.settings.max_body_bytes:
                        return None, None
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            return None, _closing(
                APIError(
                    408,
                    "body_timeout",
                    f"The request body took over {self.settings.body_timeout_s:g} s to arrive; "
                    "send it at once.",
                )
            )
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return None, APIError(
                400,
                "invalid_encoding",
                f"The request body is not valid UTF-8 (byte {error.start}); encode text as UTF-8.",
            )
        return bytes(body), None


def _key_policy(context: RouteContext) -> Callable | None:
    return route_key_policy(context.original_route)


def _closing(error: APIError) -> APIError:
    """``error``, answered with ``Connection: close``: the body it refuses is still (partly)
    unread on the connection, so the connection cannot carry another request."""
    error.headers = {**(error.headers or {}), "Connection": "close"}
    return error


async def _send_error(send: Send, error: APIError) -> None:
    body = error_body(error.code, error.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [
        (name.lower().encode(), value.encode()) for name, value in (error.headers or {}).items()
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
