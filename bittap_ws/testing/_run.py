"""
:func:`run_server`: the bundled server, for the duration of a ``with``
block, on 127.0.0.1 and a free port by default.

"""

from __future__ import annotations

import contextlib
import ssl as ssl_module
import threading
import time
from typing import Any, Iterator

from websockets.sync.server import serve

from ._faults import FaultyConnection
from ._server import Server

__all__ = ["run_server"]

# Seconds run_server() lets connections close by themselves on exit.
SHUTDOWN_GRACE = 1.0


@contextlib.contextmanager
def run_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl: ssl_module.SSLContext | None = None,
    **knobs: Any,
) -> Iterator[Server]:
    """
    Run a BitTap-compatible server for the duration of a ``with`` block.

    Args:
        host: The address to bind.
        port: The port to bind; 0 picks a free one.
        ssl: A server-side TLS context, to serve ``wss://``.
        knobs: Initial values of :class:`Server` knobs, e.g. ``delay=0.1``.

    Yields:
        The running :class:`Server`; its :attr:`~Server.url` is where to
        connect.

    """
    server = Server(host, port, ssl is not None, **knobs)
    ws_server = serve(
        server._handle,
        host,
        port,
        ssl=ssl,
        compression=None,
        ping_interval=None,
        max_queue=None,
        create_connection=FaultyConnection,
        server_header="bittap-ws-testing",
    )
    server._ws_server = ws_server
    server.port = ws_server.socket.getsockname()[1]
    thread = threading.Thread(
        target=ws_server.serve_forever, name="bittap-ws-test-server", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server._stopping.set()
        if server._publisher is not None:
            server._publisher.join(5)
        server.unstall()
        # websockets' shutdown() waits until every connection has ended. A
        # client that answered the closing handshake but keeps its socket
        # open never ends its connection (websocket-client's WebSocketApp
        # does this), nor one that never answers it: after a grace period,
        # cut what is left, until shutdown() returns.
        closer = threading.Thread(
            target=ws_server.shutdown, name="bittap-ws-test-shutdown", daemon=True
        )
        closer.start()
        closer.join(SHUTDOWN_GRACE)
        deadline = time.monotonic() + 5
        while closer.is_alive() and time.monotonic() < deadline:
            server.drop()
            closer.join(0.05)
        thread.join(5)
        server.drop()
        # Handler threads end once their connection is gone.
        for handler in server._handlers:
            handler.join(5)
