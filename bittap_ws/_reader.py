"""
What the reader thread does with the bytes it reads.

:class:`Reader` cuts them into messages (strictly, as RFC 6455 says, and
bounded by ``max_size``), hands each answer to its waiting caller through
:class:`~bittap_ws.pending.Pending`, each stream event to ``on_event``,
answers ping frames, and notes pongs and the server's close frame. The
connection owns the thread and what happens when the reading ends.

"""

from __future__ import annotations

import logging
from typing import Callable

import websocket

from ._frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameError, FrameReader
from ._redact import redact_frame
from ._transport import describe
from .errors import ConnectionClosed
from .pending import Pending, Slot
from .protocol import Ack, BadReply, Event, Reply, Response, Unroutable, decode

__all__ = ["Reader"]

logger = logging.getLogger("bittap_ws")

# Bytes asked from the socket in one recv().
RECV_BUFSIZE = 65536


class Reader:
    """
    Reads with ``recv`` until the connection ends.

    Attributes:
        answered: Whether the server answered anything.
        close_frame: The code and reason of the server's close frame, once
            it came.

    """

    def __init__(
        self,
        recv: Callable[[int], bytes],
        pending: Pending,
        max_size: int | None,
        on_event: Callable[[Event], None] | None,
        on_pong: Callable[[], None],
        send_control: Callable[[bytes, int], None],
    ) -> None:
        self.recv = recv
        self.pending = pending
        self.frames = FrameReader(max_size)
        self.on_event = on_event
        self.on_pong = on_pong
        self.send_control = send_control
        self.answered = False
        self.close_frame: tuple[int | None, str | None] | None = None
        # Callers whose answers were read but who are not woken yet: they
        # are woken right before the next blocking recv(), which releases
        # the GIL, so that they need not wait for it; and, if the reading
        # ends, before anything else.
        self.woken: list[Slot] = []

    def run(self) -> None:
        """
        Read and dispatch until the server's close frame, then return.

        Raises:
            FrameError: If the server broke the protocol; the messages
                before the bad frame were dispatched.
            Exception: Whatever else ended the connection.

        """
        recv, frames, woken = self.recv, self.frames, self.woken
        while True:
            data = recv(RECV_BUFSIZE)
            if not data:
                raise websocket.WebSocketConnectionClosedException(
                    "connection closed by the server without a close frame"
                )
            failure: FrameError | None = None
            try:
                messages = frames.feed(data)
            except FrameError as exc:
                # The messages before the bad frame are still handled.
                messages, failure = exc.messages, exc
            for opcode, payload in messages:
                if opcode == OP_TEXT:
                    self._dispatch(payload)
                elif opcode == OP_BINARY:
                    logger.warning("ignored a binary frame of %d bytes", len(payload))
                elif opcode == OP_PING:
                    # Writing may block: wake the callers first.
                    self.wake()
                    assert isinstance(payload, bytes)
                    self.send_control(payload, OP_PONG)
                elif opcode == OP_PONG:
                    self.on_pong()
                else:
                    assert opcode == OP_CLOSE and isinstance(payload, bytes)
                    self.wake()
                    self._on_close_frame(payload)
                    return
            if woken:
                self.wake()
            if failure is not None:
                raise failure

    def wake(self) -> None:
        """
        Wake the callers whose answers were read; idempotent.

        """
        for slot in self.woken:
            slot.set()
        self.woken.clear()

    def ended(self, exc: BaseException | None, closing: bool) -> ConnectionClosed:
        """
        Describe the end of the connection: the server's close frame, else
        ``exc``, the first error, else the client closing it; chained from
        ``exc``.

        """
        close_frame = self.close_frame
        if close_frame is not None:
            code, reason = close_frame
            text = "connection closed by the server"
            if code is not None:
                text += f" with code {code}"
                if reason:
                    text += f" ({reason})"
            error = ConnectionClosed(text, code=code, reason=reason)
        elif exc is not None:
            error = ConnectionClosed(f"connection lost: {describe(exc)}")
        elif closing:
            error = ConnectionClosed("connection closed by the client")
        else:
            error = ConnectionClosed("connection lost")
        error.__cause__ = exc
        return error

    # Private methods

    def _dispatch(self, data: str | bytes) -> None:
        # Never raises: a bad frame must not stop the reader.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("received %s", redact_frame(data))
        message = decode(data)
        if isinstance(message, (Response, Reply, Ack, BadReply)):
            self.answered = True
            self.pending.resolve(message.id, message, self.woken)
        elif isinstance(message, Event):
            if self.on_event is None:
                logger.debug("ignored an event for topic %s", message.topic)
            else:
                try:
                    self.on_event(message)
                except Exception:
                    logger.exception("error while routing an event")
        else:
            assert isinstance(message, Unroutable)
            logger.warning(
                "ignored a frame (%s): %s", message.reason, redact_frame(message.text, 200)
            )

    def _on_close_frame(self, data: bytes) -> None:
        code: int | None = None
        reason: str | None = None
        if len(data) >= 2:
            code = int.from_bytes(data[:2], "big")
            reason = data[2:].decode("utf-8", "replace")
        self.close_frame = (code, reason)
        logger.debug("server closed the connection with code %s: %s", code, reason)
        # Answer the close frame; the server closes the TCP connection next.
        try:
            self.send_control(data[:2], OP_CLOSE)
        except OSError:
            pass  # the connection is ending anyway
