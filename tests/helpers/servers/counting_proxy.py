"""A reverse proxy on 127.0.0.1 that counts the requests passing through it, by kind.

Tests that must show how many requests an operation costs (a store replaced
with ``mode="w"`` should delete its old objects in a few bulk requests, not one
request per object) point a backend's endpoint at this proxy instead of at the
server. Every request is forwarded unchanged, ``Host`` header included, so
signatures computed by the client (AWS SigV4 signs the host) still verify at
the server; only hop-by-hop headers are dropped.

A request's kind is its method, plus the names of its query parameters when it
has any: ``"PUT"``, ``"GET?delimiter&list-type&prefix"``, ``"POST?delete"``
(S3 DeleteObjects); an S3 server-side copy (a ``PUT`` with an
``x-amz-copy-source`` header, CopyObject) counts as ``"PUT+copy"``.
:meth:`CountingProxy.requests` lists every request as ``(kind, path)``.
Threads only (no subprocess): one per client connection, each with its own
keep-alive connection to the server.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["CountingProxy", "request_kind"]

# Headers that describe one hop, not the request (RFC 9110 7.6.1), plus Expect:
# this proxy answers "100 Continue" itself and sends the server the whole body.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


def request_kind(method: str, target: str) -> str:
    """``"POST?delete"`` for ``POST /bucket?delete=``: method and sorted query names."""
    query = urlsplit(target).query
    names = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)})
    return f"{method}?{'&'.join(names)}" if names else method


class CountingProxy:
    """Forward every request to ``upstream`` (``http://host:port``) and count it.

    Use as a context manager, or call :meth:`close`. :attr:`url` is where
    clients connect; :meth:`counts` returns the requests seen so far by kind.
    """

    def __init__(self, upstream: str, *, timeout: float = 60.0, delay: float = 0.0) -> None:
        """``delay``: seconds each request waits before it is forwarded, requests in flight
        together waiting side by side (benches: a remote store's round trip on 127.0.0.1)."""
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._timeout = timeout
        self._delay = delay
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="counting-proxy", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def counts(self) -> Counter[str]:
        """Requests forwarded since the start (or the last :meth:`reset`), by kind."""
        with self._lock:
            return Counter(self._counts)

    def requests(self) -> list[tuple[str, str]]:
        """Every request since the start (or the last :meth:`reset`): ``(kind, path)``,
        the path percent-decoded and without its query."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._requests.clear()

    def _count(self, kind: str, target: str = "") -> None:
        with self._lock:
            self._counts[kind] += 1
            self._requests.append((kind, unquote(urlsplit(target).path)))

    def close(self) -> None:
        """Stop accepting, wait for the serving thread, release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as clients' connection pools expect
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                kind = request_kind(self.command, self.path)
                if self.command == "PUT" and self.headers.get("x-amz-copy-source"):
                    kind = "PUT+copy" + kind[3:]  # CopyObject: no bytes through the client
                proxy._count(kind, self.path)
                if proxy._delay:
                    time.sleep(proxy._delay)
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                try:
                    status, reason, reply_headers, reply = self._upstream_call(body, headers)
                except (OSError, http.client.HTTPException) as exc:
                    self.send_error(502, f"counting proxy: upstream failed: {exc}")
                    return
                self.send_response(status, reason)
                for name, value in reply_headers:
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                has_length = any(n.lower() == "content-length" for n, _ in reply_headers)
                if not has_length and self.command != "HEAD" and status not in (204, 304):
                    self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply)

            def _upstream_call(
                self, body: bytes, headers: dict[str, str]
            ) -> tuple[int, str, list[tuple[str, str]], bytes]:
                for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(
                            *proxy._upstream, timeout=proxy._timeout
                        )
                    try:
                        self.upstream.request(self.command, self.path, body=body, headers=headers)
                        response = self.upstream.getresponse()
                        reply = response.read()
                        return response.status, response.reason, response.getheaders(), reply
                    except (OSError, http.client.HTTPException):
                        self.upstream.close()
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            def finish(self) -> None:
                if self.upstream is not None:
                    self.upstream.close()
                super().finish()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler
