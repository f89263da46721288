"""Serving the simulator on a real port with uvicorn (imported lazily).

:func:`serve` runs it in the foreground for ``amc-tui simulator``;
:class:`ThreadedServer` runs it in a background thread for socket-level tests, as a
context manager that knows the port it really got.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

from amc_tui.amc.simulator.app import AmcSimulator
from amc_tui.amc.simulator.asgi import AsgiApp
from amc_tui.amc.simulator.config import TOKEN_PATH, SimulatorConfig
from amc_tui.errors import ConfigError

STARTUP_TIMEOUT = 10.0


def _require_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "serving the simulator needs uvicorn: pip install 'amc-tui[simulator]'"
        ) from None
    return uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0 = a free port), or a ConfigError saying why not.

    Its connections send small writes at once (``TCP_NODELAY``, which they inherit
    from it).  asyncio sets that itself only on sockets made with ``IPPROTO_TCP``, and
    this one is not: without it, uvicorn's answer (head, then body) waited on the
    client's delayed ACK, about 40 ms a request.
    """
    try:
        sock = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def connection_help(config: SimulatorConfig, base_url: str) -> str:
    """How to point an amc-tui profile at a simulator served at ``base_url``."""
    return "\n".join(
        [
            f"AMC simulator listening on {base_url}",
            "Profile settings that reach it:",
            f'  api_url = "{base_url}"',
            f'  token_url = "{base_url}{TOKEN_PATH}"',
            f'  client_id = "{config.client_id}"',
            f'  advertiser_id = "{config.advertiser_id}"',
            f'  marketplace_id = "{config.marketplace_id}"',
            f"  AMC_CLIENT_SECRET={config.client_secret}",
            f"  AMC_REFRESH_TOKEN='{config.refresh_token}'",
        ]
    )


def serve(config: SimulatorConfig, host: str, port: int) -> None:
    """Serve a simulator on ``host:port`` until interrupted (Ctrl+C).

    The socket is bound first, so a port in use is reported plainly and port 0
    prints the port really taken.
    """
    uvicorn = _require_uvicorn()
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(connection_help(config, f"http://{shown}:{bound_port}"), file=sys.stderr)
    server = uvicorn.Server(
        uvicorn.Config(AmcSimulator(config), log_level="info", lifespan="on", interface="asgi3")
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class ThreadedServer:
    """Run an ASGI app with uvicorn in a background thread (``with`` block).

    ``port=0`` picks a free port; ``base_url`` gives the real one once started.
    """

    def __init__(
        self,
        app: AsgiApp,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        uvicorn = _require_uvicorn()
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="amc-simulator")
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the simulator could not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator did not start in time")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT)
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
