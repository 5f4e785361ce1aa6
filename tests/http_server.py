"""A real HTTP server on loopback, in a thread of the test process, serving a folder.

fsspec's HTTPFileSystem lists a folder by the links of its index page, which Python's own
http.server writes; some paths can be made to fail, to see a store fail in the middle of a run.
"""

from __future__ import annotations

import functools
import http.server
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class _Handler(http.server.SimpleHTTPRequestHandler):
    failing: frozenset[str] = frozenset()
    cut: frozenset[str] = frozenset()
    token: str | None = None

    def _refused(self) -> bool:
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_error(401, "a bearer token is needed")
            return True
        return False

    def do_GET(self) -> None:
        if self._refused():
            return
        if self.path in self.failing:
            self.send_error(500, "injected failure")
            return
        if self.path in self.cut:  # promise more bytes than are sent, then hang up
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"The first words of a story, and then the connection drops")
            self.close_connection = True
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._refused():
            return
        if self.path in self.failing:
            self.send_error(500, "injected failure")
            return
        if self.path in self.cut:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            return
        super().do_HEAD()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve_folder(
    folder: Path, failing: tuple[str, ...] = (), cut: tuple[str, ...] = (), token: str | None = None
) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 and yield its URL (ending in /); `failing` URL paths answer
    500, `cut` ones break off in the middle of the body, and with a `token` every request
    without `Authorization: Bearer <token>` answers 401."""
    handler = type("Handler", (_Handler,), {"failing": frozenset(failing), "cut": frozenset(cut), "token": token})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
