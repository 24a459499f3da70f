"""
The public facade: :class:`Client`.

"""

from __future__ import annotations

import logging
import os
import random
import ssl
import threading
import time
import weakref
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import attrs

from ._deadline import Deadline
from ._ratelimit import RateLimitGuard
from .connection import Attempt, Connection, NotSent, open_connection
from .errors import (
    ApiError,
    BitTapError,
    ConnectError,
    ConnectionClosed,
    ProtocolError,
    RateLimitError,
    ServerError,
    SubscriptionError,
)
from .protocol import (
    Ack,
    BadReply,
    RateLimit,
    Reply,
    Response,
    encode_request,
    new_request_id,
)
from .streams import Streams, Subscription

__all__ = ["DEFAULT_URL", "Client"]

logger = logging.getLogger("bittap_ws")

DEFAULT_URL = "wss://stream.bittap.com/endpoint?format=JSON"

# Backoff between failed connection attempts: the first retry waits about
# BACKOFF_INITIAL seconds, each further one twice as long, up to BACKOFF_MAX,
# each times a random factor in [0.5, 1) so that many clients restarted
# together do not reconnect in step. Exchanges of this family allow about
# 300 connection attempts per 5 minutes per IP.
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0

_UNOPENED = "unopened"
_OPEN = "open"
_CLOSED = "closed"


def _check_url(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"url must be a string, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL (ws:// or wss://): {value!r}")


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{attribute.name} must be a number, not {value!r}")
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        _positive(instance, attribute, value)


_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@attrs.define(eq=False, repr=False)
class Client:
    """
    A blocking client for the BitTap WebSocket API over one connection.

    Creating a client does no I/O. It connects on :meth:`connect`, on
    entering a ``with`` block, or lazily on the first call; after the
    connection drops, the next call reconnects. Nothing is ever re-sent on
    the caller's behalf.

    Any number of threads may share one client: each call gets its own
    answer, whatever the order in which answers arrive.

    Args:
        url: The WebSocket URL of the API.
        timeout: The default timeout of a call, in seconds: it bounds the
            whole call, a lazy connection included.
        connect_timeout: How long opening a connection may take, in seconds.
        ping_interval: Seconds between keepalive ping frames, or
            :obj:`None` to send none.
        ping_timeout: Seconds to wait for the pong before treating the
            connection as dead, or :obj:`None` to wait forever.
        ssl_context: The TLS context for ``wss://`` URLs; by default,
            certificates are verified against the system's CAs.
        resume_timeout: How long, in seconds, the client tries to restore
            the connection of open subscriptions after it drops, before
            their :meth:`~Subscription.get` raises :exc:`ConnectionClosed`.
        rate_limit_guard: Refuse calls locally, sending nothing, while the
            server's ``retryAfter`` has not passed or the latest
            ``rateLimits`` are at their limit in a window that has not
            ended; see :exc:`RateLimitError`.

    Raises:
        ValueError: If ``url`` is not a ``ws://`` or ``wss://`` URL, or a
            timeout is not positive.

    """

    url: str = attrs.field(default=DEFAULT_URL, validator=_check_url)
    timeout: float = attrs.field(default=10.0, kw_only=True, validator=_positive)
    connect_timeout: float = attrs.field(
        default=10.0, kw_only=True, validator=_positive
    )
    ping_interval: float | None = attrs.field(
        default=20.0, kw_only=True, validator=_positive_or_none
    )
    ping_timeout: float | None = attrs.field(
        default=20.0, kw_only=True, validator=_positive_or_none
    )
    ssl_context: ssl.SSLContext | None = attrs.field(
        default=None, kw_only=True, repr=False
    )
    resume_timeout: float = attrs.field(
        default=60.0, kw_only=True, validator=_positive
    )
    rate_limit_guard: bool = attrs.field(
        default=True, kw_only=True, validator=attrs.validators.instance_of(bool)
    )

    # _state_lock guards _state and _conn; it is never held during I/O, so
    # close() never waits behind a connection attempt.
    _state_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    # _connect_lock serializes connection attempts.
    _connect_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _state: str = attrs.field(init=False, default=_UNOPENED)
    _conn: Connection | None = attrs.field(init=False, default=None)
    _rate_limits: tuple[RateLimit, ...] = attrs.field(init=False, default=())
    _rate_limits_sent_at: float = attrs.field(init=False, default=0.0)
    _guard: RateLimitGuard = attrs.field(init=False, factory=RateLimitGuard)
    _failures: int = attrs.field(init=False, default=0)
    _retry_at: float = attrs.field(init=False, default=0.0)
    _last_error: ConnectError | None = attrs.field(init=False, default=None)
    # Closes the connection when the client is garbage-collected without
    # close(), e.g. when a notebook cell that makes a client runs again.
    _finalizer: weakref.finalize[[], Client] | None = attrs.field(init=False, default=None)
    _generation: int = attrs.field(init=False, default=0)
    # The connection attempt in progress, which close() aborts.
    _attempt: Attempt | None = attrs.field(init=False, default=None)
    _streams: Streams = attrs.field(init=False, factory=Streams)
    # The resume thread re-subscribes after a drop; guarded by _state_lock.
    _resume_thread: threading.Thread | None = attrs.field(init=False, default=None)
    _resume_wanted: bool = attrs.field(init=False, default=False)
    _resume_stop: threading.Event = attrs.field(init=False, factory=threading.Event)

    def __attrs_post_init__(self) -> None:
        _clients.add(self)

    def __repr__(self) -> str:
        conn = self._conn
        if self._state == _OPEN and (conn is None or conn.closed):
            state = "disconnected"
        else:
            state = self._state
        pending = 0 if conn is None else len(conn.pending)
        return f"<Client url={self.url} state={state} pending={pending}>"

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # Public methods

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """
        The ``rateLimits`` of the latest answer that carried any; ``()``
        before the first.

        """
        return self._rate_limits

    def connect(self) -> None:
        """
        Open the connection now, if it is not open.

        Calls connect lazily, so this is only needed to fail early, or to
        reopen a client after :meth:`close`.

        Raises:
            ConnectError: If the connection cannot be opened within
                ``connect_timeout``, or a previous attempt failed so recently
                that the backoff forbids another one before then.

        """
        with self._state_lock:
            self._state = _OPEN
            self._resume_stop.clear()
        self._connection(Deadline(self.connect_timeout))

    def close(self) -> None:
        """
        Close the connection.

        Idempotent and callable from any thread. Every pending call raises
        :exc:`ConnectionClosed` at once; later calls raise
        :exc:`ConnectionClosed` until :meth:`connect` is called.

        """
        with self._state_lock:
            self._state = _CLOSED
            conn, self._conn = self._conn, None
            self._set_finalizer(None)
            resume_thread = self._resume_thread
            attempt = self._attempt
        if attempt is not None:
            attempt.abort("the client is closed")
        self._resume_stop.set()
        for subscription in self._streams.snapshot():
            subscription.end()
            self._streams.remove(subscription)
        if conn is not None:
            conn.close()
        if resume_thread is not None and resume_thread is not threading.current_thread():
            resume_thread.join(self.connect_timeout)

    def ping(self, *, timeout: float | None = None) -> None:
        """
        Test connectivity with the ``ping`` method.

        Args:
            timeout: Seconds to wait for the answer; :obj:`None` means the
                client's ``timeout``.

        Raises:
            ConnectError: If a connection cannot be opened.
            ConnectionClosed: If the connection ends before the answer.
            RequestTimeout: If no answer comes within the timeout.
            ApiError: If the server refuses the request.

        """
        self.request("ping", timeout=timeout)

    def time(self, *, timeout: float | None = None) -> int:
        """
        Return the server time with the ``time`` method.

        Args:
            timeout: Seconds to wait for the answer; :obj:`None` means the
                client's ``timeout``.

        Returns:
            The server time in milliseconds since the epoch.

        Raises:
            ProtocolError: If the answer has no integer ``serverTime``.
            ConnectError, ConnectionClosed, RequestTimeout, ApiError: As for
                :meth:`request`.

        """
        response = self.request("time", timeout=timeout)
        result = response.result
        server_time = result.get("serverTime") if isinstance(result, dict) else None
        if not isinstance(server_time, int) or isinstance(server_time, bool):
            raise ProtocolError(f"time answered without serverTime: {result!r}")
        return server_time

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Response:
        """
        Call ``method`` and wait for its answer.

        Args:
            method: The method to call.
            params: A mapping or a sequence of parameters, or :obj:`None` to
                send none.
            timeout: Seconds to wait for the answer, a lazy connection
                included; :obj:`None` means the client's ``timeout``.

        Returns:
            The answer, when its status is 200.

        Raises:
            ConnectError: If a connection cannot be opened.
            ConnectionClosed: If the connection ends before the answer came,
                or the client is closed. The request may have reached the
                server; it is not re-sent.
            RequestTimeout: If no answer comes within the timeout. A later
                answer is dropped.
            ApiError: If the status is not 200: :exc:`RateLimitError` for 429
                and 418, :exc:`ServerError` for 500 and above.
            RateLimitError: Also, with status 429 and code :obj:`None`, when
                the rate-limit guard refuses the call before sending it.
            ProtocolError: If the answer cannot be understood.
            TypeError: If ``params`` cannot be sent as JSON.

        """
        return self._call(method, params, timeout)[0]

    def subscribe(self, *topics: str, maxsize: int = 10_000) -> Subscription:
        """
        Subscribe to market-data streams on this client's connection.

        Events are queued from the moment the request is sent. After the
        connection drops, the client reconnects in the background, with
        backoff, and subscribes again; events sent meanwhile are lost.

        Args:
            topics: Stream names, like ``"s_trade@BTC-USDT"``.
            maxsize: How many events the subscription queues; when it is
                full, the oldest event is dropped and counted in
                :attr:`Subscription.dropped`.

        Returns:
            The subscription: iterate it, or call its
            :meth:`~Subscription.get`; close it when done.

        Raises:
            SubscriptionError: If the server refuses any topic; its
                ``topics`` lists those refused. No topic stays subscribed.
            ConnectError, ConnectionClosed, RequestTimeout, ApiError: As for
                :meth:`request`.
            ValueError: If no topic is given or ``maxsize`` is less than 1.

        """
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        for topic in topics:
            if not isinstance(topic, str) or not topic:
                raise ValueError(f"not a topic: {topic!r}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        subscription = Subscription(self, tuple(dict.fromkeys(topics)), maxsize)
        self._streams.add(subscription)
        try:
            _, conn = self._call("SUBSCRIBE", list(subscription.topics), None)
        except SubscriptionError as exc:
            self._streams.remove(subscription)
            accepted = [topic for topic in subscription.topics if topic not in exc.topics]
            self._send_unsubscribe(accepted)
            raise
        except BaseException:
            self._streams.remove(subscription)
            subscription.end()
            raise
        subscription.generation = conn.generation
        return subscription

    def clock_offset(self, samples: int = 5, *, timeout: float | None = None) -> float:
        """
        Estimate the server clock minus the local clock, in milliseconds.

        Calls ``time`` ``samples`` times and keeps the sample with the
        smallest round trip, assuming the server read its clock halfway
        through it. Add the offset to ``time.time() * 1000`` to get a
        timestamp in the server's time, e.g. for signed requests. The
        rate-limit guard then aligns its windows to the server's clock.

        Args:
            samples: How many round trips to measure.
            timeout: Seconds for all of them together; :obj:`None` means
                the client's ``timeout``.

        Raises:
            ValueError: If ``samples`` is less than 1.
            ConnectError, ConnectionClosed, RequestTimeout, ApiError: As for
                :meth:`request`.

        """
        if samples < 1:
            raise ValueError(f"samples must be at least 1, not {samples}")
        deadline = Deadline(self.timeout if timeout is None else timeout)
        best_rtt = float("inf")
        best_offset = 0.0
        for _ in range(samples):
            start_wall = time.time()
            start = time.perf_counter()
            server_time = self.time(timeout=deadline.remaining())
            rtt = time.perf_counter() - start
            if rtt < best_rtt:
                best_rtt = rtt
                best_offset = server_time - (start_wall + rtt / 2) * 1000
        self._guard.offset = best_offset / 1000
        return best_offset

    # Private methods

    def _call(
        self,
        method: str,
        params: Mapping[str, Any] | Sequence[Any] | None,
        timeout: float | None,
        conn: Connection | None = None,
    ) -> tuple[Response, Connection]:
        """
        Send a request and map its answer, on ``conn`` or the current
        connection; return the response and the connection used.

        """
        if timeout is None:
            timeout = self.timeout
        deadline = Deadline(timeout)
        request_id = new_request_id()
        text = encode_request(request_id, method, params)
        if self.rate_limit_guard:
            refusal = self._guard.check(time.time(), method)
            if refusal is not None:
                if self._state == _CLOSED:
                    # Closed says more than blocked: report that.
                    raise ConnectionClosed("the client is closed")
                raise refusal
        may_reconnect = conn is None
        if conn is None:
            conn = self._connection(deadline)
        sent_at = time.time()
        try:
            answer = conn.request(method, request_id, text, deadline, timeout)
        except NotSent:
            if not may_reconnect:
                raise
            # The connection ended before the request could be written: it
            # was not sent, so one more try on a new connection is safe.
            conn = self._connection(deadline)
            sent_at = time.time()
            answer = conn.request(method, request_id, text, deadline, timeout)
        return self._to_response(method, answer, sent_at), conn

    def _unsubscribe(self, subscription: Subscription) -> None:
        """
        Forget ``subscription``; unsubscribe the topics nobody else wants.

        """
        self._streams.remove(subscription)
        topics = [t for t in subscription.topics if not self._streams.has_topic(t)]
        self._send_unsubscribe(topics)

    def _send_unsubscribe(self, topics: Sequence[str]) -> None:
        # Best effort, on the current connection only: never reconnect just
        # to unsubscribe; events of unknown topics are dropped anyway.
        conn = self._conn
        if not topics or conn is None or conn.closed or self._state == _CLOSED:
            return
        try:
            self._call("UNSUBSCRIBE", list(topics), None, conn)
        except BitTapError as exc:
            logger.debug("cannot unsubscribe from %s: %s", ", ".join(topics), exc)

    def _back_off(self) -> None:
        """
        Count a failed connection; delay the next attempt accordingly.

        """
        self._failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)

    def _on_connection_closed(self, conn: Connection) -> None:
        # Called by the reader thread of a connection that just ended,
        # before its waiters are woken.
        if conn.answered:
            self._failures = 0
        elif self._state != _CLOSED:
            # A server that accepts connections and closes them before
            # answering anything must not be redialled in a tight loop.
            self._back_off()
        if self._state == _CLOSED or not len(self._streams):
            return
        with self._state_lock:
            self._resume_wanted = True
            if self._resume_thread is None and self._state != _CLOSED:
                # Daemon: like the reader, it must not keep a program alive.
                self._resume_thread = threading.Thread(
                    target=self._resume_loop, name="bittap-ws-resume", daemon=True
                )
                self._resume_thread.start()

    def _resume_loop(self) -> None:
        try:
            while True:
                with self._state_lock:
                    if not self._resume_wanted or self._state == _CLOSED:
                        self._resume_thread = None
                        return
                    self._resume_wanted = False
                self._resume()
        except Exception:  # pragma: no cover - a bug; never kill silently
            logger.exception("error while resuming streams")
            with self._state_lock:
                self._resume_thread = None

    def _resume(self) -> None:
        """
        Reconnect and subscribe again, until done or ``resume_timeout``.

        """
        deadline = Deadline(self.resume_timeout)
        while not self._resume_stop.is_set():
            subscriptions = [s for s in self._streams.snapshot() if not s.closed]
            if not subscriptions:
                return
            try:
                remaining = deadline.remaining()
                assert remaining is not None
                conn = self._connection(Deadline(min(self.connect_timeout, remaining)))
                for subscription in subscriptions:
                    if subscription.generation == conn.generation or subscription.closed:
                        continue
                    try:
                        self._call("SUBSCRIBE", list(subscription.topics), None, conn)
                    except SubscriptionError as exc:
                        self._give_up(subscription, f"cannot subscribe again: {exc}", exc)
                        continue
                    if subscription.closed or not self._streams.contains(subscription):
                        # Closed or given up meanwhile: nobody reads these.
                        self._unsubscribe(subscription)
                        continue
                    subscription.generation = conn.generation
                    subscription.reconnects += 1
                    logger.info("resumed %s", ", ".join(subscription.topics))
                return
            except ConnectionClosed:
                if self._state == _CLOSED:
                    return
                last_error: BitTapError | None = None
            except BitTapError as exc:
                last_error = exc
            if deadline.expired():
                message = (
                    f"connection lost; cannot restore it within {self.resume_timeout:g} s"
                )
                for subscription in self._streams.snapshot():
                    self._give_up(subscription, message, last_error)
                return
            # Wait for the backoff to allow the next attempt.
            wait = max(0.05, self._retry_at - time.monotonic())
            remaining = deadline.remaining()
            self._resume_stop.wait(wait if remaining is None else min(wait, remaining))

    def _give_up(
        self, subscription: Subscription, message: str, cause: BaseException | None
    ) -> None:
        """
        Stop resuming ``subscription``: its readers get ConnectionClosed.

        """
        self._streams.remove(subscription)
        closed = ConnectionClosed(message)
        closed.__cause__ = cause
        subscription.fail(closed)

    def _connection(self, deadline: Deadline) -> Connection:
        """
        Return an open connection, opening one if needed.

        """
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._state == _CLOSED:
            raise ConnectionClosed("the client is closed")
        if not deadline.acquire(self._connect_lock):
            raise ConnectError(f"cannot connect to {self.url}: timed out")
        try:
            # Another thread may have connected while this one waited.
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._state == _CLOSED:
                raise ConnectionClosed("the client is closed")
            self._wait_backoff(deadline)
            remaining = deadline.remaining()
            connect_timeout = (
                self.connect_timeout
                if remaining is None
                else min(self.connect_timeout, remaining)
            )
            attempt = Attempt()
            with self._state_lock:
                self._attempt = attempt
            try:
                self._generation += 1
                conn = open_connection(
                    self.url,
                    connect_timeout=connect_timeout,
                    ssl_context=self.ssl_context,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    on_event=self._streams.route,
                    on_close=_weak_on_close(self),
                    generation=self._generation,
                    attempt=attempt,
                )
            except ConnectError as exc:
                if self._state == _CLOSED:
                    raise ConnectionClosed("the client is closed") from exc
                self._last_error = exc
                self._back_off()
                raise
            finally:
                with self._state_lock:
                    self._attempt = None
            # _failures is reset when this connection proves itself: see
            # _on_connection_closed().
            self._last_error = None
            with self._state_lock:
                closed = self._state == _CLOSED
                if not closed:
                    self._state = _OPEN
                    self._conn = conn
                    self._set_finalizer(conn)
            if closed:
                # close() ran while this thread was connecting.
                conn.close()
                raise ConnectionClosed("the client is closed")
            return conn
        finally:
            self._connect_lock.release()

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
        if self._failures == 0:
            return
        delay = self._retry_at - time.monotonic()
        if delay <= 0:
            return
        remaining = deadline.remaining()
        if remaining is not None and delay > remaining:
            error = ConnectError(
                f"cannot connect to {self.url}: not retrying for {delay:.1f} s "
                f"after {self._failures} failed attempt(s)"
            )
            raise error from self._last_error
        # close() sets _resume_stop, so it interrupts this wait.
        if self._resume_stop.wait(delay) or self._state == _CLOSED:
            raise ConnectionClosed("the client is closed")

    def _to_response(self, method: str, answer: Any, sent_at: float) -> Response:
        if isinstance(answer, (Response, Reply)):
            if answer.rate_limits and sent_at >= self._rate_limits_sent_at:
                # Answers to concurrent calls may be mapped out of order:
                # keep those of the latest request.
                self._rate_limits_sent_at = sent_at
                self._rate_limits = answer.rate_limits
                if self.rate_limit_guard:
                    self._guard.update_from_rate_limits(answer.rate_limits, sent_at)
            if isinstance(answer, Response):
                # A status 200 answer, decoded as such.
                return answer
            raise self._api_error(method, answer)
        if isinstance(answer, Ack):
            if answer.code == 0:
                result = {"code": answer.code, "msg": answer.msg, "topic": list(answer.topics)}
                return Response(answer.id, 200, result, ())
            raise SubscriptionError(
                400,
                answer.code,
                answer.msg,
                topics=answer.topics,
                method=method,
                request_id=answer.id,
            )
        assert isinstance(answer, BadReply)
        raise ProtocolError(f"cannot understand the answer to {method}: {answer.error}") from answer.error

    def _api_error(self, method: str, reply: Reply) -> ApiError:
        kwargs: dict[str, Any] = {
            "data": reply.data,
            "method": method,
            "request_id": reply.id,
            "rate_limits": reply.rate_limits,
        }
        if reply.status in (418, 429):
            retry_after = None
            if reply.retry_after_ms is not None:
                retry_after = self._guard.seconds_until(reply.retry_after_ms, time.time())
                if self.rate_limit_guard:
                    self._guard.update_from_retry_after(reply.retry_after_ms)
            return RateLimitError(
                reply.status, reply.code, reply.msg, retry_after=retry_after, **kwargs
            )
        if reply.status >= 500:
            return ServerError(reply.status, reply.code, reply.msg, **kwargs)
        return ApiError(reply.status, reply.code, reply.msg, **kwargs)

    def _after_fork(self) -> None:
        # The child has a copy of the socket but none of the threads: drop
        # the connection without touching the socket, which the parent
        # still uses, and start afresh. The next call reconnects.
        self._state_lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._guard.after_fork()
        self._conn = None
        self._resume_thread = None
        # Subscriptions belong to the parent's connection: end them in the
        # child, without their locks, which a parent thread may have held.
        for subscription in self._streams.snapshot_after_fork():
            subscription.fail_after_fork()
        self._streams = Streams()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._state == _OPEN:
            self._state = _UNOPENED


def _weak_on_close(client: Client) -> Callable[[Connection], None]:
    # The connection must not keep its client alive: a client dropped
    # without close() is finalized, and its connection closed.
    ref = weakref.ref(client)

    def on_close(conn: Connection) -> None:
        client = ref()
        if client is not None:
            client._on_connection_closed(conn)

    return on_close


def _after_fork_in_child() -> None:
    for client in list(_clients):
        client._after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
