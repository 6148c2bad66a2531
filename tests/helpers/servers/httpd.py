"""A read-only HTTP server over a directory, run as its own process by :func:`procs.start_http`.

Python's ``http.server`` lacks what object-store clients need from a static
file server, so this adds it: ``Range`` requests (206 / 416), ``HEAD``, and a
minimal WebDAV ``PROPFIND`` (``Depth: 0``, ``1`` and ``infinity``), which is how
obstore's HTTP store lists. ``GET`` of a directory returns the usual HTML
index with links, which is how fsspec's HTTP file system lists. Every write
method is answered with 405, as a read-only public server would.

Usage: ``python httpd.py ROOT PORT [USER:PASSWORD]``; with a user and password,
every request must carry them as HTTP basic auth (401 otherwise).
"""

from __future__ import annotations

import base64
import os
import sys
from email.utils import formatdate
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape


class ReadOnlyHandler(SimpleHTTPRequestHandler):
    """Static files with Range and PROPFIND; writes refused."""

    protocol_version = "HTTP/1.1"
    #: The ``Authorization`` header every request must carry, when the server requires one.
    required_auth: str | None = None

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.required_auth is None or self.headers.get("Authorization") == self.required_auth:
            return True
        self._refuse_unauthorized()
        return False

    def _refuse_unauthorized(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Basic realm="zv-tests"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # -- reads ---------------------------------------------------------------------------
    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        header = self.headers.get("Range")
        if header is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        span = _parse_range(header, size)
        if span is None:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        start, end = span
        handle = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        handle.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return _Limited(handle, end - start + 1)

    def end_headers(self) -> None:
        if self.command in ("GET", "HEAD"):
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_PROPFIND(self) -> None:
        path = Path(self.translate_path(self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not path.exists():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        depth = self.headers.get("Depth", "infinity").lower()
        entries = [path]
        if path.is_dir() and depth != "0":
            walk = path.rglob("*") if depth == "infinity" else path.iterdir()
            entries += sorted(walk)
        base = urlsplit(self.path).path
        root = Path(self.translate_path(base))
        body = _multistatus(entries, root, base).encode()
        self.send_response(207)
        self.send_header("Content-Type", 'application/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- writes ----------------------------------------------------------------------------
    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD, PROPFIND")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_MKCOL = do_MOVE = do_COPY = _refuse


class _Limited:
    """A file object that stops after ``remaining`` bytes (the body of a 206)."""

    def __init__(self, handle: object, remaining: int) -> None:
        self._handle = handle
        self._remaining = remaining

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size < 0 or size > self._remaining:
            size = self._remaining
        data: bytes = self._handle.read(size)  # type: ignore[attr-defined]
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()  # type: ignore[attr-defined]


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``a-`` / ``-n`` -> inclusive (start, end); None if unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    if not first:
        if not last or int(last) == 0:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _multistatus(entries: list[Path], root: Path, base: str) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<D:multistatus xmlns:D="DAV:">']
    prefix = base if base.endswith("/") else base + "/"
    for entry in entries:
        rel = entry.relative_to(root).as_posix() if entry != root else ""
        href = base if entry == root else prefix + quote(rel)
        stat = entry.stat()
        modified = formatdate(stat.st_mtime, usegmt=True)
        if entry.is_dir():
            href = href if href.endswith("/") else href + "/"
            prop = (
                "<D:resourcetype><D:collection/></D:resourcetype>"
                f"<D:getlastmodified>{modified}</D:getlastmodified>"
            )
        else:
            prop = (
                "<D:resourcetype/>"
                f"<D:getcontentlength>{stat.st_size}</D:getcontentlength>"
                f"<D:getlastmodified>{modified}</D:getlastmodified>"
                f'<D:getetag>"{stat.st_mtime_ns:x}-{stat.st_size:x}"</D:getetag>'
            )
        parts.append(
            f"<D:response><D:href>{escape(href)}</D:href><D:propstat><D:prop>{prop}</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )
    parts.append("</D:multistatus>")
    return "".join(parts)


def main() -> None:
    root, port = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3:
        token = base64.b64encode(sys.argv[3].encode()).decode()
        ReadOnlyHandler.required_auth = f"Basic {token}"
    os.chdir(root)

    def handler(*args: object, **kwargs: object) -> ReadOnlyHandler:
        return ReadOnlyHandler(*args, directory=root, **kwargs)  # type: ignore[arg-type]

    server = ThreadingHTTPServer(("127.0.0.1", port), handler)  # type: ignore[arg-type]
    server.daemon_threads = True
    print(f"serving {root} on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
