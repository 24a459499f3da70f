"""
:class:`Subscription`: the events of one or more topics, queued for the
caller by the reader thread, as :meth:`~bittap_ws.Client.subscribe` returns
them.

The queue is bounded and never blocks the reader: when it is full, its
oldest event is dropped and counted.

"""

from __future__ import annotations

import collections
import math
import threading
from typing import Any, Callable, Iterator

import attrs

from ._deadline import Deadline, check_timeout
from .errors import BitTapError, ConnectionClosed, EventTimeout

__all__ = ["Subscription"]


@attrs.define(eq=False, repr=False)
class Subscription:
    """
    Events of one or more topics, as delivered by :meth:`Client.subscribe`.

    Iterating a subscription blocks for events and ends when it is closed.
    It is a context manager that closes it on exit.

    Attributes:
        topics: The topics of this subscription.
        maxsize: How many events the queue holds before dropping the oldest.
        dropped: How many events were dropped because the queue was full.
        reconnects: How many times the stream was resumed after the
            connection dropped.

    """

    topics: tuple[str, ...]
    maxsize: int
    # Called once by close(): forgets the subscription and unsubscribes.
    _on_close: Callable[[Subscription], None] = attrs.field(repr=False)
    # The client, kept alive while its subscription is: a subscription whose
    # client was garbage-collected would wait for events forever.
    _owner: object = attrs.field(default=None, repr=False)
    dropped: int = attrs.field(init=False, default=0)
    reconnects: int = attrs.field(init=False, default=0)
    # _ready guards _queue, _closed and _error.
    _ready: threading.Condition = attrs.field(init=False, factory=threading.Condition)
    _queue: collections.deque[dict[str, Any]] = attrs.field(init=False)
    _closed: bool = attrs.field(init=False, default=False)
    _error: BitTapError | None = attrs.field(init=False, default=None)
    # The connection on which the server last acknowledged the topics.
    generation: int = attrs.field(init=False, default=0)

    @_queue.default
    def _make_queue(self) -> collections.deque[dict[str, Any]]:
        return collections.deque(maxlen=self.maxsize)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<Subscription {', '.join(self.topics)} {state} queued={len(self._queue)} "
            f"dropped={self.dropped} reconnects={self.reconnects}>"
        )

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                yield self.get()
            except ConnectionClosed:
                if self._closed:
                    return
                raise

    # Public methods

    @property
    def closed(self) -> bool:
        """
        :obj:`True` once :meth:`close` was called.

        """
        return self._closed

    def get(self, timeout: float | None = None) -> dict[str, Any]:
        """
        Return the next event, waiting for it if needed.

        Args:
            timeout: Seconds to wait; 0 takes an event only if one is
                queued; :obj:`None`, or :data:`math.inf`, waits until an
                event comes or the subscription ends.

        Raises:
            EventTimeout: If no event comes within ``timeout`` (it is a
                :exc:`TimeoutError`).
            ConnectionClosed: If the subscription is closed, or the
                connection was lost and could not be restored.
            AuthenticationError: If the subscription has a private topic
                and the LOGIN on a new connection was refused.
            ValueError: If ``timeout`` is NaN, negative, or finite and
                above :data:`threading.TIMEOUT_MAX`.

        """
        if timeout is not None:
            timeout = None if timeout == math.inf else check_timeout(timeout, zero=True)
        deadline = Deadline(timeout)
        with self._ready:
            while not self._queue:
                if self._closed:
                    raise ConnectionClosed("the subscription is closed")
                if isinstance(self._error, ConnectionClosed):
                    raise ConnectionClosed(str(self._error)) from self._error.__cause__
                if self._error is not None:
                    raise self._error
                if not self._ready.wait(deadline.remaining()) and not self._queue:
                    if deadline.expired():
                        raise EventTimeout(self.topics, timeout or 0.0)
            return self._queue.popleft()

    def close(self) -> None:
        """
        Stop receiving events: sends ``UNSUBSCRIBE``; idempotent.

        Events still queued are discarded; iteration ends and :meth:`get`
        raises :exc:`ConnectionClosed`. Failing to send ``UNSUBSCRIBE`` is
        not an error: the events that still come are dropped.

        """
        if self.end():
            self._on_close(self)

    # Private methods

    def put(self, event: dict[str, Any]) -> None:
        """
        Queue ``event``; called by the reader thread, never blocks.

        """
        with self._ready:
            if self._closed:
                return
            if len(self._queue) == self.maxsize:
                self.dropped += 1  # deque(maxlen=...) drops the oldest
            self._queue.append(event)
            self._ready.notify()

    def end(self) -> bool:
        """
        Mark the subscription closed and wake its readers, without
        unsubscribing; return :obj:`False` if it already was.

        """
        with self._ready:
            if self._closed:
                return False
            self._closed = True
            self._queue.clear()
            self._ready.notify_all()
        return True

    def fail_after_fork(self) -> None:
        """
        End the subscription in a child process made by :func:`os.fork`.

        """
        self._ready = threading.Condition()
        self._error = ConnectionClosed(
            "the subscription belongs to the parent process; subscribe again"
        )

    def fail(self, exc: BitTapError) -> None:
        """
        End the subscription because its stream cannot be resumed: readers
        get ``exc`` (:exc:`ConnectionClosed`, or the
        :exc:`AuthenticationError` of a refused LOGIN).

        """
        with self._ready:
            self._error = exc
            self._ready.notify_all()
