"""The shared fake-server machinery: a threaded http.server on a free loopback port, a
route table, a request log and fault injection."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Faults:
    rate_limit_every: int = 0  # every Nth request answers 429
    retry_after: str | None = "0"  # the Retry-After header sent with 429 (None: omit)
    server_error_every: int = 0  # every Nth request answers 503
    hang_requests: set[int] = field(default_factory=set)  # request numbers that stall
    hang_seconds: float = 1.0
    fail_after_pages: int | None = None  # after N data pages every request answers 500


def iso(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeServer:
    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[Request] = []
        self.pages_served = 0
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._release = threading.Event()
        self.url = ""

    def route(self, method: str, pattern: str, handler: Callable[..., Response]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: with Nagle's algorithm the
            # body waited for the client's delayed ACK of the headers (~14 ms a response).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def log_message(self, *_args: Any) -> None:
                return None

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                body: Any = None
                if raw:
                    ctype = self.headers.get("Content-Type", "")
                    if "json" in ctype:
                        body = json.loads(raw)
                    else:
                        body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                request = Request(
                    method, parts.path, query, body, {k.lower(): v for k, v in self.headers.items()}
                )
                try:
                    status, headers, payload = fake.handle(request)
                except Exception as exc:  # a bug in a fake shows up as a 500, not a hang
                    status, headers, payload = 500, {}, {"message": f"fake crashed: {exc!r}"}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def count_page(self) -> None:
        with self.lock:
            self.pages_served += 1

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
            faults = self.faults
            if faults.fail_after_pages is not None and self.pages_served >= faults.fail_after_pages:
                return 500, {}, self.error_body(500, "simulated outage")
            hang = number in faults.hang_requests
        if hang:
            self._release.wait(faults.hang_seconds)
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            headers = {} if faults.retry_after is None else {"Retry-After": faults.retry_after}
            return 429, headers | self.rate_limit_headers(), self.error_body(429, "rate limited")
        if faults.server_error_every and number % faults.server_error_every == 0:
            return 503, {}, self.error_body(503, "service unavailable")
        auth = self.check_auth(request)
        if auth is not None:
            return auth
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                with self.lock:
                    return handler(request, **match.groupdict())
        return 404, {}, self.error_body(404, f"no route {request.method} {request.path}")

    # vendor hooks
    def check_auth(self, request: Request) -> Response | None:
        return None

    def error_body(self, status: int, message: str) -> Any:
        return {"status": "error", "message": message}

    def rate_limit_headers(self) -> dict[str, str]:
        return {}
