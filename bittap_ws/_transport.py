"""
Bytes to and from the server: opening the socket, and reading and writing
on it, plain or TLS.

websocket-client opens the connection (TCP, TLS, proxies, the opening
handshake) in :func:`open_websocket`, bounded as a whole by the connect
timeout. Once it is open, :class:`Plain` and :class:`TLS` read and write
its socket: reads block without a timeout, writes wait for room only until
their deadline. Nothing here knows about frames or requests.

"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from typing import Any

import websocket

from ._deadline import Deadline, Flag, start_thread
from ._redact import redact_url
from .errors import ConnectError

__all__ = [
    "Attempt",
    "Plain",
    "TLS",
    "WriteTimeout",
    "describe",
    "open_websocket",
    "wrap",
]


class WriteTimeout(Exception):
    """
    A write did not complete before its deadline; ``sent`` bytes of the
    frame went out.

    """

    def __init__(self, sent: int) -> None:
        super().__init__(f"write timed out after {sent} bytes")
        self.sent = sent


class Plain:
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


class TLS:
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
        #: The connection, once open: its owner's to close.
        self.opened: websocket.WebSocket | None = None

    def abort(self, reason: str = "aborted") -> None:
        """
        Make the attempt fail with ``reason``, as soon as it can.

        """
        if self.reason is None:
            self.reason = reason
        ws = self.ws
        sock = None if ws is None else ws.sock
        if sock is not None:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """
    Make every read on ``sock``, from any thread, fail at once.

    Shutting the socket down wakes a thread blocked reading it, but not one
    that still finds bytes in its buffer: websocket-client reads the
    handshake's headers one byte at a time, so a server that floods them
    could hold the attempt for seconds past its deadline. So the descriptor
    is then pointed at a dead socket, on which reads end at once, and the
    connection itself is released (with a reset, its unread bytes
    dropped). The descriptor stays open: its number cannot be reused
    until its owner closes it.

    """
    try:
        # A file object of the socket defers its real close (by another
        # thread, e.g. websocket-client's on error) until this one ends:
        # while it lives, the descriptor's number is this socket's.
        hold = sock.makefile("rb", buffering=0)
    except (OSError, ValueError):  # pragma: no cover - already closed
        return
    try:
        fileno = sock.fileno()
        # A close() already under way does not wait for the file object.
        if fileno < 0 or getattr(sock, "_closed", False):
            return
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # not connected yet, or already shut down
        if os.name == "posix":  # pragma: no branch - os.dup2 of sockets
            # One end of a pair whose other end is closed: reads see the end
            # of the stream, which OpenSSL too takes as final (on a socket
            # that was never connected, it would wait for it to connect).
            dead, peer = socket.socketpair()
            peer.close()
            with dead:
                os.dup2(dead.fileno(), fileno)
    finally:
        hold.close()


def open_websocket(
    url: str,
    *,
    connect_timeout: float | None,
    ssl_context: ssl.SSLContext | None = None,
    attempt: Attempt | None = None,
) -> websocket.WebSocket:
    """
    Open a WebSocket connection to ``url``, with websocket-client.

    ``attempt``, if given, lets another thread abort the attempt.

    Raises:
        ConnectError: If the connection cannot be opened within
            ``connect_timeout`` seconds, or the attempt is aborted, with the
            cause attached. Name resolution is not bounded by the timeout.

    """
    shown_url = redact_url(url)
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
    # A Flag, not threading.Timer's Event: Ctrl-C while cancelling a Timer
    # can leave its Event's lock held, and the watchdog waiting forever.
    done = Flag()
    try:
        if connect_timeout is not None:
            watchdog = threading.Thread(
                target=_watch,
                args=(done, connect_timeout, attempt),
                name="bittap-ws-connect-watchdog",
                daemon=True,
            )
            start_thread(watchdog)
        if attempt.reason is None:
            # BitTap documents no redirect, and websocket-client would follow
            # one to any scheme and host: from wss:// to ws:// too, sending
            # the query (tokens included) in the clear. Follow none.
            ws.connect(url, redirect_limit=0)  # type: ignore[no-untyped-call]
        if attempt.reason is not None:
            raise ConnectError(f"cannot connect to {shown_url}: {attempt.reason}")
        # websocket-client 1.9.0, told to follow no redirect, returns as if
        # connected with the redirect's answer.
        if getattr(getattr(ws, "handshake_response", None), "status", 101) != 101:
            raise ConnectError(f"cannot connect to {shown_url}: {_refusal(ws, None)}")
        assert ws.sock is not None
        # Blocking reads without a timeout: an idle connection must never
        # end because nothing was said for a while. Keepalive detects dead
        # peers.
        ws.sock.settimeout(None)
        # From here on, the caller closes it, even if interrupted before it
        # receives it.
        attempt.opened = ws
    except ConnectError:
        ws.shutdown()  # type: ignore[no-untyped-call]
        raise
    except Exception as exc:
        ws.shutdown()  # type: ignore[no-untyped-call]
        if attempt.reason is not None:
            reason = attempt.reason
        else:
            reason = _refusal(ws, exc) or describe(exc)
        raise ConnectError(f"cannot connect to {shown_url}: {reason}") from exc
    except BaseException:
        # Interrupted (Ctrl-C): nobody else can close it.
        if attempt.opened is None:
            ws.shutdown()  # type: ignore[no-untyped-call]
        raise
    finally:
        done.set()
        # An interrupted start() may leave it starting still: it ends at
        # once, without firing.
        if watchdog is not None and watchdog.is_alive():
            watchdog.join()
        attempt.ws = None
    return ws


def _watch(done: Flag, timeout: float, attempt: Attempt) -> None:
    # The watchdog: cut the attempt when it has not ended in time.
    if not done.wait(timeout):
        attempt.abort("timed out")


def _refusal(ws: websocket.WebSocket, exc: Exception | None) -> str | None:
    """
    Describe a handshake answered with a status other than 101, without
    the answer's headers, which may hold cookies or tokens.

    """
    if isinstance(exc, websocket.WebSocketBadStatusException):
        status_message = getattr(exc, "status_message", None)  # 1.9.1 and later
        message = f" {status_message}" if status_message else ""
        return f"the server answered the handshake with status {exc.status_code}{message}"
    response = getattr(ws, "handshake_response", None)
    status = getattr(response, "status", None)
    if isinstance(status, int) and 300 <= status < 400:
        headers = getattr(response, "headers", None) or {}
        location = headers.get("location")
        target = "nowhere" if location is None else redact_url(location)
        return f"the server redirects (status {status}) to {target}; redirects are not followed"
    return None


def wrap(sock: socket.socket, closed: threading.Event) -> Plain | TLS:
    """
    Return what reads and writes on ``sock`` go through.

    ``closed`` is set once the connection has ended; a TLS writer waiting
    for room checks it.

    """
    if isinstance(sock, ssl.SSLSocket):
        return TLS(sock, closed)
    return Plain(sock)


def describe(exc: BaseException) -> str:
    """
    Describe ``exc`` in one line: its type, and its message if any.

    """
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
