"""
A BitTap-compatible WebSocket server for tests, demos and your own tests.

It runs in background threads of the current process, binds 127.0.0.1 on a
free port by default, and can be told to misbehave in the ways a real
server or network does::

    from bittap_ws import Client
    from bittap_ws.testing import run_server

    with run_server() as server, Client(server.url) as client:
        client.time()
        server.on("time", action="silence")   # the next time() times out

It needs the ``testing`` extra (``pip install bittap-ws[testing]``), which
installs :mod:`websockets`; the client itself never imports this module.

"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import random
import re
import socket
import ssl as ssl_module
import threading
import time
from typing import Any, Iterator, Sequence

import attrs
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.sync.server import Server as WsServer
from websockets.sync.server import ServerConnection, serve

__all__ = ["run_server", "Server", "Rule", "ACTIONS"]

logger = logging.getLogger("bittap_ws.testing")

#: What a :class:`Rule` may tell the server to do with a matching request.
ACTIONS = ("answer", "silence", "drop", "close", "stall")

#: Topics the server knows: trades, tickers and depth of any symbol.
TOPIC_PATTERN = re.compile(r"^s_(trade|ticker|depth[0-9]+)@[A-Z0-9]+-[A-Z0-9]+(_[0-9.]+)?$")

DEFAULT_RATE_LIMIT = {
    "rateLimitType": "REQUEST_WEIGHT",
    "interval": "MINUTE",
    "intervalNum": 1,
    "limit": 6000,
}


@attrs.define
class Rule:
    """
    How to handle requests for one method; see :meth:`Server.on`.

    """

    status: int = 200
    result: Any = None
    error: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    action: str = attrs.field(default="answer")
    delay: float | None = None
    times: int | None = None
    close_code: int = 1000
    close_reason: str = ""

    @action.validator
    def _check_action(self, attribute: Any, value: str) -> None:
        if value not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {value!r}")


class _Connection(ServerConnection):
    """
    A server connection that can play dead.

    While ``stalled`` is set, the server processes no incoming data: it
    answers no request and no ping frame, as a peer that hangs without
    closing the connection. Data keeps piling up in the socket buffers.

    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = False
        self.stall_lock = threading.Lock()
        self.outbox: list[tuple[float, int, Any]] = []
        self.outbox_ready = threading.Condition()
        self.sender: threading.Thread | None = None
        self.done = False
        self.topics: set[str] = set()
        receive_data = self.protocol.receive_data

        def receive_data_unless_stalled(data: bytes | bytearray) -> None:
            with self.stall_lock:  # blocks while stalled
                pass
            receive_data(data)

        self.protocol.receive_data = receive_data_unless_stalled  # type: ignore[method-assign]


@attrs.define(eq=False)
class Server:
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
    clock_offset_ms: int = 0
    rate_limits: list[dict[str, Any]] | None = None
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    _rules: dict[str, Rule] = attrs.field(factory=dict)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _connections: set[_Connection] = attrs.field(factory=set)
    _connection_count: int = 0
    _handlers: list[threading.Thread] = attrs.field(factory=list)
    stream_rate: float = 10.0
    _sequences: dict[str, int] = attrs.field(factory=dict)
    _publisher: threading.Thread | None = attrs.field(default=None, repr=False)
    _stopping: threading.Event = attrs.field(factory=threading.Event, repr=False)
    _weight: int = 0
    _weight_minute: int = 0
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
            _drop(conn)

    def close_connections(self, code: int = 1000, reason: str = "") -> None:
        """
        Send a close frame to every open connection.

        """
        for conn in self._snapshot():
            threading.Thread(
                target=_close, args=(conn, code, reason), daemon=True
            ).start()

    def stall(self) -> None:
        """
        Make every open connection play dead: no reads, no answers, no pongs.

        """
        for conn in self._snapshot():
            _stall(conn)

    def unstall(self) -> None:
        """
        Bring stalled connections back to life.

        """
        for conn in self._snapshot():
            _unstall(conn)

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

    def server_time(self) -> int:
        """
        The server's clock, in milliseconds since the epoch.

        """
        return int(time.time() * 1000) + self.clock_offset_ms

    # Serving

    def _snapshot(self) -> list[_Connection]:
        with self._lock:
            return list(self._connections)

    def _handle(self, conn: ServerConnection) -> None:
        assert isinstance(conn, _Connection)
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
            _unstall(conn)

    def _handle_request(self, conn: _Connection, message: str) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if (
            not isinstance(request, dict)
            or not isinstance(request.get("method"), str)
            or not isinstance(request.get("id"), (str, int))
        ):
            self._send(conn, {"id": None, "status": 400, "error": _error(-1100, "Invalid request.")}, 0.0)
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
            _drop(conn)
            return
        if rule.action == "close":
            threading.Thread(
                target=_close,
                args=(conn, rule.close_code, rule.close_reason),
                daemon=True,
            ).start()
            return
        if rule.action == "stall":
            _stall(conn)
            return
        if request["method"] in ("SUBSCRIBE", "UNSUBSCRIBE") and rule == Rule():
            answer = self._subscribe(conn, request)
        else:
            answer = self._answer(request, rule)
        delay = self.delay if rule.delay is None else rule.delay
        if self.jitter:
            delay += random.uniform(0, self.jitter)
        self._send(conn, answer, delay)

    def _subscribe(self, conn: _Connection, request: dict[str, Any]) -> dict[str, Any]:
        params = request.get("params")
        topics = [str(topic) for topic in params] if isinstance(params, list) else []
        failed = [topic for topic in topics if not TOPIC_PATTERN.match(topic)]
        ok = [topic for topic in topics if topic not in failed]
        with self._lock:
            if request["method"] == "SUBSCRIBE":
                conn.topics.update(ok)
                if ok and self.stream_rate > 0 and self._publisher is None:
                    self._publisher = threading.Thread(
                        target=self._publish_loop, name="bittap-ws-test-publisher", daemon=True
                    )
                    self._publisher.start()
            else:
                conn.topics.difference_update(topics)
        if failed or not topics:
            return {"code": -1, "msg": "Invalid topic.", "topic": failed, "id": request["id"]}
        return {"code": 0, "msg": "", "topic": [], "id": request["id"]}

    def publish(self, topic: str, count: int = 1, **fields: Any) -> int:
        """
        Send ``count`` events of ``topic`` to every connection subscribed to it.

        Args:
            fields: Fields of the events, besides ``e`` (the topic), ``E``
                (the event time) and ``n`` (a sequence number per topic).

        Returns:
            How many events were sent.

        """
        sent = 0
        for conn in self._snapshot():
            if topic in conn.topics:
                for _ in range(count):
                    with contextlib.suppress(WsConnectionClosed):
                        conn.send(json.dumps(self._event(topic, fields)))
                        sent += 1
        return sent

    def _event(self, topic: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            sequence = self._sequences[topic] = self._sequences.get(topic, 0) + 1
        event: dict[str, Any] = {"e": topic, "E": self.server_time(), "n": sequence}
        if topic.startswith("s_trade@"):
            event.update(s=topic.split("@", 1)[1], p="50000.00", q="0.010", m=False)
        event.update(fields)
        return event

    def _publish_loop(self) -> None:
        # Publishes stream_rate events per second to each subscribed topic
        # of each connection, until the server stops.
        while not self._stopping.wait(1 / self.stream_rate if self.stream_rate > 0 else 0.1):
            if self.stream_rate <= 0:
                continue
            for conn in self._snapshot():
                for topic in list(conn.topics):
                    if conn.stalled:
                        continue
                    with contextlib.suppress(Exception):
                        conn.send(json.dumps(self._event(topic, {})))

    def _answer(self, request: dict[str, Any], rule: Rule) -> dict[str, Any]:
        method = request["method"]
        answer: dict[str, Any] = {"id": request["id"], "status": rule.status}
        if rule.status == 200:
            if rule.result is not None:
                answer["result"] = rule.result
            elif method == "ping":
                answer["result"] = {}
            elif method == "time":
                answer["result"] = {"serverTime": self.server_time()}
            else:
                answer["status"] = 400
                answer["error"] = _error(-1000, f"Unknown method '{method}'.")
        else:
            answer["error"] = rule.error or _error(-1000, f"Failed with status {rule.status}.")
        rate_limits = self._rate_limits()
        if rate_limits:
            answer["rateLimits"] = rate_limits
        if rule.extra:
            answer.update(rule.extra)
        return answer

    def _rate_limits(self) -> list[dict[str, Any]]:
        if self.rate_limits is not None:
            return self.rate_limits
        minute = int(time.time() // 60)
        with self._lock:
            if minute != self._weight_minute:
                self._weight_minute = minute
                self._weight = 0
            self._weight += 1
            return [dict(DEFAULT_RATE_LIMIT, count=self._weight)]

    def _send(self, conn: _Connection, answer: dict[str, Any], delay: float) -> None:
        frames: list[str | bytes] = list(self.garbage)
        text = json.dumps(answer)
        frames.append(text)
        if self.duplicate:
            frames.append(text)
        if delay <= 0:
            for frame in frames:
                with contextlib.suppress(WsConnectionClosed):
                    conn.send(frame)
            return
        with conn.outbox_ready:
            if conn.sender is None:
                conn.sender = threading.Thread(
                    target=_send_later, args=(conn,), name="bittap-ws-test-sender", daemon=True
                )
                conn.sender.start()
            due = time.monotonic() + delay
            for frame in frames:
                heapq.heappush(conn.outbox, (due, next(_sequence), frame))
            conn.outbox_ready.notify()


_sequence = itertools.count()


def _send_later(conn: _Connection) -> None:
    # Sends the delayed answers of one connection when they fall due.
    while True:
        with conn.outbox_ready:
            while True:
                if conn.done:
                    return
                if conn.outbox:
                    wait = conn.outbox[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, frame = heapq.heappop(conn.outbox)
                        break
                else:
                    wait = None
                conn.outbox_ready.wait(wait)
        with contextlib.suppress(WsConnectionClosed):
            conn.send(frame)


def _error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


def _drop(conn: ServerConnection) -> None:
    with contextlib.suppress(OSError):
        conn.socket.shutdown(socket.SHUT_RDWR)


def _close(conn: ServerConnection, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        conn.close(code, reason)


def _stall(conn: _Connection) -> None:
    if not conn.stalled:
        conn.stalled = True
        conn.stall_lock.acquire()


def _unstall(conn: _Connection) -> None:
    if conn.stalled:
        conn.stalled = False
        conn.stall_lock.release()


@contextlib.contextmanager
def run_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl: ssl_module.SSLContext | None = None,
    **knobs: Any,
) -> Iterator[Server]:
    """
    Run a BitTap-compatible server for the duration of a ``with`` block.

    Args:
        host: The address to bind.
        port: The port to bind; 0 picks a free one.
        ssl: A server-side TLS context, to serve ``wss://``.
        knobs: Initial values of :class:`Server` knobs, e.g. ``delay=0.1``.

    Yields:
        The running :class:`Server`; its :attr:`~Server.url` is where to
        connect.

    """
    server = Server(host, port, ssl is not None, **knobs)
    ws_server = serve(
        server._handle,
        host,
        port,
        ssl=ssl,
        compression=None,
        ping_interval=None,
        max_queue=None,
        create_connection=_Connection,
        server_header="bittap-ws-testing",
    )
    server._ws_server = ws_server
    server.port = ws_server.socket.getsockname()[1]
    thread = threading.Thread(
        target=ws_server.serve_forever, name="bittap-ws-test-server", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server._stopping.set()
        if server._publisher is not None:
            server._publisher.join(5)
        server.unstall()
        ws_server.shutdown()
        thread.join(5)
        server.drop()
        # Handler threads end once their connection is gone.
        for handler in server._handlers:
            handler.join(5)
