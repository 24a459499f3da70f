"""
Market-data streams: :class:`Subscription` and the table that routes events.

The reader thread routes each stream event, by its topic, into the bounded
queue of every subscription to that topic. It never blocks: when a queue is
full, its oldest event is dropped and counted.

:class:`Streams` is also the session's restoration step for subscriptions:
after a reconnect it subscribes again to every topic still wanted. It knows
nothing of the client: it gets the one callable it needs to send a
``SUBSCRIBE`` or ``UNSUBSCRIBE``.

"""

from __future__ import annotations

import collections
import logging
import math
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import attrs

from ._deadline import Deadline, check_timeout
from .errors import BitTapError, ConnectionClosed, EventTimeout, SubscriptionError
from .protocol import Event

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection

__all__ = ["Subscription", "Streams", "StreamCall"]

logger = logging.getLogger("bittap_ws")

#: Sends ``SUBSCRIBE`` or ``UNSUBSCRIBE`` for topics on a connection, or on
#: the current one, without opening one, when it is :obj:`None`; raises
#: :exc:`SubscriptionError` when the server refuses.
StreamCall = Callable[[str, Sequence[str], "Connection | None"], object]


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
    dropped: int = attrs.field(init=False, default=0)
    reconnects: int = attrs.field(init=False, default=0)
    # _ready guards _queue, _closed and _error.
    _ready: threading.Condition = attrs.field(init=False, factory=threading.Condition)
    _queue: collections.deque[dict[str, Any]] = attrs.field(init=False)
    _closed: bool = attrs.field(init=False, default=False)
    _error: ConnectionClosed | None = attrs.field(init=False, default=None)
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
                if self._error is not None:
                    raise ConnectionClosed(str(self._error)) from self._error.__cause__
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

    def fail(self, exc: ConnectionClosed) -> None:
        """
        End the subscription because its stream cannot be resumed.

        """
        with self._ready:
            self._error = exc
            self._ready.notify_all()


@attrs.define(eq=False)
class Streams:
    """
    The open subscriptions of a client, by topic, under one lock; and the
    step that restores them on a new connection.

    """

    _call: StreamCall
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _by_topic: dict[str, list[Subscription]] = attrs.field(init=False, factory=dict)
    _all: list[Subscription] = attrs.field(init=False, factory=list)

    def __len__(self) -> int:
        return len(self._all)

    # Public methods

    def open(self, topics: tuple[str, ...], maxsize: int) -> Subscription:
        """
        Register a subscription to ``topics``, before it is requested, so
        that no event acknowledged with it is missed.

        """
        subscription = Subscription(topics, maxsize, self.unsubscribe)
        with self._lock:
            self._all.append(subscription)
            for topic in subscription.topics:
                self._by_topic.setdefault(topic, []).append(subscription)
        return subscription

    def confirm(self, subscription: Subscription, conn: Connection) -> None:
        """
        Record that the server acknowledged ``subscription`` on ``conn``.

        """
        subscription.generation = conn.generation

    def forget(self, subscription: Subscription) -> None:
        """
        Stop routing events to ``subscription``.

        """
        with self._lock:
            if subscription in self._all:
                self._all.remove(subscription)
            for topic in subscription.topics:
                subscriptions = self._by_topic.get(topic, [])
                if subscription in subscriptions:
                    subscriptions.remove(subscription)
                if not subscriptions:
                    self._by_topic.pop(topic, None)

    def unsubscribe(self, subscription: Subscription, topics: Sequence[str] | None = None) -> None:
        """
        Forget ``subscription``; unsubscribe from those of its ``topics``
        (all by default) that no other subscription wants.

        Best effort, on the current connection only: it never reconnects
        just to unsubscribe; events of unknown topics are dropped anyway.

        """
        self.forget(subscription)
        with self._lock:
            wanted = [
                t
                for t in (subscription.topics if topics is None else topics)
                if t not in self._by_topic
            ]
        if not wanted:
            return
        try:
            self._call("UNSUBSCRIBE", wanted, None)
        except BitTapError as exc:
            logger.debug("cannot unsubscribe from %s: %s", ", ".join(wanted), exc)

    def end_all(self) -> None:
        """
        End every subscription, as the client closes.

        """
        for subscription in self._snapshot():
            subscription.end()
            self.forget(subscription)

    def route(self, event: Event) -> None:
        """
        Queue ``event`` for every subscription to its topic; never blocks
        for long, never raises.

        """
        with self._lock:
            subscriptions = self._by_topic.get(event.topic)
            if not subscriptions:
                return
            subscriptions = list(subscriptions)
        for subscription in subscriptions:
            subscription.put(event.data)

    # Restoration step (see bittap_ws.session.Step)

    def wanted(self) -> bool:
        """
        Tell whether any subscription is open.

        """
        return bool(self._all)

    def restore(self, conn: Connection) -> None:
        """
        Subscribe again, on ``conn``, to what it was not subscribed to.

        A subscription that the server now refuses ends with that error.

        """
        for subscription in self._snapshot():
            if subscription.generation == conn.generation or subscription.closed:
                continue
            try:
                self._call("SUBSCRIBE", subscription.topics, conn)
            except SubscriptionError as exc:
                self._give_up(subscription, f"cannot subscribe again: {exc}", exc)
                continue
            if subscription.closed or not self._contains(subscription):
                # Closed or given up meanwhile: nobody reads these.
                self.unsubscribe(subscription)
                continue
            subscription.generation = conn.generation
            subscription.reconnects += 1
            logger.info("resumed %s", ", ".join(subscription.topics))

    def give_up(self, error: ConnectionClosed) -> None:
        """
        End every subscription with ``error``.

        """
        for subscription in self._snapshot():
            self._give_up(subscription, str(error), error.__cause__)

    def after_fork(self) -> None:
        """
        End every subscription in a child process made by :func:`os.fork`,
        without the locks that a parent thread may have held.

        """
        for subscription in list(self._all):
            subscription.fail_after_fork()
        self._lock = threading.Lock()
        self._all = []
        self._by_topic = {}

    # Private methods

    def _snapshot(self) -> list[Subscription]:
        with self._lock:
            return list(self._all)

    def _contains(self, subscription: Subscription) -> bool:
        with self._lock:
            return subscription in self._all

    def _give_up(
        self, subscription: Subscription, message: str, cause: BaseException | None
    ) -> None:
        """
        Stop resuming ``subscription``: its readers get ConnectionClosed.

        """
        self.forget(subscription)
        closed = ConnectionClosed(message)
        closed.__cause__ = cause
        subscription.fail(closed)
