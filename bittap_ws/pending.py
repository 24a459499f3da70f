"""
The table of requests waiting for an answer.

A caller adds a slot *before* it sends its request, waits on the slot, and
discards the slot on every way out. The reader thread resolves slots as
answers come in, and fails them all at once when the connection ends. This
module has no sockets.

"""

from __future__ import annotations

import _thread
import logging
import threading
from _thread import LockType
from time import monotonic
from typing import Any

from .errors import ConnectionClosed

__all__ = ["Pending", "Slot", "copy_closed"]

logger = logging.getLogger("bittap_ws")


class Slot:
    """
    One request waiting for its answer, used like a :class:`threading.Event`
    (``set()``, ``is_set()``, ``wait(timeout)``), plus a cell.

    ``value`` (an answer) or ``exc`` (why there will be none) is stored, and
    ``filled`` set, before the slot is set, so a waiter woken by the slot
    always finds one of them.

    The thread that adds a slot waits on it. Its waiting costs one lock
    that belongs to the thread and serves every slot the thread ever waits
    on (see :func:`_thread_lock`): no lock, condition or event is built per
    request, and waking a waiter is a single release. A release meant for
    an earlier slot of the same thread (one set after its waiter gave up)
    can wake the waiter early: :meth:`wait` then finds its own slot not set
    and blocks again, so a late answer never ends the wait of a later call.

    """

    __slots__ = ("_lock", "_set", "filled", "value", "exc")

    def __init__(self, lock: LockType | None = None) -> None:
        self._lock = _thread_lock() if lock is None else lock
        self._set = False
        self.filled = False
        self.value: Any = None
        self.exc: BaseException | None = None

    def set(self) -> None:
        """
        Wake the waiter, now and in every later :meth:`wait`; idempotent.

        """
        self._set = True
        try:
            self._lock.release()
        except RuntimeError:
            pass  # already released: the waiter will wake and look anyway

    def is_set(self) -> bool:
        """
        Tell whether :meth:`set` was called.

        """
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """
        Block until the slot is set or ``timeout`` seconds pass.

        Returns:
            :obj:`True` if the slot is set.

        """
        if self._set:
            return True
        acquire = self._lock.acquire
        end = None if timeout is None else monotonic() + timeout
        while True:
            if end is None:
                acquire()
            else:
                remaining = end - monotonic()
                if remaining <= 0.0 or not acquire(True, remaining):
                    return self._set
            # The lock is held again, as it is between waits.
            if self._set:
                return True


_local = threading.local()


def _thread_lock() -> LockType:
    """
    Return the calling thread's wake-up lock: a plain lock kept acquired
    while nobody releases it, so that acquiring it blocks until a release.

    """
    try:
        lock: LockType = _local.lock
    except AttributeError:
        lock = _local.lock = _thread.allocate_lock()
        lock.acquire()
    return lock


class Pending:
    """
    Map request ids to :class:`Slot` objects, under one lock.

    ``_lock`` guards ``_slots`` and ``_closed``; it is held only for dict
    operations and ``Slot.set()``, never while waiting. Every method takes
    it with ``with``, which an interrupt cannot split from its release. It
    is reentrant so that a signal handler that makes a call while this
    thread holds it goes on instead of waiting for itself forever: each
    method leaves the table consistent at every step.

    A slot leaves the table exactly once, by :meth:`resolve`,
    :meth:`fail_all` or :meth:`discard`, under the lock; only the first two
    fill it.

    After :meth:`fail_all`, the table is closed: :meth:`add` raises the
    exception given to :meth:`fail_all`, so no caller can register on a
    connection that has already ended.

    """

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._lock = threading.RLock()
        self._closed: ConnectionClosed | None = None

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, request_id: str) -> Slot:
        """
        Register a slot for ``request_id``; the calling thread is the one
        that waits on it.

        Raises:
            ConnectionClosed: If the table was closed by :meth:`fail_all`.
            ValueError: If ``request_id`` is already waiting.

        """
        slot = Slot()
        with self._lock:
            if self._closed is not None:
                raise copy_closed(self._closed)
            if request_id in self._slots:
                raise ValueError(f"request id {request_id!r} is already pending")
            self._slots[request_id] = slot
        return slot

    def resolve(self, request_id: str, value: Any, woken: list[Slot] | None = None) -> bool:
        """
        Hand ``value`` to the caller waiting for ``request_id``.

        The slot is filled and taken out of the table under the lock. It is
        set at once, or, if a ``woken`` list is given, appended to it: the
        caller must then :meth:`~Slot.set` every slot in ``woken`` on every
        way out. The reader thread uses this to wake callers just before it
        blocks reading, so that a woken caller finds the GIL free.

        Returns :obj:`False`, after logging it, when nobody waits for this
        id: the answer is late (its caller timed out), a duplicate, or for
        a request this client never sent.

        """
        with self._lock:
            slot = self._slots.pop(request_id, None)
            if slot is not None:
                slot.value = value
                slot.filled = True
                if woken is None:
                    slot.set()
                else:
                    woken.append(slot)
                return True
        logger.debug("dropped an answer to unknown or expired request %s", request_id)
        return False

    def discard(self, request_id: str) -> None:
        """
        Remove the slot for ``request_id``, if it is still there.

        """
        with self._lock:
            self._slots.pop(request_id, None)

    def fail_all(self, exc: ConnectionClosed) -> None:
        """
        Wake every waiter with ``exc`` and close the table.

        Each waiter receives its own copy of ``exc``, chained from the same
        cause, so that tracebacks of different threads do not mix.

        """
        with self._lock:
            if self._closed is None:
                self._closed = exc
            slots, self._slots = self._slots, {}
            for slot in slots.values():
                slot.exc = copy_closed(exc)
                slot.filled = True
                slot.set()


def copy_closed(
    exc: ConnectionClosed, cls: type[ConnectionClosed] = ConnectionClosed
) -> ConnectionClosed:
    """
    Return a new ``cls`` with the message, close code and reason of ``exc``,
    chained from the same cause.

    """
    copy = cls(str(exc), code=exc.code, reason=exc.reason)
    copy.__cause__ = exc.__cause__
    return copy
