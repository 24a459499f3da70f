"""
The current connection of a client, and what each new one must restore.

A :class:`Session` opens its connection lazily, when a call needs it, and
again after it ends: one attempt at a time, bounded by the connect timeout,
with backoff after failures. :meth:`Session.close` aborts an attempt in
progress. A child process made by :func:`os.fork` drops the parent's
connection without touching it, and a session garbage-collected without
:meth:`~Session.close` closes its connection.

**Restoration.** Some work is stateful: a subscription lives on one
connection, and so does a LOGIN. A new connection starts with none of it.
Each piece of such state registers a :class:`Step` with the session; after a
connection ends, while any step still wants its state back, a background
thread (``bittap-ws-restore``) opens a new connection, with backoff, and runs
every step on it in the order they were added, until all succeed or
``resume_timeout`` passes; then the steps that could not be restored give up.
A step must be idempotent on a connection: a caller may have reopened the
connection first, and the thread then finds some of the work already done.

"""

from __future__ import annotations

import logging
import os
import random
import ssl
import threading
import time
import weakref
from typing import Callable, Protocol

import attrs

from ._deadline import Deadline, Flag, held
from ._redact import redact_url
from ._transport import Attempt, open_websocket
from .connection import Connection
from .errors import BitTapError, ConnectError, ConnectionClosed
from .protocol import Event

__all__ = ["Session", "Step", "UNOPENED", "OPEN", "CLOSED"]

logger = logging.getLogger("bittap_ws")

# Backoff between failed connection attempts: the first retry waits about
# BACKOFF_INITIAL seconds, each further one twice as long, up to BACKOFF_MAX,
# each times a random factor in [0.5, 1) so that many clients restarted
# together do not reconnect in step. Exchanges of this family allow about
# 300 connection attempts per 5 minutes per IP.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0

UNOPENED = "unopened"
OPEN = "open"
CLOSED = "closed"


class Step(Protocol):
    """
    A piece of connection state that every new connection must restore.

    * ``wanted()``: whether there is anything to restore.
    * ``restore(conn)``: restore it on ``conn``, skipping what ``conn``
      already has. :exc:`ConnectionClosed` makes the session try again on a
      new connection; another :exc:`BitTapError`, after a backoff, and it
      becomes the cause of the failure if the session gives up.
    * ``give_up(error)``: stop restoring; fail what depends on the state.
    * ``after_fork()``: drop the state in a child process made by
      :func:`os.fork`: it belongs to the parent's connection.

    """

    def wanted(self) -> bool: ...

    def restore(self, conn: Connection) -> None: ...

    def give_up(self, error: ConnectionClosed) -> None: ...

    def after_fork(self) -> None: ...


_sessions: weakref.WeakSet[Session] = weakref.WeakSet()


@attrs.define(eq=False, repr=False)
class Session:
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
    _failures: int = attrs.field(init=False, default=0)
    _retry_at: float = attrs.field(init=False, default=0.0)
    _last_error: ConnectError | None = attrs.field(init=False, default=None)
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
            if attempt is not None:
                attempt.abort("the client is closed")
            self._stop.set()
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
                self._last_error = exc
                self._back_off()
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
            # _failures is reset when this connection proves itself: see
            # _on_connection_closed().
            self._last_error = None
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

    def _back_off(self) -> None:
        """
        Count a failed connection; delay the next attempt accordingly.

        """
        self._failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)

    def _wait_backoff(self, deadline: Deadline) -> None:
        if self._failures == 0:
            return
        delay = self._retry_at - time.monotonic()
        if delay <= 0:
            return
        remaining = deadline.remaining()
        if remaining is not None and delay > remaining:
            error = ConnectError(
                f"cannot connect to {self._shown_url}: not retrying for {delay:.1f} s "
                f"after {self._failures} failed attempt(s)"
            )
            raise error from self._last_error
        # close() sets _stop, so it interrupts this wait.
        if self._stop.wait(delay) or self._state == CLOSED:
            raise ConnectionClosed("the client is closed")

    def _on_connection_closed(self, conn: Connection) -> None:
        # Called by the reader thread of a connection that just ended,
        # before its waiters are woken.
        if conn.answered:
            self._failures = 0
        elif self._state != CLOSED and not conn.closed_by_client:
            # A server that accepts connections and closes them before
            # answering anything must not be redialled in a tight loop.
            self._back_off()
        if self._state == CLOSED or not any(step.wanted() for step in self._steps):
            return
        with self._state_lock:
            self._restore_wanted = True
            if self._restore_thread is None and self._state != CLOSED:
                # Daemon: like the reader, it must not keep a program alive.
                self._restore_thread = threading.Thread(
                    target=self._restore_loop, name="bittap-ws-restore", daemon=True
                )
                self._restore_thread.start()

    def _restore_loop(self) -> None:
        try:
            while True:
                with self._state_lock:
                    if not self._restore_wanted or self._state == CLOSED:
                        self._restore_thread = None
                        return
                    self._restore_wanted = False
                self._restore()
        except Exception:  # pragma: no cover - a bug; never die silently
            logger.exception("error while restoring the connection")
            with self._state_lock:
                self._restore_thread = None

    def _restore(self) -> None:
        """
        Reconnect and run every step, until done or ``resume_timeout``.

        """
        deadline = Deadline(self.resume_timeout)
        while not self._stop.is_set():
            if not any(step.wanted() for step in self._steps):
                return
            try:
                remaining = deadline.remaining()
                assert remaining is not None
                conn = self.connection(Deadline(min(self.connect_timeout, remaining)))
                for step in self._steps:
                    step.restore(conn)
                return
            except ConnectionClosed:
                if self._state == CLOSED:
                    return
                last_error: BitTapError | None = None
            except BitTapError as exc:
                last_error = exc
            if deadline.expired():
                message = f"connection lost; cannot restore it within {self.resume_timeout:g} s"
                for step in self._steps:
                    error = ConnectionClosed(message)
                    error.__cause__ = last_error
                    step.give_up(error)
                return
            # Wait for the backoff to allow the next attempt.
            wait = max(0.05, self._retry_at - time.monotonic())
            remaining = deadline.remaining()
            self._stop.wait(wait if remaining is None else min(wait, remaining))

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
