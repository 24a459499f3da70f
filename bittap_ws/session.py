"""
The current connection of a client, and what each new one must restore.

A :class:`Session` opens its connection lazily, when a call needs it, and
again after it ends: one attempt at a time, bounded by the connect timeout,
with backoff after failures. :meth:`Session.close` aborts an attempt in
progress. A child process made by :func:`os.fork` drops the parent's
connection without touching it, and a session garbage-collected without
:meth:`~Session.close` closes its connection.

Restoration, the steps that every new connection runs before it serves
stateful work, is in :mod:`bittap_ws._restore`.

"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import weakref
from typing import Callable

import attrs

from ._backoff import Backoff
from ._deadline import Deadline, Flag, held
from ._redact import redact_url
from ._restore import CLOSED, OPEN, UNOPENED, Restoring, Step
from ._transport import Attempt, open_websocket
from .connection import Connection
from .errors import ConnectError, ConnectionClosed
from .protocol import Event

__all__ = ["Session", "Step", "UNOPENED", "OPEN", "CLOSED"]

logger = logging.getLogger("bittap_ws")


_sessions: weakref.WeakSet[Session] = weakref.WeakSet()


@attrs.define(eq=False, repr=False)
class Session(Restoring):
    """
    The current connection to ``url``: opened when needed, restored after
    it ends.

    """

    url: str
    connect_timeout: float
    ping_interval: float | None
    ping_timeout: float | None
    ssl_context: ssl.SSLContext | None
    resume_timeout: float
    max_size: int | None = 2**24
    on_event: Callable[[Event], None] | None = None

    # _state_lock guards _state, _conn, _attempt and the restore thread; it
    # is never held during I/O, so close() never waits behind an attempt.
    _state_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    # _connect_lock serializes connection attempts. An RLock only so that
    # held() can tell whether this thread holds it: it is never re-entered.
    _connect_lock: threading.RLock = attrs.field(init=False, factory=threading.RLock)
    _state: str = attrs.field(init=False, default=UNOPENED)
    _conn: Connection | None = attrs.field(init=False, default=None)
    _generation: int = attrs.field(init=False, default=0)
    # The connection attempt in progress, which close() aborts.
    _attempt: Attempt | None = attrs.field(init=False, default=None)
    _backoff: Backoff = attrs.field(init=False, factory=Backoff)
    _shown_url: str = attrs.field(init=False, default="")
    # Closes the connection when the session is garbage-collected without
    # close(), e.g. when a notebook cell that makes a client runs again.
    _finalizer: weakref.finalize[[], Session] | None = attrs.field(
        init=False, default=None
    )
    _steps: list[Step] = attrs.field(init=False, factory=list)
    _restore_thread: threading.Thread | None = attrs.field(init=False, default=None)
    _restore_wanted: bool = attrs.field(init=False, default=False)
    # Set by close(): interrupts backoff waits and restoration.
    # Flag, not threading.Event: a wait that Ctrl-C interrupts must not
    # leave it unusable for close().
    _stop: Flag = attrs.field(init=False, factory=Flag)

    def __attrs_post_init__(self) -> None:
        # The URL as messages and logs show it: its query may hold a token.
        self._shown_url = redact_url(self.url)
        _sessions.add(self)

    # Public methods

    @property
    def state(self) -> str:
        """
        ``"unopened"``, ``"open"``, ``"disconnected"`` (open, but its
        connection has ended) or ``"closed"``.

        """
        conn = self._conn
        if self._state == OPEN and (conn is None or conn.closed):
            return "disconnected"
        return self._state

    @property
    def closed(self) -> bool:
        """
        :obj:`True` after :meth:`close`, until :meth:`open`.

        """
        return self._state == CLOSED

    @property
    def current(self) -> Connection | None:
        """
        The connection, if one is open; never opens one.

        """
        conn = self._conn
        if conn is None or conn.closed or self._state == CLOSED:
            return None
        return conn

    def add_step(self, step: Step) -> None:
        """
        Restore ``step`` on every new connection, after the steps added
        before it.

        """
        self._steps.append(step)

    def open(self) -> Connection:
        """
        Open the connection now, if it is not open, within the connect
        timeout; reopen a closed session.

        Raises:
            ConnectError: If the connection cannot be opened.

        """
        with self._state_lock:
            self._state = OPEN
            if self._stop.is_set():
                self._stop = Flag()
        return self.connection(Deadline(self.connect_timeout))

    def close(self) -> None:
        """
        Close the connection and stop restoring; idempotent.

        """
        conn = restore_thread = None
        try:
            with self._state_lock:
                self._state = CLOSED
                conn, self._conn = self._conn, None
                self._set_finalizer(None)
                restore_thread = self._restore_thread
                attempt = self._attempt
                # Under the lock: open() replaces a set flag under it, so a
                # reopened session never keeps the stop of this close().
                self._stop.set()
            if attempt is not None:
                attempt.abort("the client is closed")
        finally:
            # Even if interrupted: nobody else holds the connection now.
            if conn is not None:
                conn.close()
        if restore_thread is not None and restore_thread is not threading.current_thread():
            restore_thread.join(self.connect_timeout)

    def connection(self, deadline: Deadline) -> Connection:
        """
        Return an open connection, opening one if needed.

        Raises:
            ConnectError: If it cannot be opened before ``deadline``, or the
                backoff after failed attempts forbids trying before then.
            ConnectionClosed: If the session is closed.

        """
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._state == CLOSED:
            raise ConnectionClosed("the client is closed")
        lock = self._connect_lock
        if held(lock):
            # A signal handler called in the middle of this thread's own
            # attempt: waiting for it would wait forever.
            raise ConnectError(
                f"cannot connect to {self._shown_url}: this thread is connecting already"
            )
        # Acquired inside the try and released in the finally: an interrupt
        # anywhere in between leaves the lock free.
        try:
            if not deadline.acquire(lock):
                raise ConnectError(f"cannot connect to {self._shown_url}: timed out")
            # Another thread may have connected while this one waited.
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._state == CLOSED:
                raise ConnectionClosed("the client is closed")
            self._wait_backoff(deadline)
            return self._open(deadline)
        finally:
            # One call, so that no interrupt can come between a check and
            # the release: an RLock refuses a thread that does not hold it.
            try:
                lock.release()
            except RuntimeError:
                pass  # not acquired: timed out or interrupted waiting

    # Private methods

    def _open(self, deadline: Deadline) -> Connection:
        assert held(self._connect_lock)
        remaining = deadline.remaining()
        connect_timeout = (
            self.connect_timeout if remaining is None else min(self.connect_timeout, remaining)
        )
        attempt = Attempt()
        with self._state_lock:
            self._attempt = attempt
        conn: Connection | None = None
        installed = False
        try:
            self._generation += 1
            try:
                ws = open_websocket(
                    self.url,
                    connect_timeout=connect_timeout,
                    ssl_context=self.ssl_context,
                    attempt=attempt,
                )
            except ConnectError as exc:
                if self._state == CLOSED:
                    raise ConnectionClosed("the client is closed") from exc
                self._backoff.fail(exc)
                raise
            finally:
                with self._state_lock:
                    self._attempt = None
            conn = Connection(
                ws,
                url=self._shown_url,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                on_event=self.on_event,
                on_close=_weak_on_close(self),
                generation=self._generation,
                max_size=self.max_size,
            )
            conn.start()
            # The backoff is reset when this connection proves itself: see
            # _on_connection_closed().
            self._backoff.last_error = None
            with self._state_lock:
                if self._state != CLOSED:
                    self._state = OPEN
                    # No call between these two: nothing can interrupt them.
                    self._conn = conn
                    installed = True
                    self._set_finalizer(conn)
            if not installed:
                # close() ran while this thread was connecting.
                raise ConnectionClosed("the client is closed")
            return conn
        finally:
            if not installed:
                # Failed, closed meanwhile or interrupted (Ctrl-C) before the
                # session took the connection: nobody else will close it.
                if conn is not None:
                    conn.close()
                elif attempt.opened is not None:
                    attempt.opened.shutdown()  # type: ignore[no-untyped-call]

    def _set_finalizer(self, conn: Connection | None) -> None:
        assert self._state_lock.locked()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if conn is not None:
            self._finalizer = weakref.finalize(self, conn.close)
            # At exit, daemon threads die with the process: no need to wait.
            self._finalizer.atexit = False

    def _wait_backoff(self, deadline: Deadline) -> None:
        delay = self._backoff.delay()
        if delay <= 0:
            return
        remaining = deadline.remaining()
        if remaining is not None and delay > remaining:
            error = ConnectError(
                f"cannot connect to {self._shown_url}: not retrying for {delay:.1f} s "
                f"after {self._backoff.failures} failed attempt(s)"
            )
            raise error from self._backoff.last_error
        # close() sets _stop, so it interrupts this wait.
        if self._stop.wait(delay) or self._state == CLOSED:
            raise ConnectionClosed("the client is closed")

    def _on_connection_closed(self, conn: Connection) -> None:
        # Called by the reader thread of a connection that just ended,
        # before its waiters are woken.
        if conn.answered:
            self._backoff.reset()
        elif self._state != CLOSED and not conn.closed_by_client:
            # A server that accepts connections and closes them before
            # answering anything must not be redialled in a tight loop.
            self._backoff.fail()
        self._start_restoring()

    def _after_fork(self) -> None:
        # The child has a copy of the socket but none of the threads: drop
        # the connection without touching the socket, which the parent
        # still uses, and start afresh. The next call reconnects.
        self._state_lock = threading.Lock()
        self._connect_lock = threading.RLock()
        self._conn = None
        self._attempt = None
        self._restore_thread = None
        self._restore_wanted = False
        for step in self._steps:
            step.after_fork()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._state == OPEN:
            self._state = UNOPENED


def _weak_on_close(session: Session) -> Callable[[Connection], None]:
    # The connection must not keep its session alive: a session dropped
    # without close() is finalized, and its connection closed.
    ref = weakref.ref(session)

    def on_close(conn: Connection) -> None:
        session = ref()
        if session is not None:
            session._on_connection_closed(conn)

    return on_close


def _after_fork_in_child() -> None:
    for session in list(_sessions):
        session._after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
