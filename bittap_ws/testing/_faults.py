"""
The fault knobs of the bundled server: scripted rules, and connections that
can be cut, closed, stalled or answered late.

"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any, Sequence

import attrs
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.sync.server import ServerConnection

__all__ = [
    "ACTIONS",
    "FaultyConnection",
    "Rule",
    "close",
    "close_later",
    "drop",
    "send",
    "stall",
    "unstall",
]

#: What a :class:`Rule` may tell the server to do with a matching request.
ACTIONS = ("answer", "silence", "drop", "close", "stall")


@attrs.define
class Rule:
    """
    How to handle requests for one method; see :meth:`Server.on`.

    """

    status: int = 200
    result: Any = None
    error: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    action: str = attrs.field(default="answer")
    delay: float | None = None
    times: int | None = None
    close_code: int = 1000
    close_reason: str = ""

    @action.validator
    def _check_action(self, attribute: Any, value: str) -> None:
        if value not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {value!r}")


class FaultyConnection(ServerConnection):
    """
    A server connection that can play dead.

    While ``stalled`` is set, the server processes no incoming data: it
    answers no request and no ping frame, as a peer that hangs without
    closing the connection. Data keeps piling up in the socket buffers.

    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = False
        self.stall_lock = threading.Lock()
        self.outbox: list[tuple[float, int, Any]] = []
        self.outbox_ready = threading.Condition()
        self.sender: threading.Thread | None = None
        self.done = False
        self.topics: set[str] = set()
        # The API key this connection logged in with, if any.
        self.api_key: str | None = None
        receive_data = self.protocol.receive_data

        def receive_data_unless_stalled(data: bytes | bytearray) -> None:
            with self.stall_lock:  # blocks while stalled
                pass
            receive_data(data)

        self.protocol.receive_data = receive_data_unless_stalled  # type: ignore[method-assign]


def send(conn: FaultyConnection, frames: Sequence[str | bytes], delay: float) -> None:
    """
    Send ``frames`` on ``conn`` now, or after ``delay`` seconds from a
    sender thread of the connection, without blocking the caller.

    """
    if delay <= 0:
        for frame in frames:
            with contextlib.suppress(WsConnectionClosed):
                conn.send(frame)
        return
    with conn.outbox_ready:
        if conn.sender is None:
            conn.sender = threading.Thread(
                target=_send_later, args=(conn,), name="bittap-ws-test-sender", daemon=True
            )
            conn.sender.start()
        due = time.monotonic() + delay
        for frame in frames:
            heapq.heappush(conn.outbox, (due, next(_sequence), frame))
        conn.outbox_ready.notify()


def close_later(conn: ServerConnection, code: int, reason: str) -> None:
    """
    Send a close frame from a thread of its own: closing waits for the
    peer's answer, which must not hold up the caller.

    """
    threading.Thread(target=close, args=(conn, code, reason), daemon=True).start()


_sequence = itertools.count()


def _send_later(conn: FaultyConnection) -> None:
    # Sends the delayed answers of one connection when they fall due.
    while True:
        with conn.outbox_ready:
            while True:
                if conn.done:
                    return
                if conn.outbox:
                    wait = conn.outbox[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, frame = heapq.heappop(conn.outbox)
                        break
                else:
                    wait = None
                conn.outbox_ready.wait(wait)
        with contextlib.suppress(WsConnectionClosed):
            conn.send(frame)


def drop(conn: ServerConnection) -> None:
    with contextlib.suppress(OSError):
        conn.socket.shutdown(socket.SHUT_RDWR)


def close(conn: ServerConnection, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        conn.close(code, reason)


def stall(conn: FaultyConnection) -> None:
    if not conn.stalled:
        conn.stalled = True
        conn.stall_lock.acquire()


def unstall(conn: FaultyConnection) -> None:
    if conn.stalled:
        conn.stalled = False
        conn.stall_lock.release()
