"""
Keepalive: a ping frame every ``interval`` seconds, and a connection
declared dead when its pong does not come within ``timeout``.

It runs on a thread of its own, ``bittap-ws-keepalive``, owned by the
connection, which ends it by setting its ``closed`` event.

"""

from __future__ import annotations

import logging
import threading
from typing import Callable

__all__ = ["Keepalive"]

logger = logging.getLogger("bittap_ws")


class Keepalive:
    """
    Pings through ``ping()`` every ``interval`` seconds until ``closed`` is
    set; calls ``abort(exc)`` when no pong comes within ``timeout`` (never
    with a ``timeout`` of :obj:`None`), or when ``ping()`` fails.

    """

    def __init__(
        self,
        url: str,
        interval: float,
        timeout: float | None,
        ping: Callable[[], None],
        abort: Callable[[BaseException], None],
        closed: threading.Event,
    ) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.ping = ping
        self.abort = abort
        self.closed = closed
        self.pong = threading.Event()
        # Daemon: a program that forgets close() must still exit.
        self.thread = threading.Thread(target=self._loop, name="bittap-ws-keepalive", daemon=True)

    def on_pong(self) -> None:
        """
        Take note of a pong, or wake the thread once the connection ended.

        """
        self.pong.set()

    def _loop(self) -> None:
        try:
            while not self.closed.wait(self.interval):
                self.pong.clear()
                self.ping()
                if self.timeout is None:
                    continue
                if not self.pong.wait(self.timeout) and not self.closed.is_set():
                    logger.warning(
                        "no pong from %s within %g s: connection is dead", self.url, self.timeout
                    )
                    self.abort(TimeoutError(f"no pong within {self.timeout:g} s"))
                    return
        except Exception as exc:
            self.abort(exc)
