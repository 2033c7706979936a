"""A webhook receiver that records each request and answers as its path says:
`/answer/CODE` answers CODE (with a provider MessageId on 2xx unless `/answer/200/no-id`),
`/hang` answers 200 only once the test releases it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookSink:
    def __init__(self) -> None:
        self.received: list[Hook] = []
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.received.append(Hook(self.path, dict(self.headers.items()), body))
                if self.path == "/hang":
                    sink.release.wait(60)
                parts = self.path.strip("/").split("/")
                code = int(parts[1]) if len(parts) > 1 and parts[0] == "answer" else 200
                answer = b"{}"
                if 200 <= code <= 299 and "no-id" not in parts:
                    answer = json.dumps({"MessageId": f"provider-{len(sink.received)}"}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 256
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
