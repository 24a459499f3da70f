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

import logging
import select
import socket
import ssl
import threading
from typing import Any, Callable

import attrs
import websocket
from websocket import ABNF

from ._deadline import Deadline
from ._frames import FrameError, FrameReader, MaskKeys, build_frame
from ._redact import redact_frame
from .errors import ConnectError, ConnectionClosed, RequestTimeout
from .pending import Pending, Slot, copy_closed
from .protocol import Ack, BadReply, Event, Reply, Response, Unroutable, decode

__all__ = ["Attempt", "Connection", "NotSent", "open_connection"]

logger = logging.getLogger("bittap_ws")

# How long close() waits to send its close frame and for the reader to end.
CLOSE_TIMEOUT = 2.0

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


class WriteTimeout(Exception):
    """
    A write did not complete before its deadline; ``sent`` bytes of the
    frame went out.

    """

    def __init__(self, sent: int) -> None:
        super().__init__(f"write timed out after {sent} bytes")
        self.sent = sent


class _Plain:
    """
    Reads and writes on a plain TCP socket.

    Reads block, without a timeout; writes wait for room in the socket's
    buffer only until their deadline, so that a peer that stops reading
    cannot hold a writer, and the send lock, beyond it.

    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recv = sock.recv

    def sendall(self, data: bytes, deadline: Deadline) -> None:
        """
        Write all of ``data``, waiting for room until ``deadline``.

        Raises:
            WriteTimeout: If ``deadline`` passes first.
            OSError: If the connection has ended.

        """
        if _MSG_DONTWAIT is None:  # pragma: no cover - Windows
            self.sock.sendall(data)
            return
        sock = self.sock
        try:
            # The usual case: the buffer has room for the whole frame.
            sent = sock.send(data, _MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:
            remaining = deadline.remaining()
            if remaining == 0.0:
                raise WriteTimeout(len(data) - len(view))
            _wait_writable(sock, remaining)
            try:
                view = view[sock.send(view, _MSG_DONTWAIT) :]
            except BlockingIOError:
                pass

    def close(self) -> None:
        self.sock.close()


_MSG_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)


def _wait_writable(sock: socket.socket, timeout: float | None) -> None:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    poller.poll(None if timeout is None else timeout * 1000)


class _TLS:
    """
    Reads and writes on a TLS socket shared by the reader and the writers.

    OpenSSL forbids using one TLS session from two threads at once, even to
    read in one and write in the other: doing so corrupts records ("bad
    record mac") or crashes the process. So every call into the session
    holds ``lock``, and the socket is non-blocking, so that no call ever
    waits for the network while holding it: waiting for the socket to be
    readable or writable happens outside the lock.

    """

    def __init__(self, sock: ssl.SSLSocket, closed: threading.Event) -> None:
        self.sock = sock
        self.closed = closed
        self.lock = threading.Lock()
        sock.setblocking(False)

    def recv(self, bufsize: int) -> bytes:
        """
        Read what is there, waiting for it as long as it takes.

        Only the reader thread calls this, and only it closes the socket, so
        the wait needs no timeout: shutting the socket down wakes it.

        """
        while True:
            with self.lock:
                try:
                    return self.sock.recv(bufsize)
                except ssl.SSLWantReadError:
                    readable = True
                except ssl.SSLWantWriteError:  # pragma: no cover - renegotiation
                    readable = False
            self._wait(readable, None)

    def sendall(self, data: bytes, deadline: Deadline) -> None:
        """
        Write all of ``data``, waiting for room until ``deadline``.

        Raises:
            WriteTimeout: If ``deadline`` passes first.
            OSError: If the connection has ended.

        """
        view = memoryview(data)
        while view:
            with self.lock:
                try:
                    # After a "want" error, SSL_write must be called again
                    # with the same bytes: the view only moves on success.
                    view = view[self.sock.send(view) :]
                    continue
                except ssl.SSLWantWriteError:
                    readable = False
                except ssl.SSLWantReadError:  # pragma: no cover - renegotiation
                    readable = True
            if self.closed.is_set():
                raise OSError("the connection has ended")
            remaining = deadline.remaining()
            if remaining == 0.0:
                raise WriteTimeout(len(data) - len(view))
            # A bounded wait: the reader may close the socket meanwhile.
            self._wait(readable, 1.0 if remaining is None else min(1.0, remaining))

    def close(self) -> None:
        with self.lock:
            self.sock.close()

    def _wait(self, readable: bool, timeout: float | None) -> None:
        fileno = self.sock.fileno()
        if fileno < 0:
            raise OSError("the socket is closed")
        if hasattr(select, "poll"):  # pragma: no branch - not on Windows
            # poll(), unlike select(), takes descriptors above FD_SETSIZE.
            poller = select.poll()
            poller.register(fileno, select.POLLIN if readable else select.POLLOUT)
            poller.poll(None if timeout is None else timeout * 1000)
        else:  # pragma: no cover
            fds = [fileno]
            select.select(fds if readable else [], [] if readable else fds, [], timeout)


class Attempt:
    """
    An attempt to open a connection, which another thread may abort.

    """

    def __init__(self) -> None:
        self.ws: websocket.WebSocket | None = None
        self.reason: str | None = None

    def abort(self, reason: str = "aborted") -> None:
        """
        Make the attempt fail with ``reason``, as soon as it can.

        """
        if self.reason is None:
            self.reason = reason
        ws = self.ws
        sock = None if ws is None else ws.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet, or already closed


def open_connection(
    url: str,
    *,
    connect_timeout: float | None,
    ssl_context: ssl.SSLContext | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_close: Callable[[Connection], None] | None = None,
    generation: int = 0,
    attempt: Attempt | None = None,
) -> Connection:
    """
    Open a WebSocket connection to ``url`` and start its threads.

    ``attempt``, if given, lets another thread abort the attempt.

    Raises:
        ConnectError: If the connection cannot be opened within
            ``connect_timeout`` seconds, or the attempt is aborted, with the
            cause attached. Name resolution is not bounded by the timeout.

    """
    sslopt: dict[str, Any] = {}
    if ssl_context is not None:
        sslopt["context"] = ssl_context
    if attempt is None:
        attempt = Attempt()
    ws = websocket.WebSocket(
        sslopt=sslopt,
        # Text frames are decoded as UTF-8 by the JSON parser anyway.
        skip_utf8_validation=True,
        # All writes go through Connection's own send lock.
        enable_multithread=False,
        sockopt=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    # websocket-client applies its timeout to each socket operation: a
    # server that trickles its handshake could take far longer in all. The
    # watchdog cuts the socket when connect_timeout has passed.
    ws.settimeout(connect_timeout)
    attempt.ws = ws
    watchdog = None
    if connect_timeout is not None:
        watchdog = threading.Timer(connect_timeout, attempt.abort, args=("timed out",))
        watchdog.name = "bittap-ws-connect-watchdog"
        watchdog.daemon = True
        watchdog.start()
    try:
        if attempt.reason is None:
            ws.connect(url)  # type: ignore[no-untyped-call]
        if attempt.reason is not None:
            raise ConnectError(f"cannot connect to {url}: {attempt.reason}")
    except ConnectError:
        ws.shutdown()  # type: ignore[no-untyped-call]
        raise
    except Exception as exc:
        ws.shutdown()  # type: ignore[no-untyped-call]
        reason = _describe(exc) if attempt.reason is None else attempt.reason
        raise ConnectError(f"cannot connect to {url}: {reason}") from exc
    finally:
        if watchdog is not None:
            watchdog.cancel()
            watchdog.join()
        attempt.ws = None
    assert ws.sock is not None
    # Blocking reads without a timeout: an idle connection must never end
    # because nothing was said for a while. Keepalive detects dead peers.
    ws.sock.settimeout(None)
    conn = Connection(
        ws,
        url=url,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        on_event=on_event,
        on_close=on_close,
        generation=generation,
    )
    conn.start()
    return conn


@attrs.define(eq=False, repr=False)
class Connection:
    """
    An open WebSocket connection, with its reader thread and keepalive.

    Build it with :func:`open_connection`.

    Locks:

    * ``_send_lock`` serializes writes to the socket, and guards
      ``_mask_keys``. It is held only while a frame is built and written.
    * ``_state_lock`` guards ``_closing`` and ``_exc``. It is never held
      while doing I/O.
    * On a TLS connection, ``_TLS.lock`` is held around each call into the
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
    # What reads and writes go through: the socket itself, or _TLS.
    _io: Any = attrs.field(init=False)
    _send_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _mask_keys: MaskKeys = attrs.field(init=False, factory=MaskKeys)
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
        if isinstance(self._sock, ssl.SSLSocket):
            self._io = _TLS(self._sock, self._closed)
        else:
            self._io = _Plain(self._sock)

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
            if self.send(text, _OP_TEXT, deadline):
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
        if opcode == _OP_TEXT and logger.isEnabledFor(logging.DEBUG):
            logger.debug("sending %s", redact_frame(data))
        payload = data.encode() if isinstance(data, str) else data
        # Try without a timeout first: reading the clock costs more.
        if not self._send_lock.acquire(False) and not deadline.acquire(self._send_lock):
            return False
        try:
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
            self._abort(exc)
            raise
        finally:
            self._send_lock.release()
        return True

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
            if self._send_lock.acquire(timeout=CLOSE_TIMEOUT / 2):
                try:
                    frame = build_frame(_OP_CLOSE, b"\x03\xe8", self._mask_keys.next())
                    self._io.sendall(frame, Deadline(CLOSE_TIMEOUT / 2))
                except (OSError, WriteTimeout):
                    pass  # the connection is ending anyway
                finally:
                    self._send_lock.release()
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
            error = ConnectionClosed(f"connection lost: {_describe(exc)}")
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
                failure: FrameError | None = None
                try:
                    messages = frames.feed(data)
                except FrameError as exc:
                    # The messages before the bad frame are still handled.
                    messages, failure = exc.messages, exc
                for opcode, payload in messages:
                    if opcode == _OP_TEXT:
                        self._dispatch(payload, woken)
                    elif opcode == _OP_BINARY:
                        logger.warning("ignored a binary frame of %d bytes", len(payload))
                    elif opcode == _OP_PING:
                        # Writing may block: wake the callers first.
                        _wake(woken)
                        assert isinstance(payload, bytes)
                        self._send_control(payload, _OP_PONG)
                    elif opcode == _OP_PONG:
                        self._pong.set()
                    else:
                        assert opcode == _OP_CLOSE and isinstance(payload, bytes)
                        _wake(woken)
                        self._on_close_frame(payload)
                        return
                _wake(woken)
                if failure is not None:
                    raise failure
        except Exception as exc:
            with self._state_lock:
                if self._exc is None and not self._closing:
                    self._exc = exc
            if isinstance(exc, FrameError) and not self._closing:
                # Fail the connection with the close code (RFC 6455 7.1.7),
                # if the socket takes the frame at once: no waiting on a
                # peer that broke the protocol.
                _wake(woken)
                if self._send_lock.acquire(timeout=CLOSE_TIMEOUT / 2):
                    try:
                        close = exc.code.to_bytes(2, "big") + exc.reason.encode()[:123]
                        frame = build_frame(_OP_CLOSE, close, self._mask_keys.next())
                        self._io.sendall(frame, Deadline(0.0))
                    except (OSError, WriteTimeout):
                        pass  # the connection is failed anyway
                    finally:
                        self._send_lock.release()
            if not self._closing:
                logger.debug("connection to %s lost: %s", self.url, _describe(exc))
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

    def _dispatch(self, data: str | bytes, woken: list[Slot]) -> None:
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
        if not deadline.acquire(self._send_lock):
            raise TimeoutError("cannot write to the connection: the peer stopped reading")
        try:
            self._io.sendall(build_frame(opcode, data, self._mask_keys.next()), deadline)
        except WriteTimeout as exc:
            raise TimeoutError(f"the peer stopped reading: {exc}") from None
        finally:
            self._send_lock.release()

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


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
