"""
The public facade: :class:`Client`.

"""

from __future__ import annotations

import functools
import ssl
from typing import Any, Callable, Mapping, Sequence

import attrs

from ._calls import Calls
from ._checks import check_url, optional_text, positive, positive_or_none, size_or_none, weakly
from ._deadline import Deadline, check_timeout
from ._login import Login, measure_offset, server_time
from ._redact import redact_url
from .errors import SubscriptionError
from .protocol import RateLimit, Response
from .session import Session
from .streams import PRIVATE_TOPICS, Streams, Subscription

__all__ = ["DEFAULT_URL", "Client"]

DEFAULT_URL = "wss://stream.bittap.com/endpoint?format=JSON"


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
        api_key: The API key, for LOGIN and the private streams.
        api_secret: The API secret that signs LOGIN; never shown in a
            repr, an exception or a log.
        signer: ``signer(api_secret, timestamp_ms)`` returns the LOGIN
            signature; :func:`~bittap_ws.sign_login` by default.
        max_size: The largest message accepted, in bytes; a larger one
            fails the connection with close code 1009. :obj:`None` for no
            limit.

    Every timeout is a positive number of seconds, at most
    :data:`threading.TIMEOUT_MAX` (about 292 years on Linux); ``None``,
    where allowed, is the way to say "never".

    Raises:
        ValueError: If ``url`` is not a ``ws://`` or ``wss://`` URL, or a
            timeout is NaN, not positive, infinite or above
            :data:`threading.TIMEOUT_MAX`.

    """

    url: str = attrs.field(default=DEFAULT_URL, validator=check_url)
    timeout: float = attrs.field(default=10.0, kw_only=True, validator=positive)
    connect_timeout: float = attrs.field(default=10.0, kw_only=True, validator=positive)
    ping_interval: float | None = attrs.field(
        default=20.0, kw_only=True, validator=positive_or_none
    )
    ping_timeout: float | None = attrs.field(
        default=20.0, kw_only=True, validator=positive_or_none
    )
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, kw_only=True, repr=False)
    resume_timeout: float = attrs.field(default=60.0, kw_only=True, validator=positive)
    rate_limit_guard: bool = attrs.field(
        default=True, kw_only=True, validator=attrs.validators.instance_of(bool)
    )
    # Secrets: never in a repr.
    api_key: str | None = attrs.field(default=None, kw_only=True, repr=False, validator=optional_text)
    api_secret: str | None = attrs.field(
        default=None, kw_only=True, repr=False, validator=optional_text
    )
    signer: Callable[[str, int], str] | None = attrs.field(default=None, kw_only=True, repr=False)
    max_size: int | None = attrs.field(default=2**24, kw_only=True, validator=size_or_none)

    _session: Session = attrs.field(init=False)
    _calls: Calls = attrs.field(init=False)
    _streams: Streams = attrs.field(init=False)
    _login: Login = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._session = Session(
            self.url,
            connect_timeout=self.connect_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            ssl_context=self.ssl_context,
            resume_timeout=self.resume_timeout,
            max_size=self.max_size,
        )
        self._calls = Calls(self._session, self.rate_limit_guard)
        # Weakly, so that a client dropped without close() is freed at once,
        # and its connection closed: the session holds the steps.
        call = weakly(self._calls.call_on)
        self._streams = Streams(functools.partial(call, timeout=self.timeout))
        self._login = Login(
            call, self._streams, self.timeout, self.api_key, self.api_secret, self.signer
        )
        self._session.on_event = self._streams.route
        # A new connection logs in before it subscribes again.
        self._session.add_step(self._login)
        self._session.add_step(self._streams)

    def __repr__(self) -> str:
        conn = self._session.current
        pending = 0 if conn is None else len(conn.pending)
        url = redact_url(self.url)
        return f"<Client url={url} state={self._session.state} pending={pending}>"

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
        return self._calls.rate_limits

    @property
    def unrouted(self) -> int:
        """
        How many stream frames matched no subscription, e.g. events still
        in flight after an ``UNSUBSCRIBE``; the first of each stream and
        symbol is logged at WARNING.

        """
        return self._streams.unrouted

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
        self._session.open()

    def close(self) -> None:
        """
        Close the connection.

        Idempotent and callable from any thread. Every pending call raises
        :exc:`ConnectionClosed` at once; later calls raise
        :exc:`ConnectionClosed` until :meth:`connect` is called.

        """
        self._session.close()
        self._streams.end_all()

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
            ValueError: If ``timeout`` is NaN, not positive, infinite or
                above :data:`threading.TIMEOUT_MAX`.

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
            ConnectError, ConnectionClosed, RequestTimeout, ApiError,
                ValueError: As for :meth:`request`.

        """
        return self._server_time(self._timeout(timeout))

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
            TypeError: If ``method`` is not a :class:`str`, or ``params`` is
                not a mapping, a sequence other than a string, or
                :obj:`None`, or cannot be sent as JSON. Nothing is sent.
            ValueError: If ``method`` is empty, or ``params`` holds NaN or
                an infinity, which JSON cannot represent, or ``timeout`` is
                NaN, not positive, infinite or above
                :data:`threading.TIMEOUT_MAX`. Nothing is sent.

        """
        return self._calls.call(method, params, self._timeout(timeout))[0]

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
        private = any(topic in PRIVATE_TOPICS for topic in topics)
        if private and not self._login.configured:
            raise ValueError("private topics need the client's api_key and api_secret")
        subscription = self._streams.open(tuple(dict.fromkeys(topics)), maxsize, self)
        deadline = Deadline(self.timeout)
        try:
            conn = None
            if private:
                # LOGIN, then SUBSCRIBE, on one connection.
                conn = self._session.connection(deadline)
                self._login.ensure(conn, deadline)
            _, conn = self._calls.call("SUBSCRIBE", list(subscription.topics), deadline.left(), conn)
        except SubscriptionError as exc:
            accepted = [topic for topic in subscription.topics if topic not in exc.topics]
            self._streams.unsubscribe(subscription, accepted)
            raise
        except BaseException:
            self._streams.forget(subscription)
            subscription.end()
            raise
        self._streams.confirm(subscription, conn)
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
            ValueError: If ``samples`` is less than 1, or ``timeout`` is
                not valid, as for :meth:`request`.
            ConnectError, ConnectionClosed, RequestTimeout, ApiError: As for
                :meth:`request`.

        """
        if samples < 1:
            raise ValueError(f"samples must be at least 1, not {samples}")
        deadline = Deadline(self._timeout(timeout))

        offset = measure_offset(lambda: self._server_time(deadline.left()), samples)
        self._calls.guard.offset = offset / 1000
        return offset

    def login(self, *, timeout: float | None = None) -> None:
        """
        Send ``LOGIN`` with ``api_key``, a timestamp and its signature, on
        the current connection (opened if needed).

        Subscribing to a private topic logs in by itself: call this to check
        the credentials early. The timestamp is in the server's time: the
        first LOGIN on a connection measures the clock offset with ``time``
        requests. The signature is ``signer(api_secret, timestamp_ms)``,
        :func:`~bittap_ws.sign_login` by default.

        Args:
            timeout: Seconds for the whole exchange; :obj:`None` means the
                client's ``timeout``.

        Raises:
            ValueError: If ``api_key`` or ``api_secret`` is not set.
            AuthenticationError: If the server refuses the LOGIN; the
                connection stays usable.
            ConnectError, ConnectionClosed, RequestTimeout, ApiError: As for
                :meth:`request`.

        """
        if not self._login.configured:
            raise ValueError("login() needs the client's api_key and api_secret")
        deadline = Deadline(self._timeout(timeout))
        self._login.login(self._session.connection(deadline), deadline)

    # Private methods

    def _timeout(self, timeout: float | None) -> float:
        # A call's timeout= as given by the caller: None, or a valid one.
        return self.timeout if timeout is None else check_timeout(timeout)

    def _server_time(self, timeout: float) -> int:
        return server_time(self._calls.call("time", None, timeout)[0])
