"""
Market-data streams: :class:`Subscription` and the table that routes events.

The reader thread routes each stream event into the bounded queue of every
subscription to its topic. It never blocks: when a queue is full, its oldest
event is dropped and counted.

Data frames do not carry the topic that was subscribed: the topic is rebuilt
from the frame with :func:`~bittap_ws.topics.topic_of`. A frame whose topic
is not subscribed to exactly is placed by its loose key (same stream kind,
same symbol without dashes or case, same scale) when exactly one subscribed
topic has it: BitTap's own examples spell symbols and depth levels loosely.
A frame that still has no place is counted in :attr:`Streams.unrouted` and
logged, at WARNING the first time for its stream and symbol, then at DEBUG.

:class:`Streams` is also the session's restoration step for subscriptions:
after a reconnect it subscribes again to every topic still wanted. It knows
nothing of the client: it gets the one callable it needs to send a
``SUBSCRIBE`` or ``UNSUBSCRIBE``.

"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

import attrs

from ._subscription import Subscription
from .errors import BitTapError, ConnectionClosed, SubscriptionError
from .protocol import Event
from .topics import FUTURES_PRIVATE, PRIVATE, LooseKey, parse, topic_of

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection

__all__ = ["PRIVATE_TOPICS", "Subscription", "Streams", "StreamCall"]

logger = logging.getLogger("bittap_ws")

#: The topics that need a LOGIN on the connection first.
PRIVATE_TOPICS = (PRIVATE, FUTURES_PRIVATE)

# How many streams the routing cache and the log of unplaced frames hold.
_MAX_ROUTES = 1024

#: Sends ``SUBSCRIBE`` or ``UNSUBSCRIBE`` for topics on a connection, or on
#: the current one, without opening one, when it is :obj:`None`; raises
#: :exc:`SubscriptionError` when the server refuses.
StreamCall = Callable[[str, Sequence[str], "Connection | None"], object]


@attrs.define(eq=False)
class Streams:
    """
    The open subscriptions of a client, by topic, under one lock; and the
    step that restores them on a new connection.

    """

    _call: StreamCall
    #: How many data frames matched no subscription.
    unrouted: int = attrs.field(init=False, default=0)
    # _lock guards the tables below.
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _by_topic: dict[str, list[Subscription]] = attrs.field(init=False, factory=dict)
    # The subscribed topics by loose key, for frames that spell them loosely.
    _by_loose: dict[LooseKey, set[str]] = attrs.field(init=False, factory=dict)
    _all: list[Subscription] = attrs.field(init=False, factory=list)
    # Where frames go, by their (e, s, i) fields: worked out for the first
    # frame of each stream, and forgotten whenever a subscription changes.
    _routes: dict[Any, list[Subscription]] = attrs.field(init=False, factory=dict)
    # The (e, s) of frames placed nowhere that were logged at WARNING.
    _warned: set[tuple[str, str]] = attrs.field(init=False, factory=set)

    def __len__(self) -> int:
        return len(self._all)

    # Public methods

    def open(self, topics: tuple[str, ...], maxsize: int, owner: object = None) -> Subscription:
        """
        Register a subscription to ``topics``, before it is requested, so
        that no event acknowledged with it is missed.

        """
        subscription = Subscription(topics, maxsize, self.unsubscribe, owner)
        with self._lock:
            self._all.append(subscription)
            for topic in subscription.topics:
                self._by_topic.setdefault(topic, []).append(subscription)
                parts = parse(topic)
                if parts is not None:
                    self._by_loose.setdefault(parts.loose_key, set()).add(topic)
            self._routes.clear()
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
                    self._forget_loose(topic)
            self._routes.clear()

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
        data = event.data
        key = (event.topic, data.get("s"), data.get("i"))
        with self._lock:
            try:
                subscriptions = self._routes.get(key)
            except TypeError:  # an unhashable field: not a data frame
                subscriptions = []
            if subscriptions is None:
                subscriptions = self._resolve(data)
                if len(self._routes) >= _MAX_ROUTES:
                    self._routes.clear()  # bounded, whatever the server sends
                self._routes[key] = subscriptions
            if not subscriptions:
                self.unrouted += 1
                # As text: a hostile frame's fields may not even hash.
                shown = (str(key[0])[:40], str(key[1])[:40])
                warn = len(self._warned) < _MAX_ROUTES and shown not in self._warned
                if warn:
                    self._warned.add(shown)
        if not subscriptions:
            logger.log(
                logging.WARNING if warn else logging.DEBUG,
                "ignored an event that matches no subscription: e=%.40r s=%.40r",
                key[0],
                key[1],
            )
            return
        for subscription in subscriptions:
            subscription.put(data)

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
        self._by_loose = {}
        self._routes = {}

    # Private methods

    def _resolve(self, frame: dict[str, Any]) -> list[Subscription]:
        # The subscriptions a frame belongs to: those of its exact topic, or
        # those of the only subscribed topic with its loose key.
        assert self._lock.locked()
        topic = topic_of(frame)
        if topic is None:
            return []
        if topic not in self._by_topic:
            parts = parse(topic)
            candidates = None if parts is None else self._by_loose.get(parts.loose_key)
            if not candidates or len(candidates) != 1:
                return []
            [topic] = candidates
        return list(self._by_topic[topic])

    def _forget_loose(self, topic: str) -> None:
        assert self._lock.locked()
        parts = parse(topic)
        if parts is not None:
            topics = self._by_loose.get(parts.loose_key, set())
            topics.discard(topic)
            if not topics:
                self._by_loose.pop(parts.loose_key, None)

    def has_private(self) -> bool:
        """
        Tell whether any subscription has a private topic.

        """
        with self._lock:
            return any(topic in self._by_topic for topic in PRIVATE_TOPICS)

    def fail_private(self, error: BitTapError) -> None:
        """
        End every subscription that has a private topic with ``error``.

        """
        for subscription in self._snapshot():
            if any(topic in PRIVATE_TOPICS for topic in subscription.topics):
                self.forget(subscription)
                subscription.fail(error)

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
