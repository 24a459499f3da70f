"""
The bundled server's plumbing: a :mod:`websockets` server in background
threads that hands each request to the emulator and applies the fault knobs.

"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from typing import Any, Sequence

import attrs
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.sync.server import Server as WsServer
from websockets.sync.server import ServerConnection

from ._emulator import BitTap, error
from ._faults import FaultyConnection, Rule, close_later, drop, send, stall, unstall

__all__ = ["Server"]


@attrs.define(eq=False)
class Server(BitTap):
    """
    A running BitTap-compatible server; made by :func:`run_server`.

    Knobs may be changed at any time, from any thread; they apply to the
    requests received after the change.

    Attributes:
        url: The ``ws://`` (or ``wss://``) URL to connect to.
        delay: Seconds to wait before each answer.
        jitter: Up to this many more seconds, drawn at random for each
            answer, so that answers come back out of order.
        garbage: Frames sent before each answer: :class:`str` as text
            frames, :class:`bytes` as binary frames.
        duplicate: Send every answer twice.
        clock_offset_ms: Milliseconds added to the server's clock.
        rate_limits: The ``rateLimits`` of every answer: :obj:`None` for a
            REQUEST_WEIGHT counter per minute, ``[]`` to send none, or a
            list of objects to send as they are.
        stream_rate: Events per second published to each subscribed topic
            of each connection; 0 publishes none (see :meth:`publish`).
        requests: Every request received, decoded, in order.

    """

    host: str
    port: int
    tls: bool
    delay: float = 0.0
    jitter: float = 0.0
    garbage: Sequence[str | bytes] = ()
    duplicate: bool = False
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    _rules: dict[str, Rule] = attrs.field(factory=dict)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _connections: set[FaultyConnection] = attrs.field(factory=set)
    _connection_count: int = 0
    _handlers: list[threading.Thread] = attrs.field(factory=list)
    _publisher: threading.Thread | None = attrs.field(default=None, repr=False)
    _stopping: threading.Event = attrs.field(factory=threading.Event, repr=False)
    _ws_server: WsServer | None = attrs.field(default=None, repr=False)

    @property
    def url(self) -> str:
        scheme = "wss" if self.tls else "ws"
        host = "localhost" if self.tls and self.host == "127.0.0.1" else self.host
        return f"{scheme}://{host}:{self.port}/endpoint?format=JSON"

    @property
    def connection_count(self) -> int:
        """
        How many connections the server has accepted so far.

        """
        return self._connection_count

    @property
    def open_connections(self) -> int:
        """
        How many connections are open now.

        """
        with self._lock:
            return len(self._connections)

    # Scripting

    def on(
        self,
        method: str,
        *,
        status: int = 200,
        result: Any = None,
        error: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        action: str = "answer",
        delay: float | None = None,
        times: int | None = None,
        close_code: int = 1000,
        close_reason: str = "",
    ) -> None:
        """
        Script how the server handles requests for ``method``.

        Args:
            status: The status of the answer.
            result: The ``result`` of a status 200 answer; by default, what
                the method normally returns.
            error: The ``error`` object of a failed answer; by default,
                ``{"code": -1000, "msg": "..."}``.
            extra: More top-level fields for the answer, like
                ``{"retryAfter": ...}``.
            action: ``"answer"``; ``"silence"``: never answer; ``"drop"``:
                cut the TCP connection without a close frame; ``"close"``:
                send a close frame with ``close_code`` and ``close_reason``;
                ``"stall"``: stop reading and answering, pongs included,
                until :meth:`unstall`.
            delay: Seconds before answering, instead of :attr:`delay`.
            times: Apply the rule to this many requests, then forget it;
                :obj:`None` for all.

        """
        rule = Rule(
            status=status,
            result=result,
            error=error,
            extra=extra,
            action=action,
            delay=delay,
            times=times,
            close_code=close_code,
            close_reason=close_reason,
        )
        with self._lock:
            self._rules[method] = rule

    def reset(self) -> None:
        """
        Forget every rule.

        """
        with self._lock:
            self._rules.clear()

    def drop(self) -> None:
        """
        Cut every open connection without a close frame, as a network would.

        """
        for conn in self._snapshot():
            drop(conn)

    def close_connections(self, code: int = 1000, reason: str = "") -> None:
        """
        Send a close frame to every open connection.

        """
        for conn in self._snapshot():
            close_later(conn, code, reason)

    def stall(self) -> None:
        """
        Make every open connection play dead: no reads, no answers, no pongs.

        """
        for conn in self._snapshot():
            stall(conn)

    def unstall(self) -> None:
        """
        Bring stalled connections back to life.

        """
        for conn in self._snapshot():
            unstall(conn)

    def ping(self) -> list[threading.Event]:
        """
        Send a ping frame to every open connection.

        Returns:
            One event per connection, set when its pong arrives.

        """
        waiters = []
        for conn in self._snapshot():
            with contextlib.suppress(Exception):
                waiters.append(conn.ping())
        return waiters

    def send(self, message: str | bytes) -> None:
        """
        Send a raw frame to every open connection: text for :class:`str`,
        binary for :class:`bytes`.

        """
        for conn in self._snapshot():
            with contextlib.suppress(WsConnectionClosed):
                conn.send(message)

    # Serving

    def _snapshot(self) -> list[FaultyConnection]:
        with self._lock:
            return list(self._connections)

    def _handle(self, conn: ServerConnection) -> None:
        assert isinstance(conn, FaultyConnection)
        with self._lock:
            self._connections.add(conn)
            self._connection_count += 1
            self._handlers.append(threading.current_thread())
        try:
            for message in conn:
                if isinstance(message, bytes):
                    continue
                self._handle_request(conn, message)
        except WsConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            with conn.outbox_ready:
                conn.done = True
                conn.outbox_ready.notify()
            if conn.sender is not None:
                conn.sender.join()
            unstall(conn)

    def _handle_request(self, conn: FaultyConnection, message: str) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if (
            not isinstance(request, dict)
            or not isinstance(request.get("method"), str)
            or not isinstance(request.get("id"), (str, int))
        ):
            self._send(conn, {"id": None, "status": 400, "error": error(-1100, "Invalid request.")}, 0.0)
            return
        with self._lock:
            self.requests.append(request)
            rule = self._rules.get(request["method"])
            if rule is not None and rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    del self._rules[request["method"]]
        if rule is None:
            rule = Rule()
        if rule.action == "silence":
            return
        if rule.action == "drop":
            drop(conn)
            return
        if rule.action == "close":
            close_later(conn, rule.close_code, rule.close_reason)
            return
        if rule.action == "stall":
            stall(conn)
            return
        if request["method"] in ("SUBSCRIBE", "UNSUBSCRIBE") and rule == Rule():
            answer = self._subscribe(conn, request)
        elif request["method"] == "LOGIN" and rule == Rule():
            api_key, answer = self._login(request)
            if api_key is not None:
                conn.api_key = api_key
        else:
            answer = self._answer(request, rule)
        delay = self.delay if rule.delay is None else rule.delay
        if self.jitter:
            delay += random.uniform(0, self.jitter)
        self._send(conn, answer, delay)

    def _subscribe(self, conn: FaultyConnection, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            accepted, ack = self._acknowledge(conn.topics, request, conn.api_key is not None)
            if accepted and self.stream_rate > 0 and self._publisher is None:
                self._publisher = threading.Thread(
                    target=self._publish_loop, name="bittap-ws-test-publisher", daemon=True
                )
                self._publisher.start()
        return ack

    def publish(self, topic: str, count: int = 1, **fields: Any) -> int:
        """
        Send ``count`` new events of ``topic`` to every connection
        subscribed to it, in BitTap's shape for that stream.

        Args:
            topic: A topic the emulator serves, e.g. ``"s_trade@BTC-USDT"``.
            count: How many events: new trades for a trade topic, the
                current frame after each step of the market for others,
                ``BALANCE_UPDATE`` (spot) or ``ACCOUNT_UPDATE`` (futures)
                events for a private topic.
            fields: Fields that replace those of each event, e.g.
                ``p="1.5"``.

        Returns:
            How many frames were sent, over all connections.

        Raises:
            ValueError: If the emulator does not serve ``topic``.

        """
        return self.publish_frames(topic, self._events(topic, count, fields))

    def place_order(
        self, symbol: str = "BTC-USDT", side: str = "BUY", quantity: str = "0.001"
    ) -> list[dict[str, Any]]:
        """
        Fill a market order of the account and send its events to the
        connections subscribed to ``s_private``: ``ORDER_UPDATE`` NEW and
        FILLED, then a ``BALANCE_UPDATE`` for each asset it moved.

        Returns:
            The events sent.

        """
        events = self.order(symbol, side, quantity)
        self.publish_frames("s_private", events)
        return events

    def publish_frames(self, topic: str, frames: Sequence[dict[str, Any] | str]) -> int:
        """
        Send ``frames``, as they are, to every connection subscribed to
        ``topic``: dicts as JSON, strings as written.

        Returns:
            How many frames were sent, over all connections.

        """
        texts = [frame if isinstance(frame, str) else json.dumps(frame) for frame in frames]
        sent = 0
        for conn in self._snapshot():
            if topic in conn.topics:
                for text in texts:
                    with contextlib.suppress(WsConnectionClosed):
                        conn.send(text)
                        sent += 1
        return sent

    def _publish_loop(self) -> None:
        # Steps the market stream_rate times per second and sends each
        # subscribed topic's new frames, until the server stops.
        while not self._stopping.wait(1 / self.stream_rate if self.stream_rate > 0 else 0.1):
            if self.stream_rate <= 0:
                continue
            conns = [conn for conn in self._snapshot() if not conn.stalled]
            frames = self._step({topic for conn in conns for topic in conn.topics})
            texts = {topic: [json.dumps(f) for f in found] for topic, found in frames.items()}
            for conn in conns:
                for topic in list(conn.topics):
                    for text in texts.get(topic, ()):
                        with contextlib.suppress(Exception):
                            conn.send(text)

    def _send(self, conn: FaultyConnection, answer: dict[str, Any], delay: float) -> None:
        frames: list[str | bytes] = list(self.garbage)
        text = json.dumps(answer)
        frames.append(text)
        if self.duplicate:
            frames.append(text)
        send(conn, frames, delay)
