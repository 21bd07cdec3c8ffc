"""ASGI middleware: request guards (content type, size, UTF-8) and per-route metrics.

Written as plain ASGI (not ``BaseHTTPMiddleware``) because it sits on every request and the
body must be checked before FastAPI parses it: a bad body gets a clear 4xx, never a 500.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match

from sentiment_mlops.api.errors import error_body
from sentiment_mlops.api.metrics import ServiceMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_UNMATCHED = "unmatched"


class GuardAndMeasure:
    """Rejects malformed request bodies early and records every request's metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self._routes: list[RouteContext] | None = None

    def _route_label(self, scope: Scope) -> str:
        """The path template of the route the request is for (``/predict``), found the way
        the router finds it, before anything runs: a request rejected here is labelled like
        one the route answered. A path that no route matches is ``unmatched``, never the
        raw URL, so the labels stay bounded.

        Since FastAPI 0.137 an included router is one ``app.routes`` entry without a
        ``path``; ``iter_route_contexts`` expands it into routes with their full paths.
        """
        if self._routes is None:  # the app's routes are final once it serves requests
            self._routes = list(iter_route_contexts(scope["app"].routes))
        # Only what matching reads: routing later rewrites the scope (a Mount's root_path).
        request = {key: scope.get(key, "") for key in ("type", "method", "path", "root_path")}
        partial = None
        for route in self._routes:
            match, _ = route.matches(request)
            if match is Match.FULL:
                return route.path_format or _UNMATCHED
            if match is Match.PARTIAL and partial is None:  # the path, another method: 405
                partial = route.path_format
        return partial or _UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = self._route_label(scope)
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                rejection, receive = await self._check_body(scope, receive)
                if rejection:
                    await _send_error(send_and_record, *rejection)
                    return
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _check_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[tuple[int, str, str] | None, Receive]:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        declared = headers.get("content-length", "")
        if declared == "0" or not (declared or "transfer-encoding" in headers):
            return None, receive  # no body to check (`POST /admin/reload`)
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return (
                415,
                "unsupported_media_type",
                f"Content-Type must be application/json, got {content_type or 'none'!r}.",
            ), receive
        too_large = (
            413,
            "body_too_large",
            f"The request body is over the {self.max_body_bytes}-byte limit; "
            "send fewer or shorter texts.",
        )
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return too_large, receive
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return too_large, receive
            if not message.get("more_body", False):
                break
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            return (
                400,
                "invalid_encoding",
                f"The request body is not valid UTF-8 (byte {error.start}); encode text as UTF-8.",
            ), receive
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return None, replay


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
