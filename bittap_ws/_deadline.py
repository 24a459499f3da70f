"""
A monotonic deadline, shared by the connection and the client; and the
pieces that keep waits and locks whole when Ctrl-C interrupts them.

"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Union

__all__ = ["Deadline", "Flag", "check_timeout", "held", "start_thread"]

Lock = Union["threading.Lock", "threading.RLock"]


def held(lock: threading.RLock) -> bool:
    """
    Tell whether the current thread holds ``lock``.

    A signal handler that re-enters a section this thread is in finds out
    so that waiting for the lock would wait for itself.

    An interrupt (Ctrl-C) can strike right after a lock is acquired, before
    the code that acquired it has noted the fact, and between any two calls
    of a ``finally`` clause. So an RLock is acquired inside a ``try`` and
    released in its ``finally`` by one call, ``lock.release()``, which
    raises :exc:`RuntimeError` when this thread does not hold it.

    """
    return lock._is_owned()  # type: ignore[attr-defined,no-any-return]


class Flag:
    """
    An event that is set once, and that an interrupt cannot break.

    :class:`threading.Event` waits on a :class:`threading.Condition`
    written in Python: Ctrl-C at the wrong moment of :meth:`~Event.wait`
    leaves the condition's lock held, so that the next ``set()``, in
    another thread, blocks forever; or releases it twice, which raises
    ``RuntimeError``. A flag waits on one C lock, held until it is set.

    """

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def set(self) -> None:
        """
        Set the flag and wake its waiters; idempotent, from any thread.

        """
        # No call between the two, so no interrupt: once _set is true the
        # lock is released, or being released.
        self._set = True
        try:
            self._lock.release()
        except RuntimeError:
            pass  # set already, by this thread or another

    def is_set(self) -> bool:
        """
        Tell whether :meth:`set` was called.

        """
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """
        Block until the flag is set, or ``timeout`` seconds pass.

        Returns:
            :obj:`True` if the flag is set.

        """
        if self._set:
            return True
        if self._lock.acquire(timeout=-1 if timeout is None else timeout):
            # Interrupted here, the lock stays held: later waits see _set.
            self._lock.release()
            return True
        return self._set


def start_thread(thread: threading.Thread) -> None:
    """
    Start ``thread``; an interrupt raises :exc:`KeyboardInterrupt`.

    :meth:`threading.Thread.start` waits on an :class:`~threading.Event`,
    and an interrupt at the wrong moment of that wait makes CPython's
    :class:`~threading.Condition` release its lock twice, which raises
    ``RuntimeError: release unlocked lock`` instead of the interrupt. The
    thread may have started: its owner must stop it either way.

    """
    try:
        thread.start()
    except RuntimeError as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        raise


def check_timeout(value: Any, name: str = "timeout", *, zero: bool = False) -> float:
    """
    Return ``value``, a number of seconds to wait, after checking it.

    Args:
        value: The timeout.
        name: Its name, for the error message.
        zero: Whether 0 is allowed (don't wait at all).

    Raises:
        TypeError: If ``value`` is not a number.
        ValueError: If ``value`` is NaN, negative, zero without ``zero``,
            or greater than :data:`threading.TIMEOUT_MAX` (infinity
            included), which no lock or event of Python can wait for.

    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number of seconds, not NaN")
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be positive, not {value!r}")
    if value > threading.TIMEOUT_MAX:
        raise ValueError(
            f"{name} must be at most {threading.TIMEOUT_MAX:g} s, not {value!r}"
        )
    return value


class Deadline:
    """
    A point in time, on the monotonic clock, by which an operation must end.

    Args:
        timeout: Seconds from now, or :obj:`None` for no deadline.

    """

    __slots__ = ("deadline",)

    def __init__(self, timeout: float | None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """
        Seconds left before the deadline: never negative, :obj:`None` without one.

        """
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def left(self) -> float:
        """
        Seconds left before a deadline that has one; never negative.

        """
        remaining = self.remaining()
        assert remaining is not None, "a deadline without a timeout"
        return remaining

    def acquire(self, lock: Lock) -> bool:
        """
        Acquire ``lock``, waiting no longer than the deadline.

        Returns:
            :obj:`True` if the lock was acquired.

        """
        remaining = self.remaining()
        return lock.acquire(timeout=-1 if remaining is None else remaining)

    def expired(self) -> bool:
        """
        Tell whether the deadline has passed.

        """
        return self.deadline is not None and time.monotonic() >= self.deadline
