"""A local webhook receiver for notification tests (apprise's json:// target)."""

from __future__ import annotations

import http.server
import json
import threading


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                rec.got.append({"path": self.path, **json.loads(self.rfile.read(n))})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
