"""
Restoration: the steps that every new connection runs before it serves
stateful work, and the thread that runs them after a drop.

Some work is stateful: a subscription lives on one
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
import threading
from typing import TYPE_CHECKING, Protocol

from ._deadline import Deadline, Flag
from .errors import BitTapError, ConnectionClosed

if TYPE_CHECKING:  # pragma: no cover
    from ._backoff import Backoff
    from .connection import Connection

__all__ = ["CLOSED", "OPEN", "UNOPENED", "Restoring", "Step"]

logger = logging.getLogger("bittap_ws")

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


class Restoring:
    """
    The restoration half of :class:`~bittap_ws.session.Session`: its steps,
    and the ``bittap-ws-restore`` thread that runs them after a drop.

    """

    # Set by the session; _state_lock guards _state and the thread.
    connect_timeout: float
    resume_timeout: float
    _state: str
    _state_lock: threading.Lock
    _stop: Flag
    _backoff: Backoff
    _steps: list[Step]
    _restore_thread: threading.Thread | None
    _restore_wanted: bool

    def connection(self, deadline: Deadline) -> Connection:
        raise NotImplementedError  # pragma: no cover - the session's

    def _start_restoring(self) -> None:
        # Called by the reader thread of a connection that just ended.
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
        except Exception as exc:
            # A bug, or a user's signer that raised: never die silently, and
            # never leave a subscription waiting for a restoration that
            # will not come.
            logger.exception("error while restoring the connection")
            with self._state_lock:
                self._restore_thread = None
            for step in self._steps:
                error = ConnectionClosed(f"cannot restore the connection: {type(exc).__name__}")
                error.__cause__ = exc.with_traceback(None)
                step.give_up(error)

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
                # Without its traceback, which holds this session's frames:
                # the subscriptions keep the error.
                last_error = exc.with_traceback(None)
            if deadline.expired():
                message = f"connection lost; cannot restore it within {self.resume_timeout:g} s"
                for step in self._steps:
                    error = ConnectionClosed(message)
                    error.__cause__ = last_error
                    step.give_up(error)
                return
            # Wait for the backoff to allow the next attempt.
            wait = max(0.05, self._backoff.delay())
            remaining = deadline.remaining()
            self._stop.wait(wait if remaining is None else min(wait, remaining))
