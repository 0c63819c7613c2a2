"""A small HTTP proxy between the library and the server, which a test scripts: each
request takes the next step of `plan` (a function that may answer itself, or change the
request, or forward it and change the answer); with no step left it forwards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

PASSED_HEADERS = ("Content-Type", "LicenseSignature", "Retry-After")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Step = Callable[["Proxy", Request], Response]


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.plan: list[Step] = []
        self.log: list[tuple[Request, Response]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, dict(self.headers), self.rfile.read(length))
                step = proxy.plan.pop(0) if proxy.plan else Proxy.forward
                response = step(proxy, request)
                proxy.log.append((request, response))
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = requests.request(
            request.method, self.upstream + request.path, headers=headers, data=request.body, timeout=30
        )
        kept = {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}
        return Response(answer.status_code, kept, answer.content)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
