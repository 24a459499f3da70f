"""
One WebSocket connection: the socket, its reader thread and its keepalive.

The reader thread is the only one that reads from the socket. It hands each
answer to the caller waiting for it through :class:`~bittap_ws.pending.Pending`
and, whenever the connection ends for any reason, fails every waiting caller
with :exc:`~bittap_ws.errors.ConnectionClosed` at once.

Writes from any thread go through one send lock, so frames never interleave.
A caller that finds the lock taken leaves its frame in a queue instead of
waiting for the lock: the thread that holds it writes every queued frame
with its own, in one system call (see :meth:`Connection.request`).

websocket-client opens the connection; frames are then read and written
with :mod:`bittap_ws._frames`, which costs the reader thread, on the path of
every answer, a fraction of websocket-client's own frame layer.

"""

from __future__ import annotations

import logging
import socket
import threading
from collections import deque
from typing import Any, Callable

import attrs
import websocket
from websocket import ABNF

from ._deadline import Deadline
from ._frames import FrameReader, MaskKeys, build_frame
from ._redact import redact_frame
from ._transport import WriteError, WriteTimeout, describe, wrap
from .errors import ConnectionClosed, RequestTimeout
from .pending import Pending, Slot, copy_closed
from .protocol import Ack, BadReply, Event, Reply, Response, Unroutable, decode

__all__ = ["Connection", "NotSent"]

logger = logging.getLogger("bittap_ws")

# How long close() waits to send its close frame and for the reader to end.
CLOSE_TIMEOUT = 2.0

# How many times a writer writes what was queued meanwhile before it hands
# the send lock over to a queued caller.
DRAIN_ROUNDS = 64

# Bytes asked from the socket in one recv() by the reader.
RECV_BUFSIZE = 65536

_OP_TEXT = ABNF.OPCODE_TEXT
_OP_BINARY = ABNF.OPCODE_BINARY
_OP_CLOSE = ABNF.OPCODE_CLOSE
_OP_PING = ABNF.OPCODE_PING
_OP_PONG = ABNF.OPCODE_PONG


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
      ``_mask_keys``. It is held only while frames are built and written.
      Its holder may hand it, still held, to the first caller in
      ``_queue`` (see :meth:`_release`); every release goes through
      :meth:`_release`, so that no queued frame is left without a writer.
    * ``_queue_lock`` guards ``_queue`` and the ``handed`` flag of its
      entries. It is never held while doing I/O or waiting.
    * ``_state_lock`` guards ``_closing`` and ``_exc``. It is never held
      while doing I/O.
    * On a TLS connection, ``TLS.lock`` is held around each call into the
      TLS session, by the reader and by writers alike, and never while
      waiting for the network. A writer takes it inside ``_send_lock``.

    """

    _ws: websocket.WebSocket
    url: str
    ping_interval: float | None = None
    ping_timeout: float | None = None
    on_event: Callable[[Event], None] | None = None
    on_close: Callable[[Connection], None] | None = None
    generation: int = 0
    #: Whether the server answered anything on this connection.
    answered: bool = attrs.field(init=False, default=False)

    pending: Pending = attrs.field(init=False, factory=Pending)
    _sock: Any = attrs.field(init=False)
    # What reads and writes go through: _transport.Plain or _transport.TLS.
    _io: Any = attrs.field(init=False)
    _send_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _mask_keys: MaskKeys = attrs.field(init=False, factory=MaskKeys)
    _queue: deque[_Queued] = attrs.field(init=False, factory=deque)
    _queue_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _state_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _closing: bool = attrs.field(init=False, default=False)
    _exc: BaseException | None = attrs.field(init=False, default=None)
    _close_frame: tuple[int | None, str | None] | None = attrs.field(
        init=False, default=None
    )
    _closed: threading.Event = attrs.field(init=False, factory=threading.Event)
    _pong: threading.Event = attrs.field(init=False, factory=threading.Event)
    _reader: threading.Thread | None = attrs.field(init=False, default=None)
    _keepalive: threading.Thread | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._sock = self._ws.sock
        self._io = wrap(self._sock, self._closed)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection {self.url} {state} pending={len(self.pending)}>"

    # Public methods

    @property
    def closed(self) -> bool:
        """
        :obj:`True` once the connection has ended, for whatever reason.

        """
        # An abort (no pong, a failed write) ends the connection at once,
        # before the reader thread has woken up to finish it: no new request
        # may go out on it meanwhile.
        return self._closed.is_set() or self._exc is not None

    def start(self) -> None:
        """
        Start the reader thread and, if enabled, the keepalive thread.

        """
        # Daemon threads: a program that forgets close() must still exit.
        # The socket dies with the process, and pending callers are gone.
        self._reader = threading.Thread(
            target=self._read_loop, name="bittap-ws-reader", daemon=True
        )
        self._reader.start()
        if self.ping_interval is not None:
            self._keepalive = threading.Thread(
                target=self._keepalive_loop, name="bittap-ws-keepalive", daemon=True
            )
            self._keepalive.start()

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

        When another thread is writing, the frame is queued and that thread
        writes it, with every other queued frame, in one system call; the
        caller just waits for its answer. The writer tells each caller
        whose frame it could not write through the caller's slot: with
        :exc:`NotSent` when none of the frame went out, with
        :exc:`ConnectionClosed` when the connection failed after some of it
        did. A frame still queued at the caller's deadline is taken out of
        the queue and never written.

        Returns:
            The decoded answer, as given to :meth:`Pending.resolve`.

        Raises:
            NotSent: If the connection had ended before any of the request
                was written.
            ConnectionClosed: If the connection ends before the answer came.
            RequestTimeout: If no answer came before ``deadline``. A later
                answer is dropped by the reader.

        """
        try:
            slot = self.pending.add(request_id)
        except ConnectionClosed as exc:
            raise copy_closed(exc, NotSent) from exc.__cause__
        try:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("sending %s", redact_frame(text))
            self._submit(_Queued(request_id, _OP_TEXT, text.encode(), deadline, slot))
        finally:
            # A filled slot was taken out of the table when it was filled.
            if not slot.filled:
                self.pending.discard(request_id)
        # Once the slot is discarded, no other thread can fill it: what it
        # holds now is final, even if the answer raced with the timeout.
        if slot.exc is not None:
            raise slot.exc
        if not slot.filled:
            raise RequestTimeout(method, request_id, timeout or 0.0)
        return slot.value

    def send(self, data: str | bytes, opcode: int, deadline: Deadline) -> bool:
        """
        Write one frame that expects no answer, and wait until it is written.

        Returns:
            :obj:`False` if it was not written before ``deadline``; the
            connection is torn down if part of it was.

        Raises:
            NotSent: If the connection had ended before any of the frame
                was written.
            ConnectionClosed: If the connection ended while writing it.

        """
        payload = data.encode() if isinstance(data, str) else data
        slot = Slot()
        self._submit(_Queued(None, opcode, payload, deadline, slot))
        if slot.exc is not None:
            raise slot.exc
        return slot.filled

    def close(self) -> None:
        """
        Close the connection; idempotent, callable from any thread.

        Sends a close frame if the socket is still writable, wakes every
        waiter with :exc:`ConnectionClosed`, and waits a bounded time for the
        reader and keepalive threads to end.

        """
        with self._state_lock:
            first = not self._closing
            self._closing = True
        deadline = Deadline(CLOSE_TIMEOUT)
        if first:
            # Wake every waiter now, not once the reader notices the end.
            self.pending.fail_all(self._closed_exc())
        if first and not self._closed.is_set():
            # Best effort, within CLOSE_TIMEOUT: a peer that stopped reading
            # must not block close(), nor a writer stuck because of it.
            try:
                self.send(b"\x03\xe8", _OP_CLOSE, Deadline(CLOSE_TIMEOUT / 2))
            except ConnectionClosed:
                pass  # the connection is ending anyway
        self._shutdown()
        self.join(deadline.remaining())

    def join(self, timeout: float | None = None) -> None:
        """
        Wait for the threads of this connection to end.

        Does nothing for threads that are the calling thread.

        """
        deadline = Deadline(timeout)
        current = threading.current_thread()
        for thread in (self._reader, self._keepalive):
            if thread is not None and thread is not current:
                thread.join(deadline.remaining())

    # Private methods

    def _submit(self, entry: _Queued) -> None:
        """
        Have the frame of ``entry`` written, by this thread or by the one
        writing now, and wait on ``entry.slot`` until it is set or
        ``entry.deadline`` passes.

        """
        slot = entry.slot
        deadline = entry.deadline
        queued = None
        try:
            if self._send_lock.acquire(False):
                self._write_all(entry)
            else:
                queued = self._enqueue(entry)
            while not slot.wait(deadline.remaining(), entry.is_handed):
                if not entry.handed:
                    break  # the deadline passed
                # The writer handed the send lock over: write the queue.
                queued = None
                self._write_all(None)
        finally:
            # A frame still queued at a timeout or an interrupt must never
            # go out.
            if queued is not None:
                self._withdraw(queued)

    def _enqueue(self, entry: _Queued) -> _Queued | None:
        """
        Queue ``entry`` for the thread holding the send lock; or, if the
        lock is free by now, take it and write.

        Returns:
            ``entry`` if it was queued, :obj:`None` if this thread wrote it.

        """
        with self._queue_lock:
            self._queue.append(entry)
        # The holder may have released the lock before the entry was in the
        # queue: try again. Every release looks at the queue afterwards (see
        # _release), so the entry cannot be left without a writer.
        if not self._send_lock.acquire(False):
            return entry
        self._write_all(None)
        return None

    def _withdraw(self, entry: _Queued) -> None:
        """
        Take ``entry`` out of the queue if no writer took it yet; if the send
        lock was handed to it meanwhile, pass the lock on.

        """
        with self._queue_lock:
            handed = entry.handed
            entry.handed = False
            try:
                self._queue.remove(entry)
            except ValueError:
                pass  # taken by a writer
        if handed:
            self._release()

    def _write_all(self, first: _Queued | None) -> None:
        """
        Write ``first`` and every queued frame, then release the send lock.

        Requires holding the send lock.

        """
        assert self._send_lock.locked()
        try:
            batch = [] if first is None else [first]
            for _ in range(DRAIN_ROUNDS):
                # Read without the lock: a single thread never finds a
                # queue, and an entry missed here is seen by _release.
                if self._queue:
                    with self._queue_lock:
                        for entry in self._queue:
                            entry.handed = False
                        batch.extend(self._queue)
                        self._queue.clear()
                if not batch:
                    break
                self._write_batch(batch)
                batch = []
        finally:
            self._release()

    def _write_batch(self, batch: list[_Queued]) -> None:
        """
        Write the frames of ``batch`` in as few system calls as can be, and
        settle each one that is not a request.

        Requires holding the send lock. The frames go out by the earliest
        deadline among them. When it passes between two frames, the stream
        is intact: the frames whose deadline passed are dropped and the
        rest go out by the next deadline. When it passes inside a frame, or
        the connection fails, the stream is broken and the connection fails:
        the callers of the frames not begun get :exc:`NotSent`.

        """
        assert self._send_lock.locked()
        if self.closed:
            self._fail(batch, None, None)
            return
        next_key = self._mask_keys.next
        frames = [build_frame(e.opcode, e.payload, next_key()) for e in batch]
        while True:
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            error: BaseException | None = None
            try:
                self._io.sendall(data, _earliest(batch))
                _settle_written(batch)
                return
            except WriteTimeout as exc:
                sent = exc.sent
            except OSError as exc:
                sent = exc.sent if isinstance(exc, WriteError) else 0
                error = exc
            except BaseException as exc:
                # Interrupted (Ctrl-C) in the middle of a write: how much
                # went out is unknown and the stream can't be trusted.
                self._abort(exc)
                raise
            # The frames written whole are sent; their requests wait for
            # their answers.
            done = 0
            while done < len(frames) and sent >= len(frames[done]):
                sent -= len(frames[done])
                done += 1
            _settle_written(batch[:done])
            batch, frames = batch[done:], frames[done:]
            if error is None and sent == 0:
                # The deadline passed between two frames. Drop the frames
                # whose callers gave up, and go on with the others.
                kept = [i for i, e in enumerate(batch) if not e.deadline.expired()]
                batch = [batch[i] for i in kept]
                frames = [frames[i] for i in kept]
                if not batch:
                    return
                continue
            if error is None:
                error = TimeoutError(f"peer stopped reading: write timed out after {sent} bytes")
            self._fail(batch[1:] if sent else batch, batch[0] if sent else None, error)
            return

    def _fail(
        self, unsent: list[_Queued], cut: _Queued | None, error: BaseException | None
    ) -> None:
        """
        Fail the connection with ``error`` (unless it has ended already):
        tell the callers of ``unsent`` that their frames never went out,
        and the caller of ``cut``, if any, that its frame was cut short.

        """
        if error is not None:
            with self._state_lock:
                if self._exc is None:
                    self._exc = error
        closed = self._closed_exc()
        # Before the reader fails every pending request with the bare
        # ConnectionClosed: these were not sent.
        for entry in unsent:
            _settle(entry, self.pending, copy_closed(closed, NotSent))
        if cut is not None and cut.request_id is None:
            _settle(cut, self.pending, closed)
        if error is not None:
            self._abort(error)

    def _release(self) -> None:
        """
        Release the send lock, or hand it over to the first queued caller.

        Requires holding the send lock. A frame queued while it was held is
        never left behind: either its caller is handed the lock, or the lock
        is released and the queue looked at again.

        """
        while True:
            if self._queue:
                with self._queue_lock:
                    head = self._queue[0] if self._queue else None
                    if head is not None:
                        head.handed = True
                if head is not None:
                    head.slot.nudge()
                    return
            self._send_lock.release()
            if not self._queue or not self._send_lock.acquire(False):
                return

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
        close_frame = self._close_frame
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

    def _read_loop(self) -> None:
        recv = self._io.recv
        frames = FrameReader()
        # Callers whose answers were read but who are not woken yet: they
        # are woken right before the next blocking recv(), which releases
        # the GIL, so that they need not wait for it; and, if the loop
        # ends, before anything else.
        woken: list[Slot] = []
        try:
            while True:
                data = recv(RECV_BUFSIZE)
                if not data:
                    raise websocket.WebSocketConnectionClosedException(
                        "connection closed by the server without a close frame"
                    )
                for opcode, payload in frames.feed(data):
                    if opcode == _OP_TEXT:
                        self._dispatch(payload, woken)
                    elif opcode == _OP_BINARY:
                        logger.warning("ignored a binary frame of %d bytes", len(payload))
                    elif opcode == _OP_PING:
                        # Writing may block: wake the callers first.
                        _wake(woken)
                        self._send_control(payload, _OP_PONG)
                    elif opcode == _OP_PONG:
                        self._pong.set()
                    else:
                        assert opcode == _OP_CLOSE
                        _wake(woken)
                        self._on_close_frame(payload)
                        return
                _wake(woken)
        except Exception as exc:
            with self._state_lock:
                if self._exc is None and not self._closing:
                    self._exc = exc
            if not self._closing:
                logger.debug("connection to %s lost: %s", self.url, describe(exc))
        finally:
            _wake(woken)
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
            self._pong.set()  # wake the keepalive thread

    def _dispatch(self, data: bytes, woken: list[Slot]) -> None:
        # Never raises: a bad frame must not stop the reader.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("received %s", redact_frame(data))
        message = decode(data)
        if isinstance(message, (Response, Reply, Ack, BadReply)):
            self.answered = True
            self.pending.resolve(message.id, message, woken)
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

    def _send_control(self, data: bytes, opcode: int) -> None:
        # A control frame that cannot go out within ping_timeout means the
        # peer stopped reading: the connection is dead.
        deadline = Deadline(self.ping_timeout or CLOSE_TIMEOUT)
        if not self.send(data, opcode, deadline):
            raise TimeoutError("cannot write to the connection: the peer stopped reading")

    def _on_close_frame(self, data: bytes) -> None:
        code: int | None = None
        reason: str | None = None
        if len(data) >= 2:
            code = int.from_bytes(data[:2], "big")
            reason = data[2:].decode("utf-8", "replace")
        self._close_frame = (code, reason)
        logger.debug("server closed the connection with code %s: %s", code, reason)
        # Answer the close frame; the server closes the TCP connection next.
        try:
            self._send_control(data[:2], _OP_CLOSE)
        except (OSError, ConnectionClosed):
            pass  # the connection is ending anyway

    def _keepalive_loop(self) -> None:
        assert self.ping_interval is not None
        interval = self.ping_interval
        timeout = self.ping_timeout
        try:
            while not self._closed.wait(interval):
                self._pong.clear()
                self._send_control(b"", _OP_PING)
                if timeout is None:
                    continue
                if not self._pong.wait(timeout) and not self._closed.is_set():
                    logger.warning(
                        "no pong from %s within %g s: connection is dead",
                        self.url,
                        timeout,
                    )
                    self._abort(TimeoutError(f"no pong within {timeout:g} s"))
                    return
        except Exception as exc:
            self._abort(exc)


def _wake(slots: list[Slot]) -> None:
    for slot in slots:
        slot.set()  # idempotent: this may run again on the way out
    slots.clear()


class _Queued:
    """
    A frame to write, and the slot its caller waits on: for a request, the
    slot of its answer; for any other frame, a slot set once it is written.

    ``handed`` is set, under the queue lock, when the send lock is handed
    over to the caller, who must then write the queue.

    """

    __slots__ = ("request_id", "opcode", "payload", "deadline", "slot", "handed")

    def __init__(
        self, request_id: str | None, opcode: int, payload: bytes, deadline: Deadline, slot: Slot
    ) -> None:
        self.request_id = request_id
        self.opcode = opcode
        self.payload = payload
        self.deadline = deadline
        self.slot = slot
        self.handed = False

    def is_handed(self) -> bool:
        return self.handed


def _earliest(batch: list[_Queued]) -> Deadline:
    if len(batch) == 1:
        return batch[0].deadline
    earliest = Deadline(None)
    ends = [e.deadline.deadline for e in batch if e.deadline.deadline is not None]
    if ends:
        earliest.deadline = min(ends)
    return earliest


def _settle(entry: _Queued, pending: Pending, exc: BaseException | None) -> None:
    """
    Tell the caller of ``entry`` that its frame failed with ``exc``, or, for
    a frame that is not a request, that it was written (``exc`` None).

    """
    if entry.request_id is not None:
        if exc is not None:
            pending.fail(entry.request_id, exc)
        return
    slot = entry.slot
    slot.exc = exc
    slot.filled = True
    slot.set()


def _settle_written(batch: list[_Queued]) -> None:
    # A request learns from its answer; other frames are settled now.
    for entry in batch:
        if entry.request_id is None:
            slot = entry.slot
            slot.filled = True
            slot.set()
