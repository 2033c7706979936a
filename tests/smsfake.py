"""A recording fake of AWS End User Messaging SMS (`pinpoint-sms-voice-v2`, JSON 1.0
protocol): it accepts only SigV4-signed `SendTextMessage` calls, records them, and answers
as the destination number says (`...0429` throttled, `...0400` invalid, `...0500` failing)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = "PinpointSMSVoiceV2.SendTextMessage"


class SmsFake:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                    return self._answer(403, {"__type": "AccessDeniedException"})
                if self.headers.get("X-Amz-Target") != TARGET:
                    return self._answer(400, {"__type": "UnknownOperationException"})
                request = json.loads(body)
                number = request["DestinationPhoneNumber"]
                for suffix, code, kind in (
                    ("0429", 429, "ThrottlingException"),
                    ("0400", 400, "ValidationException"),
                    ("0500", 500, "InternalServerException"),
                ):
                    if number.endswith(suffix):
                        return self._answer(code, {"__type": kind, "Message": "as asked"})
                fake.sent.append(request)
                self._answer(200, {"MessageId": f"sms-{uuid.uuid4()}"})

            def _answer(self, code: int, document: dict[str, Any]) -> None:
                data = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
