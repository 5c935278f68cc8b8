"""``stagent serve``: the web workspace plus an in-process worker, until SIGINT or SIGTERM."""

from __future__ import annotations

import importlib
import os
import socket
import threading
import webbrowser
from collections.abc import Callable
from typing import Annotated, Any

import typer
import uvicorn

from stagent.cli import startup
from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.signals import ShutdownSignals
from stagent.cli.state import configure_logging, state_of
from stagent.collector import freeze_loaded
from stagent.domain.errors import ConflictError, StagentError, ValidationError
from stagent.settings import Settings
from stagent.workspace import Workspace

GRACEFUL_SHUTDOWN_SECONDS = 5
"""Open event streams are closed after this long once a shutdown starts."""


class _Server(uvicorn.Server):
    """A uvicorn server that reports when it is listening."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then call ``on_ready``."""
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()

    def request_exit(self) -> None:
        """Stop serving (from any thread)."""
        self.should_exit = True


class WorkerStarter:
    """Launches the workspace's worker on a thread once the server listens, then announces.

    Pages answer while the durable engine starts (half a second or more) and the runtime
    adapters load; the announcement (the URL and the sign-in link) comes when all are up. If
    the worker cannot start, the server is asked to stop and `finish` raises its error.
    """

    def __init__(self, ws: Workspace, announce: Callable[[], None], url: str = "") -> None:
        self._ws = ws
        self._url = url
        self._announce = announce
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.on_failure: Callable[[], None] = lambda: None

    def start(self) -> None:
        """Start the worker in the background (called when the server is listening)."""
        self._thread = threading.Thread(target=self._run, name="stagent-worker-start")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._ws.start_worker("serve")
            if self._url:
                self._ws.announce_api(self._url)
        except BaseException as exc:  # reported by `finish` on the main thread
            self._error = exc
            self.on_failure()
            return
        # Load every runtime adapter (their SDKs take seconds to import) before announcing, so
        # the first page a person opens from the link does not wait for them.
        self._ws.runtimes.all()
        freeze_loaded()  # their modules too: a server runs for days
        self._announce()

    def finish(self) -> None:
        """Wait for the start to end; re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error


def check_bind_allowed(settings: Settings) -> None:
    """Refuse to listen beyond this machine without an access token."""
    if settings.is_loopback:
        return
    if not settings.token:
        raise ValidationError(
            f"refusing to serve on {settings.host} without an access token",
            hint="set STAGENT_TOKEN to a long random value, or serve on 127.0.0.1",
        )
    weakness = token_weakness(settings.token)
    if weakness:
        raise ValidationError(
            f"refusing to serve on {settings.host}: STAGENT_TOKEN is too weak ({weakness})",
            hint='use a long random value, e.g. python3 -c "import secrets; '
            'print(secrets.token_urlsafe(32))"',
        )


MIN_TOKEN_LENGTH = 24
MIN_TOKEN_DISTINCT = 10


def token_weakness(token: str) -> str | None:
    """Why ``token`` is too weak to guard a server others can reach, or None.

    At least 24 characters with at least 10 different ones: a random token_urlsafe(18) or
    longer passes; ``a``, ``password``, ``aaaa...`` or ``12345...`` do not.
    """
    if len(token) < MIN_TOKEN_LENGTH:
        return f"{len(token)} characters; at least {MIN_TOKEN_LENGTH} are needed"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"only {len(set(token))} different characters"
    return None


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so a busy port is a one-line error."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise ConflictError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is Stagent already running there? choose another --port",
        ) from None


def server_url(host: str, port: int) -> str:
    """The address people open (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def load_app_factory() -> Callable[..., Any]:
    """``stagent.web.app.create_app``, or a clear error if the web app is missing."""
    try:
        module = importlib.import_module("stagent.web.app")
    except ModuleNotFoundError as exc:
        if exc.name != "stagent.web.app":
            raise
        raise StagentError(
            "the web app is not part of this installation",
            hint="reinstall Stagent; `stagent worker` runs tasks without the web app",
        ) from None
    factory: Callable[..., Any] = module.create_app
    return factory


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: STAGENT_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: STAGENT_PORT or 8765).")
    ] = None,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Serve the web workspace and run tasks.

    Runs until Ctrl-C or SIGTERM.
    """
    state = state_of(ctx)
    settings = state.settings(host=host, port=port)
    check_bind_allowed(settings)
    configure_logging(settings)
    with ShutdownSignals() as signals:
        sock = listen(settings.host, settings.port)
        url = server_url(settings.host, sock.getsockname()[1])
        try:
            with state.workspace(host=host, port=port, still_loading=True) as ws:
                starter = WorkerStarter(ws, lambda: _announce(ws, url, as_json, no_open), url)
                server = _build_server(ws, lambda: _listening(starter.start))
                starter.on_failure = server.request_exit
                try:
                    if not signals.requested:
                        _run(server, sock)
                    starter.finish()
                finally:
                    ws.forget_api()
        finally:
            sock.close()
    if as_json:
        emit_json({"event": "stopped"}, compact=True)
    else:
        console.print("Stagent stopped.")


def _listening(start_worker: Callable[[], None]) -> None:
    """The server answers: start-up is over (the web app's tens of thousands of objects were
    loaded with the garbage collector off), so collect as usual and start the worker."""
    startup.ready()
    start_worker()


def _build_server(ws: Workspace, on_ready: Callable[[], None]) -> _Server:
    web_app = load_app_factory()(ws)
    config = uvicorn.Config(
        web_app,
        host=ws.settings.host,
        port=ws.settings.port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return _Server(config, on_ready)


def _run(server: _Server, sock: socket.socket) -> None:
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits when the app's startup fails
        raise StagentError(
            f"the web app failed to start (exit code {exc.code})",
            hint="the lines above say why; set STAGENT_LOG_LEVEL=DEBUG for more",
        ) from None


def _announce(ws: Workspace, url: str, as_json: bool, no_open: bool) -> None:
    # Like Jupyter: the link with the person's token signs this browser in (approve, deny, rules).
    sign_in = f"{url}/?token={ws.owner_token()}"
    if as_json:
        emit_json(
            {
                "event": "started",
                "url": url,
                "sign_in_url": sign_in,
                "database_url": ws.store.safe_url,
            },
            compact=True,
        )
    else:
        console.print(f"Stagent is running at [bold]{url}[/]")
        console.print(f"Open {sign_in} to sign in (approve, deny, rules)")
        console.print("[dim]Press Ctrl-C to stop.[/]")
        console.file.flush()
    if not no_open and not _in_ci():
        threading.Thread(target=webbrowser.open, args=(sign_in,), daemon=True).start()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
