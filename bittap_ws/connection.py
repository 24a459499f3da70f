"""
One WebSocket connection: the socket, its reader thread and its keepalive.

The reader thread is the only one that reads from the socket. It hands each
answer to the caller waiting for it through :class:`~bittap_ws.pending.Pending`
and, whenever the connection ends for any reason, fails every waiting caller
with :exc:`~bittap_ws.errors.ConnectionClosed` at once.

Writes from any thread go through one send lock, so frames never interleave.

websocket-client opens the connection; frames are then read and written
with :mod:`bittap_ws._frames`, which costs the reader thread, on the path of
every answer, a fraction of websocket-client's own frame layer.

"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from typing import Any, Callable

import attrs
import websocket

from ._deadline import Deadline, held, start_thread
from ._framecheck import OP_CLOSE, OP_PING, OP_TEXT, FrameError
from ._keepalive import Keepalive
from ._masking import MaskKeys, build_frame
from ._reader import Reader
from ._redact import redact_frame
from ._transport import WriteTimeout, describe, wrap
from .errors import ConnectionClosed, RequestTimeout
from .pending import Pending, copy_closed
from .protocol import Event

__all__ = ["Connection", "NotSent"]

logger = logging.getLogger("bittap_ws")

# How long close() waits to send its close frame and for the reader to end.
CLOSE_TIMEOUT = 2.0


class NotSent(ConnectionClosed):
    """
    The connection had ended before the request was written: nothing was
    sent, so the client may safely try again on a new connection.

    """


@attrs.define(eq=False, repr=False)
class Connection:
    """
    An open WebSocket connection, with its reader thread and keepalive.

    Build it on a websocket-client ``WebSocket`` that is open, then call
    :meth:`start`.

    Locks:

    * ``_send_lock`` serializes writes to the socket, and guards
      ``_mask_keys``. It is held only while a frame is built and written.
      It is an RLock only so that ``held()`` can tell whether this thread
      holds it (see :func:`~bittap_ws._deadline.held`); it is never
      re-entered: frames must not nest.
    * ``_state_lock`` guards ``_closing`` and ``_exc``. It is never held
      while doing I/O.
    * On a TLS connection, ``TLS.lock`` is held around each call into the
      TLS session, by the reader and by writers alike, and never while
      waiting for the network. A writer takes it inside ``_send_lock``.

    """

    _ws: websocket.WebSocket
    #: The URL as logs show it, its secrets redacted.
    url: str
    ping_interval: float | None = None
    ping_timeout: float | None = None
    on_event: Callable[[Event], None] | None = None
    on_close: Callable[[Connection], None] | None = None
    generation: int = 0
    #: The largest message accepted, in bytes, or None for no limit.
    max_size: int | None = 2**24

    pending: Pending = attrs.field(init=False, factory=Pending)
    _sock: Any = attrs.field(init=False)
    # What reads and writes go through: _transport.Plain or _transport.TLS.
    _io: Any = attrs.field(init=False)
    _send_lock: threading.RLock = attrs.field(init=False, factory=threading.RLock)
    _mask_keys: MaskKeys = attrs.field(init=False, factory=MaskKeys)
    _state_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _closing: bool = attrs.field(init=False, default=False)
    _exc: BaseException | None = attrs.field(init=False, default=None)
    _reading: Reader = attrs.field(init=False)
    _closed: threading.Event = attrs.field(init=False, factory=threading.Event)
    _reader: threading.Thread | None = attrs.field(init=False, default=None)
    _keepalive: Keepalive | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._sock = self._ws.sock
        self._io = wrap(self._sock, self._closed)
        self._reading = Reader(
            self._io.recv, self.pending, self.max_size, self.on_event, self._on_pong, self._send_control
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection {self.url} {state} pending={len(self.pending)}>"

    # Public methods

    @property
    def answered(self) -> bool:
        """
        :obj:`True` once the server answered anything on this connection.

        """
        return self._reading.answered

    @property
    def closed(self) -> bool:
        """
        :obj:`True` once the connection has ended, for whatever reason.

        """
        # An abort (no pong, a failed write) ends the connection at once,
        # before the reader thread has woken up to finish it: no new request
        # may go out on it meanwhile.
        return self._closed.is_set() or self._exc is not None

    @property
    def closed_by_client(self) -> bool:
        """
        :obj:`True` once :meth:`close` was called on this side.

        """
        return self._closing

    def start(self) -> None:
        """
        Start the reader thread and, if enabled, the keepalive thread.

        """
        # Daemon threads: a program that forgets close() must still exit.
        # The socket dies with the process, and pending callers are gone.
        self._reader = threading.Thread(
            target=self._read_loop, name="bittap-ws-reader", daemon=True
        )
        start_thread(self._reader)
        if self.ping_interval is not None:
            ping = functools.partial(self._send_control, b"", OP_PING)
            self._keepalive = Keepalive(
                self.url, self.ping_interval, self.ping_timeout, ping, self._abort, self._closed
            )
            start_thread(self._keepalive.thread)

    def request(
        self,
        method: str,
        request_id: str,
        text: str,
        deadline: Deadline,
        timeout: float | None,
    ) -> Any:
        """
        Send one request and wait for its answer.

        The slot for the answer is registered before the request is sent
        and removed on every way out, including an interrupt.

        Returns:
            The decoded answer, as given to :meth:`Pending.resolve`.

        Raises:
            ConnectionClosed: If the connection ends before the answer came.
            RequestTimeout: If no answer came before ``deadline``. A later
                answer is dropped by the reader.

        """
        try:
            slot = self.pending.add(request_id)
        except ConnectionClosed as exc:
            raise copy_closed(exc, NotSent) from exc.__cause__
        try:
            if self.send(text, OP_TEXT, deadline):
                slot.wait(deadline.remaining())
        finally:
            # A filled slot was taken out of the table when it was filled.
            if not slot.filled:
                self.pending.discard(request_id)
        # Once the slot is discarded, the reader can no longer fill it: what
        # it holds now is final, even if the answer raced with the timeout.
        if slot.exc is not None:
            raise slot.exc
        if not slot.filled:
            raise RequestTimeout(method, request_id, timeout or 0.0)
        return slot.value

    def send(self, data: str | bytes, opcode: int, deadline: Deadline) -> bool:
        """
        Write one frame.

        Returns:
            :obj:`False` if the send lock could not be had before
            ``deadline``: nothing was sent.

        Raises:
            ConnectionClosed: If the connection has ended or ends while
                writing; it is then torn down.

        """
        if opcode == OP_TEXT and logger.isEnabledFor(logging.DEBUG):
            logger.debug("sending %s", redact_frame(data))
        payload = data.encode() if isinstance(data, str) else data
        lock = self._send_lock
        if held(lock):
            # A signal handler called while this thread writes a frame:
            # waiting for the lock would wait forever. Nothing is sent.
            return False
        # Acquired inside the try and released in the finally: an interrupt
        # anywhere in between leaves the lock free.
        try:
            # Try without a timeout first: reading the clock costs more.
            if not lock.acquire(False) and not deadline.acquire(lock):
                return False
            if self.closed:
                exc = self._closed_exc()
                raise copy_closed(exc, NotSent) from exc.__cause__
            self._io.sendall(build_frame(opcode, payload, self._mask_keys.next()), deadline)
        except WriteTimeout as exc:
            if exc.sent:
                # Part of the frame is on the wire: the stream is broken.
                self._abort(TimeoutError(f"peer stopped reading: {exc}"))
            return False
        except OSError as exc:
            self._abort(exc)
            raise self._closed_exc() from exc
        except BaseException as exc:
            # Interrupted (Ctrl-C) in the middle of a write: part of the
            # frame may be on the wire and the stream can't be trusted.
            if held(lock):
                self._abort(exc)
            raise
        finally:
            # One call, so that no interrupt can come between a check and
            # the release: an RLock refuses a thread that does not hold it.
            try:
                lock.release()
            except RuntimeError:
                pass  # not acquired
        return True

    def close(self) -> None:
        """
        Close the connection; idempotent, callable from any thread.

        Sends a close frame if the socket is still writable, wakes every
        waiter with :exc:`ConnectionClosed`, and waits a bounded time for the
        reader and keepalive threads to end.

        """
        deadline = Deadline(CLOSE_TIMEOUT)
        try:
            with self._state_lock:
                first = not self._closing
                self._closing = True
            if first:
                # Wake every waiter now, not once the reader notices the end.
                self.pending.fail_all(self._closed_exc())
            if first and not self._closed.is_set():
                # Best effort, within CLOSE_TIMEOUT: a peer that stopped
                # reading must not block close(), nor a writer stuck because
                # of it.
                self._send_close(b"\x03\xe8", Deadline(CLOSE_TIMEOUT / 2))
        finally:
            # Even if interrupted (Ctrl-C): the reader ends on the shut
            # down socket, and closes it.
            self._shutdown()
        current = threading.current_thread()
        keepalive = None if self._keepalive is None else self._keepalive.thread
        for thread in (self._reader, keepalive):
            # Not this thread; nor one whose start() Ctrl-C interrupted, not
            # alive yet: it ends by itself, on the closed socket.
            if thread is not None and thread is not current and thread.is_alive():
                thread.join(deadline.remaining())
        reader = self._reader
        if reader is None or not reader.is_alive():
            # A reader whose start() was interrupted may never run, and
            # never close the socket: close it here (closing is idempotent).
            try:
                self._io.close()
            except OSError:  # pragma: no cover - close() hardly ever fails
                pass

    # Private methods

    def _abort(self, exc: BaseException) -> None:
        with self._state_lock:
            if self._exc is None:
                self._exc = exc
        self._shutdown()

    def _shutdown(self) -> None:
        # shutdown() wakes the reader blocked in recv() and any writer
        # blocked in send(). The base class method is called even on an
        # SSLSocket, whose own shutdown() would drop its SSL object under
        # the feet of a thread using it.
        try:
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already shut down or closed

    def _closed_exc(self) -> ConnectionClosed:
        """
        Describe why the connection ended; chain it from the first error.

        """
        with self._state_lock:
            exc = self._exc
            closing = self._closing
        return self._reading.ended(exc, closing)

    def _read_loop(self) -> None:
        reader = self._reading
        try:
            reader.run()
        except Exception as exc:
            with self._state_lock:
                if self._exc is None and not self._closing:
                    self._exc = exc
            if isinstance(exc, FrameError) and not self._closing:
                # Fail the connection with the close code (RFC 6455 7.1.7),
                # if the socket takes the frame at once: no waiting on a
                # peer that broke the protocol.
                reader.wake()
                reason = exc.reason.encode()[:123]
                self._send_close(exc.code.to_bytes(2, "big") + reason, Deadline(0.0))
            if not self._closing:
                logger.debug("connection to %s lost: %s", self.url, describe(exc))
        finally:
            reader.wake()
            self._closed.set()
            self._shutdown()
            try:
                self._io.close()
            except OSError:  # pragma: no cover - close() hardly ever fails
                pass
            # on_close first, so that the client has taken note of the end
            # (backoff, resuming streams) before any waiter can reconnect.
            if self.on_close is not None:
                try:
                    self.on_close(self)
                except Exception:
                    logger.exception("error while handling the end of a connection")
            self.pending.fail_all(self._closed_exc())
            self._on_pong()  # wakes the keepalive thread up to see the end

    def _on_pong(self) -> None:
        if self._keepalive is not None:
            self._keepalive.on_pong()

    def _send_close(self, payload: bytes, deadline: Deadline) -> None:
        # Best effort, never raises: a close frame, if the send lock comes
        # within CLOSE_TIMEOUT / 2 and the socket takes it by ``deadline``.
        lock = self._send_lock
        if held(lock):
            return  # interrupted in the middle of this thread's own frame
        try:
            if lock.acquire(timeout=CLOSE_TIMEOUT / 2):
                self._io.sendall(build_frame(OP_CLOSE, payload, self._mask_keys.next()), deadline)
        except (OSError, WriteTimeout):
            pass  # the connection is ending anyway
        finally:
            try:
                lock.release()
            except RuntimeError:
                pass  # not acquired

    def _send_control(self, data: bytes, opcode: int) -> None:
        # A control frame that cannot go out within ping_timeout means the
        # peer stopped reading: the connection is dead.
        deadline = Deadline(self.ping_timeout or CLOSE_TIMEOUT)
        lock = self._send_lock
        try:
            if not deadline.acquire(lock):
                raise TimeoutError("cannot write to the connection: the peer stopped reading")
            self._io.sendall(build_frame(opcode, data, self._mask_keys.next()), deadline)
        except WriteTimeout as exc:
            raise TimeoutError(f"the peer stopped reading: {exc}") from None
        finally:
            try:
                lock.release()
            except RuntimeError:
                pass  # not acquired
