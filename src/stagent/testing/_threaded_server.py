"""The lifecycle the scripted model servers share: serve an HTTP server on a background thread."""

from __future__ import annotations

import threading
from http.server import HTTPServer
from types import TracebackType
from typing import Self


class ThreadedServer:
    """Runs ``self._httpd`` on a daemon thread; a context manager.

    Subclasses create ``self._httpd`` and call ``super().__init__(thread_name)`` first.
    """

    _httpd: HTTPServer

    def __init__(self, thread_name: str) -> None:
        self.stopping = threading.Event()
        """Set when the server stops: requests waiting out a scripted ``delay`` return at once."""
        self._thread_name = thread_name
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
            name=self._thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
