"""One error shape for every failure: ``{"error": {"code", "message"}}``, never a traceback."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class APIError(Exception):
    """An error the service reports to the client with ``status``, ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str) -> bytes:
    """The JSON bytes of an error (also used by the ASGI middleware)."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_response(
    status: int, code: str, message: str, headers: dict | None = None
) -> JSONResponse:
    """An error as a FastAPI response."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _location(loc: tuple) -> str:
    # ("body", "texts", 3) -> "texts[3]"; the "body" prefix tells a client nothing
    parts = [str(part) for part in loc if part != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def validation_message(error: RequestValidationError) -> tuple[int, str, str]:
    """Status, code and one readable sentence for a request that failed validation."""
    problems = error.errors()
    if any(problem["type"] == "json_invalid" for problem in problems):
        detail = problems[0].get("ctx", {}).get("error", "")
        return 400, "invalid_json", f"The request body is not valid JSON ({detail})."
    messages = []
    for problem in problems[:5]:
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "this field is required"
        messages.append(f"{_location(problem['loc'])}: {message}")
    return 422, "invalid_request", "; ".join(messages) + "."


def install_error_handlers(app: FastAPI) -> None:
    """Map the framework's exceptions and :class:`APIError` to the error model (any other
    exception is answered by :class:`~sentiment_mlops.api.middleware.GuardAndMeasure`)."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, error: APIError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(*validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = {
            404: f"No route {request.url.path}; see /docs for the routes.",
            405: f"{request.method} is not allowed on {request.url.path}; see /docs.",
        }.get(error.status_code, str(error.detail))
        return error_response(error.status_code, code, message, getattr(error, "headers", None))
