"""uvicorn's httptools protocol with bounds on what a client sends before the app sees it.

uvicorn bounds neither the request line, nor the number or size of headers (httptools), nor
the time a client takes to send them: a slow or endless header section holds a connection
and memory for as long as the client likes. This protocol answers instead:

- a request line over ``max_header_bytes``: **414**; headers past ``max_header_bytes`` in all
  or more than ``max_headers`` of them: **431**;
- a request line and headers not complete ``header_timeout_s`` after they began (or after
  the connection opened): **408**; a connection that never sent a byte is closed.

Each answer is JSON in the service's error shape, with ``Connection: close``. The limits are
the service's settings (``SENTIMENT_MAX_HEADER_BYTES`` ...); ``sentiment-mlops serve`` uses
this protocol (``uvicorn --http sentiment_mlops.api.protocol:BoundedHttpToolsProtocol`` too).
"""

from __future__ import annotations

import asyncio
import functools
import http
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sentiment_mlops.api.errors import error_body
from sentiment_mlops.api.settings import Settings


@functools.cache
def _limits() -> Settings:
    return Settings()


class _Refused(Exception):
    """Raised in a parser callback: the request is answered with ``status`` and closed."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with limits on the request line, headers and their time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = _limits()
        self._awaiting_headers = True  # from the connection (or the last request) to headers
        self._header_bytes = 0  # received while awaiting headers
        self._section_bytes = 0  # of the headers parsed so far
        self._header_sections = 0  # complete header sections seen on this connection
        self._header_deadline: asyncio.TimerHandle | None = None
        self._refusal: _Refused | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        awaiting, sections = self._awaiting_headers, self._header_sections
        super().data_received(data)
        # httptools hands a header over only once it is complete: count what arrives while
        # headers are awaited, so that one endless header cannot fill memory either. A chunk
        # in which a header section ended is not counted: the rest of it is body (and maybe
        # a whole request, after which headers are awaited again).
        if (
            awaiting
            and self._awaiting_headers
            and self._header_sections == sections
            and not self.transport.is_closing()
        ):
            self._header_bytes += len(data)
            if self._header_bytes > self._limits.max_header_bytes:
                self._refuse(self._headers_too_large())

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers 400 to any parser error, an exception of a callback included.
        if self._refusal is not None:
            self._refuse(self._refusal)
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self._limits.max_header_bytes:
            self._raise(
                _Refused(
                    414,
                    "uri_too_long",
                    f"The request line is over {self._limits.max_header_bytes} bytes; "
                    "send a shorter URL (texts go in the JSON body).",
                )
            )
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self._limits.max_headers:
            self._raise(
                _Refused(
                    431,
                    "too_many_headers",
                    f"The request has over {self._limits.max_headers} headers; send fewer.",
                )
            )
        self._section_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if len(self.url) + self._section_bytes > self._limits.max_header_bytes:
            self._raise(self._headers_too_large())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers, self._header_bytes, self._section_bytes = False, 0, 0
        self._header_sections += 1
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers, self._header_bytes = True, 0

    def _headers_too_large(self) -> _Refused:
        return _Refused(
            431,
            "headers_too_large",
            f"The request line and headers are over {self._limits.max_header_bytes} bytes; "
            "send smaller headers.",
        )

    def _raise(self, refused: _Refused) -> None:
        self._refusal = refused
        raise refused  # stops the parser; it reaches send_400_response

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(
            self._limits.header_timeout_s, self._headers_too_slow
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or not self._awaiting_headers:
            return
        if self.cycle is None and not self._header_bytes:
            self.transport.close()  # a connection that never sent a byte: nobody to answer
            return
        self._refuse(
            _Refused(
                408,
                "header_timeout",
                f"The request line and headers took over {self._limits.header_timeout_s:g} s "
                "to arrive; send them at once.",
            )
        )

    def _refuse(self, refused: _Refused) -> None:
        self._disarm_header_deadline()
        body = error_body(refused.code, refused.message)
        phrase = http.HTTPStatus(refused.status).phrase
        head = (
            f"HTTP/1.1 {refused.status} {phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.logger.warning("Refused a request: %s", refused.message)
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()
