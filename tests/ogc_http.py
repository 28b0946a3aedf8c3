"""HTTP helpers for the OGC API tests: a plain GET, and the extra routes served in-process
(uvicorn in a thread) so a test can set the configuration and publish results beside them."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, accept: str | None = None, timeout: float = 60) -> Reply:
    """GET ``url``; an HTTP error status is returned, not raised."""
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, r.headers.get("content-type", ""), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers.get("content-type", ""), e.read())


class RoutesServer:
    """``geo.web.routes()`` on a loopback port, in this process (a thread)."""

    def __init__(self) -> None:
        import uvicorn
        from starlette.applications import Starlette

        from geo import web

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        app = Starlette(routes=web.routes())
        cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the routes server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
